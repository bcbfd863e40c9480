//! JSONL: one message per line, as `{"id": ..., "raw": "..."}` or, for bytes that are not
//! valid UTF-8, `{"id": ..., "raw_base64": "..."}` so that no byte is altered. Every other
//! field (labels, groups, tenant ids) is passed through to the output untouched.
//!
//! Lines are read with a bound: a line longer than the limit is skipped as it streams past
//! and becomes a `too_large` record, so one bad line cannot exhaust memory.

use std::io::BufRead;
use std::path::PathBuf;

use base64::Engine;
use serde_json::Value;

use super::{Fields, Item, Origin, RawMail};
use crate::quarantine::{Quarantine, QuarantineReason, FIRST_BYTES};
use crate::{Error, Result};

/// Reads a JSONL stream message by message.
pub struct JsonlReader {
    reader: Box<dyn BufRead + Send>,
    path: PathBuf,
    max_message_size: usize,
    line_no: u64,
    line: Vec<u8>,
    done: bool,
}

/// What one bounded line read gave.
enum Line {
    Eof,
    /// The line fit; it is in `self.line`, without its newline.
    Complete,
    /// The line was over the limit: its first bytes and full length.
    TooLong {
        head: Vec<u8>,
        len: u64,
    },
}

impl JsonlReader {
    /// Wraps a buffered reader; `path` names the file (or `-`) in each message's [`Origin`].
    pub fn new(reader: Box<dyn BufRead + Send>, path: PathBuf, max_message_size: usize) -> Self {
        JsonlReader {
            reader,
            path,
            max_message_size,
            line_no: 0,
            line: Vec::new(),
            done: false,
        }
    }

    /// The longest line accepted: base64 and JSON escaping can double a message's size.
    fn max_line(&self) -> usize {
        self.max_message_size
            .saturating_mul(2)
            .saturating_add(1 << 20)
    }

    fn read_line(&mut self) -> std::io::Result<Line> {
        self.line.clear();
        let max = self.max_line();
        let mut too_long: Option<(Vec<u8>, u64)> = None;
        let mut saw_any = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            saw_any = true;
            let (take, found_newline) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            match &mut too_long {
                Some((_, len)) => *len += take as u64,
                None if self.line.len() + take > max => {
                    let len = (self.line.len() + take) as u64;
                    let mut head = std::mem::take(&mut self.line);
                    head.extend_from_slice(&chunk[..take.min(FIRST_BYTES)]);
                    head.truncate(FIRST_BYTES);
                    too_long = Some((head, len));
                }
                None => self.line.extend_from_slice(&chunk[..take]),
            }
            self.reader.consume(take + usize::from(found_newline));
            if found_newline {
                break;
            }
        }
        Ok(match too_long {
            Some((head, len)) => Line::TooLong { head, len },
            None if !saw_any => Line::Eof,
            None => Line::Complete,
        })
    }

    fn origin(&self) -> Origin {
        Origin::Jsonl {
            path: self.path.clone(),
            line: self.line_no,
        }
    }

    fn quarantine(&self, reason: QuarantineReason, detail: impl Into<String>) -> Item {
        Item::Quarantined(Quarantine::new(
            self.origin(),
            reason,
            detail,
            self.line.len() as u64,
            &self.line,
        ))
    }

    /// Turns the current line into an item.
    fn decode(&self) -> Item {
        let mut object: Fields = match serde_json::from_slice(&self.line) {
            Ok(o) => o,
            Err(e) => {
                return self.quarantine(
                    QuarantineReason::InvalidJson,
                    format!("not a JSON object: {e}"),
                )
            }
        };
        let id = match object.remove("id") {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let bytes = match (object.remove("raw"), object.remove("raw_base64")) {
            (Some(Value::String(raw)), _) => raw.into_bytes(),
            (_, Some(Value::String(b64))) => {
                match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        return self.quarantine(
                            QuarantineReason::InvalidBase64,
                            format!("raw_base64 is not valid base64: {e}"),
                        )
                    }
                }
            }
            _ => {
                return self.quarantine(
                    QuarantineReason::MissingRaw,
                    "no string field `raw` or `raw_base64` holding the message",
                )
            }
        };
        if bytes.len() > self.max_message_size {
            return Item::Quarantined(Quarantine::too_large(
                self.origin(),
                self.max_message_size,
                bytes.len() as u64,
                &bytes,
            ));
        }
        let mut mail = RawMail::new(self.origin(), bytes);
        mail.id = id;
        mail.fields = (!object.is_empty()).then_some(object);
        Item::Mail(mail)
    }
}

impl Iterator for JsonlReader {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let line = match self.read_line() {
                Ok(l) => l,
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io(self.path.clone(), e)));
                }
            };
            self.line_no += 1;
            match line {
                Line::Eof => {
                    self.done = true;
                    return None;
                }
                Line::TooLong { head, len } => {
                    return Some(Ok(Item::Quarantined(Quarantine::new(
                        self.origin(),
                        QuarantineReason::TooLarge,
                        format!(
                            "JSONL line longer than {} bytes (twice --max-message-size)",
                            self.max_line()
                        ),
                        len,
                        &head,
                    ))));
                }
                Line::Complete if self.line.iter().all(u8::is_ascii_whitespace) => {}
                Line::Complete => return Some(Ok(self.decode())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(data: &str, max: usize) -> Vec<Item> {
        JsonlReader::new(
            Box::new(std::io::Cursor::new(data.as_bytes().to_vec())),
            PathBuf::from("t.jsonl"),
            max,
        )
        .map(Result::unwrap)
        .collect()
    }

    #[test]
    fn raw_raw_base64_and_passthrough_fields() {
        let items = read(
            "{\"id\":\"a\",\"raw\":\"Subject: x\\n\\nhi\\n\",\"label\":\"spam\"}\n\n\
             {\"id\":7,\"raw_base64\":\"U3ViamVjdDogeQoK/w==\"}\n",
            1 << 20,
        );
        assert_eq!(items.len(), 2);
        match &items[0] {
            Item::Mail(m) => {
                assert_eq!(m.id.as_deref(), Some("a"));
                assert_eq!(m.bytes, b"Subject: x\n\nhi\n");
                assert_eq!(m.fields.as_ref().unwrap()["label"], "spam");
                assert_eq!(
                    m.origin,
                    Origin::Jsonl {
                        path: "t.jsonl".into(),
                        line: 1
                    }
                );
            }
            Item::Quarantined(q) => panic!("{q:?}"),
        }
        match &items[1] {
            Item::Mail(m) => {
                assert_eq!(m.id.as_deref(), Some("7"));
                assert_eq!(m.bytes, b"Subject: y\n\n\xff");
                assert!(m.fields.is_none());
                assert_eq!(
                    m.origin,
                    Origin::Jsonl {
                        path: "t.jsonl".into(),
                        line: 3
                    }
                );
            }
            Item::Quarantined(q) => panic!("{q:?}"),
        }
    }

    #[test]
    fn bad_lines_become_quarantine_records_with_reasons() {
        let long = format!("{{\"raw\":\"{}\"}}", "x".repeat(3 << 20));
        let data = format!("not json\n{{\"id\":1}}\n{{\"raw_base64\":\"***\"}}\n{long}\n{{\"raw\":\"S: x\\n\\nok\"}}\n");
        let items = read(&data, 1024);
        let reasons: Vec<_> = items
            .iter()
            .map(|i| match i {
                Item::Quarantined(q) => Some(q.reason),
                Item::Mail(_) => None,
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                Some(QuarantineReason::InvalidJson),
                Some(QuarantineReason::MissingRaw),
                Some(QuarantineReason::InvalidBase64),
                Some(QuarantineReason::TooLarge),
                None
            ]
        );
        match &items[3] {
            Item::Quarantined(q) => assert!(q.size > 3 << 20),
            Item::Mail(_) => unreachable!(),
        }
    }
}

//! mbox files (mboxo and mboxrd), streamed in chunks.
//!
//! A message starts at a `From ` line that opens the file or follows a blank line; the blank
//! line before the next separator belongs to the format, not to the message, and is dropped.
//! Lines matching `^>+From ` lose one `>`: that undoes mboxrd quoting exactly, and mboxo
//! quoting as well as mboxo can be undone. The file is read 1 MiB at a time and a message is
//! held only until it is handed on, so memory stays flat however large the file is; a message
//! over the size limit is skipped without being held and becomes a `too_large` record.

use std::io::Read;

use memchr::memmem;

use super::{read_up_to, Item, MboxOrigin, Origin, RawMail};
use crate::quarantine::{Quarantine, FIRST_BYTES};
use crate::{Error, Result};

const CHUNK: usize = 1 << 20;

/// Reads an mbox stream message by message.
pub struct MboxReader {
    reader: Box<dyn Read + Send>,
    origin: MboxOrigin,
    max_message_size: usize,
    buf: Vec<u8>,
    /// Where the current record (separator line + message) starts in `buf`.
    start: usize,
    /// Where to resume looking for the next separator.
    scan: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    done: bool,
    /// Set while skipping a message over the size limit.
    skipping: Option<Skipped>,
}

struct Skipped {
    offset: u64,
    head: Vec<u8>,
    dropped: u64,
}

impl MboxReader {
    /// Wraps a reader; `origin` names the file (or stdin) in each message's [`Origin`].
    pub fn new(reader: Box<dyn Read + Send>, origin: MboxOrigin, max_message_size: usize) -> Self {
        MboxReader {
            reader,
            origin,
            max_message_size,
            buf: Vec::with_capacity(CHUNK * 2),
            start: 0,
            scan: 0,
            base: 0,
            eof: false,
            done: false,
            skipping: None,
        }
    }

    fn origin_at(&self, offset: u64) -> Origin {
        match &self.origin {
            MboxOrigin::File(path) => Origin::Mbox {
                path: path.clone(),
                offset,
            },
            MboxOrigin::Stdin => Origin::Stdin { offset },
        }
    }

    fn error(&self, e: std::io::Error) -> Error {
        match &self.origin {
            MboxOrigin::File(path) => Error::io(path.clone(), e),
            MboxOrigin::Stdin => Error::io("-", e),
        }
    }

    /// Appends one chunk to the buffer, first dropping what has been handed on already.
    fn fill(&mut self) -> std::io::Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.scan -= self.start;
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + CHUNK, 0);
        let n = read_up_to(&mut self.reader, &mut self.buf[len..])?;
        self.buf.truncate(len + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Drops the body of an over-size message, keeping only the tail needed to recognise a
    /// separator that straddles two chunks.
    fn skip_held_bytes(&mut self) {
        const KEEP: usize = 8;
        let held = self.buf.len() - self.start;
        if held <= KEEP {
            return;
        }
        let cut = self.buf.len() - KEEP;
        if let Some(skipped) = &mut self.skipping {
            skipped.dropped += (cut - self.start) as u64;
        }
        self.buf.drain(self.start..cut);
        self.base += (cut - self.start) as u64;
        self.scan = self.start;
    }

    /// Turns the record `buf[start..end]` into an item; `at_eof` says no separator follows.
    fn emit(&mut self, end: usize, at_eof: bool) -> Option<Item> {
        let offset = self.base + self.start as u64;
        let record_start = self.start;
        self.start = end;
        self.scan = end;
        if let Some(skipped) = self.skipping.take() {
            let size = skipped.dropped + (end - record_start) as u64;
            return Some(Item::Quarantined(Quarantine::too_large(
                self.origin_at(skipped.offset),
                self.max_message_size,
                size,
                &skipped.head,
            )));
        }
        let record = &self.buf[record_start..end];
        let body = super::strip_from_line(record);
        let body = if at_eof {
            strip_final_blank_line(body)
        } else {
            strip_final_blank_line_before_separator(body)
        };
        if body.iter().all(u8::is_ascii_whitespace) {
            // Blank lines before the first separator or at the end: not a message.
            return None;
        }
        let bytes = if memmem::find(body, b">From ").is_some() {
            unquote_from_lines(body)
        } else {
            body.to_vec()
        };
        Some(Item::Mail(RawMail::new(self.origin_at(offset), bytes)))
    }
}

impl Iterator for MboxReader {
    type Item = Result<Item>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            // The separator search starts after the first byte of the record, so that the
            // record's own `From ` line is never taken for the next one.
            let from = self.scan.max(self.start + 1);
            if let Some(end) = find_separator(&self.buf, from) {
                if let Some(item) = self.emit(end, false) {
                    return Some(Ok(item));
                }
                continue;
            }
            if self.eof {
                self.done = true;
                if self.start >= self.buf.len() && self.skipping.is_none() {
                    return None;
                }
                let end = self.buf.len();
                if let Some(item) = self.emit(end, true) {
                    return Some(Ok(item));
                }
                return None;
            }
            // Nothing found in what is buffered: resume just before its end next time, since
            // the separator may straddle two chunks.
            self.scan = self.buf.len().saturating_sub(7).max(self.start);
            let held = self.buf.len() - self.start;
            if self.skipping.is_none() && held > self.max_message_size + 1024 {
                let head_end = self.start + FIRST_BYTES.min(held);
                self.skipping = Some(Skipped {
                    offset: self.base + self.start as u64,
                    head: self.buf[self.start..head_end].to_vec(),
                    dropped: 0,
                });
            }
            if self.skipping.is_some() {
                self.skip_held_bytes();
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(self.error(e)));
            }
        }
    }
}

/// Finds the start of the next separator line (`From ` after a blank line) at or after `from`.
fn find_separator(buf: &[u8], from: usize) -> Option<usize> {
    static FINDER: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"\nFrom "));
    let finder = &*FINDER;
    let mut at = from.saturating_sub(1);
    while at < buf.len() {
        let hit = at + finder.find(&buf[at..])?;
        let before_blank = match hit {
            0 => false,
            _ if buf[hit - 1] == b'\n' => true,
            _ => hit >= 2 && buf[hit - 1] == b'\r' && buf[hit - 2] == b'\n',
        };
        if before_blank && hit + 1 >= from {
            return Some(hit + 1);
        }
        at = hit + 1;
    }
    None
}

/// The record ends with the blank line that precedes the next separator: drop it.
fn strip_final_blank_line_before_separator(body: &[u8]) -> &[u8] {
    if let Some(rest) = body.strip_suffix(b"\r\n") {
        if rest.ends_with(b"\n") || rest.is_empty() {
            return rest;
        }
    }
    body.strip_suffix(b"\n").unwrap_or(body)
}

/// At the end of the file the blank line is there only when the writer put it: a truncated
/// mbox ends mid-message, and then nothing is dropped.
fn strip_final_blank_line(body: &[u8]) -> &[u8] {
    if body.ends_with(b"\r\n\r\n") {
        &body[..body.len() - 2]
    } else if body.ends_with(b"\n\n") {
        &body[..body.len() - 1]
    } else {
        body
    }
}

/// Removes one `>` from every line matching `^>+From `. Jumps from one `From ` to the next
/// with memmem, so a message with a quoted envelope line costs one copy, not a line walk.
fn unquote_from_lines(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut copied = 0;
    for at in memmem::find_iter(body, b"From ") {
        let quotes = body[..at].iter().rev().take_while(|&&b| b == b'>').count();
        let line_start = at - quotes;
        if quotes > 0 && (line_start == 0 || body[line_start - 1] == b'\n') {
            out.extend_from_slice(&body[copied..line_start]);
            copied = line_start + 1;
        }
    }
    out.extend_from_slice(&body[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(data: &[u8], max: usize) -> Vec<Item> {
        MboxReader::new(
            Box::new(std::io::Cursor::new(data.to_vec())),
            MboxOrigin::Stdin,
            max,
        )
        .map(|r| r.unwrap())
        .collect()
    }

    fn mails(items: &[Item]) -> Vec<(u64, Vec<u8>)> {
        items
            .iter()
            .map(|i| match i {
                Item::Mail(m) => match m.origin {
                    Origin::Stdin { offset } => (offset, m.bytes.clone()),
                    _ => unreachable!(),
                },
                Item::Quarantined(q) => panic!("unexpected quarantine {q:?}"),
            })
            .collect()
    }

    #[test]
    fn splits_on_from_after_blank_line_and_keeps_offsets() {
        let data = b"From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\nFrom here on, not a separator\n\nFrom b@x Mon Jan  1 00:00:00 2024\nSubject: two\n\nsecond\n\n";
        let got = mails(&read_all(data, 1 << 20));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, 0);
        assert_eq!(
            got[0].1,
            b"Subject: one\n\nbody\nFrom here on, not a separator\n".to_vec()
        );
        let second = data.windows(7).position(|w| w == b"From b@").unwrap() as u64;
        assert_eq!(got[1].0, second);
        assert_eq!(got[1].1, b"Subject: two\n\nsecond\n".to_vec());
    }

    #[test]
    fn mboxrd_quoting_is_undone_one_level() {
        let data = b"From a@x Mon Jan  1 00:00:00 2024\nSubject: q\n\n>From me\n>>From you\n> From nobody\n\n";
        let got = mails(&read_all(data, 1 << 20));
        assert_eq!(
            got[0].1,
            b"Subject: q\n\nFrom me\n>From you\n> From nobody\n".to_vec()
        );
    }

    #[test]
    fn crlf_mbox_and_truncated_tail() {
        let data = b"From a@x\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom b@x\r\nSubject: cut\r\n\r\nhalf a mess";
        let got = mails(&read_all(data, 1 << 20));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, b"Subject: one\r\n\r\nbody\r\n".to_vec());
        assert_eq!(got[1].1, b"Subject: cut\r\n\r\nhalf a mess".to_vec());
    }

    #[test]
    fn separators_straddling_chunks_are_found() {
        // Messages sized so that separators fall on and around the 1 MiB chunk boundary.
        for pad in [CHUNK - 40, CHUNK - 3, CHUNK - 1, CHUNK, CHUNK + 2] {
            let mut data = b"From a@x\nSubject: big\n\n".to_vec();
            data.resize(pad, b'x');
            data.extend_from_slice(b"\n\nFrom b@x\nSubject: small\n\nok\n");
            let got = mails(&read_all(&data, 4 << 20));
            assert_eq!(got.len(), 2, "pad {pad}");
            assert_eq!(got[1].1, b"Subject: small\n\nok\n".to_vec());
        }
    }

    #[test]
    fn oversize_message_is_quarantined_without_losing_neighbours() {
        let mut data = b"From a@x\nSubject: small\n\nfirst\n\nFrom b@x\nSubject: huge\n\n".to_vec();
        data.extend(std::iter::repeat_n(b'y', 3 * CHUNK));
        data.extend_from_slice(b"\n\nFrom c@x\nSubject: after\n\nlast\n");
        let items = read_all(&data, 64 * 1024);
        assert_eq!(items.len(), 3);
        assert!(matches!(&items[0], Item::Mail(m) if m.bytes.ends_with(b"first\n")));
        match &items[1] {
            Item::Quarantined(q) => {
                assert_eq!(q.reason, crate::QuarantineReason::TooLarge);
                assert!(q.first_bytes.starts_with("From b@x"));
                assert!(q.size > 3 * CHUNK as u64);
            }
            Item::Mail(_) => panic!("huge message was not quarantined"),
        }
        assert!(matches!(&items[2], Item::Mail(m) if m.bytes.ends_with(b"last\n")));
    }

    #[test]
    fn file_without_separator_is_one_message_and_blank_files_are_empty() {
        let got = mails(&read_all(b"Subject: bare\n\nno separator\n", 1 << 20));
        assert_eq!(got, vec![(0, b"Subject: bare\n\nno separator\n".to_vec())]);
        assert!(read_all(b"", 1 << 20).is_empty());
        assert!(read_all(b"\n\n", 1 << 20).is_empty());
    }
}

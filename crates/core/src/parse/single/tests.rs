use super::*;
use crate::parse::parser;
use proptest::prelude::*;

/// The fast path's message, and whether it equals the full parse's (true when it declines).
fn agrees(bytes: &[u8]) -> (bool, bool) {
    match parse(parser(), bytes) {
        Some(fast) => (true, Some(fast) == parser().parse(bytes)),
        None => (false, true),
    }
}

#[test]
fn each_listed_charset_decodes_ascii_to_itself() {
    let ascii: Vec<u8> = (0u8..128).collect();
    let text = String::from_utf8(ascii.clone()).unwrap_or_default();
    let every: Vec<u8> = (0u8..=255).collect();
    for label in ASCII_TRANSPARENT {
        let decoder = charset_decoder(label.as_bytes());
        assert!(
            decoder.is_some(),
            "{label} is not a charset mail-parser knows"
        );
        assert_eq!(decoder.map(|d| d(&ascii)), Some(text.clone()), "{label}");
        // As written in mail, and the table read from the decoder is the decoder.
        let table = transparent_table(&label.replace('_', "-").to_uppercase());
        assert!(table.is_some(), "{label}");
        assert_eq!(
            table.map(|t| by_table(&every, t)),
            decoder.map(|d| d(&every)),
            "{label}"
        );
    }
    assert!(transparent_table("utf-7").is_none());
    assert!(transparent_table("us-ascii2").is_none());
}

#[test]
fn single_text_parts_take_the_fast_path_and_match_the_full_parse() {
    let cases: [&[u8]; 8] = [
        b"From: a@x\nSubject: hi\n\nHello there\nbye\n",
        b"From: a@x\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello\r\n",
        b"From: a@x\nContent-Type: text/plain; charset=\"ISO-8859-1\"\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 =\nsoft  \nhard=20\n=3D=3d =ZZ =\r\nend",
        b"From: a@x\nContent-Type: text/html; charset=windows-1252\n\n<p>caf\xe9 &amp; <a href=\"http://x.example/\">x</a></p>\n",
        b"From: a@x\nContent-Type: text/plain; charset=utf-8\n\nna\xc3\xafve \xff\n",
        b"From: a@x\nContent-Type: text/plain; charset=koi8-r\n\n\xc1\xc2 ascii\n",
        b"From: a@x\nContent-Transfer-Encoding: Quoted-Printable\n\n=A\n5 =4\r\n1 x  =  \nlast",
        b"From: a@x\nSubject: empty body\n\n",
    ];
    for raw in cases {
        assert_eq!(
            agrees(raw),
            (true, true),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn other_shapes_are_left_to_the_full_parse() {
    let cases: [&[u8]; 7] = [
        b"From: a@x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n",
        b"From: a@x\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n",
        b"From: a@x\nContent-Disposition: attachment; filename=a.txt\n\nx\n",
        b"From: a@x\nContent-Type: text/enriched\n\nx\n",
        b"From: a@x\nContent-Transfer-Encoding: quoted-printable\n\nbad ==41\n",
        b"From: a@x\nSubject: no body separator",
        b"From: a@x\nnot a header line\n\nbody\n",
    ];
    for raw in cases {
        assert_eq!(
            agrees(raw),
            (false, true),
            "{}",
            String::from_utf8_lossy(raw)
        );
    }
}

/// A generated message: some of the headers that decide the fast path, a line end, and a
/// body rich in what quoted-printable and charsets treat specially.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let content_type = prop_oneof![
        Just(""),
        Just("Content-Type: text/plain\n"),
        Just("Content-Type: text/plain; charset=us-ascii\n"),
        Just("Content-Type: TEXT/PLAIN; charset=\"ISO-8859-1\"\n"),
        Just("Content-Type: text/html; charset=windows-1252\n"),
        Just("Content-Type: text/plain; charset=utf-8\n"),
        Just("Content-Type: text/plain; charset=koi8-r\n"),
        Just("Content-Type: text/plain; charset=x-unknown\n"),
        Just("Content-Type: text\n"),
        Just("Content-Type: multipart/alternative; boundary=zz\n"),
        Just("Content-Type: application/pdf\n"),
    ];
    let encoding = prop_oneof![
        Just(""),
        Just("Content-Transfer-Encoding: 7bit\n"),
        Just("Content-Transfer-Encoding: quoted-printable\n"),
        Just("Content-Transfer-Encoding: Quoted-Printable \n"),
        Just("Content-Transfer-Encoding: base64\n"),
    ];
    let disposition = prop_oneof![
        3 => Just(""),
        1 => Just("Content-Disposition: inline\n"),
        1 => Just("Content-Disposition: attachment\n"),
    ];
    let separator = prop_oneof![
        Just("\n"),
        Just("\r\n"),
        Just(" \n"),
        Just("\t\r\n"),
        Just("")
    ];
    let body = proptest::collection::vec(
        prop_oneof![
            8 => proptest::sample::select(b"aZ09 \t=\n\r-".to_vec()),
            2 => proptest::sample::select(b"ABCDEFabcdef3D".to_vec()),
            1 => any::<u8>(),
        ],
        0..200,
    );
    (
        content_type,
        encoding,
        disposition,
        any::<bool>(),
        separator,
        body,
    )
        .prop_map(|(ct, cte, cd, crlf, sep, body)| {
            let mut headers = format!("From: Ann <a@example.com>\nSubject: test\n{ct}{cte}{cd}");
            if crlf {
                headers = headers.replace('\n', "\r\n");
            }
            let mut raw = headers.into_bytes();
            raw.extend_from_slice(sep.as_bytes());
            raw.extend_from_slice(&body);
            raw
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn the_fast_path_gives_the_full_parse_message(raw in message()) {
        prop_assert!(agrees(&raw).1, "{}", String::from_utf8_lossy(&raw));
    }

    #[test]
    fn quoted_printable_is_mail_parsers(body in proptest::collection::vec(
        prop_oneof![
            6 => proptest::sample::select(b"a =\n\r\t".to_vec()),
            3 => proptest::sample::select(b"0123456789ABCDEFabcdefxyz".to_vec()),
            1 => any::<u8>(),
        ],
        0..120,
    )) {
        let mut raw = b"From: a@x\nContent-Transfer-Encoding: quoted-printable\n\n".to_vec();
        raw.extend_from_slice(&body);
        let (_, same) = agrees(&raw);
        prop_assert!(same, "{:?}", String::from_utf8_lossy(&body));
    }
}

/// Every message of the JSONL files (with a `raw` or `raw_base64` field) in `$MAILTRIAGE_CORPUS`: the fast
/// path, where it is taken, gives the full parse's message. `scripts/check-corpus.sh` runs
/// it on the SpamAssassin corpus.
#[test]
#[ignore = "needs a corpus: MAILTRIAGE_CORPUS=data/spamassassin"]
fn the_fast_path_gives_the_full_parse_message_on_a_corpus() -> Result<(), String> {
    let dir = std::env::var("MAILTRIAGE_CORPUS").map_err(|_| "set MAILTRIAGE_CORPUS")?;
    let (mut seen, mut fast) = (0usize, 0usize);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path:?}: {e}"))?;
        for line in text.lines() {
            let record: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("{path:?}: {e}"))?;
            let raw = if let Some(text) = record.get("raw").and_then(serde_json::Value::as_str) {
                text.as_bytes().to_vec()
            } else if let Some(b64) = record.get("raw_base64").and_then(serde_json::Value::as_str) {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| format!("{path:?}: {e}"))?
            } else {
                continue;
            };
            let bytes = crate::ingest::strip_from_line(&raw);
            let (taken, same) = agrees(bytes);
            seen += 1;
            fast += usize::from(taken);
            if !same {
                return Err(format!("{path:?}: {} differs", record["id"]));
            }
        }
    }
    println!("{fast} of {seen} messages took the single-part path, each as the full parse");
    if seen == 0 || fast == 0 {
        return Err(format!("{seen} messages read, {fast} on the fast path"));
    }
    Ok(())
}

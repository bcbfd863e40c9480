use super::*;
use crate::ingest::{Origin, RawMail};

fn found(text: &str) -> Vec<(Entity, String)> {
    let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    r.find(text, &[])
        .into_iter()
        .map(|f| (f.entity, text[f.start..f.end].to_string()))
        .collect()
}

fn has(text: &str, entity: Entity, value: &str) -> bool {
    found(text).iter().any(|(e, v)| *e == entity && v == value)
}

fn none_of(text: &str, entity: Entity) -> bool {
    !found(text).iter().any(|(e, _)| *e == entity)
}

#[test]
fn structured_kinds_are_found_and_validated() {
    assert!(has(
        "write to ann.lee+x@mail.example.co.uk today",
        Entity::EmailAddress,
        "ann.lee+x@mail.example.co.uk"
    ));
    assert!(has(
        "see https://pay.example.com/inv?id=7.",
        Entity::Url,
        "https://pay.example.com/inv?id=7"
    ));
    assert!(has(
        "or www.example.org/x, thanks",
        Entity::Url,
        "www.example.org/x"
    ));
    // North American layouts are phone numbers whatever their area code (N9X codes are
    // unassigned, but a number written so is still someone's, or made up to look it).
    for (text, number) in [
        ("or on 391-718-1253.", "391-718-1253"),
        ("or on 797.659.7297.", "797.659.7297"),
        ("or on +1-827-287-3466.", "+1-827-287-3466"),
        ("Office: (896)911-7622\n", "(896)911-7622"),
        ("Cell: 4922244274\n", "4922244274"),
    ] {
        assert!(has(text, Entity::PhoneNumber, number), "{text}");
    }
    assert!(has(
        "from 172.29.174.229 port 22",
        Entity::IpAddress,
        "172.29.174.229"
    ));
    assert!(
        has("remote 10.9.25.21 port", Entity::IpAddress, "10.9.25.21"),
        "an address whose first three parts read like a date"
    );
    assert!(has(
        "from ee7d:45f4:52d9:a56d:36c9:713c:1d0d:4760 port",
        Entity::IpAddress,
        "ee7d:45f4:52d9:a56d:36c9:713c:1d0d:4760"
    ));
    assert!(has(
        "card 4111 1111 1111 1111 exp",
        Entity::CreditCard,
        "4111 1111 1111 1111"
    ));
    assert!(has("SSN: 536-22-1234.", Entity::UsSsn, "536-22-1234"));
    assert!(has(
        "IBAN DE89 3704 0044 0532 0130 00 please",
        Entity::IbanCode,
        "DE89 3704 0044 0532 0130 00"
    ));
    assert!(has(
        "call me at (415) 555-2671 today",
        Entity::PhoneNumber,
        "(415) 555-2671"
    ));
    assert!(has(
        "Tel: +44 20 7946 0958",
        Entity::PhoneNumber,
        "+44 20 7946 0958"
    ));
    assert!(has(
        "born on March 5, 1985 in",
        Entity::DateTime,
        "March 5, 1985"
    ));
    assert!(has(
        "at 2025-07-09T05:21:41Z auth",
        Entity::DateTime,
        "2025-07-09T05:21:41Z"
    ));
    assert!(has(
        "am 15. März 1985 geboren",
        Entity::DateTime,
        "15. März 1985"
    ));
}

#[test]
fn look_alikes_are_not_findings() {
    assert!(
        none_of("card 4111 1111 1111 1112 declined", Entity::CreditCard),
        "Luhn fails"
    );
    assert!(none_of(
        "tracking 9400 1000 0000 0000 0000 00",
        Entity::CreditCard
    ));
    assert!(
        none_of("Build 3.5.0.5 is out", Entity::IpAddress),
        "a version"
    );
    assert!(none_of("version 10.2.0.1", Entity::IpAddress));
    assert!(none_of(
        "Order number 4829301756 shipped",
        Entity::PhoneNumber
    ));
    assert!(
        none_of("ts=1625972705", Entity::PhoneNumber),
        "an epoch timestamp"
    );
    assert!(none_of("SSN 666-12-3456", Entity::UsSsn));
    assert!(
        none_of("IBAN DE89 3704 0044 0532 0130 01", Entity::IbanCode),
        "mod-97 fails"
    );
    assert!(none_of("meet at 10:30:00", Entity::IpAddress));
    assert!(none_of("price 1.299,00 EUR", Entity::DateTime));
    assert!(
        none_of("release 3.13.17.46 ships", Entity::DateTime),
        "three parts of a four-part version"
    );
    assert!(none_of("build 1.4.2.2019 today", Entity::DateTime));
    assert!(none_of("version 5.3.1985", Entity::DateTime));
    assert!(has("born 5.3.1985 in", Entity::DateTime, "5.3.1985"));
    assert!(none_of("Invoice INV-2024-00123", Entity::PhoneNumber));
    assert!(
        none_of("Reference 4922244274 applies", Entity::PhoneNumber),
        "ten bare digits the text does not call a phone number"
    );
    assert!(none_of("part 123-456-7890 in stock", Entity::PhoneNumber));
    assert!(none_of("ratio 415-555-12345 x", Entity::PhoneNumber));
}

#[test]
fn secrets_and_confidential_markers() {
    let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
    assert!(has(&format!("key:\n{key}\n"), Entity::Secret, key));
    assert!(has(
        "id AKIAIOSFODNN7EXAMPLE in",
        Entity::Secret,
        "AKIAIOSFODNN7EXAMPLE"
    ));
    assert!(has("password: hunter2!x now", Entity::Secret, "hunter2!x"));
    assert!(has(
        "Authorization: Bearer abcdefghijklmnop1234",
        Entity::Secret,
        "abcdefghijklmnop1234"
    ));
    assert!(has(
        "PRIVILEGED AND CONFIDENTIAL - attorney-client privileged",
        Entity::Confidential,
        "PRIVILEGED AND CONFIDENTIAL"
    ));
    assert!(none_of("confidentiality agreement", Entity::Confidential));
    // Markers are found at word starts, whatever the case, the longest first, and where a
    // hyphen or an apostrophe follows them.
    for (text, marker) in [
        (
            "Attorney-Client Privileged: the draft",
            "Attorney-Client Privileged",
        ),
        ("this is for internal use only.", "for internal use only"),
        ("CONFIDENTIAL-DO NOT FORWARD", "CONFIDENTIAL"),
        ("CONFIDENTIAL-DO NOT FORWARD", "DO NOT FORWARD"),
        ("(do not forward)", "do not forward"),
        ("the confidential's copy", "confidential"),
        ("Streng vertraulich!", "Streng vertraulich"),
    ] {
        assert!(has(text, Entity::Confidential, marker), "{text}");
    }
    assert!(none_of(
        "5confidential and reconfidential",
        Entity::Confidential
    ));
    assert!(none_of("do not forget", Entity::Confidential));
    let r = Redactor::new(
        Policy {
            terms: vec!["Project Falcon".into()],
            ..Policy::default()
        },
        None,
        Dictionaries::default(),
    )
    .unwrap();
    let f = r.find("status of project falcon?", &[]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].detector, "policy_terms");
}

#[test]
fn operators_mask_pseudonymise_hash_drop_and_keep() {
    let text = "Mail ann@example.com or call +1 415 555 2671.";
    let masked = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    assert_eq!(
        masked.redact_text(text, &[]).0,
        "Mail [EMAIL]@example.com or call [PHONE]."
    );

    let policy = |op: Operator| {
        let mut p = Policy::default();
        p.operators.insert(Entity::EmailAddress, op);
        p.operators.insert(Entity::PhoneNumber, op);
        p.email_keep_domain = false;
        p
    };
    let key = b"0123456789abcdef0123456789abcdef".to_vec();
    let pseudo = Redactor::new(
        policy(Operator::Pseudonymise),
        Some(key.clone()),
        Dictionaries::default(),
    )
    .unwrap();
    let (a, _) = pseudo.redact_text(text, &[]);
    assert!(
        a.starts_with("Mail <EMAIL_") && a.contains("call <PHONE_"),
        "{a}"
    );
    // Stable for the same key, case and layout aside; different with another key.
    let again = pseudo
        .redact_text("ANN@EXAMPLE.COM (415) 555-2671 +1 415 555 2671", &[])
        .0;
    let token = &a[5..18];
    assert!(again.starts_with(token), "{again} vs {token}");
    let other = Redactor::new(
        policy(Operator::Pseudonymise),
        Some(b"another key, 16+ bytes".to_vec()),
        Dictionaries::default(),
    )
    .unwrap();
    assert_ne!(other.redact_text(text, &[]).0, a);
    assert!(
        Redactor::new(
            policy(Operator::Pseudonymise),
            None,
            Dictionaries::default()
        )
        .is_err(),
        "no key"
    );
    assert!(Redactor::new(
        policy(Operator::Pseudonymise),
        Some(b"short".to_vec()),
        Dictionaries::default()
    )
    .is_err());

    let hashed = Redactor::new(policy(Operator::Hash), None, Dictionaries::default()).unwrap();
    assert!(hashed.redact_text(text, &[]).0.contains("<EMAIL_h_"));
    let dropped = Redactor::new(policy(Operator::Drop), None, Dictionaries::default()).unwrap();
    assert_eq!(dropped.redact_text(text, &[]).0, "Mail  or call .");
    let kept = Redactor::new(policy(Operator::Keep), None, Dictionaries::default()).unwrap();
    let (same, findings) = kept.redact_text(text, &[]);
    assert_eq!(same, text);
    assert_eq!(findings.len(), 2, "kept values are still counted");
}

#[test]
fn urls_keep_their_host_and_lose_the_rest() {
    let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    assert_eq!(
        r.redact_text("go to https://pay.example.com/u/ann?x=1 now", &[])
            .0,
        "go to https://pay.example.com/[URL] now"
    );
    assert_eq!(
        r.redact_text("see http://example.com/ ok", &[]).0,
        "see http://example.com/ ok"
    );
    assert_eq!(
        r.redact_text("at https://ann:pw@example.com/x", &[]).0,
        "at [URL]",
        "credentials in a URL lose the host too"
    );
}

#[test]
fn a_message_is_redacted_in_every_field() {
    let raw = "From: \"Maria Lopez\" <maria.lopez@example.com>\nTo: \"Billing Team\" <billing@example.org>\n\
Subject: Card 4111 1111 1111 1111 for Maria\nMessage-ID: <abc@mail.example.com>\n\n\
Hi Maria,\nmy SSN is 536-22-1234 and my phone +1 415 555 2671.\nThis is CONFIDENTIAL.\n\nRegards,\nJohn Smith\n";
    let email = crate::parse::parse(RawMail::new(
        Origin::Stdin { offset: 0 },
        raw.as_bytes().to_vec(),
    ))
    .unwrap();
    let r = redact(email);
    let e = r.email();
    let everything = format!("{e:?}");
    for secret in [
        "Maria",
        "Lopez",
        "maria.lopez",
        "4111",
        "536-22-1234",
        "555 2671",
        "John Smith",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} leaked: {everything}"
        );
    }
    assert_eq!(
        e.headers.from.as_ref().unwrap().address.as_deref(),
        Some("[EMAIL]@example.com")
    );
    assert_eq!(
        e.headers.to[0].name.as_deref(),
        Some("Billing Team"),
        "an organisation's name stays"
    );
    let f = r.findings();
    assert!(f.confidential);
    for kind in [
        "PERSON",
        "CREDIT_CARD",
        "US_SSN",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
    ] {
        assert!(f.counts.get(kind).is_some_and(|n| *n > 0), "{kind}: {f:?}");
    }
}

#[test]
fn confidential_mail_is_routed_to_the_policy_queue() {
    let parse = |raw: &str| {
        crate::parse::parse(RawMail::new(
            Origin::Stdin { offset: 0 },
            raw.as_bytes().to_vec(),
        ))
        .unwrap()
    };
    let policy = Policy::from_toml(
        "[confidential]\nterms = [\"Project Falcon\"]\nroute = \"legal-restricted\"\n",
    )
    .unwrap();
    let r = Redactor::new(policy, None, Dictionaries::default()).unwrap();
    let secret = r.redact(parse("Subject: status\n\nProject Falcon ships in May.\n"));
    assert!(secret.findings().confidential);
    assert_eq!(secret.findings().route.as_deref(), Some("legal-restricted"));
    let plain = r.redact(parse("Subject: lunch\n\nSee you at noon.\n"));
    assert!(!plain.findings().confidential);
    assert_eq!(plain.findings().route, None);
    // Without a route in the policy, confidential mail is flagged but not routed.
    let flagged = redact(parse("Subject: x\n\nThis is attorney-client privileged.\n"));
    assert!(flagged.findings().confidential && flagged.findings().route.is_none());
}

#[test]
fn char_offsets_count_code_points() {
    let text = "Grüße an ann@example.com";
    let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    let f = r.find(text, &[]);
    assert_eq!(char_offsets(text, &f), vec![(9, 24)]);
    assert_eq!((f[0].start, f[0].end), (11, 26));
    // ASCII text takes the short way: a byte is a character.
    let ascii = "Mail ann@example.com or bob@example.org";
    let f = r.find(ascii, &[]);
    assert_eq!(char_offsets(ascii, &f), vec![(5, 20), (24, 39)]);
}

#[test]
fn spans_json_is_what_serde_writes() {
    let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    let text = "Grüße an ann@example.com, call +1 415 555 2671 or see 10.0.0.1; \
                card 4111 1111 1111 1111. CONFIDENTIAL. Born on March 3, 1980.";
    let found = r.find(text, &[]);
    assert!(found.len() >= 5, "{found:?}");
    let mut odd = found[0];
    odd.score = f32::NAN;
    for findings in [found.clone(), Vec::new(), vec![odd]] {
        let mut ours = Vec::new();
        write_spans_json(text, &findings, &mut ours);
        let serde = serde_json::to_vec(&spans(text, &findings)).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(serde).unwrap()
        );
    }
}

#[test]
fn adversarial_input_is_linear_and_bounded() {
    // 100k digits in a row, a 10 MB single line, and lone separators: each must finish
    // (timing is not asserted here; `scripts/bench-pii.sh` measures speed).
    let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    let digits = "7".repeat(100_000);
    let (out, f) = r.redact_text(&digits, &[]);
    assert_eq!(out.len(), digits.len());
    assert!(f.is_empty());
    let line = "word 4111 1111 1111 1111 ".repeat(10 * 1024 * 1024 / 25);
    let (out, f) = r.redact_text(&line, &[]);
    assert!(!out.contains("4111"));
    assert_eq!(f.len(), line.matches("4111").count());
    let noise = "@.:-/+()".repeat(100_000);
    r.redact_text(&noise, &[]);
}

proptest::proptest! {
    #[test]
    fn redaction_never_panics_and_findings_are_in_bounds(text in "\\PC{0,300}") {
        let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
        let found = r.find(&text, &["Ann"]);
        for pair in found.windows(2) {
            proptest::prop_assert!(pair[0].end <= pair[1].start);
        }
        for f in &found {
            proptest::prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        }
        r.redact_text(&text, &[]);
    }
}

#[test]
fn street_addresses_and_postcodes() {
    for (text, expected) in [
        ("Ship to 221B Baker Street, London.", "221B Baker Street"),
        (
            "at 1600 Pennsylvania Avenue NW today",
            "1600 Pennsylvania Avenue NW",
        ),
        ("Hauptstraße 5 in Berlin", "Hauptstraße 5"),
        ("au 12 rue de la Paix demain", "12 rue de la Paix"),
        ("en Calle Mayor 5, Madrid", "Calle Mayor 5"),
        ("Springfield, IL 62704", "Springfield, IL 62704"),
        ("London SW1A 1AA", "SW1A 1AA"),
        ("in 75002 Paris", "75002 Paris"),
    ] {
        assert!(
            has(text, Entity::Location, expected),
            "{text}: {:?}",
            found(text)
        );
    }
    assert!(none_of("Version 2 of the plan, 3 Items", Entity::Location));
    assert!(none_of("we met via Zoom", Entity::Location));
}

#[test]
fn unparsed_bytes_keep_their_shape_not_their_names() {
    let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    let out =
        r.redact_unparsed("Subject: hi\ncard 4111 1111 1111 1111 for Ximena Okonkwo-Lindqvist, ok");
    assert_eq!(out, "Subject: hi\ncard [CARD] for [Word] [Word], ok");
}

#[test]
fn a_url_on_a_bare_ip_keeps_nothing() {
    let r = Redactor::new(Policy::default(), None, Dictionaries::default()).unwrap();
    assert_eq!(
        r.redact_text("go http://203.0.113.77/nwb/secure/ now", &[])
            .0,
        "go [URL] now"
    );
    // An IPv6 host ends the URL match at its bracket; the address itself is still masked.
    assert!(!r
        .redact_text("go http://[2001:db8::1]/x now", &[])
        .0
        .contains("2001"));
}

#[test]
fn invalid_utf8_in_a_message_is_redacted_like_the_rest() {
    let mut raw =
        b"From: a@example.com\nSubject: x\n\ncard 4111 1111 1111 1111 \xff\xfe\xc3 end\n".to_vec();
    raw.extend_from_slice(&[0xe2, 0x82]); // a truncated sequence at the very end
    let email = crate::parse::parse(RawMail::new(Origin::Stdin { offset: 0 }, raw)).unwrap();
    let r = redact(email);
    assert!(
        r.email().body.text.contains("[CARD]"),
        "{}",
        r.email().body.text
    );
    assert!(!r.email().body.text.contains("4111"));
}

//! The structured patterns of the detector (secrets, addresses, numbers, dates...), in
//! priority order, with how the scan finds where each may start.
//!
//! `build.rs` includes this file too: it derives the scan's start filter from the patterns
//! themselves, so that the filter cannot fall behind an edit of them.

/// A byte that `\b` counts as part of a word (the patterns' `\b` is ASCII's).
pub(super) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// How the scan (`scan.rs`) finds the positions where a pattern may match. Every pattern
/// says one; `build.rs` checks that its possible first bytes fit what the scan looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// Its first three bytes are in the start filter that `build.rs` derives from the
    /// patterns of this kind.
    Prefix,
    /// An e-mail address: at a word start, a run of local-part bytes that ends at `@`.
    LocalPart,
    /// A capitalised word whose run of letters, spaces and `,-.` ends at a digit (city lines
    /// and German street names: both may start at any capitalised word, and both end in a
    /// number).
    CapitalRun,
}

/// The structured patterns, in priority order: at one start position the first listed wins.
/// Each says how the scan finds where it may start.
pub(super) const PATTERNS: &[(&str, Kind, Start)] = &[
    (
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.)*?-----END[A-Z0-9 ]*PRIVATE KEY-----",
        Kind::PrivateKey,
        Start::Prefix,
    ),
    (
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        Kind::CloudKey,
        Start::Prefix,
    ),
    (
        r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
        Kind::Jwt,
        Start::Prefix,
    ),
    (
        r"(?i:\bbearer)[ \t]+[A-Za-z0-9._~+/\-]{16,}=*",
        Kind::Bearer,
        Start::Prefix,
    ),
    (
        r"(?i:\b(?:password|passwd|pwd|passcode|passphrase|kennwort|mot de passe|contraseña))[ \t]*(?:is[ \t]+)?[:=][ \t]*[^\s]{4,}",
        Kind::Password,
        Start::Prefix,
    ),
    (
        r"(?i:\b(?:https?|ftp)://|\bwww\.)[^\s<>\x22'`{}|\\^\[\]]+",
        Kind::Url,
        Start::Prefix,
    ),
    (
        r"\b[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b",
        Kind::Email,
        Start::LocalPart,
    ),
    (
        r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b",
        Kind::Iban,
        Start::Prefix,
    ),
    (
        r"\b[0-9]{3}([- ])[0-9]{2}[- ][0-9]{4}\b",
        Kind::Ssn,
        Start::Prefix,
    ),
    // IPv4 before the numeric dates: where both match, the address is the longer (a date's
    // three parts would be the first three of `10.9.25.21`).
    (
        r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b",
        Kind::Ipv4,
        Start::Prefix,
    ),
    // ISO dates and date-times.
    (
        r"\b[12][0-9]{3}-[01][0-9]-[0-3][0-9](?:(?:T|[ ]{1,2})[0-2][0-9]:[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]{1,9})?)?(?:[ ]?(?:Z|UTC|GMT|[+-][0-2][0-9]:?[0-5][0-9]))?)?\b",
        Kind::Date,
        Start::Prefix,
    ),
    // Numeric dates: 05/03/1985, 5.3.1985, 03-05-85.
    (
        r"\b[0-3]?[0-9]([/.\-])[01]?[0-9]([/.\-])(?:19|20)?[0-9]{2}\b(?:,?[ ]{1,2}[0-2]?[0-9]:[0-5][0-9](?::[0-5][0-9])?(?:[ ]?[AaPp]\.?[Mm]\.?)?)?",
        Kind::Date,
        Start::Prefix,
    ),
    // Month-name dates (English, German, French, Spanish, Italian, Portuguese, Dutch),
    // optionally led by a weekday and followed by a year and a time.
    (
        concat!(
            r"(?i:\b(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?,?[ ]{1,2})?",
            r"(?:jan(?:uary|uar)?|feb(?:ruary|ruar)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)",
            r"\.?[ ]{1,2}[0-3]?[0-9](?:st|nd|rd|th)?\b(?:,?[ ]{1,2}(?:19|20)[0-9]{2}\b)?",
            r"(?:,?[ ]{1,2}(?:at[ ]{1,2})?[0-2]?[0-9]:[0-5][0-9](?::[0-5][0-9])?(?:[ ]?[ap]\.?m\.?\b)?)?)"
        ),
        Kind::Date,
        Start::Prefix,
    ),
    (
        concat!(
            r"(?i:\b(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?,?[ ]{1,2})?",
            r"[0-3]?[0-9](?:st|nd|rd|th|\.)?[ ]{1,2}(?:of[ ]{1,2}|de[ ]{1,2})?",
            r"(?:jan(?:uary|uar|vier)?|janeiro|enero|gennaio|januari|feb(?:ruary|ruar)?|f(?:é|e)vrier|febrero|febbraio|fevereiro|februari|mar(?:ch|s|zo|ço)?|m(?:ä|ae)rz|maart|apr(?:il|ile)?|avril|abril|may|mai|mayo|maggio|maio|mei|jun(?:e|i)?|juin|junio|giugno|junho|jul(?:y|i)?|juillet|julio|luglio|julho|aug(?:ust|usti)?|ao(?:û|u)t|agosto|augustus|sep(?:t|tember)?|septembre|septiembre|settembre|setembro|oct(?:ober)?|okt(?:ober)?|octobre|octubre|ottobre|outubro|nov(?:ember|embre)?|novembro|dec(?:ember)?|dez(?:ember)?|d(?:é|e)cembre|diciembre|dicembre|dezembro)",
            r"\.?,?[ ]{1,2}(?:de[ ]{1,2})?(?:19|20)[0-9]{2}\b",
            r"(?:,?[ ]{1,2}(?:at[ ]{1,2}|um[ ]{1,2}|à[ ]{1,2}|a las[ ]{1,2})?[0-2]?[0-9][:h][0-5][0-9](?::[0-5][0-9])?(?:[ ]?[ap]\.?m\.?\b)?)?)"
        ),
        Kind::Date,
        Start::Prefix,
    ),
    // Street addresses, "City, ST 12345" lines and postcodes (byte-level classes: a
    // capital is ASCII or a Latin-1/Latin Extended-A letter, so the DFA stays small).
    (
        r"\b[0-9]{1,5}[A-Za-z]?[ ]+(?:(?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])|[.'\-])*[ ]+){0,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Square|Sq|Terrace|Ter|Parkway|Pkwy|Circle|Cir|Highway|Hwy|Trail|Trl|Crescent|Close|Row|Alley|Loop|Path|Pike|Plaza|Ridge|Route|Rte|Gardens|Mews|Walk|Green|Hill|Park|Port|Station|Crossing|Junction|Mall|Heights|Manor|Point|Springs|Valley|View|Villa|Village|Vista)\b\.?(?:[ ]+(?:N|S|E|W|NE|NW|SE|SW)\b)?(?:,?[ ]+(?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|#)\.?[ ]*[0-9A-Za-z\-]+)?",
        Kind::Street,
        Start::Prefix,
    ),
    (
        r"\b(?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])|-)*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt)[ ]+[0-9]{1,4}[a-z]?\b",
        Kind::Street,
        Start::CapitalRun,
    ),
    (
        r"\b[0-9]{1,4}(?:[ ]?(?:bis|ter))?,?[ ]+(?:[Rr]ue|[Aa]venue|[Bb]oulevard|[Cc]hemin|[Aa]llée|[Ii]mpasse|[Qq]uai|[Pp]lace|[Cc]alle|[Aa]venida|[Pp]aseo|[Pp]laza|[Cc]arrer|[Cc]amino|[Vv]ia|[Vv]iale|[Pp]iazza|[Cc]orso|[Ll]argo|[Rr]ua|[Tt]ravessa|[Pp]raça|[Ss]traat|[Ll]aan|[Pp]lein|[Gg]racht|[Uu]lica)[ ]+(?:(?:de|del|de la|des|du|da|do|di|della|dei|dos|das|van|het|d'|l')[ ]*)?(?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])|['\-])*(?:[ ]+(?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])|['\-])*){0,3}",
        Kind::Street,
        Start::Prefix,
    ),
    (
        r"\b(?:[Rr]ue|[Aa]venue|[Bb]oulevard|[Cc]hemin|[Aa]llée|[Ii]mpasse|[Qq]uai|[Pp]lace|[Cc]alle|[Aa]venida|[Pp]aseo|[Pp]laza|[Cc]arrer|[Cc]amino|[Vv]ia|[Vv]iale|[Pp]iazza|[Cc]orso|[Ll]argo|[Rr]ua|[Tt]ravessa|[Pp]raça|[Ss]traat|[Ll]aan|[Pp]lein|[Gg]racht|[Uu]lica)[ ]+(?:(?:de|del|de la|des|du|da|do|di|della|dei|dos|das|van|het|d'|l')[ ]*)?(?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])|['\-])*(?:[ ]+(?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])|['\-])*){0,3},?[ ]+[0-9]{1,4}[a-zA-Z]?\b",
        Kind::Street,
        Start::Prefix,
    ),
    (
        r"\b(?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])+(?:[ ](?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:[A-Za-z]|[\xC3-\xC5][\x80-\xBF])+){0,2},[ ][A-Z]{2}[ ][0-9]{5}(?:-[0-9]{4})?\b",
        Kind::CityLine,
        Start::CapitalRun,
    ),
    (
        r"\b[A-Z]{1,2}[0-9][A-Z0-9]?[ ][0-9][A-Z]{2}\b",
        Kind::Postcode,
        Start::Prefix,
    ),
    (
        r"\b[0-9]{4,5}[ ](?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:[a-z]|\xC3[\x9F-\xBF]|[\xC4-\xC5][\x80-\xBF])+(?:[ \-](?:[A-Z]|\xC3[\x80-\x9E]|[\xC4-\xC5][\x80-\xBF])(?:[a-z]|\xC3[\x9F-\xBF]|[\xC4-\xC5][\x80-\xBF])+){0,2}\b",
        Kind::PostcodeTown,
        Start::Prefix,
    ),
    (
        r"(?:\b[0-9A-Fa-f]{1,4}|::?)(?::[0-9A-Fa-f]{0,4}){2,7}(?:\b|::?)",
        Kind::Ipv6,
        Start::Prefix,
    ),
    // Runs of digits with the separators phone, card and account numbers use.
    (
        r"(?:\+|\b)[0-9](?:[0-9]|[ .\-/]?\(?[0-9]|\)[ .\-]?[0-9]){6,22}\b|\([0-9]{2,5}\)[ .\-]?[0-9](?:[0-9]|[ .\-][0-9]){4,14}\b",
        Kind::Number,
        Start::Prefix,
    ),
];

/// What a pattern finds: `detect` validates and scores a match by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    PrivateKey,
    CloudKey,
    Jwt,
    Bearer,
    Password,
    Url,
    Email,
    Iban,
    Ssn,
    Date,
    Ipv4,
    Ipv6,
    Number,
    Street,
    CityLine,
    Postcode,
    PostcodeTown,
}

//! The audit chain: each row's hash covers its fields and the previous row's hash, so
//! changing, removing or reordering a row breaks every link after it.

use sha2::{Digest, Sha256};

use super::AuditEntry;

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of row `seq` written `at` with `entry`, after the row whose hash is `prev`.
/// Fields are separated by a byte that JSON text and versions cannot hold unescaped (0x1f),
/// so that moving text from one field to the next changes the hash.
pub fn link(seq: i64, at: &str, entry: &AuditEntry, prev: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        seq.to_string().as_str(),
        at,
        &entry.actor,
        &entry.action,
        &entry.subject,
        &entry.detail,
        &entry.model_version,
        &entry.policy_version,
        prev,
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hex(&h.finalize())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_the_previous_hash_are_covered() {
        let entry = AuditEntry {
            actor: "token:1".into(),
            action: "feedback".into(),
            subject: "d1".into(),
            detail: "{}".into(),
            model_version: "m1".into(),
            policy_version: "p1".into(),
        };
        let base = link(1, "2026-01-01T00:00:00Z", &entry, GENESIS);
        assert_eq!(base.len(), 64);
        assert_eq!(base, link(1, "2026-01-01T00:00:00Z", &entry, GENESIS));
        assert_ne!(base, link(2, "2026-01-01T00:00:00Z", &entry, GENESIS));
        assert_ne!(base, link(1, "2026-01-01T00:00:01Z", &entry, GENESIS));
        assert_ne!(base, link(1, "2026-01-01T00:00:00Z", &entry, &base));
        let moved = AuditEntry {
            actor: "token:1f".into(),
            action: "eedback".into(),
            ..entry.clone()
        };
        assert_ne!(base, link(1, "2026-01-01T00:00:00Z", &moved, GENESIS));
    }
}

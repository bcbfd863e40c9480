//! Where labels come from: a JSONL field, or `folder` for the Maildir folder.

use mailtriage_core::Email;

/// The message's label in `field`: a JSONL field (strings, numbers and booleans), or the
/// Maildir folder when the field is `folder`.
pub fn label_of(email: &Email, field: &str) -> Option<String> {
    if field == "folder" {
        return email.folder.clone();
    }
    match email.fields.as_ref()?.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

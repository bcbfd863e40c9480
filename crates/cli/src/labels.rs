//! Where labels come from: a JSONL field, or `folder` for the Maildir folder.

use mailtriage_core::model::Model;
use mailtriage_core::Email;

use crate::exit::{Code, Failure};

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

/// The label field of each head of `model`: the head's own name, unless `--label-field H=F`
/// names another.
pub fn head_fields(model: &Model, pairs: &[String]) -> Result<Vec<String>, Failure> {
    let mut fields: Vec<String> = model.heads.iter().map(|h| h.name.clone()).collect();
    for pair in pairs {
        let (head, field) = pair.split_once('=').ok_or_else(|| {
            Failure::new(
                Code::Usage,
                anyhow::anyhow!("`--label-field {pair}`: give it as HEAD=FIELD"),
            )
        })?;
        let i = model
            .heads
            .iter()
            .position(|h| h.name == head)
            .ok_or_else(|| {
                Failure::new(
                    Code::Usage,
                    anyhow::anyhow!("the model has no head `{head}`"),
                )
            })?;
        fields[i] = field.to_string();
    }
    Ok(fields)
}

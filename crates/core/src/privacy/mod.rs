//! `Email` becomes `Redacted`: the only form of a message that features, models, stores and
//! logs may see.
//!
//! Detection and masking of personal data come with the privacy issue; until then `redact`
//! passes the message through and reports no findings. The type exists now so that the
//! compiler already guarantees the order of the pipeline: nothing downstream can take an
//! [`Email`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::parse::Email;

/// A message after redaction, with a summary of what was found in it.
#[derive(Debug, Clone)]
pub struct Redacted {
    email: Email,
    findings: FindingsSummary,
}

/// What redaction found: counts per entity type, and whether confidential material was seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingsSummary {
    /// Findings per entity type (`EMAIL_ADDRESS`, `CREDIT_CARD`...).
    pub counts: BTreeMap<String, u32>,
    /// True when confidential-IP markers or listed terms were found.
    pub confidential: bool,
}

impl Redacted {
    /// The redacted message.
    pub fn email(&self) -> &Email {
        &self.email
    }

    /// What was found.
    pub fn findings(&self) -> &FindingsSummary {
        &self.findings
    }
}

/// Redacts a message. For now a pass-through with no findings (see the module docs).
pub fn redact(email: Email) -> Redacted {
    Redacted {
        email,
        findings: FindingsSummary::default(),
    }
}

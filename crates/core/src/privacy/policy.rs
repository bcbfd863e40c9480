//! The privacy policy: what to do with each kind of finding, read from TOML.
//!
//! ```toml
//! min_score = 0.5                 # findings below this are ignored
//!
//! [operators]                     # per type: mask, pseudonymise, hash, drop or keep
//! EMAIL_ADDRESS = "pseudonymise"
//! PERSON = "pseudonymise"
//! CONFIDENTIAL = "keep"
//!
//! [email]
//! keep_domain = true              # <EMAIL_7f3a9c>@example.com: the model still sees the domain
//!
//! [url]
//! keep_host = true                # https://example.com/[URL]
//!
//! [confidential]
//! terms = ["Project Falcon", "Acme Holdings"]
//! route = "legal-restricted"      # decisions on confidential mail name this queue
//! ```
//!
//! The pseudonym key never comes from this file: the caller passes it (from an environment
//! variable or a key file).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::detect::Entity;

/// What to do with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    /// Replace with the type's tag: `[EMAIL]`.
    Mask,
    /// Replace with a keyed HMAC-SHA256 token: `<EMAIL_7f3a9c>`, the same for the same value
    /// and key, irreversible without the key.
    #[serde(alias = "pseudonymize")]
    Pseudonymise,
    /// Replace with an unkeyed SHA-256 token: `<EMAIL_h_5d41402a>` (stable everywhere, but a
    /// guessable value can be confirmed: prefer pseudonymise).
    Hash,
    /// Remove.
    Drop,
    /// Leave as is (still counted in the findings).
    Keep,
}

impl Operator {
    /// Whether the operator needs the pseudonym key.
    pub fn needs_key(self) -> bool {
        self == Operator::Pseudonymise
    }
}

/// The policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Findings scored below this are ignored.
    pub min_score: f32,
    /// The operator per kind.
    pub operators: BTreeMap<Entity, Operator>,
    /// Keep the domain of masked or pseudonymised e-mail addresses.
    pub email_keep_domain: bool,
    /// Keep the scheme and host of masked or pseudonymised URLs.
    pub url_keep_host: bool,
    /// Terms that are confidential (project code names, customer names).
    pub terms: Vec<String>,
    /// The restricted queue for mail with confidential material, if any.
    pub restricted_route: Option<String>,
}

impl Default for Policy {
    /// Masks everything personal, keeps confidentiality markers (they are not personal and
    /// route mail), keeps e-mail domains and URL hosts for the model; needs no key.
    fn default() -> Self {
        let operators = Entity::ALL
            .into_iter()
            .map(|e| {
                let op = if e == Entity::Confidential {
                    Operator::Keep
                } else {
                    Operator::Mask
                };
                (e, op)
            })
            .collect();
        Policy {
            min_score: 0.5,
            operators,
            email_keep_domain: true,
            url_keep_host: true,
            terms: Vec::new(),
            restricted_route: None,
        }
    }
}

/// A policy file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Not valid TOML, or not the expected shape.
    #[error("the privacy policy is not valid: {0}")]
    Invalid(String),
    /// An operator for a type we do not know.
    #[error("the privacy policy names an unknown type `{0}` (known: EMAIL_ADDRESS, URL, IP_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, DATE_TIME, PERSON, LOCATION, SECRET, CONFIDENTIAL)")]
    UnknownType(String),
    /// A key was put in the policy file.
    #[error("the privacy policy must not hold the pseudonym key (`{0}`): pass it in an environment variable or a key file")]
    KeyInPolicy(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    min_score: Option<f32>,
    #[serde(default)]
    operators: BTreeMap<String, Operator>,
    email: Option<EmailSection>,
    url: Option<UrlSection>,
    confidential: Option<ConfidentialSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailSection {
    keep_domain: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UrlSection {
    keep_host: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfidentialSection {
    #[serde(default)]
    terms: Vec<String>,
    route: Option<String>,
}

impl Policy {
    /// Reads a policy from TOML; what it does not say keeps the default.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        // Say clearly when someone tries to put the key here, rather than "unknown field".
        for line in text.lines() {
            let key = line
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if matches!(
                key.as_str(),
                "key" | "secret" | "hmac_key" | "pseudonym_key"
            ) {
                return Err(PolicyError::KeyInPolicy(key));
            }
        }
        let file: File = toml::from_str(text).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let mut policy = Policy::default();
        if let Some(min) = file.min_score {
            policy.min_score = min;
        }
        for (name, op) in file.operators {
            let entity = Entity::parse(&name).ok_or(PolicyError::UnknownType(name))?;
            policy.operators.insert(entity, op);
        }
        if let Some(keep) = file.email.and_then(|e| e.keep_domain) {
            policy.email_keep_domain = keep;
        }
        if let Some(keep) = file.url.and_then(|u| u.keep_host) {
            policy.url_keep_host = keep;
        }
        if let Some(c) = file.confidential {
            policy.terms = c.terms;
            policy.restricted_route = c.route.filter(|r| !r.trim().is_empty());
        }
        Ok(policy)
    }

    /// The operator for `entity`.
    pub fn operator(&self, entity: Entity) -> Operator {
        self.operators
            .get(&entity)
            .copied()
            .unwrap_or(Operator::Mask)
    }

    /// Whether any operator needs the pseudonym key.
    pub fn needs_key(&self) -> bool {
        self.operators.values().any(|o| o.needs_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_overrides_the_defaults() {
        let p = Policy::from_toml(
            "min_score = 0.7\n[operators]\nEMAIL_ADDRESS = \"pseudonymise\"\nURL = \"keep\"\n\
             [email]\nkeep_domain = false\n[confidential]\nterms = [\"Project Falcon\"]\n\
             route = \"legal-restricted\"\n",
        )
        .unwrap();
        assert!((p.min_score - 0.7).abs() < 1e-6);
        assert_eq!(p.operator(Entity::EmailAddress), Operator::Pseudonymise);
        assert_eq!(p.operator(Entity::Url), Operator::Keep);
        assert_eq!(p.operator(Entity::Person), Operator::Mask);
        assert!(!p.email_keep_domain);
        assert_eq!(p.terms, vec!["Project Falcon"]);
        assert_eq!(p.restricted_route.as_deref(), Some("legal-restricted"));
        assert!(p.needs_key());
        assert!(!Policy::default().needs_key());
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        let unknown = Policy::from_toml("[operators]\nSHOE_SIZE = \"mask\"\n").unwrap_err();
        assert!(unknown.to_string().contains("SHOE_SIZE"));
        let op = Policy::from_toml("[operators]\nPERSON = \"scramble\"\n").unwrap_err();
        assert!(op.to_string().contains("not valid"));
        let key = Policy::from_toml("key = \"hunter2\"\n").unwrap_err();
        assert!(key.to_string().contains("environment variable"));
        assert!(
            !key.to_string().contains("hunter2"),
            "the error must not echo the key"
        );
    }
}

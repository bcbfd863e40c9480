//! Bearer tokens with roles. Tokens are 256 random bits; only their SHA-256 is stored, so a
//! copy of the store gives no one access. Lookups are cached for a few seconds, so a
//! revocation takes effect within that time in every process sharing the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::store::audit::hex;
use crate::store::{Role, Store, TokenRow};

/// How long a looked-up token is trusted before the store is asked again.
const CACHE_FOR: Duration = Duration::from_secs(5);

/// A new token's text: `mt_` and 64 hex digits.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("mt_{}", hex(&bytes)))
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: i64,
}

impl Caller {
    /// How the audit log names the caller.
    pub fn actor(&self) -> String {
        format!("token:{}", self.token_id)
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No token, or one the store does not know (401).
    Unauthenticated,
    /// A token whose role may not do this (403).
    Forbidden,
    /// The store could not be asked (503).
    Unavailable,
}

/// Checks tokens against the store, with a short cache.
pub struct Authorizer {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<String, (Option<TokenRow>, Instant)>>,
}

impl Authorizer {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Authorizer {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Forgets cached lookups (after a token change made here).
    pub fn forget(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
    }

    /// The caller of a request with these headers, if its role is at least `needed`.
    pub fn check(&self, headers: &HeaderMap, needed: Role) -> Result<Caller, Refusal> {
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(Refusal::Unauthenticated)?;
        let hash = token_hash(token);
        let cached = self.cache.lock().ok().and_then(|c| {
            c.get(&hash)
                .filter(|(_, at)| at.elapsed() < CACHE_FOR)
                .map(|(row, _)| row.clone())
        });
        let row = if let Some(row) = cached {
            row
        } else {
            let row = self.store.token(&hash).map_err(|_| Refusal::Unavailable)?;
            if let Ok(mut c) = self.cache.lock() {
                if c.len() > 10_000 {
                    c.clear();
                }
                c.insert(hash, (row.clone(), Instant::now()));
            }
            row
        };
        let row = row.ok_or(Refusal::Unauthenticated)?;
        if row.role < needed {
            return Err(Refusal::Forbidden);
        }
        Ok(Caller { token_id: row.id })
    }
}

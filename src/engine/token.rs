//! Task tokens: unguessable, self-describing, bound to one task of one
//! execution.
//!
//! Shape (as observed upstream): standard base64 of
//! `v1#<flow>#<execution>#<eventId>#<signature>`, where `eventId` is the
//! task's `TaskScheduled` event and the signature is an HMAC-SHA256 (keyed
//! with the simulation's secret) of everything before it. A token cannot be
//! edited into another execution's task without the key, and the engine
//! needs no token table: the token names its task, the signature proves it
//! was minted here.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the HMAC kept in a token (128 bits).
const SIG_LEN: usize = 16;

/// The secret tokens are signed with, kept as a keyed HMAC state so each
/// token costs no re-keying.
#[derive(Clone)]
pub struct TokenKey(HmacSha256);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// What a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims<'a> {
    pub flow: &'a str,
    pub execution: &'a str,
    pub event_id: u32,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("TaskToken is empty")]
    Empty,
    #[error("TaskToken is not valid base64")]
    NotBase64,
    #[error("TaskToken is malformed")]
    Malformed,
    #[error(
        "TaskToken signature does not match: the token was not issued by this simulator or was altered"
    )]
    BadSignature,
}

impl TokenKey {
    pub fn new(bytes: [u8; 32]) -> TokenKey {
        // HMAC accepts keys of any length: this cannot fail.
        match HmacSha256::new_from_slice(&bytes) {
            Ok(m) => TokenKey(m),
            Err(_) => unreachable!("HMAC takes keys of any size"),
        }
    }

    fn mac(&self, payload: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(payload);
        mac
    }

    /// Mints the token of the task scheduled as `event_id`.
    pub fn mint(&self, flow: &str, execution: &str, event_id: u32) -> String {
        // One buffer for the payload and its signature (hot path: every
        // waitForCallback task mints one).
        let mut raw = String::with_capacity(flow.len() + execution.len() + 40);
        // Writing to a `String` cannot fail.
        let _ = write!(raw, "v1#{flow}#{execution}#{event_id}");
        let sig = self.mac(raw.as_bytes()).finalize().into_bytes();
        raw.push('#');
        URL_SAFE_NO_PAD.encode_string(&sig[..SIG_LEN], &mut raw);
        STANDARD.encode(raw)
    }

    /// Decodes and verifies a token. The claims borrow from `buf`, which
    /// receives the decoded text.
    pub fn verify<'b>(
        &self,
        token: &str,
        buf: &'b mut String,
    ) -> Result<TokenClaims<'b>, TokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        let bytes = STANDARD.decode(token).map_err(|_| TokenError::NotBase64)?;
        *buf = String::from_utf8(bytes).map_err(|_| TokenError::Malformed)?;
        let (payload, sig) = buf.rsplit_once('#').ok_or(TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        let mut parts = payload.split('#');
        let (Some("v1"), Some(flow), Some(execution), Some(event), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let event_id: u32 = event.parse().map_err(|_| TokenError::Malformed)?;
        if sig.len() != SIG_LEN {
            return Err(TokenError::BadSignature);
        }
        self.mac(payload.as_bytes())
            .verify_truncated_left(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        Ok(TokenClaims {
            flow,
            execution,
            event_id,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(b: u8) -> TokenKey {
        TokenKey::new([b; 32])
    }

    #[test]
    fn round_trips() {
        let k = key(7);
        let t = k.mint("flow-a", "exec_1", 3);
        let mut buf = String::new();
        let c = k.verify(&t, &mut buf).unwrap();
        assert_eq!((c.flow, c.execution, c.event_id), ("flow-a", "exec_1", 3));
    }

    #[test]
    fn tokens_differ_per_task_and_key() {
        let k = key(7);
        assert_ne!(k.mint("f", "e", 3), k.mint("f", "e", 4));
        assert_ne!(k.mint("f", "e", 3), key(8).mint("f", "e", 3));
    }

    #[test]
    fn a_token_cannot_be_edited_into_another_execution() {
        let k = key(7);
        let t = k.mint("f", "victim", 3);
        let raw = String::from_utf8(STANDARD.decode(&t).unwrap()).unwrap();
        let forged = STANDARD.encode(raw.replace("victim", "other"));
        let mut buf = String::new();
        assert_eq!(k.verify(&forged, &mut buf), Err(TokenError::BadSignature));
        assert_eq!(key(8).verify(&t, &mut buf), Err(TokenError::BadSignature));
    }

    #[test]
    fn garbage_is_refused_not_panicked_on() {
        let k = key(1);
        let mut buf = String::new();
        for bad in [
            "",
            "   ",
            "%%%",
            "aGVsbG8=",
            "djEjYSNiI2MjZA==",
            "djEjYSNiIzEj",
        ] {
            assert!(k.verify(bad, &mut buf).is_err(), "{bad}");
        }
    }
}

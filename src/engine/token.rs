//! Task tokens: unguessable, self-describing, bound to one task of one
//! execution.
//!
//! Shape (as observed upstream): standard base64 of
//! `v1#<flow>#<execution>#<eventId>#<signature>`, where `eventId` is the
//! task's `TaskScheduled` event and the signature is an HMAC-SHA256 (keyed
//! with the simulation's secret) of everything before it *and* of the
//! execution's instance number, which the token does not show. A token
//! cannot be edited into another execution's task without the key, nor
//! replayed against a later execution that reuses the name (after
//! DeleteFlow and CreateFlow), and the engine needs no token table: the
//! token names its task, the signature proves it was minted here for that
//! very execution.

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

/// What a well-formed token names; [`TokenKey::check`] says whether it was
/// minted for the execution instance that has that name now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims<'a> {
    pub flow: &'a str,
    pub execution: &'a str,
    pub event_id: u32,
    /// The signed part, as written in the token.
    payload: &'a str,
    signature: [u8; SIG_LEN],
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

    fn mac(&self, payload: &[u8], instance: u32) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(payload);
        mac.update(b"#");
        mac.update(&instance.to_be_bytes());
        mac
    }

    /// Mints the token of the task scheduled as `event_id` in the execution
    /// `instance` (a number no other execution of the simulation has).
    pub fn mint(&self, flow: &str, execution: &str, instance: u32, event_id: u32) -> String {
        // One buffer for the payload and its signature (hot path: every
        // waitForCallback task mints one).
        let mut raw = String::with_capacity(flow.len() + execution.len() + 40);
        // Writing to a `String` cannot fail.
        let _ = write!(raw, "v1#{flow}#{execution}#{event_id}");
        let sig = self.mac(raw.as_bytes(), instance).finalize().into_bytes();
        raw.push('#');
        URL_SAFE_NO_PAD.encode_string(&sig[..SIG_LEN], &mut raw);
        STANDARD.encode(raw)
    }

    /// Decodes a token into what it names. The claims borrow from `buf`,
    /// which receives the decoded text. Nothing is trusted until
    /// [`TokenKey::check`] passes.
    pub fn decode<'b>(
        &self,
        token: &str,
        buf: &'b mut String,
    ) -> Result<TokenClaims<'b>, TokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(TokenError::Empty);
        }
        // Decoded on the stack when it fits (every token this engine
        // mints does), into `buf`'s own room: no allocation per report.
        buf.clear();
        let mut stack = [0u8; 768];
        match STANDARD.decode_slice(token, &mut stack) {
            Ok(n) => {
                buf.push_str(std::str::from_utf8(&stack[..n]).map_err(|_| TokenError::Malformed)?)
            }
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
                let bytes = STANDARD.decode(token).map_err(|_| TokenError::NotBase64)?;
                *buf = String::from_utf8(bytes).map_err(|_| TokenError::Malformed)?;
            }
            Err(base64::DecodeSliceError::DecodeError(_)) => return Err(TokenError::NotBase64),
        }
        let (payload, sig) = buf.rsplit_once('#').ok_or(TokenError::Malformed)?;
        let mut sig_bytes = [0u8; 2 * SIG_LEN];
        let sig = match URL_SAFE_NO_PAD.decode_slice(sig, &mut sig_bytes) {
            Ok(n) => Some(&sig_bytes[..n]),
            // Longer than any signature this engine makes.
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => None,
            Err(base64::DecodeSliceError::DecodeError(_)) => return Err(TokenError::Malformed),
        };
        // From the right: execution names never hold `#` (they are
        // validated) and event ids are digits, but a flow named after its
        // file may (`a#b.yaml`).
        let mut parts = payload.rsplitn(3, '#');
        let (Some(event), Some(execution), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let Some(flow) = rest.strip_prefix("v1#").filter(|f| !f.is_empty()) else {
            return Err(TokenError::Malformed);
        };
        let event_id: u32 = event.parse().map_err(|_| TokenError::Malformed)?;
        let Some(signature) = sig.and_then(|s| <[u8; SIG_LEN]>::try_from(s).ok()) else {
            return Err(TokenError::BadSignature);
        };
        Ok(TokenClaims {
            flow,
            execution,
            event_id,
            payload,
            signature,
        })
    }

    /// Whether the token was minted here for execution `instance` (the one
    /// its names resolve to now).
    pub fn check(&self, claims: &TokenClaims<'_>, instance: u32) -> Result<(), TokenError> {
        self.mac(claims.payload.as_bytes(), instance)
            .verify_truncated_left(&claims.signature)
            .map_err(|_| TokenError::BadSignature)
    }

    /// [`TokenKey::decode`] then [`TokenKey::check`], for a caller that
    /// knows the instance already.
    pub fn verify<'b>(
        &self,
        token: &str,
        buf: &'b mut String,
        instance: u32,
    ) -> Result<TokenClaims<'b>, TokenError> {
        let claims = self.decode(token, buf)?;
        self.check(&claims, instance)?;
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> TokenKey {
        TokenKey::new([b; 32])
    }

    #[test]
    fn round_trips() {
        let k = key(7);
        let t = k.mint("flow-a", "exec_1", 0, 3);
        let mut buf = String::new();
        let c = k.verify(&t, &mut buf, 0).unwrap();
        assert_eq!((c.flow, c.execution, c.event_id), ("flow-a", "exec_1", 3));
    }

    #[test]
    fn tokens_differ_per_task_and_key() {
        let k = key(7);
        assert_ne!(k.mint("f", "e", 0, 3), k.mint("f", "e", 0, 4));
        assert_ne!(k.mint("f", "e", 0, 3), key(8).mint("f", "e", 0, 3));
    }

    #[test]
    fn a_token_cannot_be_edited_into_another_execution() {
        let k = key(7);
        let t = k.mint("f", "victim", 0, 3);
        let raw = String::from_utf8(STANDARD.decode(&t).unwrap()).unwrap();
        let forged = STANDARD.encode(raw.replace("victim", "other"));
        let mut buf = String::new();
        assert_eq!(
            k.verify(&forged, &mut buf, 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            key(8).verify(&t, &mut buf, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_flow_name_may_hold_the_separator() {
        let k = key(7);
        let t = k.mint("a#b", "exec_1", 2, 3);
        let mut buf = String::new();
        let c = k.verify(&t, &mut buf, 2).unwrap();
        assert_eq!((c.flow, c.execution, c.event_id), ("a#b", "exec_1", 3));
    }

    #[test]
    fn a_token_is_bound_to_its_execution_instance_not_just_its_name() {
        // Same flow, name and event id, but a later execution (the flow
        // was deleted and created again): the old token must not fit.
        let k = key(7);
        let t = k.mint("f", "again", 4, 3);
        let mut buf = String::new();
        assert!(k.verify(&t, &mut buf, 4).is_ok());
        assert_eq!(k.verify(&t, &mut buf, 9), Err(TokenError::BadSignature));
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
            assert!(k.verify(bad, &mut buf, 0).is_err(), "{bad}");
        }
    }
}

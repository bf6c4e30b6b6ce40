//! replay: refuses signed requests that are stale or already seen.
//!
//! A signature proves who sent a request, not when: without a check, a
//! captured `ReportTaskSucceeded` could be sent again forever. As the
//! services do, a signed request must carry a time within
//! [`DEFAULT_WINDOW_SECS`] (15 minutes) of the server's wall clock (RPC
//! `Timestamp`, ACS3 `x-acs-date`, MNS `Date`), and a nonce (RPC
//! `SignatureNonce`, ACS3 `x-acs-signature-nonce`) may be used once within
//! that window. Only signed requests are checked: without credentials
//! nothing is signed.
//!
//! Pure bookkeeping: the caller passes the wall clock in, so tests can too.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// How far a signed request's time may be from the server's, in seconds,
/// unless configured otherwise (`--replay-window`).
pub const DEFAULT_WINDOW_SECS: u64 = 15 * 60;

/// Most nonces remembered at once. Past it the oldest are forgotten early
/// (a replay of one of those within its window would pass): at the
/// documented 100 QPS start rate the window holds 90,000, so this is
/// reached only by a flood.
pub const MAX_NONCES: usize = 1_000_000;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Replay {
    /// The time is not in a format the service accepts.
    #[error("`{0}` is not a valid time")]
    BadTime(String),
    /// The time is outside the window.
    #[error(
        "the request time {given} is {skew} s away from the server's clock ({now}); at most {window} s is accepted"
    )]
    Expired {
        given: String,
        now: String,
        skew: i64,
        window: u64,
    },
    /// The nonce was used within the window.
    #[error("the signature nonce `{0}` was used already")]
    NonceUsed(String),
}

/// The window and the nonces seen in it.
#[derive(Debug)]
pub struct Guard {
    window_secs: u64,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// In the order they were first seen, with the wall second they were.
    order: VecDeque<(i64, Box<str>)>,
    set: HashSet<Box<str>>,
}

impl Guard {
    /// A guard with a window of `window_secs` seconds.
    pub fn new(window_secs: u64) -> Guard {
        Guard {
            window_secs,
            seen: Mutex::default(),
        }
    }

    /// The window, in seconds.
    pub fn window_secs(&self) -> u64 {
        self.window_secs
    }

    /// Checks a request time against the wall clock `now` (Unix seconds).
    pub fn check_time(&self, time: &OffsetDateTime, now: i64) -> Result<(), Replay> {
        let skew = time.unix_timestamp().saturating_sub(now);
        if skew.unsigned_abs() > self.window_secs {
            return Err(Replay::Expired {
                given: rfc3339(time.unix_timestamp()),
                now: rfc3339(now),
                skew,
                window: self.window_secs,
            });
        }
        Ok(())
    }

    /// Records `nonce` at `now` (Unix seconds); refuses one seen within the
    /// window.
    pub fn check_nonce(&self, nonce: &str, now: i64) -> Result<(), Replay> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let horizon = now.saturating_sub(self.window_secs as i64);
        while seen
            .order
            .front()
            .is_some_and(|(t, _)| *t < horizon || seen.set.len() >= MAX_NONCES)
        {
            if let Some((_, old)) = seen.order.pop_front() {
                seen.set.remove(&old);
            }
        }
        if seen.set.contains(nonce) {
            return Err(Replay::NonceUsed(nonce.to_owned()));
        }
        let nonce: Box<str> = nonce.into();
        seen.set.insert(nonce.clone());
        seen.order.push_back((now, nonce));
        Ok(())
    }
}

/// The wall clock, in Unix seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Parses an RPC `Timestamp` / ACS3 `x-acs-date` (ISO 8601 UTC, e.g.
/// `2026-01-01T00:00:00Z`).
pub fn parse_iso8601(text: &str) -> Result<OffsetDateTime, Replay> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| Replay::BadTime(text.to_owned()))
}

/// Parses an MNS `Date` header (RFC 1123, e.g. `Thu, 01 Jan 2026 00:00:00
/// GMT`).
pub fn parse_http_date(text: &str) -> Result<OffsetDateTime, Replay> {
    // RFC 2822 parsing takes `GMT` as a zone name, as RFC 1123 writes it.
    OffsetDateTime::parse(text.trim(), &Rfc2822).map_err(|_| Replay::BadTime(text.to_owned()))
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    #[test]
    fn times_within_the_window_pass_and_outside_are_refused() {
        let g = Guard::new(DEFAULT_WINDOW_SECS);
        let t = parse_iso8601("2026-01-01T00:10:00Z").unwrap();
        assert!(g.check_time(&t, NOW).is_ok());
        let t = parse_iso8601("2025-12-31T23:45:00Z").unwrap();
        assert!(g.check_time(&t, NOW).is_ok(), "exactly 15 minutes");
        let t = parse_iso8601("2025-12-31T23:44:59Z").unwrap();
        let e = g.check_time(&t, NOW).unwrap_err();
        assert!(matches!(e, Replay::Expired { skew: -901, .. }), "{e:?}");
        assert!(e.to_string().contains("900 s"), "{e}");
        let t = parse_iso8601("2026-01-01T00:15:01Z").unwrap();
        assert!(g.check_time(&t, NOW).is_err(), "the future too");
    }

    #[test]
    fn http_dates_parse_as_mns_sends_them() {
        let t = parse_http_date("Thu, 01 Jan 2026 00:00:00 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), NOW);
        assert!(matches!(parse_http_date("x"), Err(Replay::BadTime(_))));
        assert!(matches!(
            parse_iso8601("yesterday"),
            Err(Replay::BadTime(_))
        ));
    }

    #[test]
    fn a_nonce_is_good_once_within_the_window() {
        let g = Guard::new(900);
        assert!(g.check_nonce("a", NOW).is_ok());
        assert_eq!(
            g.check_nonce("a", NOW + 899),
            Err(Replay::NonceUsed("a".into()))
        );
        assert!(g.check_nonce("b", NOW + 10).is_ok());
        // Past the window it is forgotten: its time check refuses a replay
        // of the old request by then.
        assert!(g.check_nonce("a", NOW + 901).is_ok());
        assert!(g.check_nonce("b", NOW + 911).is_ok());
    }
}

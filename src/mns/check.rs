//! check: the limits upstream enforces and the checks of what comes in
//! from outside: topic, queue and subscription names, topic and queue
//! attribute ranges, push endpoints (`http://` only, pushable), message
//! bodies and tags (characters XML 1.0 can hold).
//!
//! Pure functions of their arguments answering [`MnsError`]: they must not
//! touch the [`super::Mns`] state, the bus, the clock or the RNG.

use super::model::{Endpoint, MnsError, QueueAttributes, TopicAttributes};

/// The largest message body upstream accepts (64 KiB).
pub const MAX_MESSAGE_SIZE: u32 = 65_536;

/// Most subscriptions one topic holds (upstream's documented limit).
pub const MAX_SUBSCRIPTIONS_PER_TOPIC: usize = 100;

/// Longest host name of a push endpoint (DNS: 253 characters).
const MAX_ENDPOINT_HOST: usize = 253;

impl TopicAttributes {
    /// Checks the ranges upstream enforces.
    pub fn validate(&self) -> Result<(), MnsError> {
        check_range(
            "MaximumMessageSize",
            self.maximum_message_size,
            1024,
            u64::from(MAX_MESSAGE_SIZE),
        )
    }
}

impl QueueAttributes {
    /// Checks the ranges upstream enforces.
    pub fn validate(&self) -> Result<(), MnsError> {
        check_range("VisibilityTimeout", self.visibility_timeout, 1, 43_200)?;
        check_range(
            "MaximumMessageSize",
            self.maximum_message_size,
            1024,
            u64::from(MAX_MESSAGE_SIZE),
        )?;
        check_range(
            "MessageRetentionPeriod",
            self.message_retention_period,
            60,
            604_800,
        )?;
        check_range("DelaySeconds", self.delay_seconds, 0, 604_800)?;
        check_range("PollingWaitSeconds", self.polling_wait_seconds, 0, 30)
    }
}

/// Checks that `v` is between `low` and `high` (both included).
pub(super) fn check_range(
    what: &str,
    v: impl Into<u64>,
    low: u64,
    high: u64,
) -> Result<(), MnsError> {
    let v: u64 = v.into();
    if (low..=high).contains(&v) {
        Ok(())
    } else {
        Err(MnsError::InvalidArgument(format!(
            "The value of {what} should be between {low} and {high}, got {v}."
        )))
    }
}

/// Checks a topic, queue or subscription name as upstream does: a letter,
/// then letters, digits and `-`, at most 256 characters.
pub fn validate_name(kind: &str, name: &str) -> Result<(), MnsError> {
    let ok = name.len() <= 256
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(MnsError::InvalidArgument(format!(
            "The {kind} name `{name}` is not valid: it must start with a letter and contain only letters, digits and `-` (at most 256)."
        )))
    }
}

/// Checks a push endpoint given through the API or the command line:
/// plain `http://host[:port][/path]` only (see README: no https), parsed
/// as the push will parse it, so an accepted endpoint can always be pushed
/// to (an ASCII URL, a host of at most 253 characters, a port 1-65535).
pub fn parse_http_endpoint(url: &str) -> Result<Endpoint, MnsError> {
    let invalid = |why: &str| {
        MnsError::InvalidArgument(format!(
            "The endpoint `{url}` is not a valid http:// URL: {why}."
        ))
    };
    if url.starts_with("https://") {
        return Err(MnsError::InvalidArgument(format!(
            "The endpoint `{url}` uses https, which flowsim cannot push to; use an http:// endpoint."
        )));
    }
    if !url.starts_with("http://") {
        return Err(MnsError::InvalidArgument(format!(
            "The endpoint `{url}` is not supported: flowsim pushes to http:// endpoints only."
        )));
    }
    if let Some(c) = url
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() || *c == ' ')
    {
        return Err(invalid(&format!(
            "it contains {} (percent-encode it, or use the ASCII form of the host)",
            describe_char(c)
        )));
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() {
        return Err(invalid("it needs a host"));
    }
    let uri: hyper::Uri = url.parse().map_err(|e| invalid(&format!("{e}")))?;
    let Some(authority) = uri.authority() else {
        return Err(invalid("it needs a host"));
    };
    let host = authority.host();
    if host.is_empty() {
        return Err(invalid("it needs a host"));
    }
    if host.len() > MAX_ENDPOINT_HOST {
        return Err(invalid(&format!(
            "the host is {} characters long, at most {MAX_ENDPOINT_HOST}",
            host.len()
        )));
    }
    // `Authority::port` hides a port that does not fit a u16: read it from
    // the text (after any user info, after the `]` of an IPv6 host).
    let host_port = authority.as_str().rsplit('@').next().unwrap_or("");
    let after_host = match host_port.rfind(']') {
        Some(i) => &host_port[i + 1..],
        None => host_port,
    };
    if let Some((_, port)) = after_host.rsplit_once(':') {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            // `http://h:/` means the default port.
            _ if port.is_empty() => {}
            _ => {
                return Err(invalid(&format!(
                    "the port `{port}` is not between 1 and 65535"
                )));
            }
        }
    }
    Ok(Endpoint::Http(url.to_owned()))
}

/// A character for an error message: `U+0001`, or `'é' (U+00E9)`.
fn describe_char(c: char) -> String {
    if c.is_control() {
        format!("the control character U+{:04X}", u32::from(c))
    } else {
        format!("the character {c:?} (U+{:04X})", u32::from(c))
    }
}

/// Whether XML 1.0 allows `c` in a document (`Char` production): tab,
/// line feed, carriage return, and everything from U+0020 except U+FFFE
/// and U+FFFF (a Rust `char` is never a surrogate).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Checks a message body: every character must be allowed in XML 1.0, or
/// the XML answers (ReceiveMessage, XML notifications) would not be
/// well-formed. Says which character and where (1-based character index).
pub fn check_message_text(field: &str, text: &str) -> Result<(), MnsError> {
    // Hot path (every publish): printable ASCII, tab, line feed and
    // carriage return are all allowed; eight bytes of printable ASCII at
    // a time, then a byte at a time.
    let bytes = text.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    let plain = |b: u8| matches!(b, 0x20..=0x7f | b'\t' | b'\n' | b'\r');
    let ascii = chunks.all(|c| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        // No byte of 0x80 or above, none below 0x20 (a control).
        let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        (w & HIGH == 0 && control == 0) || c.iter().all(|&b| plain(b))
    });
    if ascii && chunks.remainder().iter().all(|&b| plain(b)) {
        return Ok(());
    }
    match text.chars().enumerate().find(|(_, c)| !xml_char(*c)) {
        None => Ok(()),
        Some((i, c)) => Err(MnsError::InvalidArgument(format!(
            "The {field} contains {}, which XML 1.0 does not allow, at character {}.",
            describe_char(c),
            i + 1
        ))),
    }
}

/// Checks a message tag: no control characters at all (it travels as the
/// `x-mns-message-tag` header of SIMPLIFIED pushes).
pub fn check_message_tag(tag: &str) -> Result<(), MnsError> {
    match tag
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() || !xml_char(*c))
    {
        None => Ok(()),
        Some((i, c)) => Err(MnsError::InvalidArgument(format!(
            "The MessageTag contains {}, which a tag cannot hold, at character {}.",
            describe_char(c),
            i + 1
        ))),
    }
}

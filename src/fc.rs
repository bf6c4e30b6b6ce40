//! fc: the simulated Function Compute function.
//!
//! Owns what the function does with a push or an invocation: the
//! [`Behaviour`] (the default, `succeed`, is exactly the seed's handler:
//! parse `Message`, read `taskToken`, call ReportTaskSucceeded with
//! `{"status": "success"}`, answer 200), an optional virtual latency, the
//! inbox of notifications held for a person (`manual`) and a bounded log of
//! what it received. It reaches the engine and MNS only through envelopes.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::kernel::{Component, Ctx, FnfError, Millis, Msg, PushOutcome, TaskError, TaskRef};

/// How many received pushes/invocations are kept for inspection.
pub const LOG_LIMIT: usize = 1_000;

/// What the function does with what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, Deserialize)]
pub enum Behaviour {
    /// Like the seed: ReportTaskSucceeded with the configured output, HTTP 200.
    #[default]
    Succeed,
    /// ReportTaskFailed with the configured error and cause, HTTP 200.
    Fail,
    /// Answers HTTP 500 and reports nothing, so MNS retries show.
    Error,
    /// Never answers.
    Drop,
    /// Holds each notification until a person answers it.
    Manual,
}

impl Behaviour {
    pub const ALL: [Behaviour; 5] = [
        Behaviour::Succeed,
        Behaviour::Fail,
        Behaviour::Error,
        Behaviour::Drop,
        Behaviour::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Behaviour::Succeed => "succeed",
            Behaviour::Fail => "fail",
            Behaviour::Error => "error",
            Behaviour::Drop => "drop",
            Behaviour::Manual => "manual",
        }
    }

    /// The next behaviour in [`Behaviour::ALL`] (the TUI cycles with it).
    pub fn next(self) -> Behaviour {
        let i = Behaviour::ALL.iter().position(|b| *b == self).unwrap_or(0);
        Behaviour::ALL[(i + 1) % Behaviour::ALL.len()]
    }
}

impl std::str::FromStr for Behaviour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Behaviour::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown handler behaviour `{s}`: expected succeed, fail, error, drop or manual"
                )
            })
    }
}

/// The function's configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct HandlerConfig {
    pub behaviour: Behaviour,
    /// Virtual time the function takes before it answers.
    pub latency_ms: Millis,
    /// The Output it reports on success.
    pub output: Value,
    /// The Error it reports with `fail`.
    pub fail_error: String,
    /// The Cause it reports with `fail`.
    pub fail_cause: String,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            behaviour: Behaviour::Succeed,
            latency_ms: 0,
            output: json!({"status": "success"}),
            fail_error: "HandlerError".into(),
            fail_cause: "the simulated handler reported a failure".into(),
        }
    }
}

/// What the function received.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// An MNS push (notification id).
    Push(u64),
    /// A task invocation.
    Invoke(TaskRef),
}

/// One thing the function received and what it did.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub at: Millis,
    pub received: Received,
    pub body: Arc<str>,
    /// The task token it found, if any.
    pub token: Option<String>,
    /// What it did, in words.
    pub outcome: Cow<'static, str>,
}

/// A notification or invocation held for a person (manual behaviour).
#[derive(Debug, Clone)]
pub struct Held {
    pub received: Received,
    pub at: Millis,
    pub body: Arc<str>,
    pub token: Option<String>,
    /// The original message body (`messageBody` of the seed's message).
    pub message: Option<String>,
}

impl Held {
    /// The id used to answer it: the notification id, or the task event id
    /// offset past every notification (invocations).
    pub fn id(&self) -> u64 {
        match &self.received {
            Received::Push(n) => *n,
            Received::Invoke(t) => (1 << 63) | ((t.exec.0 as u64) << 32) | t.task as u64,
        }
    }
}

/// How a person answers a held notification.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub enum Answer {
    /// ReportTaskSucceeded with this output, then HTTP 200.
    Succeed(Value),
    /// ReportTaskFailed with error and cause, then HTTP 200.
    Fail { error: String, cause: String },
    /// HTTP 500 (no report).
    Error,
    /// HTTP 200 without a report: the function handed the token on (to a
    /// person, a queue...), and the report comes later through the API
    /// (`Sim::report_succeeded`). An invocation returns `{}`, so a
    /// waitForCallback task counts as submitted.
    Accept,
}

/// The simulated function.
#[derive(Debug)]
pub struct Fc {
    pub config: HandlerConfig,
    name: String,
    inbox: Vec<Held>,
    log: VecDeque<Invocation>,
    rejected: Vec<(String, FnfError)>,
    received: u64,
}

#[derive(Deserialize)]
struct Notification<'a> {
    #[serde(rename = "Message", borrow)]
    message: Cow<'a, str>,
}

/// The message as the handler reads it when it only needs the token
/// (named like [`Payload`] so errors read the same).
#[derive(Deserialize)]
#[serde(rename = "Payload")]
struct TokenOnly<'a> {
    #[serde(rename = "taskToken", borrow, default)]
    task_token: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "taskToken", borrow, default)]
    task_token: Option<Cow<'a, str>>,
    #[serde(rename = "messageBody", default)]
    message_body: Option<Value>,
}

/// How every task token starts: base64 of `v1#`.
const TOKEN_PREFIX: &str = "djEj";

/// Reads the task token (and the original message body) the way the seed's
/// handler does (`taskToken`; failing that, the first top-level string
/// field holding a task token). `Err` says why the handler would have
/// thrown.
pub fn parse_push(body: &str, wrapped: bool) -> Result<(String, Option<String>), String> {
    let message = push_message(body, wrapped)?;
    let payload: Payload<'_> = serde_json::from_str(&message)
        .map_err(|e| format!("`Message` is not a JSON object: {e}"))?;
    let token = match payload.task_token {
        Some(t) => t.into_owned(),
        // A state machine may name the key as it likes (`token.$:
        // $Context.Current.TaskToken`): the first top-level string that
        // is a task token (they start with base64's `v1#`) will do.
        None => serde_json::from_str::<serde_json::Map<String, Value>>(&message)
            .ok()
            .and_then(|m| {
                m.into_iter().find_map(|(_, v)| match v {
                    Value::String(s) if s.starts_with(TOKEN_PREFIX) => Some(s),
                    _ => None,
                })
            })
            .ok_or_else(|| {
                "`Message` has no `taskToken` (nor any field holding a task token)".to_owned()
            })?,
    };
    let body = payload.message_body.map(|v| match v {
        Value::String(s) => s,
        other => other.to_string(),
    });
    Ok((token, body))
}

/// The message a push carries: the notification's `Message`, or the body
/// itself when not wrapped.
fn push_message(body: &str, wrapped: bool) -> Result<Cow<'_, str>, String> {
    if wrapped && let Some(message) = quick_message(body) {
        return Ok(message);
    }
    Ok(if wrapped {
        serde_json::from_str::<Notification<'_>>(body)
            .map_err(|e| format!("push body is not a JSON notification with `Message`: {e}"))?
            .message
    } else {
        Cow::Borrowed(body)
    })
}

/// The notification's `Message`, read by a scanner for the shape MNS
/// writes (one object of string fields with simple escapes), several
/// times faster than serde_json on the hot path. `None` for anything else
/// (numbers, nesting, `\u` escapes, a repeated `Message`, no `Message`),
/// which serde_json then reads, with its own answers and error messages.
fn quick_message(body: &str) -> Option<Cow<'_, str>> {
    let b = body.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut found = None;
    loop {
        let (key, next) = json_string(body, skip_ws(b, i))?;
        i = skip_ws(b, next);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let (value, next) = json_string(body, skip_ws(b, i + 1))?;
        if key == "Message" {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
        i = skip_ws(b, next);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => break,
            _ => return None,
        }
    }
    (skip_ws(b, i + 1) == b.len()).then_some(found).flatten()
}

/// The index of the first non-whitespace byte at or after `i`.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The JSON string starting at `i` (its opening quote), unescaped, and
/// the index past its closing quote; `None` for anything but a string
/// with simple escapes.
fn json_string(s: &str, i: usize) -> Option<(Cow<'_, str>, usize)> {
    let b = s.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut j = start;
    let mut owned: Option<String> = None;
    let mut run = start;
    loop {
        j = crate::kernel::json::next_special(b, j);
        match *b.get(j)? {
            b'"' => break,
            b'\\' => {
                let out = owned.get_or_insert_with(|| String::with_capacity(b.len() - start));
                out.push_str(s.get(run..j)?);
                out.push(match *b.get(j + 1)? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    _ => return None,
                });
                j += 2;
                run = j;
            }
            _ => return None, // a control character
        }
    }
    let text = match owned {
        None => Cow::Borrowed(s.get(start..j)?),
        Some(mut out) => {
            out.push_str(s.get(run..j)?);
            Cow::Owned(out)
        }
    };
    Some((text, j + 1))
}

/// [`parse_push`] without the message body, for a handler that only
/// reports (the hot path: the body is skipped, not built).
pub fn push_token(body: &str, wrapped: bool) -> Result<String, String> {
    let message = push_message(body, wrapped)?;
    let payload: TokenOnly<'_> = serde_json::from_str(&message)
        .map_err(|e| format!("`Message` is not a JSON object: {e}"))?;
    payload
        .task_token
        .map(Cow::into_owned)
        .ok_or_else(|| "`Message` has no `taskToken`".to_owned())
}

impl Fc {
    pub fn new(config: HandlerConfig) -> Fc {
        Fc {
            config,
            name: "callback-handler".into(),
            inbox: Vec::new(),
            log: VecDeque::new(),
            rejected: Vec::new(),
            received: 0,
        }
    }

    /// The function's name (its subscription name on topics).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Notifications and invocations held for a person.
    pub fn inbox(&self) -> &[Held] {
        &self.inbox
    }

    /// What it received, oldest first (bounded).
    pub fn log(&self) -> &VecDeque<Invocation> {
        &self.log
    }

    /// Reports the engine refused (token, error).
    pub fn rejected(&self) -> &[(String, FnfError)] {
        &self.rejected
    }

    /// How many pushes and invocations it received.
    pub fn received(&self) -> u64 {
        self.received
    }

    fn record(
        &mut self,
        at: Millis,
        received: Received,
        body: Arc<str>,
        token: Option<String>,
        outcome: Cow<'static, str>,
    ) {
        if self.log.len() >= LOG_LIMIT {
            self.log.pop_front();
        }
        self.log.push_back(Invocation {
            at,
            received,
            body,
            token,
            outcome,
        });
    }

    /// Handles an envelope addressed to the function.
    pub fn handle(&mut self, ctx: &mut Ctx<'_>, msg: Msg) {
        match msg {
            Msg::Notify {
                notification,
                body,
                wrapped,
            } => {
                self.received += 1;
                // Only a person (manual) reads the original message body.
                let parsed = if self.config.behaviour == Behaviour::Manual {
                    parse_push(&body, wrapped)
                } else {
                    push_token(&body, wrapped).map(|t| (t, None))
                };
                let token = parsed.as_ref().ok().map(|(t, _)| t.clone());
                let received = Received::Push(notification);
                let outcome = match (self.config.behaviour, parsed) {
                    (Behaviour::Manual, Ok((token, message))) => {
                        // MNS pushed this notification again (the held
                        // attempt timed out): one held copy, the latest.
                        self.inbox.retain(|h| h.received != received);
                        self.inbox.push(Held {
                            received: received.clone(),
                            at: ctx.now,
                            body: body.clone(),
                            token: Some(token),
                            message,
                        });
                        Cow::Borrowed("held for a person to answer")
                    }
                    (Behaviour::Drop, _) => Cow::Borrowed("dropped (no answer)"),
                    (Behaviour::Error, _) => {
                        self.answer_push(ctx, notification, 500);
                        Cow::Borrowed("answered HTTP 500")
                    }
                    (_, Err(why)) => {
                        // The seed's handler would throw: FC answers 500.
                        self.answer_push(ctx, notification, 500);
                        Cow::Owned(format!("handler error: {why}; answered HTTP 500"))
                    }
                    (Behaviour::Succeed, Ok((token, _))) => {
                        self.report_success(ctx, token, &self.config.output);
                        self.answer_push(ctx, notification, 200);
                        Cow::Borrowed("ReportTaskSucceeded, answered HTTP 200")
                    }
                    (Behaviour::Fail, Ok((token, _))) => {
                        let (e, c) = (
                            self.config.fail_error.clone(),
                            self.config.fail_cause.clone(),
                        );
                        self.report_failure(ctx, token, e, c);
                        self.answer_push(ctx, notification, 200);
                        Cow::Borrowed("ReportTaskFailed, answered HTTP 200")
                    }
                };
                self.record(ctx.now, received, body, token, outcome);
            }
            Msg::Invoke { task, payload, .. } => {
                self.received += 1;
                let token = parse_push(&payload, false).ok().map(|(t, _)| t);
                let received = Received::Invoke(task);
                let outcome = match self.config.behaviour {
                    Behaviour::Manual => {
                        self.inbox.push(Held {
                            received: received.clone(),
                            at: ctx.now,
                            body: payload.clone(),
                            token: token.clone(),
                            message: None,
                        });
                        Cow::Borrowed("held for a person to answer")
                    }
                    Behaviour::Drop => Cow::Borrowed("dropped (never returns)"),
                    Behaviour::Error => {
                        self.return_result(
                            ctx,
                            task,
                            Err(TaskError {
                                error: "FC.InternalServerError".into(),
                                cause: "the simulated function failed with HTTP 500".into(),
                            }),
                        );
                        Cow::Borrowed("failed: FC.InternalServerError")
                    }
                    Behaviour::Succeed => {
                        // Return first: a waitForCallback task counts as
                        // submitted when the invocation returns.
                        self.return_result(ctx, task, Ok(self.config.output.clone()));
                        if let Some(t) = token.clone() {
                            self.report_success(ctx, t, &self.config.output);
                        }
                        Cow::Borrowed("returned the configured output")
                    }
                    Behaviour::Fail => {
                        let err = TaskError {
                            error: self.config.fail_error.clone(),
                            cause: self.config.fail_cause.clone(),
                        };
                        match token.clone() {
                            // The invocation itself succeeded; the report
                            // fails the task.
                            Some(t) => {
                                self.return_result(ctx, task, Ok(json!({})));
                                self.report_failure(ctx, t, err.error, err.cause);
                            }
                            None => self.return_result(ctx, task, Err(err)),
                        }
                        Cow::Borrowed("failed with the configured error")
                    }
                };
                self.record(ctx.now, received, payload, token, outcome);
            }
            Msg::ReportRejected { token, error } => {
                if self.rejected.len() >= LOG_LIMIT {
                    self.rejected.remove(0);
                }
                self.rejected.push((token.into(), error));
            }
            _ => {}
        }
    }

    fn answer_push(&self, ctx: &mut Ctx<'_>, notification: u64, status: u16) {
        ctx.send(
            self.config.latency_ms,
            Component::Fc,
            Component::Mns,
            Msg::PushAnswer {
                notification,
                outcome: PushOutcome::Status(status),
            },
        );
    }

    fn return_result(&self, ctx: &mut Ctx<'_>, task: TaskRef, result: Result<Value, TaskError>) {
        ctx.send(
            self.config.latency_ms,
            Component::Fc,
            Component::Engine,
            Msg::FunctionResult { task, result },
        );
    }

    fn report_success(&self, ctx: &mut Ctx<'_>, token: String, output: &Value) {
        // Serialised straight from the configured value (no clone), into
        // one exact allocation.
        let mut buf = Vec::with_capacity(64);
        crate::kernel::json::push_value(&mut buf, output);
        let output: Box<str> = String::from_utf8_lossy(&buf).into();
        ctx.send(
            self.config.latency_ms,
            Component::Fc,
            Component::Engine,
            Msg::ReportSucceeded {
                token: token.into(),
                output,
            },
        );
    }

    fn report_failure(&self, ctx: &mut Ctx<'_>, token: String, error: String, cause: String) {
        ctx.send(
            self.config.latency_ms,
            Component::Fc,
            Component::Engine,
            Msg::ReportFailed {
                token: token.into(),
                error: error.into(),
                cause: cause.into(),
            },
        );
    }

    /// Releases what the function holds for tasks that no longer wait
    /// (`waiting` answers whether a held notification's task still does):
    /// a push is answered HTTP 200 without a report (the task already
    /// ended: there is nothing to report, and MNS must not push it again),
    /// an invocation is let go (its task no longer takes a result). In
    /// inbox order, so deterministic. Answers how many were released.
    pub fn release_held(&mut self, ctx: &mut Ctx<'_>, waiting: impl Fn(&Held) -> bool) -> usize {
        let mut released = 0;
        let mut i = 0;
        while i < self.inbox.len() {
            if waiting(&self.inbox[i]) {
                i += 1;
                continue;
            }
            let held = self.inbox.remove(i);
            released += 1;
            let outcome = match held.received {
                Received::Push(n) => {
                    self.answer_push(ctx, n, 200);
                    "released: its task no longer waits; answered HTTP 200"
                }
                Received::Invoke(_) => "released: its task no longer waits",
            };
            self.record(
                ctx.now,
                held.received,
                held.body,
                held.token,
                Cow::Borrowed(outcome),
            );
        }
        released
    }

    /// Answers a held notification or invocation (by [`Held::id`]).
    pub fn answer_held(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        answer: Answer,
    ) -> Result<(), String> {
        let i = self
            .inbox
            .iter()
            .position(|h| h.id() == id)
            .ok_or_else(|| format!("nothing held with id {id}"))?;
        let held = self.inbox.remove(i);
        match (&held.received, answer) {
            (Received::Push(n), Answer::Succeed(out)) => {
                if let Some(t) = held.token.clone() {
                    self.report_success(ctx, t, &out);
                }
                self.answer_push(ctx, *n, 200);
            }
            (Received::Push(n), Answer::Fail { error, cause }) => {
                if let Some(t) = held.token.clone() {
                    self.report_failure(ctx, t, error, cause);
                }
                self.answer_push(ctx, *n, 200);
            }
            (Received::Push(n), Answer::Error) => self.answer_push(ctx, *n, 500),
            (Received::Push(n), Answer::Accept) => self.answer_push(ctx, *n, 200),
            (Received::Invoke(task), Answer::Accept) => {
                self.return_result(ctx, *task, Ok(json!({})));
            }
            (Received::Invoke(task), Answer::Succeed(out)) => {
                if let Some(t) = held.token.clone() {
                    self.report_success(ctx, t, &out);
                }
                self.return_result(ctx, *task, Ok(out));
            }
            (Received::Invoke(task), Answer::Fail { error, cause }) => {
                self.return_result(ctx, *task, Err(TaskError { error, cause }));
            }
            (Received::Invoke(task), Answer::Error) => self.return_result(
                ctx,
                *task,
                Err(TaskError {
                    error: "FC.InternalServerError".into(),
                    cause: "answered with HTTP 500 by a person".into(),
                }),
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_push_like_the_seed_handler() {
        let message = r#"{"messageBody":"hello world","taskToken":"T0K"}"#;
        let body = json!({"TopicOwner": "1", "Message": message}).to_string();
        let (token, mb) = parse_push(&body, true).unwrap();
        assert_eq!(token, "T0K");
        assert_eq!(mb.as_deref(), Some("hello world"));
        // A state machine's own key: the field holding a token is found.
        let message = r#"{"order":"o-7","token":"djEjZmxvdyNl"}"#;
        let body = json!({"TopicOwner": "1", "Message": message}).to_string();
        assert_eq!(parse_push(&body, true).unwrap().0, "djEjZmxvdyNl");
        // No token anywhere: the handler throws.
        let body = json!({"Message": r#"{"token":"nope"}"#}).to_string();
        let err = parse_push(&body, true).unwrap_err();
        assert!(err.contains("no `taskToken`"), "{err}");
    }

    #[test]
    fn the_quick_reader_reads_messages_as_serde_json_does() {
        let message = r#"{"messageBody":"hello \"world\"\n/é","taskToken":"T0K"}"#;
        let bodies = [
            json!({"TopicOwner": "1", "Message": message, "MessageTag": ""}).to_string(),
            format!(
                " {{ \"Message\" : {} , \"x\":\"\\/\\t\\b\\f\\r\" }} ",
                json!(message)
            ),
        ];
        for body in &bodies {
            let quick = quick_message(body).unwrap();
            let slow = serde_json::from_str::<Notification<'_>>(body)
                .unwrap()
                .message;
            assert_eq!(quick, slow, "{body}");
        }
        // Anything else is left to serde_json.
        for body in [
            r#"{"Message":"m","Message":"n"}"#,
            r#"{"Message":"m","n":1}"#,
            r#"{"Message":"\u0041"}"#,
            r#"{"Message":"m"} x"#,
            r#"{}"#,
            r#"{"Other":"m"}"#,
            "[\"Message\"]",
            r#"{"Message":"m",}"#,
        ] {
            assert_eq!(quick_message(body), None, "{body}");
        }
    }

    #[test]
    fn explains_why_a_push_is_unusable() {
        assert!(parse_push("nope", true).unwrap_err().contains("Message"));
        let body = json!({"Message": "{\"x\":1}"}).to_string();
        assert!(parse_push(&body, true).unwrap_err().contains("taskToken"));
    }

    #[test]
    fn behaviours_cycle_and_parse() {
        assert_eq!(Behaviour::Manual.next(), Behaviour::Succeed);
        assert_eq!("drop".parse::<Behaviour>().unwrap(), Behaviour::Drop);
        assert!("nope".parse::<Behaviour>().is_err());
    }
}

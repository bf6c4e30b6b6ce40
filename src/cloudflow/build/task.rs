//! Task states (Action, TaskMode, Parameters, Timeout), the checks of the
//! integrations flowsim simulates (MNS:SendMessage, FC:InvokeFunction,
//! FNF:StartExecution), and the Retry and Catch of Task, Parallel and Map
//! states.

use super::super::constructor;
use super::super::expr::Place;
use super::super::model::*;
use super::{Builder, Fields, suggest};
use crate::syntax::Pos;
use crate::syntax::yaml::{Data, Node};

/// The actions flowsim simulates, as the docs spell them.
const KNOWN_ACTIONS: [&str; 3] = ["MNS:SendMessage", "FC:InvokeFunction", "FNF:StartExecution"];
const MNS_FORMS: &str = "acs:mns:{region}:{account}:/queues/{name}/messages or acs:mns:{region}:{account}:/topics/{name}/messages";
const FC_FORMS: &str = "acs:fc:{region}:{account}:functions/{name} (optionally /{qualifier}) or acs:fc:{region}:{account}:services/{service}/functions/{name}";
const FNF_FORM: &str = "acs:fnf:{region}:{account}:flow/{name}";

/// A parameter of a task's `Parameters`.
enum Param<'n> {
    Missing,
    /// `key: value`.
    Constant(&'n Node),
    /// `key.$: expression`.
    Expr(&'n Node),
}

fn param<'n>(params: Option<&'n Node>, key: &str) -> Param<'n> {
    let Some(entries) = params.and_then(Node::as_map) else {
        return Param::Missing;
    };
    let dollar = format!("{key}.$");
    for e in entries {
        if e.key == key {
            return Param::Constant(&e.value);
        }
        if e.key == dollar {
            return Param::Expr(&e.value);
        }
    }
    Param::Missing
}

/// Letters, digits, `_` and `-`, starting with a letter (or also `_` / a
/// digit when `first_alpha_only` is false), at most `max` long.
fn valid_name(s: &str, first_alpha_only: bool, max: usize) -> bool {
    let first_ok = s.chars().next().is_some_and(|c| {
        c.is_ascii_alphabetic() || (!first_alpha_only && (c == '_' || c.is_ascii_digit()))
    });
    first_ok
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `acs:{service}:{region}:{account}:{rest}`.
fn arn_parts<'a>(arn: &'a str, service: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let mut parts = arn.splitn(5, ':');
    let (Some("acs"), Some(s), Some(region), Some(account), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (s == service).then_some((region, account, rest))
}

/// Decodes an MNS queue or topic ARN.
pub(crate) fn parse_mns_arn(arn: &str) -> Result<(MnsTarget, String, String), String> {
    let bad = || format!("`{arn}` is not an MNS queue or topic ARN; expected {MNS_FORMS}");
    let (region, account, rest) = arn_parts(arn, "mns").ok_or_else(bad)?;
    let segs: Vec<&str> = rest.split('/').collect();
    let ["", kind @ ("topics" | "queues"), name, "messages"] = segs.as_slice() else {
        return Err(bad());
    };
    if !valid_name(name, true, 256) {
        return Err(format!(
            "bad MNS {} name \"{name}\" in `{arn}`: it starts with a letter and has letters, digits and `-`, up to 256",
            &kind[..kind.len() - 1]
        ));
    }
    let target = if *kind == "topics" {
        MnsTarget::Topic((*name).to_owned())
    } else {
        MnsTarget::Queue((*name).to_owned())
    };
    Ok((target, region.to_owned(), account.to_owned()))
}

/// Decodes a Function Compute function ARN (FC 3.0 or 2.0 form).
pub(crate) fn parse_fc_arn(arn: &str) -> Result<FcFunction, String> {
    let bad = || format!("`{arn}` is not a Function Compute function ARN; expected {FC_FORMS}");
    let (region, account, rest) = arn_parts(arn, "fc").ok_or_else(bad)?;
    let segs: Vec<&str> = rest.split('/').collect();
    let (service, function, qualifier) = match segs.as_slice() {
        ["functions", f] => (None, *f, None),
        ["functions", f, q] => (None, *f, Some(*q)),
        ["services", s, "functions", f] => match s.split_once('.') {
            Some((s, q)) => (Some(s), *f, Some(q)),
            None => (Some(*s), *f, None),
        },
        _ => return Err(bad()),
    };
    for (what, name) in [("function", Some(function)), ("service", service)] {
        if let Some(n) = name
            && !valid_name(n, false, 128)
        {
            return Err(format!(
                "bad FC {what} name \"{n}\" in `{arn}`: letters, digits, `_` and `-`, up to 128"
            ));
        }
    }
    if qualifier.is_some_and(str::is_empty) {
        return Err(bad());
    }
    Ok(FcFunction {
        region: region.to_owned(),
        account: account.to_owned(),
        service: service.map(str::to_owned),
        function: function.to_owned(),
        qualifier: qualifier.map(str::to_owned),
    })
}

/// Decodes a flow ARN (a child flow of `FNF:StartExecution`).
pub(crate) fn parse_flow_arn(arn: &str) -> Result<String, String> {
    let bad = || format!("`{arn}` is not a flow ARN; expected {FNF_FORM}");
    let (_, _, rest) = arn_parts(arn, "fnf").ok_or_else(bad)?;
    match rest.strip_prefix("flow/") {
        Some(name) if valid_name(name, false, 128) => Ok(name.to_owned()),
        _ => Err(bad()),
    }
}

impl Builder {
    pub(super) fn task(&mut self, f: &Fields<'_>, what: &str) -> StateKind {
        let action = self
            .required(f, "Action", what)
            .and_then(|n| self.action(n));
        let mode_node = f.get("TaskMode");
        let mode = match mode_node {
            None => TaskMode::RequestComplete,
            Some(n) => match n.as_str() {
                Some("RequestComplete") => TaskMode::RequestComplete,
                Some("WaitForCustomCallback") => TaskMode::WaitForCustomCallback,
                Some("WaitForSystemCallback") => TaskMode::WaitForSystemCallback,
                Some(s) => {
                    let hint = super::did_you_mean(s, &TaskMode::ALL);
                    self.err(n.pos, format!("unknown TaskMode \"{s}\"{hint}"));
                    TaskMode::RequestComplete
                }
                None => {
                    self.err(
                        n.pos,
                        format!("`TaskMode` must be a string, found {}", n.kind()),
                    );
                    TaskMode::RequestComplete
                }
            },
        };
        let mode_pos = mode_node.map_or(f.pos, |n| n.pos);
        if mode.is_callback() && self.mode == Mode::Express {
            self.err(
                mode_pos,
                format!(
                    "TaskMode {} needs a Standard flow: Express flows run RequestComplete tasks only",
                    mode.as_str()
                ),
            );
        }
        let params_node = f.get("Parameters");
        let parameters = params_node
            .and_then(|n| constructor::parse(n, "Parameters", Place::INPUT, &mut self.d));
        let timeout = self.timeout(f, what);
        let integration = match &action {
            Some(a) => self.integration(a, mode, mode_pos, params_node, f.pos),
            None => Integration::Other,
        };
        let (retry, catch) = self.errors(f);
        StateKind::Task(Box::new(Task {
            action: action.unwrap_or(Action {
                service: String::new(),
                api: String::new(),
            }),
            mode,
            parameters,
            integration,
            timeout,
            retry,
            catch,
        }))
    }

    fn action(&mut self, n: &Node) -> Option<Action> {
        let s = self.string(n, "Action")?;
        let ok = s.split_once(':').filter(|(svc, api)| {
            !svc.is_empty()
                && !api.is_empty()
                && !api.contains(':')
                && svc
                    .chars()
                    .chain(api.chars())
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        let Some((service, api)) = ok else {
            self.err(
                n.pos,
                format!("`Action` must be `Service:API`, such as `FC:InvokeFunction` or `MNS:SendMessage`; found \"{s}\""),
            );
            return None;
        };
        if !KNOWN_ACTIONS.contains(&s)
            && let Some(known) = KNOWN_ACTIONS.iter().find(|k| k.eq_ignore_ascii_case(s))
        {
            self.err(
                n.pos,
                format!("unknown action \"{s}\"; did you mean \"{known}\"?"),
            );
            return None;
        }
        Some(Action {
            service: service.to_owned(),
            api: api.to_owned(),
        })
    }

    fn timeout(&mut self, f: &Fields<'_>, what: &str) -> Option<Timeout> {
        match (f.get("Timeout"), f.get("Timeout.$")) {
            (Some(_), Some(_)) => {
                let at = f.entry("Timeout.$").map_or(f.pos, |e| e.key_pos);
                self.err(
                    at,
                    format!("{what} has both `Timeout` and `Timeout.$`; keep one"),
                );
                None
            }
            (Some(n), None) => {
                let secs = match &n.data {
                    Data::Int(i) => u64::try_from(*i).ok(),
                    Data::Str(s) => s.trim().parse::<u64>().ok(),
                    _ => None,
                };
                match secs {
                    Some(s) if s <= MAX_TIMEOUT_SECONDS => Some(Timeout::Seconds(s)),
                    _ => {
                        self.err(
                            n.pos,
                            format!(
                                "`Timeout` must be a number of seconds from 0 (no timeout) to {MAX_TIMEOUT_SECONDS}, found {}",
                                shown(n)
                            ),
                        );
                        None
                    }
                }
            }
            (None, Some(n)) => {
                let Some(text) = n.as_str() else {
                    self.err(
                        n.pos,
                        format!(
                            "`Timeout.$` must be an expression such as `$Input.timeout`, found {}",
                            n.kind()
                        ),
                    );
                    return None;
                };
                self.d
                    .expr(n, text, "Timeout.$", Place::INPUT)
                    .map(Timeout::Expr)
            }
            (None, None) => None,
        }
    }

    /// The checks of the integrations flowsim simulates; the parameters'
    /// positions come from the YAML (`params`), `at` is the state's.
    fn integration(
        &mut self,
        action: &Action,
        mode: TaskMode,
        mode_pos: Pos,
        params: Option<&Node>,
        at: Pos,
    ) -> Integration {
        let name = action.to_string();
        let params_at = params.map_or(at, |n| n.pos);
        match name.as_str() {
            "MNS:SendMessage" => {
                if mode == TaskMode::WaitForSystemCallback {
                    self.err(
                        mode_pos,
                        "MNS:SendMessage runs with TaskMode RequestComplete or WaitForCustomCallback, not WaitForSystemCallback",
                    );
                }
                let arn = self.constant_arn(
                    params,
                    params_at,
                    &name,
                    MNS_FORMS,
                    "the queue or topic ARN",
                );
                if matches!(param(params, "message"), Param::Missing) {
                    self.err(
                        params_at,
                        "MNS:SendMessage needs `Parameters.message`, the message body (a text, or a mapping or list sent as JSON)",
                    );
                }
                if let Param::Constant(n) = param(params, "priority") {
                    self.uint(n, "priority", 1, 16);
                }
                if let Param::Constant(n) = param(params, "delaySeconds") {
                    self.uint(n, "delaySeconds", 0, 604_800);
                }
                let Some((arn_node, arn)) = arn else {
                    return Integration::Other;
                };
                match parse_mns_arn(arn) {
                    Ok((target, region, account)) => {
                        if let (MnsTarget::Queue(q), Param::Constant(n) | Param::Expr(n)) =
                            (&target, param(params, "messageTag"))
                        {
                            self.err(
                                n.pos,
                                format!("`messageTag` is for topic messages only, and \"{q}\" is a queue"),
                            );
                        }
                        Integration::MnsSendMessage {
                            target,
                            region,
                            account,
                        }
                    }
                    Err(m) => {
                        self.err(arn_node.pos, m);
                        Integration::Other
                    }
                }
            }
            "FC:InvokeFunction" => {
                let arn =
                    self.constant_arn(params, params_at, &name, FC_FORMS, "the function's ARN");
                let invocation_type = match param(params, "invocationType") {
                    Param::Missing => {
                        self.err(
                            params_at,
                            "FC:InvokeFunction needs `Parameters.invocationType`: Sync or Async",
                        );
                        None
                    }
                    Param::Expr(_) => None,
                    Param::Constant(n) => match n.as_str() {
                        Some("Sync") => Some(InvocationType::Sync),
                        Some("Async") => Some(InvocationType::Async),
                        other => {
                            let hint = other
                                .and_then(|s| suggest(s, &["Sync", "Async"]))
                                .map(|s| format!("; did you mean \"{s}\"?"))
                                .unwrap_or_default();
                            self.err(
                                n.pos,
                                format!(
                                    "`invocationType` must be Sync or Async, found {}{hint}",
                                    shown(n)
                                ),
                            );
                            None
                        }
                    },
                };
                if let Param::Constant(n) = param(params, "invocationType") {
                    match (mode, invocation_type) {
                        (TaskMode::RequestComplete, Some(InvocationType::Async)) => self.err(
                            n.pos,
                            "TaskMode RequestComplete waits for the function's response, so it invokes it `Sync`; \
                             use TaskMode WaitForSystemCallback for `Async`",
                        ),
                        (TaskMode::WaitForSystemCallback, Some(InvocationType::Sync)) => self.err(
                            n.pos,
                            "TaskMode WaitForSystemCallback invokes the function `Async`; use RequestComplete for `Sync`",
                        ),
                        _ => {}
                    }
                }
                let Some((arn_node, arn)) = arn else {
                    return Integration::Other;
                };
                match parse_fc_arn(arn) {
                    Ok(function) => Integration::FcInvokeFunction {
                        function,
                        invocation_type,
                    },
                    Err(m) => {
                        self.err(arn_node.pos, m);
                        Integration::Other
                    }
                }
            }
            "FNF:StartExecution" => {
                let arn =
                    self.constant_arn(params, params_at, &name, FNF_FORM, "the child flow's ARN");
                if let Param::Constant(n) = param(params, "input")
                    && !matches!(n.data, Data::Map(_))
                {
                    self.err(
                        n.pos,
                        format!(
                            "`input` of a child flow must be a mapping (an object), found {}",
                            n.kind()
                        ),
                    );
                }
                let Some((arn_node, arn)) = arn else {
                    return Integration::Other;
                };
                match parse_flow_arn(arn) {
                    Ok(flow) => Integration::StartExecution { flow },
                    Err(m) => {
                        self.err(arn_node.pos, m);
                        Integration::Other
                    }
                }
            }
            _ => Integration::Other,
        }
    }

    /// The constant `Parameters.resourceArn` an integration needs.
    fn constant_arn<'n>(
        &mut self,
        params: Option<&'n Node>,
        at: Pos,
        action: &str,
        forms: &str,
        what: &str,
    ) -> Option<(&'n Node, &'n str)> {
        match param(params, "resourceArn") {
            Param::Missing => {
                self.err(
                    at,
                    format!("{action} needs `Parameters.resourceArn`, {what} ({forms})"),
                );
                None
            }
            Param::Expr(n) => {
                self.err(
                    n.pos,
                    format!(
                        "flowsim needs a constant `resourceArn` for {action} (to know its target when the flow is loaded); drop the `.$`"
                    ),
                );
                None
            }
            Param::Constant(n) => self.string(n, "resourceArn").map(|s| (n, s)),
        }
    }

    /// `Retry` and `Catch` of a Task, Parallel or Map state.
    pub(super) fn errors(&mut self, f: &Fields<'_>) -> (Vec<Retry>, Vec<Catch>) {
        let retry = f.get("Retry").map(|n| self.retry(n)).unwrap_or_default();
        let catch = f.get("Catch").map(|n| self.catch(n)).unwrap_or_default();
        (retry, catch)
    }

    fn error_names(&mut self, f: &Fields<'_>, what: &str) -> Vec<String> {
        let Some(node) = self.required(f, "Errors", what) else {
            return Vec::new();
        };
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!(
                    "`Errors` must be a list of error names such as [FnF.ALL], found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(
                node.pos,
                "`Errors` must name at least one error (FnF.ALL matches all)",
            );
        }
        items
            .iter()
            .filter_map(|n| self.string(n, "Errors").map(str::to_owned))
            .collect()
    }

    fn retry(&mut self, node: &Node) -> Vec<Retry> {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!(
                    "`Retry` must be a list of retry policies, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(f) = self.fields(
                item,
                "a retry policy",
                Some(&[
                    "Errors",
                    "Description",
                    "MaxAttempts",
                    "IntervalSeconds",
                    "BackoffRate",
                    "MaxBackoffSeconds",
                ]),
                &|k| {
                    matches!(k, "Next" | "OutputConstructor").then(|| {
                        format!(
                            "`{k}` belongs to a `Catch` rule; a retry policy only says how to retry"
                        )
                    })
                },
            ) else {
                continue;
            };
            let errors = self.error_names(&f, "the retry policy");
            let description = f
                .get("Description")
                .and_then(|n| self.text(n, "Description"));
            let max_attempts = self
                .required(&f, "MaxAttempts", "the retry policy")
                .and_then(|n| self.uint(n, "MaxAttempts", 0, 1000));
            let interval_seconds = self
                .required(&f, "IntervalSeconds", "the retry policy")
                .and_then(|n| self.uint(n, "IntervalSeconds", 1, MAX_RETRY_INTERVAL_SECONDS));
            let backoff_rate = match f.get("BackoffRate") {
                None => Some(1.0),
                Some(n) => match n.data {
                    Data::Int(i) if (1..=1000).contains(&i) => Some(i as f64),
                    Data::Float(x) if (1.0..=1000.0).contains(&x) => Some(x),
                    _ => {
                        self.err(
                            n.pos,
                            format!(
                                "`BackoffRate` must be a number from 1 to 1000, found {}",
                                shown(n)
                            ),
                        );
                        None
                    }
                },
            };
            let max_backoff_seconds = f
                .get("MaxBackoffSeconds")
                .and_then(|n| self.uint(n, "MaxBackoffSeconds", 1, MAX_RETRY_INTERVAL_SECONDS));
            if let (Some(max_attempts), Some(interval_seconds), Some(backoff_rate)) =
                (max_attempts, interval_seconds, backoff_rate)
            {
                out.push(Retry {
                    errors,
                    description,
                    max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
                    interval_seconds,
                    backoff_rate,
                    max_backoff_seconds,
                    pos: item.pos,
                });
            }
        }
        out
    }

    fn catch(&mut self, node: &Node) -> Vec<Catch> {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!(
                    "`Catch` must be a list of catch rules, found {}",
                    node.kind()
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(f) = self.fields(
                item,
                "a catch rule",
                Some(&["Errors", "Description", "OutputConstructor", "Next"]),
                &|k| {
                    matches!(
                        k,
                        "MaxAttempts" | "IntervalSeconds" | "BackoffRate" | "MaxBackoffSeconds"
                    )
                    .then(|| {
                        format!("`{k}` belongs to a `Retry` policy; a catch rule says where to go")
                    })
                },
            ) else {
                continue;
            };
            let errors = self.error_names(&f, "the catch rule");
            let description = f
                .get("Description")
                .and_then(|n| self.text(n, "Description"));
            let output_constructor = f.get("OutputConstructor").and_then(|n| {
                constructor::parse(n, "OutputConstructor", Place::OUTPUT, &mut self.d)
            });
            let next = match self.required(&f, "Next", "the catch rule") {
                Some(n) => self.target(n, "Next"),
                None => {
                    self.mark_broken();
                    None
                }
            };
            if let Some(next) = next {
                out.push(Catch {
                    errors,
                    description,
                    output_constructor,
                    next,
                    pos: item.pos,
                });
            }
        }
        out
    }
}

/// A scalar as written, for messages: `"abc"`, `5`, or its kind.
fn shown(n: &Node) -> String {
    match &n.data {
        Data::Str(s) => format!("\"{s}\""),
        Data::Int(i) => i.to_string(),
        Data::Float(x) => x.to_string(),
        _ => n.kind().to_owned(),
    }
}

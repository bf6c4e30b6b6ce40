//! Task steps: `resourceArn` and its pattern, `serviceParams`, `retry`,
//! `catch` and `errorMappings`. Another `impl Builder` block of the one
//! validation pass; it touches nothing but the builder.

use super::*;

impl Builder {
    pub(super) fn task(&mut self, id: StepId, f: &Fields<'_>, what: &str, list: usize) -> StepKind {
        let mut resource = None;
        let mut resource_arn = String::new();
        if let Some(n) = self.required(f, "resourceArn", what)
            && let Some(s) = self.string(n, "resourceArn")
        {
            resource_arn = s.to_owned();
            match parse_arn(s) {
                Ok(r) => resource = Some(r),
                Err(m) => self.err(n.pos, m),
            }
        }
        let pattern = match f.get("pattern") {
            None => Pattern::RequestResponse,
            Some(n) => match n.as_str() {
                Some("requestResponse") => Pattern::RequestResponse,
                Some("sync") => Pattern::Sync,
                Some("waitForCallback") => Pattern::WaitForCallback,
                Some(p) => {
                    let hint = did_you_mean(p, &PATTERNS);
                    self.err(n.pos, format!("unknown pattern \"{p}\"{hint}"));
                    Pattern::RequestResponse
                }
                None => {
                    self.err(
                        n.pos,
                        format!("`pattern` must be a string, found {}", n.kind()),
                    );
                    Pattern::RequestResponse
                }
            },
        };
        if pattern == Pattern::Sync
            && resource
                .as_ref()
                .is_some_and(|r| matches!(r, Resource::MnsTopic { .. } | Resource::MnsQueue { .. }))
            && let Some(n) = f.get("pattern")
        {
            // A publish has no result to wait for: MNS tasks either return
            // the publish receipt or wait for a callback. FC invocations are
            // synchronous, so `sync` there is requestResponse.
            self.err(
                n.pos,
                "pattern `sync` is not supported for MNS tasks (a publish has no result to wait for); use requestResponse or waitForCallback",
            );
        }
        let timeout_seconds = f
            .get("timeoutSeconds")
            .and_then(|n| self.uint(n, "timeoutSeconds", 1, i64::from(u32::MAX)));
        let service_params = f
            .get("serviceParams")
            .map(|n| self.service_params(n))
            .unwrap_or_default();
        if matches!(
            resource,
            Some(Resource::MnsTopic { .. } | Resource::MnsQueue { .. })
        ) && !f
            .get("serviceParams")
            .and_then(Node::as_map)
            .is_some_and(|m| m.iter().any(|e| e.key == "MessageBody"))
        {
            let at = f.get("serviceParams").map_or(f.pos, |n| n.pos);
            self.err(
                at,
                "an MNS task needs `serviceParams.MessageBody` (the message to send, e.g. `MessageBody: $`)",
            );
        }
        let retry = f.get("retry").map(|n| self.retry(n)).unwrap_or_default();
        let mut catch = Vec::new();
        if let Some(n) = f.get("catch") {
            self.catch(id, n, list, &mut catch);
        }
        let error_mappings = f
            .get("errorMappings")
            .map(|n| self.mappings(n, OUTPUT_ROOTS, "errorMappings"));
        StepKind::Task(Task {
            resource_arn,
            resource: resource.unwrap_or(Resource::Flow {
                flow: String::new(),
            }),
            pattern,
            timeout_seconds,
            service_params,
            retry,
            catch,
            error_mappings,
            api: None,
        })
    }

    fn service_params(&mut self, node: &Node) -> Vec<(String, ParamValue)> {
        let Some(f) = self.fields(node, "`serviceParams`", None) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in f.entries {
            let value = match e.value.as_str() {
                Some(s) if s == "$" || s.starts_with("$.") || s.starts_with("$[") => self
                    .path(&e.value, s, &[Root::Dollar], "serviceParams")
                    .map(ParamValue::Path),
                Some(s) if Path::is_reference(s) => {
                    self.err(
                        e.value.pos,
                        format!(
                            "serviceParams read the mapped step input as `$`: write `$.x` rather than `{s}` (map other values into the input with inputMappings)"
                        ),
                    );
                    None
                }
                _ => match e.value.to_json() {
                    Ok(v) => Some(ParamValue::Const(v)),
                    Err(d) => {
                        self.diags.push(d);
                        None
                    }
                },
            };
            if let Some(v) = value {
                out.push((e.key.clone(), v));
            }
        }
        out
    }

    fn retry(&mut self, node: &Node) -> Vec<RetryPolicy> {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!("`retry` must be a list of policies, found {}", node.kind()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let Some(f) = self.fields(
                item,
                "a retry policy",
                Some(&[
                    "errors",
                    "intervalSeconds",
                    "maxIntervalSeconds",
                    "maxAttempts",
                    "multiplier",
                ]),
            ) else {
                continue;
            };
            let errors = match self.required(&f, "errors", "the retry policy") {
                Some(n) => self.string_list(n, "errors"),
                None => Vec::new(),
            };
            let interval_seconds = f
                .get("intervalSeconds")
                .and_then(|n| self.uint(n, "intervalSeconds", 1, 86_400))
                .unwrap_or(RetryPolicy::DEFAULT_INTERVAL_SECONDS);
            let max_interval_seconds = f
                .get("maxIntervalSeconds")
                .and_then(|n| self.uint(n, "maxIntervalSeconds", 1, 86_400))
                .unwrap_or(RetryPolicy::DEFAULT_MAX_INTERVAL_SECONDS);
            let max_attempts = f
                .get("maxAttempts")
                .and_then(|n| self.uint(n, "maxAttempts", 0, 1000))
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(RetryPolicy::DEFAULT_MAX_ATTEMPTS);
            let multiplier = match f.get("multiplier").map(|n| (n, &n.data)) {
                None => RetryPolicy::DEFAULT_MULTIPLIER,
                Some((_, Data::Int(i))) if (1..=1000).contains(i) => *i as f64,
                Some((_, Data::Float(x))) if (1.0..=1000.0).contains(x) => *x,
                Some((n, _)) => {
                    self.err(n.pos, "`multiplier` must be a number from 1 to 1000");
                    RetryPolicy::DEFAULT_MULTIPLIER
                }
            };
            out.push(RetryPolicy {
                errors,
                interval_seconds,
                max_interval_seconds,
                max_attempts,
                multiplier,
                pos: item.pos,
            });
        }
        out
    }

    fn catch(&mut self, id: StepId, node: &Node, list: usize, out: &mut Vec<CatchRule>) {
        let Some(items) = node.as_seq() else {
            self.err(
                node.pos,
                format!("`catch` must be a list of rules, found {}", node.kind()),
            );
            return;
        };
        for item in items {
            let Some(f) = self.fields(item, "a catch rule", Some(&["errors", "goto"])) else {
                continue;
            };
            let errors = match self.required(&f, "errors", "the catch rule") {
                Some(n) => self.string_list(n, "errors"),
                None => Vec::new(),
            };
            if let Some(n) = self.required(&f, "goto", "the catch rule")
                && let Some(target) = self.string(n, "goto")
            {
                self.fixups.push(Fixup {
                    step: id,
                    slot: Slot::Catch(out.len()),
                    target: target.to_owned(),
                    pos: n.pos,
                    list,
                });
            }
            out.push(CatchRule {
                errors,
                goto: StepId(u16::MAX),
                pos: item.pos,
                output: None,
            });
        }
    }
}

//! `flowsim bench --api`: the FnF API measured over real HTTP.
//!
//! Starts the API in-process on a loopback port (or uses a running server
//! with `--url`), creates the seed flow (CreateFlow), starts N executions
//! with the simulated function off so every task token waits, reads the
//! tokens (GetExecutionHistory), then reports every token once with
//! ReportTaskSucceeded over K keep-alive HTTP/1.1 connections, and checks
//! that every execution ended exactly once. Prints requests per second
//! and latency percentiles of StartExecution and ReportTaskSucceeded.
//!
//! The client is a minimal HTTP/1.1 writer and reader on tokio's TCP (one
//! request in flight per connection), so it costs the server's cores as
//! little as a load generator can. Lives in `cli`: it drives the API from
//! outside, like any client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::fnf::sign;
use crate::engine::{EventType, Status};
use crate::fdl::bundled::{SEED_FLOW, SEED_FLOW_NAME};
use crate::sim::{Sim, SimConfig};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    pub executions: usize,
    pub connections: usize,
    pub signed: bool,
    /// A running server to measure instead of an in-process one.
    pub url: Option<String>,
    pub input: String,
}

/// The AccessKey pair of `--signed` (in-process server only).
const KEY_ID: &str = "flowsim-bench";
const KEY_SECRET: &str = "flowsim-bench-secret";

/// Latencies of one phase, and its wall time.
struct Phase {
    name: &'static str,
    latencies_us: Vec<u64>,
    seconds: f64,
}

impl Phase {
    fn print(&self) {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        let pct = |p: f64| {
            let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len().max(1)) - 1;
            l.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        println!(
            "{:<20} {:>7} requests  {:>8.0} req/s  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            self.name,
            l.len(),
            l.len() as f64 / self.seconds.max(1e-9),
            pct(0.50),
            pct(0.90),
            pct(0.99),
            l.last().copied().unwrap_or(0) as f64 / 1000.0,
        );
    }
}

/// Runs the measurement on the current (multi-thread) tokio runtime.
pub async fn run(opts: Options) -> anyhow::Result<bool> {
    let (addr, host, server, handle) = match &opts.url {
        Some(url) => {
            let host = url
                .strip_prefix("http://")
                .context("--url must be http://HOST:PORT")?
                .trim_end_matches('/')
                .to_owned();
            (host.clone(), host, None, None)
        }
        None => {
            let sim = Sim::new(SimConfig {
                subscribe_handler: false,
                ..SimConfig::default()
            });
            let handle = crate::runtime::spawn(sim, crate::runtime::Mode::Run, 1.0);
            let config = crate::api::ApiConfig {
                credentials: opts.signed.then(|| crate::api::Credentials {
                    access_key_id: KEY_ID.to_owned(),
                    access_key_secret: KEY_SECRET.to_owned(),
                }),
                wall_clock: true,
                ..crate::api::ApiConfig::default()
            };
            let server = crate::api::server::start("127.0.0.1:0", config, handle.clone()).await?;
            let addr = server.addr().to_string();
            (addr.clone(), addr, Some(server), Some(handle))
        }
    };
    let signed = opts.signed;
    let client = Client {
        addr,
        host,
        signed,
        nonce: Arc::new(AtomicUsize::new(0)),
    };
    println!(
        "flowsim bench --api: {} executions of {SEED_FLOW_NAME} over {} keep-alive connections to http://{} ({}{})",
        opts.executions,
        opts.connections,
        client.host,
        if signed { "signed" } else { "unsigned" },
        if server.is_some() {
            ", in-process server"
        } else {
            ""
        },
    );

    // The seed flow: created, or there already (a server started with it).
    let mut conn = client.connect().await?;
    let created = client
        .call(
            &mut conn,
            &[
                ("Action", "CreateFlow"),
                ("Name", SEED_FLOW_NAME),
                ("Definition", SEED_FLOW),
                ("Type", "FDL"),
                ("Description", "flowsim bench --api"),
            ],
        )
        .await?;
    if created.status != 200 && !created.body.contains("FlowAlreadyExists") {
        bail!("CreateFlow answered {}: {}", created.status, created.body);
    }

    let n = opts.executions;
    let input = Arc::new(opts.input.clone());
    let starts = client
        .phase("StartExecution", n, opts.connections, {
            let input = input.clone();
            move |_| {
                vec![
                    ("Action".to_owned(), "StartExecution".to_owned()),
                    ("FlowName".to_owned(), SEED_FLOW_NAME.to_owned()),
                    ("Input".to_owned(), (*input).clone()),
                ]
            }
        })
        .await?;
    let names: Vec<String> = starts
        .answers
        .iter()
        .map(|b| json_field(b, "Name"))
        .collect::<anyhow::Result<_>>()?;

    let names = Arc::new(names);
    let histories = client
        .phase("GetExecutionHistory", n, opts.connections, {
            let names = names.clone();
            move |i| {
                vec![
                    ("Action".to_owned(), "GetExecutionHistory".to_owned()),
                    ("FlowName".to_owned(), SEED_FLOW_NAME.to_owned()),
                    ("ExecutionName".to_owned(), names[i].clone()),
                ]
            }
        })
        .await?;
    let tokens: Vec<String> = histories
        .answers
        .iter()
        .map(|b| task_token(b))
        .collect::<anyhow::Result<_>>()?;

    let tokens = Arc::new(tokens);
    let reports = client
        .phase("ReportTaskSucceeded", n, opts.connections, {
            let tokens = tokens.clone();
            move |i| {
                vec![
                    ("Action".to_owned(), "ReportTaskSucceeded".to_owned()),
                    ("TaskToken".to_owned(), tokens[i].clone()),
                    ("Output".to_owned(), r#"{"status":"success"}"#.to_owned()),
                ]
            }
        })
        .await?;
    for b in &reports.answers {
        json_field(b, "EventId")?;
    }

    // Every execution ended, exactly once.
    let described = client
        .phase("DescribeExecution", n, opts.connections, {
            let names = names.clone();
            move |i| {
                vec![
                    ("Action".to_owned(), "DescribeExecution".to_owned()),
                    ("FlowName".to_owned(), SEED_FLOW_NAME.to_owned()),
                    ("ExecutionName".to_owned(), names[i].clone()),
                    ("WaitTimeSeconds".to_owned(), "5".to_owned()),
                ]
            }
        })
        .await?;
    let succeeded = described
        .answers
        .iter()
        .filter(|b| json_field(b, "Status").is_ok_and(|s| s == Status::Succeeded.as_str()))
        .count();
    let mut distinct = names.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let mut once = distinct.len() == n && succeeded == n;
    if let Some(handle) = &handle {
        // In process: the engine itself says how many ended, and how.
        let sim = handle.sim();
        let ended_once = sim.engine.executions().iter().all(|x| {
            x.history
                .iter()
                .filter(|e| e.kind == EventType::ExecutionSucceeded)
                .count()
                == 1
        });
        once &= ended_once
            && sim.engine.count(Status::Succeeded) == n
            && sim.engine.executions().len() == n;
    }

    starts.phase.print();
    reports.phase.print();
    println!(
        "succeeded            {succeeded} of {n} executions{}",
        if once {
            ", each ended exactly once"
        } else {
            ": NOT each exactly once"
        }
    );
    if let Some(server) = server {
        server.stop(Duration::from_secs(2)).await;
    }
    Ok(once)
}

/// What a phase answered: each request's body, in request order.
struct Answers {
    phase: Phase,
    answers: Vec<String>,
}

/// One HTTP answer.
struct Answer {
    status: u16,
    body: String,
}

#[derive(Clone)]
struct Client {
    addr: String,
    host: String,
    signed: bool,
    nonce: Arc<AtomicUsize>,
}

impl Client {
    async fn connect(&self) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(&self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// `n` requests (`params(i)` for request `i`) over `connections`
    /// connections; every one must answer 200. The requests are written
    /// (and signed) before the clock starts, so the client spends as
    /// little of the shared cores as it can while it is measured.
    async fn phase(
        &self,
        name: &'static str,
        n: usize,
        connections: usize,
        params: impl Fn(usize) -> Vec<(String, String)>,
    ) -> anyhow::Result<Answers> {
        let requests: Arc<Vec<Vec<u8>>> = Arc::new(
            (0..n)
                .map(|i| {
                    let p = params(i);
                    let refs: Vec<(&str, &str)> =
                        p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    self.request(&refs)
                })
                .collect(),
        );
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..connections.clamp(1, n.max(1)) {
            let (client, next, requests) = (self.clone(), next.clone(), requests.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn = client.connect().await?;
                let mut done = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        break;
                    };
                    let t = Instant::now();
                    conn.stream.write_all(request).await?;
                    let a = conn.read_answer().await?;
                    let us = t.elapsed().as_micros() as u64;
                    if a.status != 200 {
                        bail!("{name} answered {}: {}", a.status, a.body);
                    }
                    done.push((i, us, a.body));
                }
                anyhow::Ok(done)
            }));
        }
        let mut latencies_us = Vec::with_capacity(n);
        let mut answers = vec![String::new(); n];
        for t in tasks {
            for (i, us, body) in t.await.context("a client task failed")?? {
                latencies_us.push(us);
                answers[i] = body;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        Ok(Answers {
            phase: Phase {
                name,
                latencies_us,
                seconds,
            },
            answers,
        })
    }

    /// One RPC request and its answer.
    async fn call(&self, conn: &mut Conn, params: &[(&str, &str)]) -> anyhow::Result<Answer> {
        conn.stream.write_all(&self.request(params)).await?;
        conn.read_answer().await
    }

    /// The bytes of one RPC request (POST, form body), signed if asked.
    fn request(&self, params: &[(&str, &str)]) -> Vec<u8> {
        let mut all: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        all.insert("Version".into(), crate::api::fnf::VERSION.into());
        if self.signed {
            let nonce = self.nonce.fetch_add(1, Ordering::Relaxed);
            let now = time::OffsetDateTime::now_utc();
            let ts = now
                .format(&time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                ))
                .unwrap_or_default();
            all.insert("AccessKeyId".into(), KEY_ID.into());
            all.insert("SignatureMethod".into(), "HMAC-SHA1".into());
            all.insert("SignatureVersion".into(), "1.0".into());
            all.insert(
                "SignatureNonce".into(),
                format!("{}-{nonce}", now.unix_timestamp_nanos()),
            );
            all.insert("Timestamp".into(), ts);
            all.insert("Format".into(), "JSON".into());
            let signature = sign::sign("POST", &all, KEY_SECRET);
            all.insert("Signature".into(), signature);
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(all.iter())
            .finish();
        let mut out = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

/// A keep-alive connection and its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Reads one answer (status line, headers, a `Content-Length` body).
    async fn read_answer(&mut self) -> anyhow::Result<Answer> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .context("the answer's head is not UTF-8")?;
                let status: u16 = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .context("the answer has no status")?;
                let length: usize = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .context("the answer has no Content-Length")?;
                let total = end + 4 + length;
                while self.buf.len() < total {
                    self.fill().await?;
                }
                let body = String::from_utf8_lossy(&self.buf[end + 4..total]).into_owned();
                self.buf.drain(..total);
                return Ok(Answer { status, body });
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A top-level field of a JSON answer, as text.
fn json_field(body: &str, field: &str) -> anyhow::Result<String> {
    let v: Value = serde_json::from_str(body).context("an answer is not JSON")?;
    match v.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Ok(other.to_string()),
        None => bail!("an answer has no {field}: {body}"),
    }
}

/// The task token in a GetExecutionHistory answer (its TaskStarted event).
fn task_token(body: &str) -> anyhow::Result<String> {
    let v: Value = serde_json::from_str(body).context("an answer is not JSON")?;
    v.get("Events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("Type").and_then(Value::as_str) == Some("TaskStarted"))
        .find_map(|e| {
            let detail: Value = serde_json::from_str(e.get("EventDetail")?.as_str()?).ok()?;
            detail.get("taskToken")?.as_str().map(str::to_owned)
        })
        .with_context(|| format!("no task token in the history: {body}"))
}

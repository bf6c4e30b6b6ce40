//! headless: one execution to its end (`flowsim run`) and throughput
//! measurement (`flowsim bench`), on virtual time, for scripts and CI.
//!
//! A client of the [`Sim`] like the TUI and the API: it issues commands and
//! reads state, and never reaches into a component.

use std::io::{self, Write};
use std::time::Instant;

use serde_json::Value;

use crate::engine::{ExecId, HistoryEvent, Status, history};
use crate::fdl::Flow;
use crate::sim::{Delivery, Millis, Sim};

/// How `run` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One readable line per history event, with the bus traffic between.
    #[default]
    Text,
    /// One JSON object per history event (GetExecutionHistory shape), then
    /// one with the execution (DescribeExecution shape).
    Json,
}

/// Upper bound on deliveries for one `run` (a runaway flow stops here).
pub const MAX_DELIVERIES: u64 = 10_000_000;

/// The result of `run`.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub execution: ExecId,
    pub status: Status,
    /// Why the run stopped early, if it did (nothing left to deliver while
    /// the execution was still running).
    pub stuck: Option<String>,
}

/// Starts one execution of `flow` and delivers envelopes, jumping virtual
/// time, until it ends. Prints as it goes.
pub fn run(
    sim: &mut Sim,
    flow: &str,
    name: Option<&str>,
    input: &str,
    format: Format,
    out: &mut dyn Write,
) -> anyhow::Result<RunOutcome> {
    let id = sim
        .start_execution(flow, name, Some(input))
        .map_err(|e| anyhow::anyhow!("cannot start an execution of `{flow}`: {}: {e}", e.code()))?;
    let mut printed = 0usize;
    let mut printer = Printer {
        epoch_ms: sim.epoch_ms(),
        format,
    };
    if format == Format::Text {
        let x = sim
            .engine
            .execution(id)
            .ok_or_else(|| anyhow::anyhow!("execution vanished"))?;
        writeln!(
            out,
            "execution {} of flow {} started at {}",
            x.name,
            x.flow.name,
            history::format_time(sim.epoch_ms())
        )?;
    }
    printer.events(sim, id, &mut printed, out)?;
    let mut stuck = None;
    let mut deliveries = 0u64;
    loop {
        let status = execution_status(sim, id);
        if status.is_final() {
            // Let what the end set in motion at this instant finish (the
            // push's HTTP answer), then stop.
            let now = sim.now();
            while sim.next_due().is_some_and(|d| d <= now) {
                if let Some(d) = sim.step() {
                    printer.delivery(&d, out)?;
                }
            }
            break;
        }
        if deliveries >= MAX_DELIVERIES {
            stuck = Some(format!("stopped after {MAX_DELIVERIES} deliveries"));
            break;
        }
        match sim.step() {
            Some(d) => {
                deliveries += 1;
                printer.delivery(&d, out)?;
                printer.events(sim, id, &mut printed, out)?;
            }
            None => {
                stuck = Some(stuck_reason(sim, id));
                break;
            }
        }
    }
    if let Some(why) = &stuck {
        let x = sim
            .engine
            .execution(id)
            .ok_or_else(|| anyhow::anyhow!("execution vanished"))?;
        let (flow, name) = (x.flow.name.clone(), x.name.to_string());
        sim.stop_execution(&flow, &name, "flowsim.Stuck", why)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        printer.events(sim, id, &mut printed, out)?;
    }
    let x = sim
        .engine
        .execution(id)
        .ok_or_else(|| anyhow::anyhow!("execution vanished"))?;
    match format {
        Format::Json => writeln!(out, "{}", x.to_json(sim.epoch_ms()))?,
        Format::Text => {
            write!(out, "execution {} {}", x.name, x.status)?;
            if let Some(o) = &x.output {
                write!(out, " with output {o}")?;
            }
            if let Some(e) = &x.error {
                write!(out, ": {}: {}", e.error, e.cause)?;
            }
            writeln!(
                out,
                " after {} of virtual time",
                fmt_duration(x.stopped.unwrap_or(sim.now()) - x.started)
            )?;
        }
    }
    Ok(RunOutcome {
        execution: id,
        status: x.status,
        stuck,
    })
}

fn execution_status(sim: &Sim, id: ExecId) -> Status {
    sim.engine
        .execution(id)
        .map(|x| x.status)
        .unwrap_or(Status::Failed)
}

fn stuck_reason(sim: &Sim, id: ExecId) -> String {
    let waiting = sim.engine.waiting_tasks(id);
    let x = sim.engine.execution(id);
    match (waiting.first(), x) {
        (Some((step, _, _)), Some(x)) => format!(
            "step `{}` waits for a callback that will never come (the handler did not report, \
             nothing else is due, and the task has no timeoutSeconds)",
            x.flow.step(*step).name
        ),
        _ => "nothing left to deliver while the execution is still running".to_owned(),
    }
}

struct Printer {
    epoch_ms: i64,
    format: Format,
}

impl Printer {
    fn delivery(&mut self, d: &Delivery, out: &mut dyn Write) -> io::Result<()> {
        if self.format == Format::Text {
            writeln!(
                out,
                "{:>9}        {} -> {}: {}",
                fmt_clock(d.at),
                d.from.as_str(),
                d.to.as_str(),
                d.summary
            )?;
        }
        Ok(())
    }

    fn events(
        &mut self,
        sim: &Sim,
        id: ExecId,
        printed: &mut usize,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let Some(x) = sim.engine.execution(id) else {
            return Ok(());
        };
        for ev in &x.history[*printed..] {
            match self.format {
                Format::Json => {
                    writeln!(out, "{}", history::event_json(&x.flow, ev, self.epoch_ms))?
                }
                Format::Text => writeln!(out, "{}", text_line(&x.flow, ev))?,
            }
        }
        *printed = x.history.len();
        Ok(())
    }
}

/// One readable line for an event.
pub fn text_line(flow: &Flow, ev: &HistoryEvent) -> String {
    let step = ev.step.map(|s| flow.step(s).name.as_str()).unwrap_or("");
    let detail = describe_detail(&ev.detail);
    format!(
        "{:>9}  #{:<3} {:<19} {:<18} {}",
        fmt_clock(ev.time),
        ev.id,
        ev.kind.as_str(),
        step,
        detail
    )
    .trim_end()
    .to_owned()
}

/// `key=value` pairs of an event detail, compact.
fn describe_detail(detail: &str) -> String {
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => detail.to_owned(),
    }
}

/// `+12.345s`-style virtual clock.
pub fn fmt_clock(t: Millis) -> String {
    format!("+{}.{:03}s", t / 1000, t % 1000)
}

/// Human duration of virtual milliseconds.
pub fn fmt_duration(ms: Millis) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.3}s", ms as f64 / 1000.0)
    } else {
        let s = ms / 1000;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// Figures measured by `bench`.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub executions: u64,
    pub succeeded: u64,
    pub events: u64,
    pub deliveries: u64,
    pub seconds: f64,
    pub peak_rss_bytes: Option<u64>,
    pub rss_growth_bytes: Option<u64>,
}

impl BenchReport {
    pub fn executions_per_second(&self) -> f64 {
        self.executions as f64 / self.seconds.max(1e-9)
    }
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
    pub fn bytes_per_execution(&self) -> Option<f64> {
        self.rss_growth_bytes
            .map(|b| b as f64 / self.executions.max(1) as f64)
    }
}

/// Runs `n` executions of `flow` through the whole chain, in batches,
/// keeping every execution and its history. `progress` is called after each
/// batch with how many are done.
pub fn bench(
    sim: &mut Sim,
    flow: &str,
    input: &str,
    n: u64,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<BenchReport> {
    const BATCH: u64 = 1_000;
    let rss_before = rss_bytes("VmRSS");
    let started = Instant::now();
    let first = sim.engine.executions().len();
    let mut done = 0;
    while done < n {
        let batch = BATCH.min(n - done);
        for _ in 0..batch {
            sim.start_execution(flow, None, Some(input))
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
        }
        sim.run_until_idle(u64::MAX);
        done += batch;
        progress(done);
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss_after = rss_bytes("VmRSS");
    let execs = &sim.engine.executions()[first..];
    Ok(BenchReport {
        executions: n,
        succeeded: execs
            .iter()
            .filter(|x| x.status == Status::Succeeded)
            .count() as u64,
        events: execs.iter().map(|x| x.history.len() as u64).sum(),
        deliveries: sim.delivered(),
        seconds,
        peak_rss_bytes: rss_bytes("VmHWM"),
        rss_growth_bytes: rss_before.zip(rss_after).map(|(a, b)| b.saturating_sub(a)),
    })
}

/// A `/proc/self/status` memory figure in bytes (Linux only).
fn rss_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

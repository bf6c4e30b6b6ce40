//! headless: one execution to its end (`flowsim run`), throughput
//! measurement (`flowsim bench`) and flow tests (`flowsim test`, in
//! [`flowtest`]), on virtual time, for scripts and CI.
//!
//! A client of the [`Sim`] like the TUI and the API: it issues commands and
//! reads state, and never reaches into a component.

pub mod convert;
pub mod flowtest;

use std::io::{self, Write};
use std::time::Instant;

use serde_json::Value;

use crate::engine::{HistoryEvent, Status, history};
use crate::fdl::Flow;
use crate::kernel::{ExecId, Millis};
use crate::sim::{Delivery, Sim};

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
    let mut printed = Vec::new();
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
            // Sub-flow executions it stopped as it ended.
            printer.events(sim, id, &mut printed, out)?;
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
    // The deepest waiting step is the one to blame: a sub-flow task waits
    // for its child, which may wait for a callback.
    let execs = sim.engine.executions_from(id);
    let waiting = execs
        .iter()
        .rev()
        .filter(|x| x.id == id || descends_from(sim, x.id, id))
        .filter(|x| !x.status.is_final())
        .find_map(|x| {
            sim.engine
                .waiting_tasks(x.id)
                .first()
                .map(|(step, _, _)| (x, *step))
        });
    match waiting {
        Some((x, step)) if x.id == id => format!(
            "step `{}` waits for a callback that will never come (the handler did not report, \
             nothing else is due, and the task has no timeoutSeconds)",
            x.flow.step(step).name
        ),
        Some((x, step)) => format!(
            "step `{}` of sub-flow execution `{}` waits for a callback that will never come \
             (the handler did not report, nothing else is due, and no task has timeoutSeconds)",
            x.flow.step(step).name,
            x.name
        ),
        None => "nothing left to deliver while the execution is still running".to_owned(),
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

    /// Prints the new events of execution `id` and of its sub-flow
    /// executions (children, grandchildren...). `printed[i]` counts the
    /// events already printed of execution `id + i` (children always come
    /// after their parent).
    fn events(
        &mut self,
        sim: &Sim,
        id: ExecId,
        printed: &mut Vec<usize>,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let execs = sim.engine.executions_from(id);
        printed.resize(execs.len(), 0);
        for (i, x) in execs.iter().enumerate() {
            if i > 0 && !descends_from(sim, x.id, id) {
                continue;
            }
            for ev in &x.history[printed[i]..] {
                match (self.format, i) {
                    (Format::Json, 0) => {
                        writeln!(out, "{}", history::event_json(&x.flow, ev, self.epoch_ms))?
                    }
                    (Format::Json, _) => {
                        let mut j = history::event_json(&x.flow, ev, self.epoch_ms);
                        if let Value::Object(m) = &mut j {
                            m.insert("ExecutionName".into(), Value::String(x.name.to_string()));
                            m.insert("FlowName".into(), Value::String(x.flow.name.clone()));
                        }
                        writeln!(out, "{j}")?
                    }
                    (Format::Text, 0) => writeln!(out, "{}", text_line(&x.flow, ev))?,
                    (Format::Text, _) => writeln!(out, "{}", child_text_line(x, ev))?,
                }
            }
            printed[i] = x.history.len();
        }
        Ok(())
    }
}

/// Whether `x` is a sub-flow execution started (directly or not) by `root`.
fn descends_from(sim: &Sim, x: ExecId, root: ExecId) -> bool {
    let mut cur = x;
    // Bounded: parents come before children, and nesting is limited.
    for _ in 0..=crate::engine::SUBFLOW_DEPTH_LIMIT + 1 {
        match sim.engine.execution(cur).and_then(|e| e.parent()) {
            Some(p) if p.task.exec == root => return true,
            Some(p) => cur = p.task.exec,
            None => return false,
        }
    }
    false
}

/// One readable line for an event of a sub-flow execution: like
/// [`text_line`], with the execution's name after an arrow.
pub fn child_text_line(x: &crate::engine::Execution, ev: &HistoryEvent) -> String {
    let step = ev.step.map(|s| x.flow.step(s).name.as_str()).unwrap_or("");
    format!(
        "{:>9}  ↳ {} #{:<3} {:<19} {:<18} {}",
        fmt_clock(ev.time),
        x.name,
        ev.id,
        ev.kind.as_str(),
        step,
        describe_detail(&ev.detail)
    )
    .trim_end()
    .to_owned()
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
    /// Executions started by the bench (sub-flow executions not counted).
    pub executions: u64,
    /// Of those, how many succeeded.
    pub succeeded: u64,
    /// Sub-flow executions they started.
    pub children: u64,
    /// History events of all of them, sub-flow executions included.
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
    // Executions in flight at once: up to 1,000, fewer for heavy flows so
    // the live state of a batch (a foreach of 100 callbacks holds 100
    // blocks and 100 envelopes per execution) stays near 20,000 envelopes
    // and RSS measures what is retained rather than a transient peak. The
    // first execution runs alone to measure its weight.
    const MAX_BATCH: u64 = 1_000;
    const DELIVERIES_IN_FLIGHT: u64 = 20_000;
    // Room for every execution kept, before measuring: growing the table
    // as they come would copy it at each doubling and leave the old one
    // behind, counted in the RSS growth though no execution holds it.
    sim.engine
        .reserve_executions(usize::try_from(n).unwrap_or(usize::MAX));
    let rss_before = rss_bytes("VmRSS");
    let started = Instant::now();
    let first = sim.engine.executions().len();
    let mut done = 0;
    let mut batch_size = 1;
    while done < n {
        let batch = batch_size.min(n - done);
        let delivered = sim.delivered();
        for _ in 0..batch {
            sim.start_execution(flow, None, Some(input))
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
        }
        sim.run_until_idle(u64::MAX);
        if done == 0 {
            let per_execution = (sim.delivered() - delivered).max(1);
            batch_size = (DELIVERIES_IN_FLIGHT / per_execution).clamp(1, MAX_BATCH);
        }
        done += batch;
        progress(done);
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss_after = rss_bytes("VmRSS");
    let execs = sim.engine.executions().get(first..).unwrap_or(&[]);
    // Sub-flow executions count as events and children, not as executions.
    let top = || execs.iter().filter(|x| x.parent().is_none());
    Ok(BenchReport {
        executions: n,
        succeeded: top().filter(|x| x.status == Status::Succeeded).count() as u64,
        children: (execs.len() - top().count()) as u64,
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

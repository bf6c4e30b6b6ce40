//! report: what a case's run comes to, and how it reads.
//!
//! A [`CaseReport`] keeps what a reader needs from a case's simulation
//! (failures, the path taken, the last events, how it ended) so the
//! simulation can be dropped as soon as the case is checked. Text is
//! coloured only when asked (a terminal), plain otherwise.

use std::io::{self, Write};
use std::time::Duration;

use super::check::{Failure, arrows};
use super::coverage::{FlowCoverage, Tally};
use super::run::{Driven, End};
use super::spec::{Case, fmt_ms};
use crate::engine::{EventType, Status};
use crate::fdl::Pos;
use crate::headless::text_line;
use crate::kernel::Millis;

/// How many of the last history events a failure shows.
pub const LAST_EVENTS: usize = 8;

/// Longest event line a failure shows (details are cut with `…`).
const EVENT_WIDTH: usize = 150;

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A case, run and checked.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// Index of its file in the run, and of the case in its file.
    pub file: usize,
    pub case: usize,
    pub name: String,
    pub pos: Pos,
    pub failures: Vec<Failure>,
    /// Set when the execution could not even start.
    pub start_error: Option<String>,
    pub status: Option<Status>,
    /// How it ended, in words (a failed case only).
    pub ended: String,
    /// Steps entered, in history order (a failed case only).
    pub path: Vec<String>,
    /// The last history events, as text (a failed case only).
    pub last_events: Vec<String>,
    pub notes: Vec<String>,
    pub elapsed: Millis,
    pub wall: Duration,
    /// Per flow name, what the case exercised (when coverage is asked for).
    pub coverage: Vec<(String, Tally)>,
}

impl CaseReport {
    /// A case that could not start.
    pub fn not_started(file: usize, case: usize, c: &Case, why: String, wall: Duration) -> Self {
        CaseReport {
            file,
            case,
            name: c.name.clone(),
            pos: c.pos,
            failures: Vec::new(),
            start_error: Some(why),
            status: None,
            ended: String::new(),
            path: Vec::new(),
            last_events: Vec::new(),
            notes: Vec::new(),
            elapsed: 0,
            wall,
            coverage: Vec::new(),
        }
    }

    /// The report of a case that ran.
    pub fn of(
        (file, case): (usize, usize),
        c: &Case,
        d: &Driven,
        failures: Vec<Failure>,
        coverage: bool,
        wall: Duration,
    ) -> Self {
        let x = d.sim.engine.execution(d.exec);
        // What only a failure shows is built only for one (most cases
        // pass, and formatting events costs more than running them).
        let failed = !failures.is_empty();
        let (path, last_events, ended, elapsed, status) = match x {
            Some(x) if !failed => (
                Vec::new(),
                Vec::new(),
                String::new(),
                x.stopped.unwrap_or(d.sim.now()) - x.started,
                Some(x.status),
            ),
            Some(x) => {
                let path = x
                    .history
                    .iter()
                    .filter(|e| e.kind == EventType::StepEntered)
                    .filter_map(|e| e.step)
                    .map(|s| x.flow.step(s).name.clone())
                    .collect();
                let from = x.history.len().saturating_sub(LAST_EVENTS);
                let last = x.history[from..]
                    .iter()
                    .map(|e| clip(&text_line(&x.flow, e), EVENT_WIDTH))
                    .collect();
                let elapsed = x.stopped.unwrap_or(d.sim.now()) - x.started;
                let mut ended = match &d.end {
                    End::Ended => format!("{} after {}", x.status, fmt_ms(elapsed)),
                    End::Stuck(why) => format!("still Running after {}: {why}", fmt_ms(elapsed)),
                    End::TimeBound(t) => {
                        format!("still Running at max_time ({})", fmt_ms(*t))
                    }
                    End::DeliveryBound => format!(
                        "still Running after {} deliveries",
                        super::run::MAX_DELIVERIES
                    ),
                };
                if let Some(o) = &x.output {
                    ended.push_str(&format!(" with output {o}"));
                }
                if let Some(e) = &x.error {
                    ended.push_str(&format!(": {}: {}", e.error, e.cause));
                }
                (path, last, ended, elapsed, Some(x.status))
            }
            None => (Vec::new(), Vec::new(), String::new(), 0, None),
        };
        let coverage = if coverage {
            let mut tallies: Vec<(String, Tally)> = Vec::new();
            for x in d.sim.engine.executions() {
                let i = match tallies.iter().position(|(n, _)| *n == x.flow.name) {
                    Some(i) => i,
                    None => {
                        tallies.push((x.flow.name.clone(), Tally::new(&x.flow)));
                        tallies.len() - 1
                    }
                };
                tallies[i].1.add(x);
            }
            tallies
        } else {
            Vec::new()
        };
        CaseReport {
            file,
            case,
            name: c.name.clone(),
            pos: c.pos,
            failures,
            start_error: None,
            status,
            ended,
            path,
            last_events,
            notes: d.notes.clone(),
            elapsed,
            wall,
            coverage,
        }
    }

    pub fn passed(&self) -> bool {
        self.start_error.is_none() && self.failures.is_empty()
    }

    /// The first thing that went wrong, in one line.
    pub fn headline(&self) -> String {
        match (&self.start_error, self.failures.first()) {
            (Some(e), _) => e.clone(),
            (None, Some(f)) => f.line(),
            (None, None) => "passed".to_owned(),
        }
    }

    /// Everything about a failure, plain text.
    pub fn details_plain(&self) -> String {
        let mut buf = Vec::new();
        let _ = self.write_details(&mut buf, &Paint::plain(), "");
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// The case's line, and for a failure what went wrong (indented).
    pub fn write(&self, out: &mut dyn Write, file: &str, paint: &Paint) -> io::Result<()> {
        if self.passed() {
            writeln!(out, "  {} {}", paint.ok("✓"), self.name)?;
            return Ok(());
        }
        writeln!(out, "  {} {}", paint.bad("✗"), paint.bold(&self.name))?;
        writeln!(out, "      {}", paint.dim(&format!("{file}:{}", self.pos)))?;
        self.write_details(out, paint, "      ")
    }

    fn write_details(&self, out: &mut dyn Write, paint: &Paint, ind: &str) -> io::Result<()> {
        if let Some(e) = &self.start_error {
            writeln!(out, "{ind}{} {e}", paint.label("error:"))?;
            return Ok(());
        }
        for f in &self.failures {
            writeln!(
                out,
                "{ind}{} expected {}",
                paint.label(&format!("{}:", f.what)),
                f.expected
            )?;
            writeln!(
                out,
                "{ind}{}      got {}",
                " ".repeat(f.what.chars().count() + 1),
                paint.bad_text(&f.actual)
            )?;
        }
        writeln!(
            out,
            "{ind}{} {}",
            paint.label("path taken:"),
            arrows(self.path.iter().map(String::as_str))
        )?;
        writeln!(out, "{ind}{} {}", paint.label("ended:"), self.ended)?;
        for n in &self.notes {
            writeln!(out, "{ind}{} {n}", paint.label("note:"))?;
        }
        if !self.last_events.is_empty() {
            writeln!(out, "{ind}{}", paint.label("last events:"))?;
            for e in &self.last_events {
                writeln!(out, "{ind}  {}", paint.dim(e))?;
            }
        }
        Ok(())
    }
}

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    on: bool,
}

impl Paint {
    pub fn new(on: bool) -> Paint {
        Paint { on }
    }

    pub fn plain() -> Paint {
        Paint { on: false }
    }

    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }

    pub fn ok(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn bad(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    pub fn bad_text(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn label(&self, s: &str) -> String {
        self.wrap("33", s)
    }
}

/// The coverage table (`--coverage`): per flow, covered items and the
/// ones never exercised.
pub fn write_coverage(
    flows: &[FlowCoverage],
    min: Option<f64>,
    out: &mut dyn Write,
    paint: &Paint,
) -> io::Result<()> {
    let width = flows.iter().map(|f| f.flow.len()).max().unwrap_or(4).max(4);
    writeln!(out, "{}", paint.bold("coverage"))?;
    for f in flows {
        let pct = f.tally.percent();
        let low = min.is_some_and(|m| pct < m);
        let figure = format!(
            "{:>5.1}%  {:>3}/{:<3}",
            pct,
            f.tally.covered(),
            f.tally.total()
        );
        let figure = if low {
            paint.bad(&figure)
        } else if f.tally.covered() == f.tally.total() {
            paint.ok(&figure)
        } else {
            figure
        };
        writeln!(
            out,
            "  {:<width$}  {figure}  {}",
            f.flow,
            paint.dim(&f.file)
        )?;
        for item in f.tally.missed() {
            writeln!(out, "  {:<width$}    never: {}", "", item.label)?;
        }
    }
    Ok(())
}

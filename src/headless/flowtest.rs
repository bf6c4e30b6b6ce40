//! flowtest: `flowsim test`, flow tests for CI.
//!
//! Finds `*.test.yaml` files, loads and checks them ([`spec`]), runs every
//! case on a simulation of its own with scripted answers on virtual time
//! ([`run`]), checks its expectations ([`check`]), and reports per case
//! ([`report`]), with coverage of each flow's graph ([`coverage`]) and
//! JUnit XML ([`junit`]); [`init`] writes a skeleton test file for a flow.
//! Cases run in parallel on std threads; results come back in file and
//! case order, and the same file always gives the same result (each case's
//! simulation is seeded).
//!
//! A client of [`Sim`] like `run` and `bench`: no tokio, no front end.
//! Test files name steps; [`step_named`] and [`step_names`] are the one
//! place those names meet the flow model (CloudFlow state machines will
//! plug in there).

pub mod check;
pub mod coverage;
pub mod init;
pub mod junit;
pub mod report;
pub mod run;
pub mod spec;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

pub use report::{CaseReport, Paint};
pub use run::Defaults;
pub use spec::{Case, Problem, TestFile};

use coverage::{FlowCoverage, Tally};
use spec::{Expect, Kind};

use crate::engine::Status;
use crate::fdl::{Flow, Pos, StepId};
use crate::kernel::ExecId;
use crate::sim::Sim;

/// The step of `flow` a test file's `name` means (a task in `tasks`, a
/// step in `path`, `visits`, `not_visited`).
pub fn step_named(flow: &Flow, name: &str) -> Option<StepId> {
    flow.step_by_name(name).map(|s| s.id)
}

/// Every step name of `flow` (for did-you-mean hints).
pub fn step_names(flow: &Flow) -> Vec<&str> {
    flow.steps.iter().map(|s| s.name.as_str()).collect()
}

/// Whether a file is a flow test file: `*.test.yaml` or `*.test.yml`.
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// Why `flowsim test` could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum FlowTestError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("no test files (*.test.yaml, *.test.yml) under {0}")]
    NoFiles(String),
    /// Problems in test files, one `file:line:col: message` per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
    #[error("{file} has no case named \"{case}\"{hint}")]
    NoCase {
        file: String,
        case: String,
        hint: String,
    },
}

/// Folders and files to test: a folder gives every test file under it
/// (recursively, hidden folders and `target` left out), a file itself.
/// Sorted, each once.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FlowTestError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(FlowTestError::Io {
                path: p.display().to_string(),
                source: io::Error::new(io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    if out.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(FlowTestError::NoFiles(shown.join(", ")));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FlowTestError> {
    let io_err = |source| FlowTestError::Io {
        path: dir.display().to_string(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type().map_err(io_err)?;
        if kind.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&path, out)?;
            }
        } else if kind.is_file() && is_test_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Loads test files; every problem of every file at once.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<TestFile>, Vec<Problem>> {
    let mut cache = spec::FlowCache::new();
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match spec::load(p, &mut cache) {
            Ok(f) => files.push(f),
            Err(mut e) => problems.append(&mut e),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

/// How to run: which cases, what the function does by default, what to
/// report.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only cases whose name contains this.
    pub filter: Option<String>,
    pub defaults: Defaults,
    /// Print the coverage table.
    pub coverage: bool,
    pub coverage_json: Option<PathBuf>,
    /// Fail when a flow's coverage is below this percentage.
    pub min_coverage: Option<f64>,
    pub junit: Option<PathBuf>,
    /// Colours (a terminal).
    pub color: bool,
    /// Worker threads (at least 1).
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            filter: None,
            defaults: Defaults::default(),
            coverage: false,
            coverage_json: None,
            min_coverage: None,
            junit: None,
            color: false,
            threads: default_threads(),
        }
    }
}

/// One worker per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// How a run came out (the exit code: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// A case failed, or coverage is below `--min-coverage`.
    Failed,
    /// A test file is invalid: nothing ran.
    Invalid,
}

impl Verdict {
    pub fn code(self) -> u8 {
        match self {
            Verdict::Passed => 0,
            Verdict::Failed => 1,
            Verdict::Invalid => 2,
        }
    }
}

/// `flowsim test PATH...`: finds, loads, runs and reports. Results go to
/// `out`, invalid test files to `err`.
pub fn test(
    paths: &[PathBuf],
    opts: &Options,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<Verdict, FlowTestError> {
    let started = Instant::now();
    let found = discover(paths)?;
    let files = match load_all(&found) {
        Ok(f) => f,
        Err(problems) => {
            for p in &problems {
                writeln!(err, "{p}").map_err(|e| out_err("stderr", e))?;
            }
            let n = problems
                .iter()
                .map(|p| &p.file)
                .collect::<std::collections::HashSet<_>>();
            writeln!(
                err,
                "flowsim test: {} invalid file{}: no case ran",
                n.len(),
                if n.len() == 1 { "" } else { "s" }
            )
            .map_err(|e| out_err("stderr", e))?;
            return Ok(Verdict::Invalid);
        }
    };
    let want_coverage =
        opts.coverage || opts.coverage_json.is_some() || opts.min_coverage.is_some();
    let reports = run_cases(&files, opts, want_coverage);
    let paint = Paint::new(opts.color);
    let w = |e| out_err("stdout", e);
    let mut by_file: Vec<Vec<&CaseReport>> = vec![Vec::new(); files.len()];
    for r in &reports {
        by_file[r.file].push(r);
    }
    for (f, cases) in files.iter().zip(&by_file) {
        if cases.is_empty() {
            continue;
        }
        writeln!(
            out,
            "{} {}",
            paint.bold(&f.shown()),
            paint.dim(&format!("(flow {})", f.flow().name))
        )
        .map_err(w)?;
        for c in cases {
            c.write(out, &f.shown(), &paint).map_err(w)?;
        }
    }
    let failed = reports.iter().filter(|r| !r.passed()).count();
    let mut verdict = if failed > 0 {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    let flows = if want_coverage {
        aggregate_coverage(&files, &reports)
    } else {
        Vec::new()
    };
    if opts.coverage {
        writeln!(out).map_err(w)?;
        report::write_coverage(&flows, opts.min_coverage, out, &paint).map_err(w)?;
    }
    if let Some(path) = &opts.coverage_json {
        let text = serde_json::to_string_pretty(&coverage::to_json(&flows)).unwrap_or_default();
        write_file(path, text.as_bytes())?;
    }
    if let Some(path) = &opts.junit {
        let suites: Vec<junit::Suite<'_>> = files
            .iter()
            .zip(by_file.iter())
            .filter(|(_, c)| !c.is_empty())
            .map(|(file, cases)| junit::Suite {
                file,
                cases: cases.clone(),
            })
            .collect();
        let mut buf = Vec::new();
        junit::write(&suites, &mut buf).map_err(|e| out_err("junit", e))?;
        write_file(path, &buf)?;
    }
    writeln!(out).map_err(w)?;
    let n = reports.len();
    let nf = by_file.iter().filter(|c| !c.is_empty()).count();
    let summary = format!(
        "{n} case{} in {nf} file{}: {} passed, {failed} failed ({:.2} s)",
        if n == 1 { "" } else { "s" },
        if nf == 1 { "" } else { "s" },
        n - failed,
        started.elapsed().as_secs_f64()
    );
    let summary = if failed > 0 {
        paint.bad(&summary)
    } else {
        paint.ok(&summary)
    };
    writeln!(out, "{summary}").map_err(w)?;
    if n == 0 {
        writeln!(
            out,
            "no case matches --filter {:?}",
            opts.filter.as_deref().unwrap_or("")
        )
        .map_err(w)?;
        verdict = Verdict::Failed;
    }
    if let Some(min) = opts.min_coverage {
        let low: Vec<String> = flows
            .iter()
            .filter(|f| f.tally.percent() < min)
            .map(|f| format!("{} {:.1}%", f.flow, f.tally.percent()))
            .collect();
        if !low.is_empty() {
            writeln!(
                out,
                "{}",
                paint.bad(&format!(
                    "coverage below --min-coverage {min}%: {}",
                    low.join(", ")
                ))
            )
            .map_err(w)?;
            verdict = Verdict::Failed;
        }
    }
    Ok(verdict)
}

fn out_err(what: &str, source: io::Error) -> FlowTestError {
    FlowTestError::Io {
        path: what.to_owned(),
        source,
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), FlowTestError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| FlowTestError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| FlowTestError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Runs the selected cases of `files` on `opts.threads` threads; reports
/// in file and case order.
pub fn run_cases(files: &[TestFile], opts: &Options, coverage: bool) -> Vec<CaseReport> {
    let work: Vec<(usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| {
            f.cases
                .iter()
                .enumerate()
                .filter(|(_, c)| opts.filter.as_deref().is_none_or(|t| c.name.contains(t)))
                .map(move |(ci, _)| (fi, ci))
        })
        .collect();
    let next = AtomicUsize::new(0);
    let threads = opts.threads.clamp(1, work.len().max(1));
    let mut results: Vec<Option<CaseReport>> = (0..work.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(fi, ci)) = work.get(i) else { break };
                        mine.push((i, run_case(files, fi, ci, &opts.defaults, coverage)));
                    }
                    mine
                })
            })
            .collect();
        for w in workers {
            // A worker only panics outside `run_case`'s catch: nothing to
            // report for its cases but that.
            if let Ok(mine) = w.join() {
                for (i, r) in mine {
                    results[i] = Some(r);
                }
            }
        }
    });
    results
        .into_iter()
        .zip(&work)
        .map(|(r, &(fi, ci))| {
            r.unwrap_or_else(|| {
                CaseReport::not_started(
                    fi,
                    ci,
                    &files[fi].cases[ci],
                    "the worker running this case stopped".into(),
                    Duration::ZERO,
                )
            })
        })
        .collect()
}

/// Runs and checks one case; a panic in flowsim becomes the case's error.
fn run_case(
    files: &[TestFile],
    fi: usize,
    ci: usize,
    defaults: &Defaults,
    coverage: bool,
) -> CaseReport {
    let file = &files[fi];
    let case = &file.cases[ci];
    let started = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        match run::drive(file, case, defaults) {
            Ok(d) => {
                let failures = check::check(case, &d);
                CaseReport::of((fi, ci), case, &d, failures, coverage, started.elapsed())
            }
            Err(e) => CaseReport::not_started(fi, ci, case, e.to_string(), started.elapsed()),
        }
    }));
    result.unwrap_or_else(|_| {
        CaseReport::not_started(
            fi,
            ci,
            case,
            "flowsim panicked while running this case (a bug: please report it)".into(),
            started.elapsed(),
        )
    })
}

/// Sums the cases' coverage per flow file, every loaded flow listed (one
/// never run shows 0%), in the order files name them.
pub fn aggregate_coverage(files: &[TestFile], reports: &[CaseReport]) -> Vec<FlowCoverage> {
    let mut out: Vec<FlowCoverage> = Vec::new();
    let mut keys: Vec<PathBuf> = Vec::new();
    let key = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    for f in files {
        for (path, flow) in &f.flows {
            let k = key(path);
            if !keys.contains(&k) {
                keys.push(k);
                out.push(FlowCoverage {
                    flow: flow.name.clone(),
                    file: path.display().to_string(),
                    tally: Tally::new(flow),
                });
            }
        }
    }
    for r in reports {
        let file = &files[r.file];
        for (name, tally) in &r.coverage {
            let Some((path, _)) = file.flows.iter().find(|(_, f)| f.name == *name) else {
                continue;
            };
            let k = key(path);
            if let Some(i) = keys.iter().position(|x| *x == k) {
                out[i].tally.merge(tally);
            }
        }
    }
    out
}

/// A case replayed for the TUI: its simulation as the case left it, the
/// execution, and (for a failing case) the step where it diverged and the
/// history event to show it at.
pub struct Replay {
    pub sim: Sim,
    pub exec: ExecId,
    pub diverged: Option<(StepId, usize)>,
    pub passed: bool,
    /// The case's name.
    pub case: String,
    /// The first failure, in one line (`None`: the case passed).
    pub failure: Option<String>,
}

/// Runs one case of a test file again (deterministically) and keeps its
/// simulation.
pub fn replay(path: &Path, case: &str, defaults: &Defaults) -> Result<Replay, FlowTestError> {
    let mut cache = spec::FlowCache::new();
    let file = spec::load(path, &mut cache).map_err(FlowTestError::Invalid)?;
    let Some(c) = file.cases.iter().find(|c| c.name == case) else {
        let names: Vec<&str> = file.cases.iter().map(|c| c.name.as_str()).collect();
        return Err(FlowTestError::NoCase {
            file: file.shown(),
            case: case.to_owned(),
            hint: crate::fdl::did_you_mean(case, &names),
        });
    };
    let d = run::drive(&file, c, defaults).map_err(|e| {
        FlowTestError::Invalid(vec![Problem {
            file: file.shown(),
            pos: c.pos,
            message: e.to_string(),
        }])
    })?;
    let failures = check::check(c, &d);
    let diverged = check::divergence(&d, &failures);
    Ok(Replay {
        exec: d.exec,
        passed: failures.is_empty(),
        diverged,
        case: c.name.clone(),
        failure: failures.first().map(check::Failure::line),
        sim: d.sim,
    })
}

/// Figures of `flowsim test --bench N`.
#[derive(Debug, Clone)]
pub struct BenchFigures {
    pub cases: usize,
    pub passed: usize,
    pub threads: usize,
    pub seconds: f64,
}

impl BenchFigures {
    pub fn cases_per_second(&self) -> f64 {
        self.cases as f64 / self.seconds.max(1e-9)
    }
}

/// Runs `n` generated cases of the bundled seed flow (four kinds in turn:
/// succeed, fail, a late report with a duplicate, a dropped callback) and
/// measures cases per second.
pub fn bench(n: usize, threads: usize) -> Result<BenchFigures, FlowTestError> {
    use crate::fdl::bundled::{SEED_FLOW, SEED_FLOW_NAME};
    let flow = crate::fdl::load(SEED_FLOW_NAME, SEED_FLOW).map_err(|d| {
        FlowTestError::Invalid(
            d.into_iter()
                .map(|d| Problem {
                    file: "<bundled seed flow>".into(),
                    pos: d.pos,
                    message: d.message,
                })
                .collect(),
        )
    })?;
    let task = flow
        .steps
        .iter()
        .find(|s| matches!(s.kind, crate::fdl::StepKind::Task(_)))
        .map(|s| s.name.clone())
        .unwrap_or_default();
    let answer = |kind, after, duplicate| spec::Answer {
        kind,
        after,
        duplicate,
        pos: Pos::default(),
    };
    let cases = (0..n)
        .map(|i| {
            let (tasks, expect) = match i % 4 {
                0 => (
                    Vec::new(),
                    Expect {
                        status: Some(Status::Succeeded),
                        output: Some(json!({"status": "success"})),
                        ..Expect::default()
                    },
                ),
                1 => (
                    vec![answer(
                        Kind::Fail(Some(("Rejected".into(), "no".into()))),
                        0,
                        false,
                    )],
                    Expect {
                        status: Some(Status::Failed),
                        error: Some("Rejected".into()),
                        ..Expect::default()
                    },
                ),
                2 => (
                    vec![answer(
                        Kind::Succeed(Some(json!({"status": "late"}))),
                        30_000,
                        true,
                    )],
                    Expect {
                        status: Some(Status::Succeeded),
                        output: Some(json!({"status": "late"})),
                        elapsed: Some((spec::Cmp::Eq, 30_000)),
                        ..Expect::default()
                    },
                ),
                _ => (
                    vec![answer(Kind::Drop, 0, false)],
                    Expect {
                        status: Some(Status::Running),
                        ..Expect::default()
                    },
                ),
            };
            Case {
                name: format!("case {i}"),
                pos: Pos::default(),
                input: json!({"messageBody": format!("hello {i}")}),
                seed: Some(i as u64),
                handler: None,
                max_time: None,
                tasks: if tasks.is_empty() {
                    Vec::new()
                } else {
                    vec![(task.clone(), tasks)]
                },
                expect,
            }
        })
        .collect();
    let file = TestFile {
        path: PathBuf::from("<bench>"),
        flows: vec![(PathBuf::from("<bundled seed flow>"), Arc::new(flow))],
        seed: spec::DEFAULT_SEED,
        epoch_ms: None,
        handler: None,
        max_time: None,
        cases,
    };
    let opts = Options {
        threads: threads.max(1),
        ..Options::default()
    };
    let started = Instant::now();
    let reports = run_cases(std::slice::from_ref(&file), &opts, false);
    let seconds = started.elapsed().as_secs_f64();
    Ok(BenchFigures {
        cases: reports.len(),
        passed: reports.iter().filter(|r| r.passed()).count(),
        threads: opts.threads,
        seconds,
    })
}

#[cfg(test)]
mod tests;

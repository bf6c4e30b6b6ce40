//! cli: the command line (clap definitions) and what each command does.
//!
//! `main.rs` only parses and dispatches here. Exit codes: 0 success, 1 the
//! execution ended Failed/TimedOut/Stopped, 2 bad flows or arguments.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::engine::Status;
use crate::fc::{Behaviour, HandlerConfig};
use crate::fdl::{self, Flow};
use crate::headless::{self, Format};
use crate::mns::SubscribeSpec;
use crate::sim::{Sim, SimConfig};

use crate::fdl::bundled::{SEED_FLOW, SEED_FLOW_NAME, SEED_INPUT};

mod bench_api;
mod serve;
mod shell;

pub use serve::{CredentialArgs, DataArgs, ServeArgs, api_config};
use serve::{check_speed, serve};
pub use shell::shutdown_signal;
use shell::{LogTo, flush_log, init_logging, server_runtime, tokio_runtime};

#[derive(Debug, Parser)]
#[command(
    name = "flowsim",
    version,
    about = "Simulate CloudFlow (formerly Serverless Workflow) flows, CloudFlow state machines and FDL v1 alike, that wait for callbacks over MNS and Function Compute",
    long_about = "Simulate CloudFlow (formerly Serverless Workflow) flows, CloudFlow state machines and FDL v1 alike, that wait for callbacks over MNS and Function Compute.\n\n\
                  With no command, opens the TUI on the bundled seed flow (Start -> mns-topic-task -> End), \
                  or on the FLOW files given; the TUI's options below work here too \
                  (`flowsim --seed 7 --step` is `flowsim tui --seed 7 --step`; its keys: `flowsim tui --help`). \
                  `flowsim run` runs a flow headless.",
    after_help = "Exit codes: 0 the execution Succeeded (or the flows are valid), 1 it ended Failed, TimedOut or Stopped, 2 bad flows or arguments.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The TUI's options, for `flowsim` with no command.
    #[command(flatten)]
    pub tui: TuiArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one execution to its end on virtual time and print its history.
    Run(RunArgs),
    /// Check flow files; print every problem as file:line:col: message.
    Validate(ValidateArgs),
    /// Measure executions per second through the whole callback chain.
    Bench(BenchArgs),
    /// Open the terminal UI (the default with no command).
    #[command(after_long_help = TUI_KEYS)]
    Tui(TuiArgs),
    /// Serve the FnF OpenAPI (and MNS) over HTTP for real clients and SDKs.
    Serve(ServeArgs),
    /// Run flow tests (*.test.yaml): scripted answers on virtual time,
    /// assertions, coverage, JUnit XML.
    #[command(after_help = TEST_HELP)]
    Test(TestArgs),
    /// Write the CloudFlow equivalent of an FDL v1 flow; with --check, run
    /// both on the same inputs and handler behaviours and compare them.
    #[command(after_help = CONVERT_HELP)]
    Convert(ConvertArgs),
}

const CONVERT_HELP: &str = "\
Exit codes: 0 converted (--check: every case ended the same both ways), 1 --check found a \
difference, 2 a construct cannot convert (reported as file:line:col: cannot convert: ...) \
or a flow is invalid.";

/// `flowsim convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The FDL v1 flow file (with --check: files or folders of them;
    /// CloudFlow files in a folder are skipped).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Write the CloudFlow flow to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "check")]
    pub output: Option<PathBuf>,
    /// Convert each flow, run both versions headless on its sample input
    /// (and inputs for its choice branches) with the handler behaviours
    /// succeed, fail, error and drop, and report any difference in status,
    /// output or error name.
    #[arg(long)]
    pub check: bool,
    /// With --check: sub-flow files to load (sub-flows are otherwise
    /// looked up as NAME.yaml beside the flow).
    #[arg(long, value_name = "FILE")]
    pub with: Vec<PathBuf>,
    /// With --check: the seed of every run.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

const TEST_HELP: &str = "\
Exit codes: 0 every case passed, 1 a case failed (or coverage is below --min-coverage), \
2 a test file is invalid (reported as file:line:col: message; nothing runs).
The test file format is in the README, section \"Testing your flows\".";

/// `flowsim test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files, or folders to search (recursively) for *.test.yaml and
    /// *.test.yml files; the current folder when absent.
    pub paths: Vec<PathBuf>,
    /// Run only the cases whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// What the function does with tasks a case does not script (a file
    /// or case may say otherwise with `handler:`).
    #[arg(long, default_value = "succeed", value_parser = parse_test_handler, value_name = "succeed|fail|error|drop")]
    pub handler: crate::headless::flowtest::spec::Handler,
    /// The output `succeed` reports when a case gives none (JSON object).
    #[arg(long, default_value = r#"{"status": "success"}"#, value_name = "JSON")]
    pub handler_output: String,
    /// The error `fail` reports when a case gives none.
    #[arg(long, default_value = "HandlerError", value_name = "NAME")]
    pub fail_error: String,
    /// The cause `fail` reports when a case gives none.
    #[arg(
        long,
        default_value = "the simulated handler reported a failure",
        value_name = "TEXT"
    )]
    pub fail_cause: String,
    /// Print, per flow, the share of its graph the cases exercised and
    /// what they never did (steps, choice branches and defaults, catch
    /// clauses, retries, parallel branches, foreach bodies).
    #[arg(long)]
    pub coverage: bool,
    /// Write the coverage as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub coverage_json: Option<PathBuf>,
    /// Fail (exit 1) when a flow's coverage is below PCT percent.
    #[arg(long, value_name = "PCT")]
    pub min_coverage: Option<f64>,
    /// Write the results as JUnit XML to FILE (one testsuite per file).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a skeleton test file for FLOW (FLOW's name .test.yaml beside
    /// it): one case per choice branch and per catch clause.
    #[arg(long, value_name = "FLOW", conflicts_with_all = ["filter", "coverage", "coverage_json", "min_coverage", "junit", "open"])]
    pub init: Option<PathBuf>,
    /// Open the TUI on the case named NAME (of the test files found),
    /// replayed, as `flowsim tui --test FILE --case NAME` does.
    #[arg(long, value_name = "NAME")]
    pub open: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Measure: run N generated cases of the seed flow, print cases/s.
    #[arg(long, hide = true, value_name = "N")]
    pub bench: Option<usize>,
}

fn parse_test_handler(s: &str) -> Result<crate::headless::flowtest::spec::Handler, String> {
    crate::headless::flowtest::spec::Handler::parse(s).ok_or_else(|| {
        format!("unknown handler `{s}`: a test's handler is succeed, fail, error or drop")
    })
}

/// The key reference `flowsim tui --help` prints (the help overlay, `?`,
/// shows the same).
pub const TUI_KEYS: &str = "\
The function is manual by default here: it holds each push and you answer (--handler succeed
answers by itself, as in run, bench and serve). n starts an execution with the flow's sample
input line (# input: {...} in its leading comment).

Keys (press ? in the TUI for this list):
  n             new execution: edit the input (JSON, checked as you type), Enter starts, Esc cancels
  space         toggle RUN / STEP mode
  s             STEP mode: deliver exactly one envelope
  + / -         RUN mode: faster / slower
  t             jump the clock to the next due timer (timeouts, waits, push retries);
                refused, saying how many, while envelopes are due now (s delivers them)
  Y             report success on the waiting task's token at once ({\"status\": \"success\"})
  y             report success, editing the output first
  f             report failure on the token: error name and cause
  a / A         manual: answer the held push as the function, with success / a failure
                (a push still held when its task ends is answered HTTP 200 and let go)
  C             copy the task token (History tab: the selected event's JSON) to the clipboard
                (with OSC 52: the terminal must allow it; in tmux, set-clipboard on)
  h             cycle the function: manual, succeed, fail, error, drop
                (with --handler none there is no simulated function: h says so)
  x             stop the selected execution (asks first: it cannot be undone)
  F             pick the flow new executions start (with two or more flows loaded)
  Tab / S-Tab   focus the next / previous pane (executions, graph, inspector)
  Up Down j k   move in the focused pane; Left Right switch inspector tabs
  J K           scroll the inspector's text (History: the selected event's detail)
  1 2 3 4       inspector tab: Step, Messages, History, Bus
  Enter         select (execution -> graph, step -> Step tab, sub-flow task -> its child;
                History tab: the event's detail alone)
  c / p         sub-flows: to the child execution of the picked task / to the parent
  PgUp PgDn g G page up / down, first / last
  /             filter executions by name (Enter keeps, Esc clears)
  [ / ]         time travel: one history event back / forward (the graph shows that moment)
  Esc           back to the live state, else clear the filter
  mouse         click an execution, a tab, a history event or a step; the wheel scrolls
                the pane under the pointer (--no-mouse leaves the mouse to the terminal)
  ?             help overlay
  q / Ctrl-C    quit
  In editors:   Ctrl-A / Ctrl-E start / end, Ctrl-U / Ctrl-K delete to start / end,
                Ctrl-W delete a word

Logs go to $XDG_STATE_HOME/flowsim/tui.log (else the temp dir's flowsim-tui.log) or --log FILE;
FLOWSIM_LOG=debug|trace for more. NO_COLOR=1 turns colours off (glyphs stay).";

#[derive(Debug, Args, Default)]
pub struct TuiArgs {
    /// Flow files (YAML) to load; folders load every .yaml/.yml file in
    /// them. The bundled seed flow when absent.
    pub flows: Vec<PathBuf>,
    #[command(flatten)]
    pub endpoints: EndpointArgs,
    /// Seed for every random choice (ids, tokens, retry jitter); random when
    /// absent.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Virtual seconds per wall second in RUN mode.
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub speed: f64,
    /// Start in STEP mode (space toggles).
    #[arg(long)]
    pub step: bool,
    /// Virtual milliseconds the function takes to answer.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency: u64,
    /// The wall-clock time virtual time starts at (RFC 3339); now when absent.
    #[arg(long, value_name = "TIME")]
    pub epoch: Option<String>,
    /// Write logs to FILE instead of the default log file.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Also serve the HTTP API (as `flowsim serve`) on ADDR while the TUI
    /// runs; executions it starts show live. API logs go to the log file.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Leave the mouse to the terminal (its own text selection) instead of
    /// clicks selecting and the wheel scrolling.
    #[arg(long)]
    pub no_mouse: bool,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Open on a flow test case (with --case): the case is replayed from
    /// this test file (*.test.yaml), its execution selected and, when it
    /// fails, the step where it diverged picked, in STEP mode.
    #[arg(long, value_name = "FILE", requires = "case", conflicts_with = "flows")]
    pub test: Option<PathBuf>,
    /// The test case to open (see --test).
    #[arg(long, value_name = "NAME", requires = "test")]
    pub case: Option<String>,
    /// Finished executions kept in memory; beyond it the oldest leave (0:
    /// keep every one).
    #[arg(long, default_value_t = DEFAULT_RETAIN, value_name = "N")]
    pub retain: usize,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `--retain`'s default (serve, tui).
pub const DEFAULT_RETAIN: usize = 100_000;

/// Who answers pushes in the TUI: the simulated function, and/or real
/// endpoints. (`serve` has its own, with `succeed` as the default.)
#[derive(Debug, Args, Clone, Default)]
pub struct EndpointArgs {
    /// What the simulated function does with each push: manual (the
    /// TUI's default: it holds each push and you answer, Y / f on the
    /// token or a on the held push), succeed, fail, error, drop, or none:
    /// leave the simulated function out (no subscription to the flows'
    /// topics, no queue consumer) so only real endpoints answer.
    #[arg(long, default_value = "manual", value_parser = parse_handler, value_name = "BEHAVIOUR|none")]
    pub handler: HandlerChoice,
    /// Subscribe a real http:// endpoint to a topic at start (repeatable):
    /// TOPIC=URL[,format=JSON|XML|SIMPLIFIED][,strategy=BACKOFF_RETRY|EXPONENTIAL_DECAY_RETRY][,name=NAME].
    /// The default format is JSON, the default strategy BACKOFF_RETRY.
    // The doc above is clap's help, printed as is: its brackets are not
    // rustdoc links.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long = "subscribe", value_name = "TOPIC=URL[,OPTION=VALUE...]")]
    pub subscribe: Vec<SubscribeSpec>,
}

/// `--handler`: a behaviour of the simulated function, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerChoice {
    Simulated(Behaviour),
    /// `--handler none`: no simulated function.
    None,
}

impl Default for HandlerChoice {
    /// The TUI's: you answer the callbacks.
    fn default() -> Self {
        HandlerChoice::Simulated(Behaviour::Manual)
    }
}

impl EndpointArgs {
    /// Sets the simulated function and the start-up subscriptions of a
    /// simulation.
    pub fn apply(&self, config: &mut SimConfig) {
        match self.handler {
            HandlerChoice::Simulated(b) => {
                config.handler.behaviour = b;
                config.subscribe_handler = true;
            }
            HandlerChoice::None => config.subscribe_handler = false,
        }
        config.subscriptions = self.subscribe.clone();
    }
}

fn parse_handler(s: &str) -> Result<HandlerChoice, String> {
    if s.eq_ignore_ascii_case("none") {
        Ok(HandlerChoice::None)
    } else {
        s.parse().map(HandlerChoice::Simulated)
    }
}

/// Options shared by commands that simulate.
#[derive(Debug, Args, Clone)]
pub struct SimArgs {
    /// What the simulated function does with each push.
    #[arg(long, value_enum, default_value_t = HandlerArg::Succeed)]
    pub handler: HandlerArg,
    /// Virtual milliseconds the function takes to answer.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency: u64,
    /// The Output the function reports on success (JSON object).
    #[arg(long, default_value = r#"{"status": "success"}"#, value_name = "JSON")]
    pub handler_output: String,
    /// The Error the function reports with --handler fail.
    #[arg(long, default_value = "HandlerError", value_name = "NAME")]
    pub fail_error: String,
    /// The Cause the function reports with --handler fail.
    #[arg(
        long,
        default_value = "the simulated handler reported a failure",
        value_name = "TEXT"
    )]
    pub fail_cause: String,
    /// Seed for every random choice (ids, tokens, retry jitter); random when
    /// absent. The same seed, flow and input give the same history.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The wall-clock time virtual time starts at (RFC 3339); now when absent.
    #[arg(long, value_name = "TIME")]
    pub epoch: Option<String>,
}

/// The simulated function's behaviours selectable headless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HandlerArg {
    /// ReportTaskSucceeded with --handler-output, answer HTTP 200 (the seed's handler).
    Succeed,
    /// ReportTaskFailed with --fail-error/--fail-cause, answer HTTP 200.
    Fail,
    /// Answer HTTP 500 without reporting: MNS retries the push.
    Error,
    /// Never answer: the push times out and is retried, the task may time out.
    Drop,
    /// No simulated function: nothing subscribes to the flows' topics or
    /// consumes their queues (`serve`: a real endpoint answers, see
    /// --subscribe).
    None,
}

impl From<HandlerArg> for Behaviour {
    fn from(h: HandlerArg) -> Behaviour {
        match h {
            HandlerArg::Succeed => Behaviour::Succeed,
            HandlerArg::Fail => Behaviour::Fail,
            HandlerArg::Error => Behaviour::Error,
            HandlerArg::Drop => Behaviour::Drop,
            // Never consulted: the function is not subscribed to anything.
            HandlerArg::None => Behaviour::Succeed,
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The flow file (YAML); the bundled seed flow when absent.
    pub flow: Option<PathBuf>,
    /// The execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, short, default_value = SEED_INPUT, value_name = "JSON|@FILE")]
    pub input: String,
    /// The execution name; a UUID when absent.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// text: one readable line per event with the bus traffic between;
    /// json: one GetExecutionHistory event per line, then the execution.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// More flows to load beside FLOW, for its sub-flow tasks
    /// (acs:fnf:::flow/NAME); repeatable, folders load every .yaml/.yml.
    /// Sub-flows named NAME.yaml/.yml beside FLOW are loaded without it.
    #[arg(long = "with", value_name = "FLOW")]
    pub with: Vec<PathBuf>,
    #[command(flatten)]
    pub sim: SimArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Flow files to check (folders: every .yaml/.yml file in them).
    #[arg(required = true)]
    pub flows: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The flow file (YAML); the bundled seed flow when absent.
    pub flow: Option<PathBuf>,
    /// How many executions to run.
    #[arg(long, short = 'n', default_value_t = 100_000)]
    pub executions: u64,
    /// The input of every execution: JSON text, or @FILE.
    #[arg(long, short, default_value = SEED_INPUT, value_name = "JSON|@FILE")]
    pub input: String,
    /// More flows to load for sub-flow tasks, as with `run --with`.
    #[arg(long = "with", value_name = "FLOW")]
    pub with: Vec<PathBuf>,
    /// Measure the HTTP API instead: start the API on a loopback port,
    /// create the seed flow, start N executions with the simulated
    /// function off, report every task token over keep-alive connections,
    /// check each execution ended exactly once; print requests/s and
    /// latency percentiles.
    #[arg(long)]
    pub api: bool,
    /// With --api: keep-alive connections the requests are spread over.
    #[arg(
        long,
        short = 'c',
        default_value_t = 64,
        value_name = "K",
        requires = "api"
    )]
    pub connections: usize,
    /// With --api: sign every request (HMAC-SHA1; replay checks on).
    #[arg(long, requires = "api")]
    pub signed: bool,
    /// With --api: measure a running `flowsim serve --handler none` at
    /// http://HOST:PORT instead of an in-process server.
    #[arg(long, requires = "api", value_name = "URL", conflicts_with = "signed")]
    pub url: Option<String>,
}

/// Runs the parsed command line.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        None => tui(cli.tui),
        Some(Command::Tui(args)) => tui(args),
        Some(Command::Run(args)) => run(args),
        Some(Command::Validate(args)) => validate(args),
        Some(Command::Bench(args)) => bench(args),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Test(args)) => test(args),
        Some(Command::Convert(args)) => convert(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("flowsim: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Loads a flow file, or the bundled seed flow.
pub fn load_flow(path: Option<&Path>) -> anyhow::Result<Flow> {
    match path {
        None => fdl::load(SEED_FLOW_NAME, SEED_FLOW).map_err(|d| {
            anyhow::anyhow!(fdl::LoadError::Invalid {
                file: "<bundled seed flow>".into(),
                diagnostics: d,
            })
        }),
        Some(p) => load_runnable(p),
    }
}

/// Reads `JSON` or `@FILE`.
pub fn read_input(arg: &str) -> anyhow::Result<String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read input file `{path}`"))?,
        None => arg.to_owned(),
    };
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
        bail!("--input is not valid JSON: {e}");
    }
    Ok(text)
}

fn sim_config(args: &SimArgs) -> anyhow::Result<SimConfig> {
    let output: serde_json::Value = serde_json::from_str(&args.handler_output)
        .with_context(|| "--handler-output is not valid JSON")?;
    if !output.is_object() {
        bail!("--handler-output must be a JSON object");
    }
    let epoch_ms = match &args.epoch {
        Some(t) => {
            let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .with_context(|| format!("--epoch `{t}` is not an RFC 3339 time"))?;
            (t.unix_timestamp_nanos() / 1_000_000) as i64
        }
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    };
    Ok(SimConfig {
        seed: args.seed.unwrap_or_else(rand::random),
        epoch_ms,
        handler: HandlerConfig {
            behaviour: args.handler.into(),
            latency_ms: args.latency,
            output,
            fail_error: args.fail_error.clone(),
            fail_cause: args.fail_cause.clone(),
        },
        subscribe_handler: args.handler != HandlerArg::None,
        subscriptions: Vec::new(),
    })
}

/// Loads FLOW (the bundled seed flow when absent) first, then every
/// `--with` flow, then, until nothing new is found, each sub-flow still
/// missing from `NAME.yaml` or `NAME.yml` beside FLOW. Warns on stderr about
/// sub-flows that stay missing (their tasks will fail with
/// `FnF.FlowNotExists`).
pub fn load_flow_set(flow: Option<&Path>, with: &[PathBuf]) -> anyhow::Result<Vec<Flow>> {
    let mut flows = vec![load_flow(flow)?];
    for p in expand_flow_paths(with)? {
        let f = load_runnable(&p)?;
        if flows.iter().any(|g| g.name == f.name) {
            bail!(
                "two flows are named `{}` (flows are named after their file)",
                f.name
            );
        }
        flows.push(f);
    }
    let dir = flow.and_then(Path::parent);
    let mut missing: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < flows.len() {
        let wanted: Vec<String> = flows[i]
            .subflow_names()
            .into_iter()
            .filter(|n| !flows.iter().any(|g| g.name == *n))
            .map(str::to_owned)
            .collect();
        for name in wanted {
            if flows.iter().any(|g| g.name == name) {
                continue;
            }
            let found = dir.and_then(|d| {
                ["yaml", "yml"]
                    .iter()
                    .map(|ext| d.join(format!("{name}.{ext}")))
                    .find(|p| p.is_file())
            });
            match found {
                Some(p) => flows.push(load_runnable(&p)?),
                None => missing.push((flows[i].name.clone(), name)),
            }
        }
        i += 1;
    }
    for (parent, name) in missing {
        eprintln!(
            "flowsim: warning: flow `{parent}` starts sub-flow `{name}`, which is not loaded \
             (add --with {name}.yaml); its task will fail with FnF.FlowNotExists"
        );
    }
    Ok(flows)
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let flows = load_flow_set(args.flow.as_deref(), &args.with)?;
    let input = read_input(&args.input)?;
    if args.sim.handler == HandlerArg::None {
        bail!(
            "--handler none leaves nobody to answer the pushes of a headless run; \
             use it with `flowsim serve` or `flowsim tui`, where a real endpoint answers"
        );
    }
    let config = sim_config(&args.sim)?;
    let format = match args.format {
        FormatArg::Text => Format::Text,
        FormatArg::Json => Format::Json,
    };
    let name = flows[0].name.clone();
    let seed = config.seed;
    let mut sim = Sim::new(config);
    for flow in flows {
        sim.add_flow(flow).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if format == Format::Text {
        writeln!(
            out,
            "flowsim: flow {name}, handler {}, seed {seed}",
            Behaviour::from(args.sim.handler).as_str()
        )?;
    }
    let outcome = headless::run(
        &mut sim,
        &name,
        args.name.as_deref(),
        &input,
        format,
        &mut out,
    )?;
    out.flush()?;
    if let Some(why) = &outcome.stuck {
        eprintln!("flowsim: execution stopped: {why}");
    }
    Ok(if outcome.status == Status::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Expands folders to the .yaml/.yml files in them (sorted), leaving out
/// flow test files (`*.test.yaml`, `*.test.yml`: see `flowsim test`).
pub fn expand_flow_paths(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read folder `{}`", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .filter(|p| !headless::flowtest::is_test_file(p))
                // Regular files only: a folder or a FIFO named x.yaml is not
                // a flow (and reading a FIFO would block).
                .filter(|p| p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                bail!("folder `{}` has no .yaml or .yml files", p.display());
            }
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let files = expand_flow_paths(&args.flows)?;
    let mut bad = 0;
    for f in &files {
        match load_any(f) {
            Ok(AnyFlow::Fdl(flow)) => {
                let n = flow.steps.len();
                let s = if n == 1 { "" } else { "s" };
                println!("{}: ok ({n} step{s})", f.display());
            }
            // Its warnings (a loop with no way out...) are printed but do
            // not fail the file.
            Ok(AnyFlow::CloudFlow(loaded)) => {
                let n = loaded.machine.all_states().len();
                let s = if n == 1 { "" } else { "s" };
                for w in &loaded.warnings {
                    eprintln!("{}:{}: warning: {}", f.display(), w.pos, w.message);
                }
                println!("{}: ok (CloudFlow, {n} state{s})", f.display());
            }
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    if bad > 0 {
        eprintln!("flowsim: {bad} of {} flow files are invalid", files.len());
        Ok(ExitCode::from(2))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

fn tui(args: TuiArgs) -> anyhow::Result<ExitCode> {
    if let (Some(file), Some(case)) = (&args.test, &args.case) {
        let defaults = crate::headless::flowtest::Defaults::default();
        return tui_on_case(args.log.clone(), args.speed, file, case, &defaults);
    }
    // The flows first: `flowsim frobnicate` (a mistyped command, taken as
    // a FLOW) says the file does not exist, terminal or not.
    let flows = load_flows(&args.flows).context("cannot open the TUI")?;
    if !io::stdout().is_terminal() {
        eprintln!(
            "flowsim: the TUI needs a terminal (stdout is not one).\n\
             Use `flowsim run [FLOW]` to run an execution headless, e.g. in scripts and pipes."
        );
        return Ok(ExitCode::from(2));
    }
    let config = sim_config(&SimArgs {
        handler: HandlerArg::Succeed,
        latency: args.latency,
        handler_output: r#"{"status": "success"}"#.into(),
        fail_error: "HandlerError".into(),
        fail_cause: "the simulated handler reported a failure".into(),
        seed: args.seed,
        epoch: args.epoch.clone(),
    })?;
    let mut config = config;
    args.endpoints.apply(&mut config);
    check_speed(args.speed)?;
    let api = match args.listen {
        Some(listen) => Some((listen, api_config(&args.credentials)?)),
        None => None,
    };
    let mode = if args.step {
        crate::runtime::Mode::Step
    } else {
        crate::runtime::Mode::Run
    };
    let log = args.log.unwrap_or_else(crate::tui::default_log_path);
    init_logging(LogTo::File(&log))?;
    let (sim, journal) = match &args.data.data {
        Some(path) => {
            // The TUI's clock is the user's (paused, stepped): it resumes
            // where the journal left it.
            let p = serve::open_data(
                path,
                &config,
                args.retain,
                flows,
                None,
                (args.seed.is_some(), args.epoch.is_some()),
            )?;
            tracing::info!("{}", p.summary);
            (p.sim, Some(p.journal))
        }
        None => {
            let mut sim = Sim::new(config);
            sim.engine
                .set_retention((args.retain > 0).then_some(args.retain));
            for flow in flows {
                let name = flow.name.clone();
                sim.add_flow(flow)
                    .map_err(|e| anyhow::anyhow!("flow `{name}` could not be added: {e}"))?;
            }
            tracing::info!("{}", serve::IN_MEMORY);
            (sim, None)
        }
    };
    let closing = journal.clone();
    tracing::info!("tui starting");
    // Time, and I/O: the HTTP API (--listen) and pushes to real endpoints
    // run on this runtime.
    let rt = tokio_runtime()?;
    let result = rt.block_on(async move {
        let handle = crate::runtime::spawn_journaled(sim, mode, args.speed, journal);
        // Bound before the terminal is taken, so an error reads plainly.
        let server = match api {
            Some((listen, config)) => {
                let server = crate::api::server::start(&listen, config, handle.clone()).await?;
                let addr = server.addr();
                tracing::info!(%addr, "api: serving");
                // Shown once the TUI quits (the alternate screen hides it
                // until then).
                eprintln!("flowsim: API served on http://{addr}");
                Some(server)
            }
            None => None,
        };
        let result = crate::tui::run(crate::tui::Options {
            handle,
            api: server.as_ref().map(crate::api::server::Running::addr),
            mouse: !args.no_mouse,
            open_at: None,
        })
        .await;
        // A long poll in flight must not hold up quitting.
        if let Some(server) = server
            && !server.stop(std::time::Duration::from_secs(1)).await
        {
            tracing::info!("api: requests still in flight at quit were dropped");
        }
        tracing::info!("tui stopped");
        result?;
        Ok(ExitCode::SUCCESS)
    });
    if let Some(j) = closing {
        j.close();
    }
    result
}

/// `flowsim tui --test FILE --case NAME` (and `flowsim test --open`): the
/// case replayed, the TUI opened on its simulation in STEP mode with its
/// execution selected and, for a failing case, the diverging step picked
/// and the history shown up to it.
fn tui_on_case(
    log: Option<PathBuf>,
    speed: f64,
    file: &Path,
    case: &str,
    defaults: &crate::headless::flowtest::Defaults,
) -> anyhow::Result<ExitCode> {
    let replay = crate::headless::flowtest::replay(file, case, defaults)
        .context("cannot open the test case")?;
    if !io::stdout().is_terminal() {
        eprintln!(
            "flowsim: the TUI needs a terminal (stdout is not one).\n\
             Use `flowsim test {}` to run the case headless.",
            file.display()
        );
        return Ok(ExitCode::from(2));
    }
    let log = log.unwrap_or_else(crate::tui::default_log_path);
    init_logging(LogTo::File(&log))?;
    let step = replay.diverged.and_then(|(step, _)| {
        let x = replay.sim.engine.execution(replay.exec)?;
        Some(x.flow.step(step).name.clone())
    });
    let status = match (&replay.failure, step) {
        (None, _) => format!("test case \"{}\" passed", replay.case),
        (Some(f), Some(step)) => {
            format!("test case \"{}\" diverged at step {step}: {f}", replay.case)
        }
        (Some(f), None) => format!("test case \"{}\" failed: {f}", replay.case),
    };
    let open_at = crate::tui::app::OpenAt {
        exec: replay.exec,
        step: replay.diverged.map(|(s, _)| s),
        event: replay.diverged.map(|(_, e)| e),
        status,
        error: !replay.passed,
    };
    check_speed(speed)?;
    let rt = tokio_runtime()?;
    rt.block_on(async move {
        let handle = crate::runtime::spawn(replay.sim, crate::runtime::Mode::Step, speed);
        crate::tui::run(crate::tui::Options {
            handle,
            api: None,
            mouse: true,
            open_at: Some(open_at),
        })
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `flowsim test`.
fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    use crate::headless::flowtest::{self, Defaults, Options};
    let output: serde_json::Value = serde_json::from_str(&args.handler_output)
        .with_context(|| "--handler-output is not valid JSON")?;
    if !output.is_object() {
        bail!("--handler-output must be a JSON object");
    }
    let defaults = Defaults {
        handler: args.handler,
        output,
        fail_error: args.fail_error.clone(),
        fail_cause: args.fail_cause.clone(),
    };
    let threads = match args.jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(n) => n,
        None => flowtest::default_threads(),
    };
    if let Some(n) = args.bench {
        let f = flowtest::bench(n, threads)?;
        println!(
            "flowsim test --bench: {} cases of the seed flow on {} thread{}: {} passed",
            f.cases,
            f.threads,
            if f.threads == 1 { "" } else { "s" },
            f.passed
        );
        println!("wall time       {:.3} s", f.seconds);
        println!("cases/s         {:.0}", f.cases_per_second());
        return Ok(if f.passed == f.cases {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if let Some(flow) = &args.init {
        let target = flowtest::init::default_path(flow);
        if target.exists() {
            bail!(
                "{} already exists: move it away first (--init never overwrites)",
                target.display()
            );
        }
        let text = flowtest::init::skeleton(flow, &target, &defaults)?;
        std::fs::write(&target, &text)
            .with_context(|| format!("cannot write {}", target.display()))?;
        let cases = text.matches("\n  - name: ").count();
        let todo = text.matches("# TODO").count();
        println!(
            "flowsim test: wrote {} ({cases} cases{}); run it with `flowsim test {}`",
            target.display(),
            if todo > 0 {
                format!(", {todo} marked TODO to complete")
            } else {
                String::new()
            },
            target.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(min) = args.min_coverage
        && !(0.0..=100.0).contains(&min)
    {
        bail!("--min-coverage {min} is out of range: it is a percentage, 0 to 100");
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    if let Some(name) = &args.open {
        let files = flowtest::load_all(&flowtest::discover(&paths)?)
            .map_err(flowtest::FlowTestError::Invalid)?;
        let matching: Vec<&PathBuf> = files
            .iter()
            .filter(|f| f.cases.iter().any(|c| c.name == *name))
            .map(|f| &f.path)
            .collect();
        return match matching.as_slice() {
            [one] => tui_on_case(None, 1.0, one, name, &defaults),
            [] => bail!("no test case is named \"{name}\""),
            many => bail!(
                "several test files have a case named \"{name}\": {}; use `flowsim tui --test FILE --case NAME`",
                many.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    let opts = Options {
        filter: args.filter.clone(),
        defaults,
        coverage: args.coverage,
        coverage_json: args.coverage_json.clone(),
        min_coverage: args.min_coverage,
        junit: args.junit.clone(),
        color: io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        threads,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let stderr = io::stderr();
    let mut err = stderr.lock();
    let verdict = flowtest::test(&paths, &opts, &mut out, &mut err)?;
    out.flush()?;
    Ok(ExitCode::from(verdict.code()))
}

fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.executions == 0 {
        bail!("--executions must be at least 1");
    }
    if args.api {
        if args.flow.is_some() || !args.with.is_empty() {
            bail!("--api measures the bundled seed flow: give no FLOW and no --with");
        }
        let opts = bench_api::Options {
            executions: usize::try_from(args.executions).unwrap_or(usize::MAX),
            connections: args.connections.max(1),
            signed: args.signed,
            url: args.url,
            input: read_input(&args.input)?,
        };
        // Against a server of its own, one runtime for both; against
        // another process, the client keeps to one thread, leaving the
        // other cores to the server.
        let rt = if opts.url.is_some() {
            tokio_runtime()?
        } else {
            server_runtime()?
        };
        let once = rt.block_on(bench_api::run(opts))?;
        return Ok(if once {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let flows = load_flow_set(args.flow.as_deref(), &args.with)?;
    let input = read_input(&args.input)?;
    let name = flows[0].name.clone();
    let mut sim = Sim::new(SimConfig::default());
    for flow in flows {
        sim.add_flow(flow).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let tty = io::stderr().is_terminal();
    let n = args.executions;
    eprintln!("flowsim bench: {n} executions of {name} (handler succeed, histories kept)");
    // Batches vary in size: show progress each time it crosses 10,000.
    let mut shown = 0;
    let report = headless::bench(&mut sim, &name, &input, n, |done| {
        if tty && (done / 10_000 != shown / 10_000 || done == n) {
            shown = done;
            eprint!("\r  {done}/{n}");
        }
    })?;
    if tty {
        eprintln!();
    }
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "executions      {} ({} succeeded)",
        report.executions, report.succeeded
    );
    if report.children > 0 {
        println!("sub-flows       {} child executions", report.children);
    }
    println!("wall time       {:.3} s", report.seconds);
    println!("executions/s    {:.0}", report.executions_per_second());
    println!(
        "events/s        {:.0} ({} history events)",
        report.events_per_second(),
        report.events
    );
    println!("deliveries      {} envelopes", report.deliveries);
    match report.peak_rss_bytes {
        Some(b) => println!("peak RSS        {:.1} MiB", mb(b)),
        None => println!("peak RSS        n/a (needs /proc)"),
    }
    match report.bytes_per_execution() {
        Some(b) => println!("bytes/execution {b:.0} (RSS growth / executions, histories retained)"),
        None => println!("bytes/execution n/a (needs /proc)"),
    }
    Ok(if report.succeeded == report.executions {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "flowsim bench: {} executions did not succeed",
            report.executions - report.succeeded
        );
        ExitCode::from(1)
    })
}

fn convert(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    use crate::headless::convert;
    if args.check {
        let files = expand_flow_paths(&args.paths)?;
        let (mut flows, mut cases, mut diffs, mut broken) = (0, 0, 0, 0);
        for f in &files {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read `{}`", f.display()))?;
            if crate::cloudflow::is_state_machine(&text) {
                if args.paths.iter().any(|p| p == f) {
                    eprintln!("flowsim: {}: already CloudFlow, skipped", f.display());
                }
                continue;
            }
            flows += 1;
            match convert::check::check_file(f, &args.with, args.seed) {
                Ok(found) => {
                    for c in &found {
                        println!("{}", c.line());
                        cases += 1;
                        if !c.same() {
                            diffs += 1;
                        }
                    }
                }
                Err(e) => {
                    broken += 1;
                    eprintln!("{e}");
                }
            }
        }
        println!(
            "convert --check: {flows} FDL flows, {cases} cases, {} the same, {diffs} different{}",
            cases - diffs,
            if broken > 0 {
                format!(", {broken} flows not converted")
            } else {
                String::new()
            }
        );
        return Ok(if broken > 0 {
            ExitCode::from(2)
        } else if diffs > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let [path] = args.paths.as_slice() else {
        bail!("convert writes one flow at a time (give one FILE, or use --check for several)");
    };
    let (shown, name, text) = fdl::read_flow_file(path)?;
    if crate::cloudflow::is_state_machine(&text) {
        bail!("{shown} is already a CloudFlow state machine");
    }
    let flow = fdl::load(&name, &text).map_err(|diagnostics| fdl::LoadError::Invalid {
        file: shown.clone(),
        diagnostics,
    })?;
    match convert::convert(&flow, &shown) {
        Ok(c) => {
            for w in &c.warnings {
                eprintln!("{shown}:{}: warning: {}", w.pos, w.message);
            }
            match &args.output {
                Some(out) => std::fs::write(out, &c.text)
                    .with_context(|| format!("cannot write `{}`", out.display()))?,
                None => print!("{}", c.text),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for d in &problems {
                eprintln!("{shown}:{}: {}", d.pos, d.message);
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// A flow file of either spec, loaded.
enum AnyFlow {
    Fdl(Flow),
    CloudFlow(crate::cloudflow::Loaded),
}

/// Reads a flow file once and loads it with the loader its document asks
/// for (`Type: StateMachine`: CloudFlow; otherwise FDL v1).
fn load_any(path: &Path) -> Result<AnyFlow, fdl::LoadError> {
    let (shown, name, text) = fdl::read_flow_file(path)?;
    let invalid = |diagnostics| fdl::LoadError::Invalid {
        file: shown.clone(),
        diagnostics,
    };
    if crate::cloudflow::is_state_machine(&text) {
        crate::cloudflow::load(&name, &text)
            .map(AnyFlow::CloudFlow)
            .map_err(invalid)
    } else {
        fdl::load(&name, &text).map(AnyFlow::Fdl).map_err(invalid)
    }
}

/// Loads a flow file of either spec for running: a CloudFlow state
/// machine is compiled into the flow model (its warnings are printed).
fn load_runnable(path: &Path) -> anyhow::Result<Flow> {
    match load_any(path)? {
        AnyFlow::Fdl(flow) => Ok(flow),
        AnyFlow::CloudFlow(loaded) => {
            for w in &loaded.warnings {
                eprintln!("{}:{}: warning: {}", path.display(), w.pos, w.message);
            }
            Ok(fdl::statemachine::compile(&loaded.machine))
        }
    }
}

/// Loads flow files (folders: every flow in them), or the bundled seed
/// flow when `paths` is empty. Every problem of every file at once.
pub fn load_flows(paths: &[PathBuf]) -> anyhow::Result<Vec<Flow>> {
    if paths.is_empty() {
        return Ok(vec![load_flow(None)?]);
    }
    let mut flows: Vec<Flow> = Vec::new();
    let mut problems = Vec::new();
    // Flow names are unique in one simulation: two files of one name (an
    // FDL example and its CloudFlow version, `flows/x.yaml` and
    // `flows/cloudflow/x.yaml`) are refused, naming both.
    let mut seen: std::collections::HashMap<String, PathBuf> = std::collections::HashMap::new();
    for p in expand_flow_paths(paths)? {
        match load_runnable(&p) {
            Ok(f) => match seen.get(&f.name) {
                Some(first) => problems.push(format!(
                    "{}: the flow `{}` is already defined by {}: flow names (file stems) are unique in one simulation; load one of the two",
                    p.display(),
                    f.name,
                    first.display()
                )),
                None => {
                    seen.insert(f.name.clone(), p);
                    flows.push(f);
                }
            },
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(flows)
}

#[cfg(test)]
mod tests;

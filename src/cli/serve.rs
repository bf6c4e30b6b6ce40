//! `flowsim serve`: the HTTP API on a running simulation, and the API
//! options `serve` and `tui --listen` share (credentials, replay window,
//! connection limits).

use super::*;

/// The AccessKey pair API requests must be signed with.
#[derive(Debug, Args, Clone)]
pub struct CredentialArgs {
    /// Check every API request's signature against this AccessKeyId (with
    /// --access-key-secret). Without both, requests are not checked.
    #[arg(long, env = "FLOWSIM_ACCESS_KEY_ID", value_name = "ID")]
    pub access_key_id: Option<String>,
    /// The AccessKeySecret requests are signed with.
    #[arg(
        long,
        env = "FLOWSIM_ACCESS_KEY_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub access_key_secret: Option<String>,
    /// With credentials: how far (seconds) a signed request's time may be
    /// from the wall clock, and how long a signature nonce is remembered;
    /// older, future or repeated requests are refused. 0 turns it off.
    #[arg(long, default_value_t = crate::api::replay::DEFAULT_WINDOW_SECS, value_name = "SECONDS")]
    pub replay_window: u64,
    /// Most API connections open at once: beyond it a new connection closes
    /// the one idle the longest, or gets 503 when all are busy (lowered to
    /// fit the open-file limit).
    #[arg(long, default_value_t = crate::api::conns::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    pub max_connections: usize,
    /// Seconds a connection has to send each request head (the first, and
    /// the next on a keep-alive connection): bounds idle connections too.
    #[arg(long, default_value_t = crate::api::conns::DEFAULT_HEADER_TIMEOUT.as_secs(), value_name = "SECONDS")]
    pub header_timeout: u64,
    /// Seconds a request body has to arrive (408 RequestTimeout after).
    #[arg(long, default_value_t = crate::api::conns::DEFAULT_BODY_TIMEOUT.as_secs(), value_name = "SECONDS")]
    pub body_timeout: u64,
}

impl Default for CredentialArgs {
    fn default() -> Self {
        CredentialArgs {
            access_key_id: None,
            access_key_secret: None,
            replay_window: crate::api::replay::DEFAULT_WINDOW_SECS,
            max_connections: crate::api::conns::DEFAULT_MAX_CONNECTIONS,
            header_timeout: crate::api::conns::DEFAULT_HEADER_TIMEOUT.as_secs(),
            body_timeout: crate::api::conns::DEFAULT_BODY_TIMEOUT.as_secs(),
        }
    }
}

/// `flowsim serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Flow files (YAML) to load; folders load every .yaml/.yml file in
    /// them. The bundled seed flow when absent. More flows can be added with
    /// CreateFlow.
    pub flows: Vec<PathBuf>,
    /// The address to listen on (port 0: any free port; the bound address
    /// is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: String,
    /// Virtual seconds per wall second (1: virtual time is wall time).
    #[arg(long, default_value_t = 1.0, value_name = "X")]
    pub speed: f64,
    #[command(flatten)]
    pub sim: SimArgs,
    /// Subscribe a real http:// endpoint to a topic at start (repeatable):
    /// TOPIC=URL[,format=JSON|XML|SIMPLIFIED][,strategy=BACKOFF_RETRY|EXPONENTIAL_DECAY_RETRY][,name=NAME].
    /// With --handler none it is the only subscriber.
    // The doc above is clap's help, printed as is: its brackets are not
    // rustdoc links.
    #[allow(rustdoc::broken_intra_doc_links)]
    #[arg(long = "subscribe", value_name = "TOPIC=URL[,OPTION=VALUE...]")]
    pub subscribe: Vec<SubscribeSpec>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
    /// Finished executions kept in memory; beyond it the oldest leave
    /// (without --data DescribeExecution then answers ExecutionNotExists;
    /// with it they are answered from the data file; 0: keep every one).
    #[arg(long, default_value_t = DEFAULT_RETAIN, value_name = "N")]
    pub retain: usize,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `--data`: where the simulated cloud is kept (serve, tui).
#[derive(Debug, Args, Clone, Default)]
pub struct DataArgs {
    /// Keep the whole simulated cloud in this SQLite file (a folder: its
    /// flowsim.db), and restore it at start: flows, executions and their
    /// histories, task tokens, timers, topics, subscriptions, queues and
    /// messages. Without it everything lives in memory only.
    #[arg(long, env = "FLOWSIM_DATA", value_name = "PATH")]
    pub data: Option<PathBuf>,
}

/// A simulation restored from a data file, ready to run.
pub(super) struct Persisted {
    pub sim: Sim,
    pub journal: std::sync::Arc<crate::runtime::journal::Journal>,
    /// The line to print at start.
    pub summary: String,
    /// The seed the simulation runs with (a restored file's own).
    pub seed: u64,
    /// What the simulated function does (a restored file's own setting).
    pub handler: &'static str,
}

/// Opens `path` (replaying it), then journals what this start adds: the
/// flows not there yet (a flow there under the same name must have the
/// same definition) and the `--subscribe` subscriptions. With `speed`
/// (`serve`: virtual time keeps pace with the wall clock), the clock then
/// moves on by the wall time that passed since the last op, times the
/// speed, so timers that fell due meanwhile fire, at their virtual times.
pub(super) fn open_data(
    path: &Path,
    config: &SimConfig,
    retain: usize,
    flows: Vec<Flow>,
    speed: Option<f64>,
    explicit: (bool, bool),
) -> anyhow::Result<Persisted> {
    use crate::runtime::journal::{self, record};
    use crate::sim::op::Op;
    let started = std::time::Instant::now();
    let opened = journal::open(path, config, (retain > 0).then_some(retain))?;
    let journal = opened.journal;
    let mut sim = opened.sim;
    let file = journal.path().display().to_string();
    // As `Sim::new` does: the subscriptions first, then the flows.
    for spec in &config.subscriptions {
        let op = Op::SubscribeEndpoint {
            topic: spec.topic.clone(),
            url: spec.url.clone(),
            format: spec.format.as_str().to_owned(),
            strategy: spec.strategy.as_str().to_owned(),
            name: spec.name.clone(),
        };
        if let crate::sim::op::Applied::Done(Err(e)) = record(Some(&journal), &mut sim, op).0 {
            tracing::warn!(topic = %spec.topic, url = %spec.url, "subscription skipped: {e}");
        }
    }
    let mut updated = Vec::new();
    for flow in flows {
        match sim.engine.flow(&flow.name) {
            Some(kept) if kept.definition == flow.definition => {}
            // The file changed since (or an UpdateFlow changed the kept
            // one): the file wins, as an UpdateFlow would; running
            // executions keep the definition they started with.
            Some(kept) => {
                let mode = match kept.lang {
                    crate::fdl::Lang::StateMachine(m) => Some(m.as_str().to_owned()),
                    crate::fdl::Lang::Fdl => None,
                };
                let op = Op::UpdateFlow {
                    name: flow.name.clone(),
                    definition: flow.definition.clone(),
                    mode: flow.is_express().then(|| "Express".to_owned()).or(mode),
                    description: None,
                    role_arn: None,
                };
                if let crate::sim::op::Applied::FlowUpdated(Err(e)) =
                    record(Some(&journal), &mut sim, op).0
                {
                    bail!(
                        "flow `{}` could not be updated from its file: {e}",
                        flow.name
                    );
                }
                updated.push(flow.name.clone());
            }
            None => {
                let op = Op::AddFlow {
                    name: flow.name.clone(),
                    definition: flow.definition.clone(),
                    id: String::new(),
                    description: String::new(),
                    mode: None,
                    role_arn: String::new(),
                };
                if let crate::sim::op::Applied::FlowAdded(Err(e)) =
                    record(Some(&journal), &mut sim, op).0
                {
                    bail!("flow `{}` could not be added: {e}", flow.name);
                }
            }
        }
    }
    let restored = opened.restored;
    let (seed, handler) = (restored.seed, restored.handler);
    if let (Some(speed), Some((wall, at))) = (speed, restored.last) {
        let away = journal::unix_ms().saturating_sub(wall).max(0) as f64;
        let target = at.saturating_add((away * speed) as u64);
        if target > sim.now() {
            sim.advance_to(target);
        }
    }
    let executions = sim.engine.executions().len() as u64 + sim.engine.evicted();
    let now = sim.now();
    let queues: Vec<String> = sim.mns.queues().map(|q| q.name.clone()).collect();
    let messages: u64 = queues
        .iter()
        .filter_map(|q| sim.mns.queue_counts(q, now).ok())
        .map(|c| c.active + c.inactive + c.delayed)
        .sum();
    let summary = if restored.fresh {
        format!("data kept in {file} (new)")
    } else {
        let plural = |n: u64, one: &str| {
            let s = if n == 1 { "" } else { "s" };
            format!("{} {one}{s}", thousands(n))
        };
        let mut line = format!(
            "restored {}, {}, {} from {file} in {:.1} s",
            plural(executions, "execution"),
            plural(queues.len() as u64, "queue"),
            plural(messages, "message"),
            started.elapsed().as_secs_f64()
        );
        // A random seed and a default epoch differ at every start: only
        // what the user asked for is worth a note.
        let (seed, epoch) = explicit;
        let noted: Vec<&str> = restored
            .overridden
            .iter()
            .map(String::as_str)
            .filter(|o| (seed || !o.starts_with("seed")) && (epoch || !o.starts_with("epoch")))
            .collect();
        if !noted.is_empty() {
            line.push_str(&format!(
                "; kept from its first start, not the command line's: {}",
                noted.join(", ")
            ));
        }
        if !updated.is_empty() {
            line.push_str(&format!(
                "; updated from their files (running executions keep their definition): {}",
                updated.join(", ")
            ));
        }
        line
    };
    Ok(Persisted {
        sim,
        journal,
        summary,
        seed,
        handler,
    })
}

/// `1234567` as `1,234,567`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What `serve` and `tui` say about where the state lives, when in memory.
pub(super) const IN_MEMORY: &str =
    "state in memory (nothing survives a restart; use --data PATH to keep it)";

/// The API configuration the credential options ask for.
pub fn api_config(args: &CredentialArgs) -> anyhow::Result<crate::api::ApiConfig> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let credentials = match (
        nonempty(&args.access_key_id),
        nonempty(&args.access_key_secret),
    ) {
        (Some(access_key_id), Some(access_key_secret)) => Some(crate::api::Credentials {
            access_key_id,
            access_key_secret,
        }),
        (None, None) => None,
        (Some(_), None) => {
            bail!("--access-key-id needs --access-key-secret (or FLOWSIM_ACCESS_KEY_SECRET)")
        }
        (None, Some(_)) => {
            bail!("--access-key-secret needs --access-key-id (or FLOWSIM_ACCESS_KEY_ID)")
        }
    };
    Ok(crate::api::ApiConfig {
        credentials,
        replay_window_secs: (args.replay_window > 0).then_some(args.replay_window),
        max_connections: args.max_connections.max(1),
        header_timeout: std::time::Duration::from_secs(args.header_timeout.max(1)),
        body_timeout: std::time::Duration::from_secs(args.body_timeout.max(1)),
        ..crate::api::ApiConfig::default()
    })
}

/// `--speed` of `serve` and `tui`: more than 0, at most a virtual day per
/// wall second.
pub(super) fn check_speed(speed: f64) -> anyhow::Result<()> {
    let max = crate::runtime::MAX_SPEED;
    if !(speed.is_finite() && speed > 0.0 && speed <= max) {
        bail!(
            "--speed {speed} is out of range: it must be more than 0 and at most {max} (a virtual day per wall second)"
        );
    }
    Ok(())
}

pub(super) fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let flows = load_flows(&args.flows).context("cannot serve")?;
    let mut config = sim_config(&args.sim)?;
    config.subscriptions = args.subscribe.clone();
    check_speed(args.speed)?;
    let api = api_config(&args.credentials)?;
    // The request log (and the runtime's) on stderr.
    init_logging(LogTo::Stderr)?;
    let mut seed = config.seed;
    let mut handler = match args.sim.handler {
        HandlerArg::None => "none",
        h => Behaviour::from(h).as_str(),
    };
    let subscriptions: Vec<String> = args
        .subscribe
        .iter()
        .map(|s| format!("{} -> {}", s.topic, s.url))
        .collect();
    let (sim, journal, kept) = match &args.data.data {
        Some(path) => {
            let p = open_data(
                path,
                &config,
                args.retain,
                flows,
                Some(args.speed),
                (args.sim.seed.is_some(), args.sim.epoch.is_some()),
            )?;
            seed = p.seed;
            handler = p.handler;
            (p.sim, Some(p.journal), p.summary)
        }
        None => {
            let mut sim = Sim::new(config);
            sim.engine
                .set_retention((args.retain > 0).then_some(args.retain));
            for flow in flows {
                sim.add_flow(flow).map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            (sim, None, IN_MEMORY.to_owned())
        }
    };
    // Every flow, the ones a data file kept too.
    let names: Vec<String> = sim.engine.flows().map(|f| f.name.clone()).collect();
    let closing = journal.clone();
    let rt = server_runtime()?;
    let served = rt.block_on(async move {
        let handle = crate::runtime::spawn_journaled(
            sim,
            crate::runtime::Mode::Run,
            args.speed,
            journal.clone(),
        );
        if let Some(j) = &journal {
            // What this start added is durable before anyone is told.
            j.sync().await.map_err(|e| anyhow::anyhow!(e))?;
        }
        let signed = if api.credentials.is_some() {
            "signatures checked"
        } else {
            "signatures not checked"
        };
        // Nobody pauses `serve`: virtual time keeps pace with the wall clock.
        let api = crate::api::ApiConfig {
            wall_clock: true,
            ..api
        };
        let server = crate::api::server::start(&args.listen, api, handle).await?;
        let addr = server.addr();
        // Before saying we serve: a SIGTERM right after must stop us cleanly.
        let stop_signal = shutdown_signal();
        println!("flowsim: serving on http://{addr}");
        println!(
            "flowsim: flows {}; handler {}; seed {seed}; speed {}x; {signed}",
            names.join(", "),
            handler,
            args.speed
        );
        for s in &subscriptions {
            println!("flowsim: subscribed {s}");
        }
        println!("flowsim: {kept}");
        io::stdout().flush()?;
        let shutdown = async {
            stop_signal.await;
            eprintln!("flowsim: shutting down");
        };
        // Requests in flight (a long poll) get a moment to finish.
        server
            .stop_on(shutdown, std::time::Duration::from_secs(2))
            .await?;
        Ok(ExitCode::SUCCESS)
    });
    if let Some(j) = closing {
        // What is still queued is written before the process ends.
        j.close();
    }
    flush_log();
    served
}

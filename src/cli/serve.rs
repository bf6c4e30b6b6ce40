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
    /// (DescribeExecution answers ExecutionNotExists; 0: keep every one).
    #[arg(long, default_value_t = DEFAULT_RETAIN, value_name = "N")]
    pub retain: usize,
}

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
    let seed = config.seed;
    let handler = match args.sim.handler {
        HandlerArg::None => "none",
        h => Behaviour::from(h).as_str(),
    };
    let subscriptions: Vec<String> = args
        .subscribe
        .iter()
        .map(|s| format!("{} -> {}", s.topic, s.url))
        .collect();
    let names: Vec<String> = flows.iter().map(|f| f.name.clone()).collect();
    let mut sim = Sim::new(config);
    sim.engine
        .set_retention((args.retain > 0).then_some(args.retain));
    for flow in flows {
        sim.add_flow(flow).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let rt = server_runtime()?;
    let served = rt.block_on(async move {
        let handle = crate::runtime::spawn(sim, crate::runtime::Mode::Run, args.speed);
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
    flush_log();
    served
}

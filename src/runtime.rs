//! runtime: drives the deterministic [`Sim`] on tokio for interactive front
//! ends (the TUI today, the HTTP API later).
//!
//! Owns the `Sim` (behind a mutex held only for short, synchronous
//! operations), the pacing of virtual time against the wall clock in RUN
//! mode, and the [`Command`] channel every front end talks through. It
//! publishes a [`RunState`] on a `watch` channel whose `version` changes
//! whenever anything in the simulation may have changed; front ends read the
//! `Sim` themselves under a short lock. It never waits on a front end and
//! knows nothing of terminals or HTTP. The wall clock lives here, never in
//! `sim`.
//!
//! Pacing in RUN mode: while anything is in flight, virtual time flows at
//! `speed` times wall time from an *anchor* (a wall instant and the virtual
//! instant it stands for); the runtime sleeps until the next envelope is
//! due, delivers it, and sleeps again. With nothing in flight the clock holds
//! still, so an idle simulator costs nothing. In STEP mode virtual time
//! moves only on [`Command::Step`] and [`Command::JumpClock`].
//!
//! Real I/O: after every operation the runtime takes the pushes to real
//! HTTP endpoints that reached the shell ([`Sim::take_http_pushes`]),
//! performs them ([`push::dispatcher`]: at most
//! [`push::MAX_PUSHES_IN_FLIGHT`] at once, the rest queued in order) and
//! feeds each answer back in ([`Sim::push_answered`]) as one more
//! operation, so retries follow the notify strategy on the virtual clock.

pub mod journal;
pub mod push;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::fc::{Answer, Behaviour};
use crate::kernel::{ExecId, FnfError, Millis};
use crate::sim::op::{Applied, Op};
use crate::sim::{Delivery, Jump, Sim};
use journal::Journal;

/// Whether virtual time flows by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Envelopes are delivered as their due time arrives, scaled by speed.
    #[default]
    Run,
    /// Envelopes are delivered one at a time, on [`Command::Step`].
    Step,
}

impl Mode {
    /// `RUN` or `STEP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Run => "RUN",
            Mode::Step => "STEP",
        }
    }
}

/// The speeds RUN mode offers (virtual seconds per wall second).
pub const SPEEDS: [f64; 11] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 60.0, 600.0, 3600.0, 86400.0,
];

/// The default speed (an index into [`SPEEDS`]).
pub const DEFAULT_SPEED: f64 = 1.0;

/// The fastest speed: a virtual day per wall second. Faster would gain
/// nothing (the runtime delivers as fast as it can anyway) and only risk
/// the clock arithmetic.
pub const MAX_SPEED: f64 = 86_400.0;

/// Most envelopes delivered in one go before the runtime yields, so a burst
/// (a thousand executions started at once) never starves a front end.
const BATCH: usize = 4_096;

/// Most front-end requests run in one tick (one publish of the state for
/// all of them) before deliveries and the next tick get their turn.
const COMMAND_BATCH: usize = 256;

/// A request from a front end.
#[derive(Debug, Clone)]
pub enum Command {
    /// `StartExecution`.
    StartExecution {
        flow: String,
        name: Option<String>,
        input: String,
    },
    /// `ReportTaskSucceeded`.
    ReportSucceeded { token: String, output: String },
    /// `ReportTaskFailed`.
    ReportFailed {
        token: String,
        error: String,
        cause: String,
    },
    /// Answers a notification the function holds (manual behaviour).
    AnswerHeld { id: u64, answer: Answer },
    /// `StopExecution`.
    StopExecution {
        flow: String,
        name: String,
        error: String,
        cause: String,
    },
    /// Sets what the simulated function does from now on.
    SetHandler(Behaviour),
    /// Delivers exactly one envelope (STEP mode; in RUN mode too, at once).
    Step,
    /// RUN or STEP.
    SetMode(Mode),
    /// Virtual seconds per wall second in RUN mode (clamped to > 0).
    SetSpeed(f64),
    /// Moves the clock to the next due envelope (timeouts, waits, retries).
    JumpClock,
}

/// What a successful [`Command`] answers.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The execution started (or, for a running name, already existed).
    Started(ExecId),
    /// A report was accepted; the id of the event it logged.
    Reported(u32),
    /// The held notification was answered.
    Answered,
    /// The execution was stopped.
    Stopped(ExecId),
    /// What `Step` delivered; `None` when nothing was in flight.
    Delivered(Option<Delivery>),
    /// Where `JumpClock` moved the clock; `None` when nothing was due.
    Jumped(Option<Millis>),
    /// A setting changed.
    Done,
}

/// Why a [`Command`] failed: the upstream error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// The upstream `Code` (`TaskAlreadyCompleted`...), or `Runtime`.
    pub code: String,
    pub message: String,
}

impl From<FnfError> for CommandError {
    fn from(e: FnfError) -> Self {
        CommandError {
            code: e.code().to_owned(),
            message: e.to_string(),
        }
    }
}

impl CommandError {
    fn runtime(message: impl Into<String>) -> Self {
        CommandError {
            code: "Runtime".into(),
            message: message.into(),
        }
    }
}

/// The answer to a [`Command`].
pub type Reply = Result<Outcome, CommandError>;

/// What the runtime publishes after every change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunState {
    /// Changes whenever the simulation may have changed.
    pub version: u64,
    pub mode: Mode,
    /// Virtual seconds per wall second in RUN mode.
    pub speed: f64,
    /// In RUN mode with something in flight: the wall instant and the
    /// virtual time it stands for, so a front end can show the clock moving
    /// between deliveries. `None` when the clock holds still.
    pub anchor: Option<(Instant, Millis)>,
}

impl RunState {
    /// The virtual time to display at wall instant `at`: the clock `now`,
    /// or, while virtual time flows, the anchor's reading at `at`.
    pub fn clock_at(&self, now: Millis, at: Instant) -> Millis {
        match self.anchor {
            Some((wall, virt)) if self.mode == Mode::Run => now.max(advance(
                virt,
                at.saturating_duration_since(wall),
                self.speed,
            )),
            _ => now,
        }
    }
}

/// Applies a command to a simulation, synchronously: what every command
/// does apart from pacing (`SetMode` and `SetSpeed` only matter to a
/// running driver and answer `Done` here). Front ends' tests use it to
/// drive a `Sim` without tokio.
pub fn apply(sim: &mut Sim, command: Command) -> Reply {
    run_command(None, sim, command).0
}

/// [`apply`], journaling the op a command is (see [`journal::record`]);
/// also answers the journal's sequence number to wait for.
fn run_command(journal: Option<&Journal>, sim: &mut Sim, command: Command) -> (Reply, Option<u64>) {
    let op = match command {
        Command::StartExecution { flow, name, input } => Op::StartExecution {
            flow,
            name,
            input,
            callback: None,
        },
        Command::ReportSucceeded { token, output } => Op::ReportSucceeded { token, output },
        Command::ReportFailed {
            token,
            error,
            cause,
        } => Op::ReportFailed {
            token,
            error,
            cause,
        },
        Command::AnswerHeld { id, answer } => Op::AnswerHeld { id, answer },
        Command::StopExecution {
            flow,
            name,
            error,
            cause,
        } => Op::StopExecution {
            flow,
            name,
            error,
            cause,
        },
        Command::SetHandler(behaviour) => Op::SetHandler { behaviour },
        // Clock movements are not ops: deliveries are the simulation's own
        // doing, and the journal records where the clock stood at each op.
        Command::Step => return (Ok(Outcome::Delivered(sim.step())), None),
        // Pacing is the driver's business; a bare Sim has none.
        Command::SetMode(_) | Command::SetSpeed(_) => return (Ok(Outcome::Done), None),
        Command::JumpClock => return (jump(sim), None),
    };
    let (applied, seq) = journal::record(journal, sim, op);
    (outcome(applied), seq)
}

/// A command's answer from what its op did.
fn outcome(applied: Applied) -> Reply {
    match applied {
        Applied::Started(r) => r.map(Outcome::Started).map_err(Into::into),
        Applied::Reported(r) => r.map(Outcome::Reported).map_err(Into::into),
        Applied::Stopped(r) => r.map(Outcome::Stopped).map_err(Into::into),
        Applied::Answered(r) => r.map(|()| Outcome::Answered).map_err(|m| CommandError {
            code: "NotHeld".into(),
            message: m,
        }),
        _ => Ok(Outcome::Done),
    }
}

fn jump(sim: &mut Sim) -> Reply {
    match sim.jump_to_next_due() {
        Jump::To(t) => Ok(Outcome::Jumped(Some(t))),
        Jump::Idle => Ok(Outcome::Jumped(None)),
        // The clock never passes an envelope that is due and
        // undelivered: those come first.
        Jump::DueNow(n) => Err(CommandError {
            code: "EnvelopesDue".into(),
            message: format!(
                "{n} {} due now: deliver {} first (s steps, space runs), then jump",
                if n == 1 {
                    "envelope is"
                } else {
                    "envelopes are"
                },
                if n == 1 { "it" } else { "them" },
            ),
        }),
    }
}

/// A closure run on the simulation by the runtime (see [`Handle::with_sim`]).
type SimFn = Box<dyn FnOnce(&mut Sim) + Send>;

/// What travels on the runtime's command channel.
enum Request {
    Command(Command, oneshot::Sender<Reply>),
    /// Runs on the `Sim` under the runtime's lock, at the virtual time the
    /// user sees (the closure answers through its own channel).
    With(SimFn),
    /// Applies (and journals) an op, like a command.
    Op(Op, oneshot::Sender<(Applied, Option<u64>)>),
    /// A front end changed the `Sim` itself ([`Handle::call_now`]): look
    /// again at what is due, perform its pushes, publish the state.
    Poke,
}

/// A front end's handle on the runtime. Cheap to clone.
#[derive(Clone)]
pub struct Handle {
    /// The simulation, shared with the driver: see [`Handle::sim`] for what
    /// may run under its lock.
    sim: Arc<Mutex<Sim>>,
    commands: mpsc::UnboundedSender<Request>,
    state: watch::Receiver<RunState>,
    /// Set while a [`Request::Poke`] waits in the channel: commands run
    /// with [`Handle::call_now`] meanwhile need no poke of their own.
    poke_pending: Arc<AtomicBool>,
    /// With `--data`: where every op is journaled before it is answered.
    journal: Option<Arc<Journal>>,
}

impl Handle {
    /// Locks the simulation for reading. Hold it briefly: the runtime waits
    /// for it to deliver the next envelope.
    ///
    /// The lock is a `std::sync::Mutex`, not tokio's (tokio's own advice
    /// for data locked briefly and never across an `.await`): every
    /// critical section is short and synchronous, so an async lock would
    /// only add cost, and code that reads the `Sim` in a plain callback
    /// (ratatui's rendering) could not await one. Never hold the guard
    /// across an `.await`: in a `tokio::spawn`ed task that does not compile
    /// (the guard is not `Send`), and anywhere on the single-threaded
    /// runtime it would deadlock (the driver, blocked on the lock, would
    /// hold the only thread).
    ///
    /// What may run under it: short reads and writes of the `Sim` (one
    /// command, one batch of at most `BATCH` deliveries, a front end's
    /// closure, a request's reads) and rendering a frame into ratatui's
    /// buffer. What must not: terminal I/O (the TUI writes the frame out
    /// after releasing it), network I/O (pushes to real endpoints are taken
    /// out of the `Sim` and performed without it), sleeping or awaiting.
    pub fn sim(&self) -> MutexGuard<'_, Sim> {
        lock(&self.sim)
    }

    /// Sends a command; the receiver gets its reply.
    pub fn send(&self, command: Command) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        // A closed channel means the runtime task ended; the dropped `tx`
        // then answers the caller with a RecvError.
        let _ = self.commands.send(Request::Command(command, tx));
        rx
    }

    /// Runs `f` on the simulation inside the runtime, as one operation, and
    /// answers what it returns. For front ends (the HTTP API) whose requests
    /// are more than the fixed [`Command`]s: creating topics, reading a
    /// queue... `f` must be short and synchronous: the runtime delivers
    /// nothing while it runs.
    pub async fn with_sim<R, F>(&self, f: F) -> Result<R, CommandError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Sim) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: SimFn = Box::new(move |sim| {
            // The caller may have gone away (a client hung up): fine.
            let _ = tx.send(f(sim));
        });
        if self.commands.send(Request::With(job)).is_err() {
            return Err(CommandError::runtime("the runtime has stopped"));
        }
        rx.await
            .map_err(|_| CommandError::runtime("the runtime has stopped"))
    }

    /// Applies `op` inside the runtime, as one operation, and answers what
    /// it did once it is durable (journaled and committed, with `--data`).
    /// Every change a front end makes to the simulation is an op (reads
    /// and clock movements are not): see [`crate::sim::op`].
    pub async fn apply(&self, op: Op) -> Result<Applied, CommandError> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Request::Op(op, tx)).is_err() {
            return Err(CommandError::runtime("the runtime has stopped"));
        }
        let (applied, seq) = rx
            .await
            .map_err(|_| CommandError::runtime("the runtime has stopped"))?;
        self.durable(seq).await?;
        Ok(applied)
    }

    /// Waits for journal entry `seq` to be committed (nothing to wait for
    /// without a journal).
    async fn durable(&self, seq: Option<u64>) -> Result<(), CommandError> {
        match (&self.journal, seq) {
            (Some(j), Some(seq)) => j.wait(seq).await.map_err(CommandError::runtime),
            _ => Ok(()),
        }
    }

    /// The data file's journal, with `--data`.
    pub fn journal(&self) -> Option<&Arc<Journal>> {
        self.journal.as_ref()
    }

    /// Like [`Handle::call`], but the command runs on the caller's thread,
    /// under the lock, rather than as a request to the runtime's task: the
    /// HTTP API's hot actions (StartExecution, ReportTaskSucceeded...) run
    /// on every core and need no round trip. As the runtime does, it first
    /// brings the clock up to the virtual time the user sees (RUN mode),
    /// delivering what fell due; then it wakes the runtime to deliver what
    /// the command set in motion. `SetMode` and `SetSpeed` (the runtime's
    /// own state) still go to the runtime.
    pub async fn call_now(&self, command: Command) -> Reply {
        self.call_now_at(command, None).await
    }

    /// [`Handle::call_now`], first bringing the clock up to `wall` (the
    /// virtual time the wall clock says it is, `flowsim serve`) when it
    /// lags more than 20 ms behind, as `api::sync_clock` does, under the
    /// same lock.
    pub async fn call_now_at(&self, command: Command, wall: Option<Millis>) -> Reply {
        if matches!(command, Command::SetMode(_) | Command::SetSpeed(_)) {
            return self.call(command).await;
        }
        tracing::debug!(?command, "command");
        let run = *self.state.borrow();
        let reply = {
            let mut sim = self.sim();
            if let Some(target) = wall
                && run.mode == Mode::Run
                && target.saturating_sub(run.clock_at(sim.now(), Instant::now())) > 20
            {
                sim.advance_to(target);
            }
            if run.mode == Mode::Run {
                let target = run.clock_at(sim.now(), Instant::now());
                // As `Driver::catch_up`: nothing past the target, and the
                // clock only up to the first due envelope.
                let until = sim.next_due().map_or(target, |d| target.min(d));
                let now = sim.now();
                sim.advance_to(until.max(now));
            }
            run_command(self.journal.as_deref(), &mut sim, command)
        };
        let (reply, seq) = reply;
        if let Err(e) = &reply {
            tracing::info!(code = %e.code, message = %e.message, "command refused");
        }
        // One poke at a time: the runtime looks at the `Sim` after clearing
        // the flag, so it sees this command's changes either way. A closed
        // channel: the runtime has stopped, nothing to wake.
        if !self.poke_pending.swap(true, Ordering::AcqRel) {
            let _ = self.commands.send(Request::Poke);
        }
        // Acknowledged only once durable.
        self.durable(seq).await?;
        reply
    }

    /// Sends a command and waits for its reply (and, with a journal, for
    /// what it changed to be durable).
    pub async fn call(&self, command: Command) -> Reply {
        let reply = self
            .send(command)
            .await
            .unwrap_or_else(|_| Err(CommandError::runtime("the runtime has stopped")));
        if let Some(j) = &self.journal {
            j.sync().await.map_err(CommandError::runtime)?;
        }
        reply
    }

    /// A receiver of the published [`RunState`].
    pub fn state(&self) -> watch::Receiver<RunState> {
        self.state.clone()
    }
}

/// Locks `sim`, recovering it if a panic poisoned the mutex (the `Sim` is
/// only ever mutated by whole operations, so it stays consistent).
fn lock(sim: &Mutex<Sim>) -> MutexGuard<'_, Sim> {
    sim.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the runtime on the current tokio runtime (the task ends when every
/// [`Handle`] is dropped).
pub fn spawn(sim: Sim, mode: Mode, speed: f64) -> Handle {
    spawn_journaled(sim, mode, speed, None)
}

/// [`spawn`], journaling every op to `journal` (`--data`; see
/// [`journal::open`] for where `sim` comes from).
pub fn spawn_journaled(sim: Sim, mode: Mode, speed: f64, journal: Option<Arc<Journal>>) -> Handle {
    let sim = Arc::new(Mutex::new(sim));
    let (tx, rx) = mpsc::unbounded_channel();
    // Push tasks answer through the command channel; a weak sender, so the
    // runtime still ends when every handle is dropped.
    let feedback = tx.downgrade();
    let initial = RunState {
        version: 0,
        mode,
        speed: clamp_speed(speed),
        anchor: None,
    };
    let (state_tx, state_rx) = watch::channel(initial);
    let poke_pending = Arc::new(AtomicBool::new(false));
    let driver = Driver {
        sim: sim.clone(),
        state: state_tx,
        mode,
        speed: clamp_speed(speed),
        anchor: None,
        version: 0,
        pushes: push_dispatcher(feedback),
        poke_pending: poke_pending.clone(),
        journal: journal.clone(),
    };
    // A replay may leave pushes to real endpoints that were in flight when
    // the process stopped: the first tick performs them again.
    if journal.is_some() {
        let _ = tx.send(Request::Poke);
    }
    tokio::spawn(driver.run(rx));
    Handle {
        journal,
        poke_pending,
        sim,
        commands: tx,
        state: state_rx,
    }
}

/// A usable speed: positive and finite, at most [`MAX_SPEED`]; anything
/// else is the default.
fn clamp_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed.min(MAX_SPEED)
    } else {
        DEFAULT_SPEED
    }
}

/// The virtual instant `elapsed` wall time after `virt` at `speed`,
/// saturating (a float-to-integer `as` saturates too) so no speed or
/// elapsed time can overflow the clock.
fn advance(virt: Millis, elapsed: Duration, speed: f64) -> Millis {
    virt.saturating_add((elapsed.as_secs_f64() * speed * 1000.0) as Millis)
}

struct Driver {
    /// Locked only for whole, synchronous operations (see [`Handle::sim`]).
    sim: Arc<Mutex<Sim>>,
    state: watch::Sender<RunState>,
    mode: Mode,
    speed: f64,
    /// RUN mode: (wall, virtual) while virtual time flows.
    anchor: Option<(Instant, Millis)>,
    version: u64,
    /// Pushes to real endpoints, performed by [`push::dispatcher`].
    pushes: mpsc::UnboundedSender<crate::mns::HttpPush>,
    /// See [`Handle::poke_pending`].
    poke_pending: Arc<AtomicBool>,
    journal: Option<Arc<Journal>>,
}

impl Driver {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        loop {
            let deadline = self.deadline();
            let request = match deadline {
                Some(at) => tokio::select! {
                    r = rx.recv() => r.map(Some),
                    () = tokio::time::sleep_until(at) => Some(None),
                },
                None => rx.recv().await.map(Some),
            };
            match request {
                None => return, // every handle dropped
                Some(Some(first)) => {
                    // Requests that queued up meanwhile (many clients at
                    // once, on other threads) run in this same tick, in
                    // the order they came: one publish for all of them.
                    let mut replies = Vec::new();
                    let mut next = Some(first);
                    let mut n = 0;
                    while let Some(request) = next.take() {
                        match request {
                            Request::Command(command, reply) => {
                                replies.push((reply, self.execute(command)));
                            }
                            Request::With(job) => self.execute_with(job),
                            Request::Op(op, reply) => {
                                let done = self.execute_op(op);
                                // The front end may have gone away.
                                let _ = reply.send(done);
                            }
                            Request::Poke => self.poke_pending.store(false, Ordering::Release),
                        }
                        n += 1;
                        if n < COMMAND_BATCH {
                            next = rx.try_recv().ok();
                        }
                    }
                    self.publish();
                    for (reply, answer) in replies {
                        // The front end may have gone away; nothing to do then.
                        let _ = reply.send(answer);
                    }
                }
                Some(None) => {
                    let more = self.deliver_due();
                    self.publish();
                    if more {
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
    }

    /// When the next envelope is due on the wall clock (RUN mode only).
    fn deadline(&mut self) -> Option<Instant> {
        if self.mode != Mode::Run {
            return None;
        }
        let sim = lock(&self.sim);
        let Some(due) = sim.next_due() else {
            // Nothing in flight: the clock holds still.
            if self.anchor.take().is_some() {
                drop(sim);
                self.publish();
            }
            return None;
        };
        let now = sim.now();
        drop(sim);
        let (wall, virt) = *self.anchor.get_or_insert((Instant::now(), now));
        let ahead = due.saturating_sub(virt) as f64 / self.speed / 1000.0;
        // Far-future timers (a day at 1x) still sleep in one piece.
        let ahead = Duration::from_secs_f64(ahead.min(1e9));
        Some(wall + ahead)
    }

    /// The virtual time the anchor stands for now.
    fn target(&self, at: Instant) -> Option<Millis> {
        let (wall, virt) = self.anchor?;
        Some(advance(
            virt,
            at.saturating_duration_since(wall),
            self.speed,
        ))
    }

    /// RUN mode: delivers what is due by now (at most a batch). Answers
    /// whether more is due at once.
    fn deliver_due(&mut self) -> bool {
        let Some(target) = self.target(Instant::now()) else {
            return false;
        };
        let mut sim = lock(&self.sim);
        let mut n = 0;
        while n < BATCH && sim.next_due().is_some_and(|d| d <= target) {
            sim.step_quiet();
            n += 1;
        }
        tracing::trace!(delivered = n, now = sim.now(), "run mode delivery");
        self.hand_over_evicted(&mut sim);
        sim.next_due().is_some_and(|d| d <= target)
    }

    /// Brings the clock up to the anchor's reading (RUN mode), so commands
    /// happen at the virtual time the user sees, then re-anchors.
    fn catch_up(&mut self, sim: &mut Sim) {
        let at = Instant::now();
        if let Some(target) = self.target(at) {
            // Deliver nothing past the target; only move the clock up to the
            // first due envelope at most (it is delivered by the loop).
            let until = sim.next_due().map_or(target, |d| target.min(d));
            sim.advance_to(until.max(sim.now()));
            self.anchor = Some((at, sim.now()));
        }
    }

    fn execute(&mut self, command: Command) -> Reply {
        tracing::debug!(?command, "command");
        let sim_arc = self.sim.clone();
        let mut sim = lock(&sim_arc);
        if self.mode == Mode::Run {
            self.catch_up(&mut sim);
        }
        let reply = match command {
            Command::SetMode(mode) => {
                self.mode = mode;
                self.anchor = None;
                Ok(Outcome::Done)
            }
            Command::SetSpeed(speed) => {
                self.speed = clamp_speed(speed);
                Ok(Outcome::Done)
            }
            other => {
                let (reply, _) = run_command(self.journal.as_deref(), &mut sim, other);
                reply
            }
        };
        if self.mode == Mode::Run {
            // Re-anchor: virtual time resumes from the clock as it is now.
            self.anchor = Some((Instant::now(), sim.now()));
        }
        self.hand_over_evicted(&mut sim);
        if let Err(e) = &reply {
            tracing::info!(code = %e.code, message = %e.message, "command refused");
        }
        reply
    }

    /// Gives the journal what the engine evicted (a delivery starting a
    /// sub-flow execution evicts too), under the same lock as the eviction,
    /// so a reader that misses an execution in memory finds it handed over.
    fn hand_over_evicted(&self, sim: &mut Sim) {
        if let Some(j) = &self.journal {
            j.add_evicted(sim.engine.take_evicted());
        }
    }

    /// Runs a front end's closure on the sim, like a command: at the
    /// virtual time the user sees, re-anchoring afterwards.
    fn execute_with(&mut self, job: SimFn) {
        let sim_arc = self.sim.clone();
        let mut sim = lock(&sim_arc);
        if self.mode == Mode::Run {
            self.catch_up(&mut sim);
        }
        job(&mut sim);
        self.hand_over_evicted(&mut sim);
        if self.mode == Mode::Run {
            self.anchor = Some((Instant::now(), sim.now()));
        }
    }

    /// Applies and journals an op, like a command.
    fn execute_op(&mut self, op: Op) -> (Applied, Option<u64>) {
        let sim_arc = self.sim.clone();
        let mut sim = lock(&sim_arc);
        if self.mode == Mode::Run {
            self.catch_up(&mut sim);
        }
        let done = journal::record(self.journal.as_deref(), &mut sim, op);
        if self.mode == Mode::Run {
            self.anchor = Some((Instant::now(), sim.now()));
        }
        done
    }

    fn publish(&mut self) {
        self.hand_over_evicted(&mut lock(&self.sim));
        self.perform_pushes();
        self.version += 1;
        let state = RunState {
            version: self.version,
            mode: self.mode,
            speed: self.speed,
            anchor: self.anchor,
        };
        // No receivers left is fine: the front end is quitting.
        let _ = self.state.send(state);
    }
}

impl Driver {
    /// Queues the pushes to real endpoints waiting in the sim.
    fn perform_pushes(&mut self) {
        let pushes = lock(&self.sim).take_http_pushes();
        for p in pushes {
            tracing::debug!(url = %p.url, notification = p.notification, attempt = p.attempt, "push");
            // The dispatcher only ends when this sender is dropped.
            let _ = self.pushes.send(p);
        }
    }
}

/// Starts the push dispatcher: at most [`push::MAX_PUSHES_IN_FLIGHT`] at a
/// time, each answer fed back into the sim as one more operation.
fn push_dispatcher(
    feedback: mpsc::WeakUnboundedSender<Request>,
) -> mpsc::UnboundedSender<crate::mns::HttpPush> {
    push::dispatcher(push::MAX_PUSHES_IN_FLIGHT, move |p, outcome, latency| {
        if outcome.delivered() {
            tracing::info!(url = %p.url, message_id = %p.message_id, subscription = %p.subscription,
                attempt = p.attempt, latency_ms = latency, "push answered: {outcome}");
        } else {
            tracing::warn!(url = %p.url, message_id = %p.message_id, subscription = %p.subscription,
                attempt = p.attempt, latency_ms = latency, "push failed: {outcome}");
        }
        let Some(tx) = feedback.upgrade() else {
            return; // the runtime has stopped
        };
        let op = Op::PushAnswered {
            notification: p.notification,
            outcome,
            latency_ms: Some(latency),
        };
        // Nobody waits for it: a crash before it is committed performs
        // the push again after the restart (at least once, as MNS).
        let (reply, _) = oneshot::channel();
        let _ = tx.send(Request::Op(op, reply));
    })
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::engine::{Status, StepState, step_states};
    use crate::sim::SimConfig;

    fn sim() -> Sim {
        let mut sim = Sim::new(SimConfig::default());
        sim.add_flow(crate::sim::testing::seed_flow()).unwrap();
        sim
    }

    fn flow_name(h: &Handle) -> String {
        h.sim().engine.flows().next().unwrap().name.clone()
    }

    #[tokio::test(start_paused = true)]
    async fn step_mode_delivers_one_envelope_per_step() {
        let h = spawn(sim(), Mode::Step, 1.0);
        let flow = flow_name(&h);
        let id = match h
            .call(Command::StartExecution {
                flow,
                name: Some("e1".into()),
                input: r#"{"messageBody":"hi"}"#.into(),
            })
            .await
            .unwrap()
        {
            Outcome::Started(id) => id,
            o => panic!("{o:?}"),
        };
        // Nothing moves by itself in STEP mode.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let pending = h.sim().bus().len();
        assert!(pending > 0);
        let mut steps = 0;
        loop {
            let waiting = {
                let sim = h.sim();
                let x = sim.engine.execution(id).unwrap();
                step_states(&x.flow, &x.history).contains(&StepState::Waiting)
            };
            if waiting {
                break;
            }
            match h.call(Command::Step).await.unwrap() {
                Outcome::Delivered(Some(_)) => steps += 1,
                o => panic!("stuck: {o:?}"),
            }
        }
        assert!(steps >= 1);
        let token = h.sim().engine.waiting_tasks(id)[0].2.clone();
        let r = h
            .call(Command::ReportSucceeded {
                token: token.clone(),
                output: r#"{"status":"success"}"#.into(),
            })
            .await;
        assert!(matches!(r, Ok(Outcome::Reported(_))), "{r:?}");
        // The report ended the task; the execution ends after the rest of
        // the envelopes (none for the seed) are delivered.
        assert_eq!(
            h.sim().engine.execution(id).unwrap().status,
            Status::Succeeded
        );
        // Reporting again gives the upstream error, not a crash.
        let again = h
            .call(Command::ReportSucceeded {
                token,
                output: "{}".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(again.code, "TaskAlreadyCompleted");
    }

    #[tokio::test(start_paused = true)]
    async fn with_sim_runs_a_closure_as_one_operation() {
        let h = spawn(sim(), Mode::Step, 1.0);
        let flows = h.with_sim(|s| s.engine.flows().count()).await.unwrap();
        assert_eq!(flows, 1);
        let started = h
            .with_sim(|s| {
                let flow = s.engine.flows().next().unwrap().name.clone();
                s.start_execution(&flow, Some("w1"), Some("{}"))
            })
            .await
            .unwrap();
        assert!(started.is_ok(), "{started:?}");
        assert_eq!(h.sim().engine.executions().len(), 1);
        assert!(h.state().borrow().version > 0);
    }

    #[tokio::test(start_paused = true)]
    async fn run_mode_delivers_by_itself_and_publishes_versions() {
        let h = spawn(sim(), Mode::Run, 1.0);
        let mut state = h.state();
        let flow = flow_name(&h);
        let id = match h
            .call(Command::StartExecution {
                flow,
                name: None,
                input: r#"{"messageBody":"hi"}"#.into(),
            })
            .await
            .unwrap()
        {
            Outcome::Started(id) => id,
            o => panic!("{o:?}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if h.sim().engine.execution(id).unwrap().status == Status::Succeeded {
                break;
            }
            assert!(Instant::now() < deadline, "run mode never finished");
            let _ = tokio::time::timeout(Duration::from_secs(1), state.changed()).await;
        }
        assert!(h.sim().bus().is_empty());
        assert!(state.borrow().version > 0);
    }

    #[tokio::test(start_paused = true)]
    async fn run_mode_paces_timers_by_speed() {
        let mut s = Sim::new(SimConfig::default());
        s.set_handler(Behaviour::Drop);
        s.add_flow(crate::sim::testing::seed_flow_with_timeout(Some(60)))
            .unwrap();
        let h = spawn(s, Mode::Run, 10.0);
        let flow = flow_name(&h);
        let id = match h
            .call(Command::StartExecution {
                flow,
                name: None,
                input: "{}".into(),
            })
            .await
            .unwrap()
        {
            Outcome::Started(id) => id,
            o => panic!("{o:?}"),
        };
        // 60 virtual seconds at 10x: not over after 3 wall seconds...
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            h.sim().engine.execution(id).unwrap().status,
            Status::Running
        );
        // ...over after 7.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let sim = h.sim();
        let x = sim.engine.execution(id).unwrap();
        assert_eq!(x.status, Status::Failed);
        assert!(sim.now() >= 60_000);
    }

    #[test]
    fn speeds_are_capped_and_the_clock_never_overflows() {
        assert_eq!(clamp_speed(1e300), MAX_SPEED);
        assert_eq!(clamp_speed(f64::INFINITY), DEFAULT_SPEED);
        assert_eq!(clamp_speed(-2.0), DEFAULT_SPEED);
        assert_eq!(clamp_speed(600.0), 600.0);
        // Whatever the speed and the elapsed time, the clock saturates.
        let year = Duration::from_secs(365 * 86_400);
        assert_eq!(advance(u64::MAX - 5, year, 1e300), u64::MAX);
        assert_eq!(advance(1_000, Duration::from_secs(2), 10.0), 21_000);
        let state = RunState {
            version: 0,
            mode: Mode::Run,
            speed: 1e300,
            anchor: Some((Instant::now(), u64::MAX - 1)),
        };
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(state.clock_at(0, later), u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn run_mode_at_an_absurd_speed_runs_at_the_fastest_speed() {
        let mut s = Sim::new(SimConfig::default());
        s.set_handler(Behaviour::Drop);
        s.add_flow(crate::sim::testing::seed_flow_with_timeout(Some(60)))
            .unwrap();
        let h = spawn(s, Mode::Run, 1e300);
        assert_eq!(h.state().borrow().speed, MAX_SPEED);
        let flow = flow_name(&h);
        let Outcome::Started(id) = h
            .call(Command::StartExecution {
                flow,
                name: None,
                input: "{}".into(),
            })
            .await
            .unwrap()
        else {
            panic!("not started")
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let sim = h.sim();
        assert_eq!(sim.engine.execution(id).unwrap().status, Status::Failed);
        assert!(
            sim.now() >= 60_000 && sim.now() < 86_400_000,
            "{}",
            sim.now()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn jump_clock_moves_to_the_next_timer() {
        let mut s = Sim::new(SimConfig::default());
        s.set_handler(Behaviour::Drop);
        s.add_flow(crate::sim::testing::seed_flow_with_timeout(Some(600)))
            .unwrap();
        let h = spawn(s, Mode::Step, 1.0);
        let flow = flow_name(&h);
        h.call(Command::StartExecution {
            flow,
            name: None,
            input: "{}".into(),
        })
        .await
        .unwrap();
        // The start's envelopes are due now: the clock may not pass them.
        let err = h.call(Command::JumpClock).await.unwrap_err();
        assert_eq!(err.code, "EnvelopesDue");
        assert!(err.message.contains("due now"), "{}", err.message);
        while h.sim().due_now() > 0 {
            h.call(Command::Step).await.unwrap();
        }
        let before = h.sim().now();
        let Outcome::Jumped(Some(t)) = h.call(Command::JumpClock).await.unwrap() else {
            panic!("nothing to jump to")
        };
        assert!(t > before);
        assert_eq!(h.sim().now(), t);
    }
}

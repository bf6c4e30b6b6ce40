//! sim: the deterministic simulation kernel.
//!
//! Owns virtual time, the [`Bus`] of [`Envelope`]s and the three simulated
//! components (the [`Engine`], the in-memory [`Mns`] and the simulated
//! [`Fc`]). Stepping delivers exactly one envelope; running delivers them in
//! due order. There is no tokio, no I/O and no wall clock in here: the same
//! inputs (flows, seed, epoch, commands) give the same history, byte for byte.
//!
//! Components are plain state machines: `handle(ctx, message)` where the
//! [`Ctx`] carries the current time, the seeded RNG and the bus to send on.
//! (The architecture sketch has `handle` return a `Vec<Envelope>`; sending
//! through the context instead saves an allocation per hop.)

pub mod op;
#[doc(hidden)]
pub mod testing;

use rand::{RngCore, SeedableRng};

// The kernel's words, re-exported where tests and front ends have always
// found them.
pub use crate::kernel::{
    Bus, Component, Ctx, Envelope, EnvelopeKey, Millis, Msg, PushOutcome, SimRng, TaskError,
    short_token,
};

use crate::engine::Engine;
use crate::fc::{Behaviour, Fc, HandlerConfig, Received};
use crate::fdl::{Flow, Resource, StepKind};
use crate::kernel::{ExecId, FnfError};
use crate::mns::{HttpPush, Mns, MnsError, SubscribeSpec};

/// A delivered envelope, as reported by [`Sim::step`].
#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: Millis,
    pub from: Component,
    pub to: Component,
    pub summary: String,
}

/// What [`Sim::jump_to_next_due`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jump {
    /// The clock moved to this instant, where the next envelope is due.
    To(Millis),
    /// This many envelopes are due now: the clock stays until they are
    /// delivered.
    DueNow(usize),
    /// Nothing is in flight: there is no time to jump to.
    Idle,
}

impl Jump {
    /// The instant jumped to, if the clock moved.
    pub fn moved_to(self) -> Option<Millis> {
        match self {
            Jump::To(t) => Some(t),
            _ => None,
        }
    }
}

/// How a simulation is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seeds every random choice: message ids, execution names, token keys,
    /// retry jitter.
    pub seed: u64,
    /// Unix milliseconds that virtual time zero stands for.
    pub epoch_ms: i64,
    /// What the simulated function does with what it receives.
    pub handler: HandlerConfig,
    /// Whether the simulated function is subscribed to every topic and
    /// consumes every queue of the loaded flows (`--handler none` turns
    /// it off).
    pub subscribe_handler: bool,
    /// Real endpoints subscribed at start (`--subscribe`); their topics are
    /// created if no flow names them.
    pub subscriptions: Vec<SubscribeSpec>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            epoch_ms: 1_767_225_600_000, // 2026-01-01T00:00:00Z
            handler: HandlerConfig::default(),
            subscribe_handler: true,
            subscriptions: Vec::new(),
        }
    }
}

/// The whole simulated world.
pub struct Sim {
    now: Millis,
    epoch_ms: i64,
    bus: Bus,
    rng: SimRng,
    pub engine: Engine,
    pub mns: Mns,
    pub fc: Fc,
    subscribe_handler: bool,
    delivered: u64,
    /// Pushes to real HTTP endpoints waiting for the shell to perform them.
    outbox: Vec<HttpPush>,
    /// [`Engine::task_ends`] when the function's held notifications were
    /// last checked (see [`Sim::release_held`]).
    task_ends_seen: u64,
    /// What `CreateFlow` said of each flow (see [`op::FlowMeta`]).
    flow_meta: std::collections::BTreeMap<String, op::FlowMeta>,
}

impl Sim {
    ///
    /// The endpoints of `config.subscriptions` must be valid (they are when
    /// they come from [`SubscribeSpec::from_str`](std::str::FromStr)); an
    /// invalid one is skipped with a warning in the log.
    pub fn new(config: SimConfig) -> Sim {
        let mut rng = SimRng::seed_from_u64(config.seed);
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let mut sim = Sim {
            now: 0,
            epoch_ms: config.epoch_ms,
            bus: Bus::default(),
            rng,
            engine: Engine::new(key),
            mns: Mns::default(),
            fc: Fc::new(config.handler),
            subscribe_handler: config.subscribe_handler,
            delivered: 0,
            outbox: Vec::new(),
            task_ends_seen: 0,
            flow_meta: std::collections::BTreeMap::new(),
        };
        for spec in &config.subscriptions {
            if let Err(e) = sim.subscribe_endpoint(spec) {
                tracing::warn!(topic = %spec.topic, url = %spec.url, "subscription skipped: {e}");
            }
        }
        sim
    }

    /// Subscribes a real HTTP endpoint to a topic (creating the topic if
    /// needed), as `--subscribe TOPIC=URL` does.
    pub fn subscribe_endpoint(&mut self, spec: &SubscribeSpec) -> Result<(), MnsError> {
        self.mns.subscribe_endpoint(spec, self.now)
    }

    /// Runs an MNS operation that needs the clock, the RNG or the bus
    /// (publish, receive...) as the REST API does.
    pub fn mns_op<R>(&mut self, f: impl FnOnce(&mut Mns, &mut Ctx<'_>) -> R) -> R {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        f(&mut self.mns, &mut ctx)
    }

    /// Takes the pushes to real HTTP endpoints that reached the shell since
    /// the last call; the runtime performs them and answers each with
    /// [`Sim::push_answered`].
    pub fn take_http_pushes(&mut self) -> Vec<HttpPush> {
        std::mem::take(&mut self.outbox)
    }

    /// Feeds the answer of a real push back in (as an envelope from the
    /// shell, delivered at once), with its wall-clock latency if measured.
    pub fn push_answered(
        &mut self,
        notification: u64,
        outcome: PushOutcome,
        latency_ms: Option<u64>,
    ) {
        if let Some(ms) = latency_ms {
            self.mns.note_latency(notification, ms);
        }
        self.bus.send(
            self.now,
            0,
            Component::Shell,
            Component::Mns,
            Msg::PushAnswer {
                notification,
                outcome,
            },
        );
    }

    /// Current virtual time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Unix milliseconds of virtual time zero.
    pub fn epoch_ms(&self) -> i64 {
        self.epoch_ms
    }

    /// Whether the simulated function takes part (false with
    /// `--handler none`: only real endpoints answer).
    pub fn simulated_function(&self) -> bool {
        self.subscribe_handler
    }

    /// The envelopes in flight, in delivery order.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Envelopes delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Adds a flow. Every topic and queue it names is created, and (unless
    /// configured otherwise) the simulated function subscribes to each topic
    /// and consumes each queue, so the flow runs with no setup.
    pub fn add_flow(&mut self, flow: Flow) -> Result<(), FnfError> {
        self.add_shared_flow(std::sync::Arc::new(flow))
    }

    /// [`Sim::add_flow`] for a flow shared with other simulations (each
    /// flow test case runs on a simulation of its own).
    pub fn add_shared_flow(&mut self, flow: std::sync::Arc<Flow>) -> Result<(), FnfError> {
        self.ensure_resources(&flow);
        self.engine.add_shared_flow(flow)
    }

    /// Replaces a flow's definition (`UpdateFlow`), creating what the new
    /// one names as [`Sim::add_flow`] does. Running executions keep the
    /// definition they started with. `FlowNotExists` (and nothing created)
    /// when there is no such flow. Answers the definition replaced.
    pub fn replace_flow(&mut self, flow: Flow) -> Result<std::sync::Arc<Flow>, FnfError> {
        if self.engine.flow(&flow.name).is_none() {
            return Err(FnfError::FlowNotExists(flow.name));
        }
        self.ensure_resources(&flow);
        self.engine.replace_flow(std::sync::Arc::new(flow))
    }

    /// Creates every topic and queue `flow` names, and (unless configured
    /// otherwise) subscribes the simulated function to each.
    fn ensure_resources(&mut self, flow: &Flow) {
        for step in &flow.steps {
            if let StepKind::Task(task) = &step.kind {
                match &task.resource {
                    Resource::MnsTopic { topic } => {
                        self.mns.ensure_topic(topic, self.now);
                        if self.subscribe_handler {
                            self.mns.subscribe_function(topic, self.fc.name(), self.now);
                        }
                    }
                    Resource::MnsQueue { queue } => {
                        self.mns.ensure_queue(queue, self.now);
                        if self.subscribe_handler {
                            self.mns.set_queue_consumer(queue, self.fc.name());
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Starts an execution (the `StartExecution` command).
    pub fn start_execution(
        &mut self,
        flow: &str,
        name: Option<&str>,
        input: Option<&str>,
    ) -> Result<ExecId, FnfError> {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        self.engine.start_execution(&mut ctx, flow, name, input)
    }

    /// `StartSyncExecution`'s start (see [`Engine::start_sync_execution`]):
    /// the execution is named `{name}:{UUID}`.
    pub fn start_sync_execution(
        &mut self,
        flow: &str,
        name: Option<&str>,
        input: Option<&str>,
    ) -> Result<ExecId, FnfError> {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        self.engine
            .start_sync_execution(&mut ctx, flow, name, input)
    }

    /// `StartExecution` with `CallbackFnFTaskToken` (see
    /// [`Engine::start_execution_with_callback`]): when the execution ends,
    /// the task the token names gets its output or error.
    pub fn start_execution_with_callback(
        &mut self,
        flow: &str,
        name: Option<&str>,
        input: Option<&str>,
        callback_token: Option<&str>,
    ) -> Result<ExecId, FnfError> {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        self.engine
            .start_execution_with_callback(&mut ctx, flow, name, input, callback_token)
    }

    /// `ReportTaskSucceeded`; answers the `EventId` of `TaskSucceeded`.
    pub fn report_succeeded(&mut self, token: &str, output: &str) -> Result<u32, FnfError> {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        let r = self.engine.report_succeeded(&mut ctx, token, output);
        self.release_held(false);
        r
    }

    /// `ReportTaskFailed`; answers the `EventId` of `TaskFailed`.
    pub fn report_failed(
        &mut self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<u32, FnfError> {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        let r = self.engine.report_failed(&mut ctx, token, error, cause);
        self.release_held(false);
        r
    }

    /// `StopExecution`.
    pub fn stop_execution(
        &mut self,
        flow: &str,
        name: &str,
        error: &str,
        cause: &str,
    ) -> Result<ExecId, FnfError> {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        let r = self
            .engine
            .stop_execution(&mut ctx, flow, name, error, cause);
        self.release_held(false);
        r
    }

    /// Sets what the simulated function does from now on.
    pub fn set_handler(&mut self, behaviour: Behaviour) {
        self.fc.config.behaviour = behaviour;
    }

    /// Answers a notification the function holds (manual behaviour).
    pub fn answer_held(
        &mut self,
        notification: u64,
        answer: crate::fc::Answer,
    ) -> Result<(), String> {
        let mut ctx = Ctx::new(self.now, self.epoch_ms, &mut self.rng, &mut self.bus);
        self.fc.answer_held(&mut ctx, notification, answer)
    }

    /// When the next envelope is due, if any.
    pub fn next_due(&self) -> Option<Millis> {
        self.bus.peek().map(|e| e.key.due)
    }

    /// Delivers the next envelope, moving the clock forward to its due time
    /// if it lies ahead. `None` when the bus is empty.
    pub fn step(&mut self) -> Option<Delivery> {
        let env = self.bus.pop()?;
        debug_assert!(env.key.due >= self.now, "the clock passed a due envelope");
        self.now = self.now.max(env.key.due);
        self.delivered += 1;
        let delivery = Delivery {
            at: self.now,
            from: env.from,
            to: env.to,
            summary: match (&env.to, &env.msg) {
                // The message alone cannot tell a real endpoint from the
                // function.
                (
                    Component::Shell,
                    Msg::Notify {
                        notification, body, ..
                    },
                ) => format!(
                    "push #{notification} to an HTTP endpoint ({} bytes)",
                    body.len()
                ),
                _ => env.msg.summary(),
            },
        };
        self.dispatch(env);
        Some(delivery)
    }

    /// Like [`Sim::step`] without building the trace record (hot path).
    pub fn step_quiet(&mut self) -> bool {
        let Some(env) = self.bus.pop() else {
            return false;
        };
        debug_assert!(env.key.due >= self.now, "the clock passed a due envelope");
        self.now = self.now.max(env.key.due);
        self.delivered += 1;
        self.dispatch(env);
        true
    }

    fn dispatch(&mut self, env: Envelope) {
        let to_fc = env.to == Component::Fc;
        self.deliver(env);
        self.release_held(to_fc);
    }

    /// The function holds notifications for a person (manual); one whose
    /// task no longer waits (reported, timed out, stopped...) is released
    /// at once (see [`Fc::release_held`]), so MNS does not push it again
    /// after its execution ended. Checked when an operation ended a task
    /// ([`Engine::task_ends`]), and after each delivery to the function
    /// (`to_fc`: a push redelivered for a task that already ended). Cheap
    /// when nothing is held.
    fn release_held(&mut self, to_fc: bool) {
        let ends = self.engine.task_ends();
        if self.fc.inbox().is_empty() || (ends == self.task_ends_seen && !to_fc) {
            self.task_ends_seen = ends;
            return;
        }
        self.task_ends_seen = ends;
        let Sim {
            now,
            epoch_ms,
            bus,
            rng,
            engine,
            fc,
            ..
        } = self;
        let mut ctx = Ctx {
            now: *now,
            epoch_ms: *epoch_ms,
            rng,
            bus,
        };
        fc.release_held(&mut ctx, |h| match &h.received {
            Received::Invoke(task) => engine.task_pending(*task),
            Received::Push(_) => h.token.as_deref().is_some_and(|t| engine.token_pending(t)),
        });
    }

    fn deliver(&mut self, env: Envelope) {
        let Sim {
            now,
            epoch_ms,
            bus,
            rng,
            engine,
            mns,
            fc,
            outbox,
            ..
        } = self;
        // Split borrows: the context takes the bus and rng, the handlers are
        // disjoint fields.
        let mut ctx = Ctx {
            now: *now,
            epoch_ms: *epoch_ms,
            rng,
            bus,
        };
        match env.to {
            Component::Engine => engine.handle(&mut ctx, env.msg),
            Component::Mns => mns.handle(&mut ctx, env.msg),
            Component::Fc => fc.handle(&mut ctx, env.msg),
            // Nothing in the deterministic core performs real I/O: a push to
            // a real endpoint is described and left for the shell (the
            // runtime) to perform.
            Component::Shell => {
                if let Msg::Notify { notification, .. } = env.msg
                    && let Some(push) = mns.http_push(&mut ctx, notification)
                {
                    outbox.push(push);
                }
            }
        }
    }

    /// Delivers every envelope due at or before `until`, then sets the clock
    /// to `until`. Returns how many were delivered.
    pub fn advance_to(&mut self, until: Millis) -> usize {
        let mut n = 0;
        while self.next_due().is_some_and(|d| d <= until) {
            self.step_quiet();
            n += 1;
        }
        self.now = self.now.max(until);
        n
    }

    /// Moves the clock to the next envelope's due time (a timeout, a wait,
    /// a push retry) without delivering anything, so that stepping delivers
    /// it next. The time invariant forbids passing an envelope that is due
    /// and undelivered, so this never moves the clock while one is due now:
    /// it answers [`Jump::DueNow`] with how many are, and they are to be
    /// delivered first (stepping or running). [`Jump::Idle`]: nothing lies
    /// ahead.
    pub fn jump_to_next_due(&mut self) -> Jump {
        let Some(due) = self.next_due() else {
            return Jump::Idle;
        };
        if due <= self.now {
            return Jump::DueNow(self.due_now());
        }
        self.now = due;
        Jump::To(due)
    }

    /// How many envelopes are due at the current instant (or overdue,
    /// which the time invariant rules out).
    pub fn due_now(&self) -> usize {
        self.bus
            .iter()
            .take_while(|e| e.key.due <= self.now)
            .count()
    }

    /// Replay (see [`op`]): brings the simulation to where it stood when a
    /// journaled op was applied live: `delivered` envelopes delivered in
    /// all, the clock at `now`. Deliveries are the simulation's own doing,
    /// so stepping reproduces them; the clock then moves to `now` without
    /// delivering (a live jump or a catch-up may have left it there, with
    /// envelopes due at that very instant still undelivered). Refuses, and
    /// changes nothing more, when the journal does not fit: fewer
    /// envelopes in flight than it says were delivered, or an envelope due
    /// before `now` left undelivered (the time invariant).
    pub fn replay_to(&mut self, delivered: u64, now: Millis) -> Result<(), String> {
        while self.delivered < delivered {
            if self.next_due().is_some_and(|d| d > now) || !self.step_quiet() {
                return Err(format!(
                    "the journal says {delivered} envelopes were delivered by {now} ms, \
                     the replay delivered {} by {} ms",
                    self.delivered, self.now
                ));
            }
        }
        if self.delivered > delivered || now < self.now {
            return Err(format!(
                "the journal goes back: {delivered} envelopes at {now} ms after {} at {} ms",
                self.delivered, self.now
            ));
        }
        if let Some(due) = self.next_due().filter(|d| *d < now) {
            return Err(format!(
                "an envelope due at {due} ms would be passed by the clock moving to {now} ms"
            ));
        }
        self.now = now;
        Ok(())
    }

    /// After a replay: keeps, of the pushes to real endpoints the replay
    /// produced, only those still waiting for their answer (the others
    /// were answered before the restart), so they are attempted again.
    pub fn keep_unanswered_pushes(&mut self) {
        let mns = &self.mns;
        self.outbox
            .retain(|p| mns.push_awaiting(p.notification, p.attempt));
    }

    /// Delivers envelopes until the bus is empty or `limit` were delivered.
    pub fn run_until_idle(&mut self, limit: u64) -> u64 {
        let mut n = 0;
        while n < limit && self.step_quiet() {
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests;

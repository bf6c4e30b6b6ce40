//! flowsim: a local simulator for CloudFlow (formerly Serverless Workflow,
//! fnf) flows, in both of its languages (CloudFlow state machines and FDL
//! v1), that use the wait-for-callback pattern over MNS and Function
//! Compute.
//!
//! Module map (the floors, their rules and where new code goes are in
//! CONTRIBUTING.md; `src/layering.rs` tests the rules):
//! - [`syntax`]: positioned YAML, positions and diagnostics, shared by both
//!   languages. Pure.
//! - [`cloudflow`]: the CloudFlow spec's front end (`Type: StateMachine`):
//!   parse, validate, and the expression language. Pure.
//! - [`fdl`]: the flow model the engine runs; FDL v1's front end; CloudFlow
//!   state machines compiled into the model; the graph layout. Pure.
//! - [`kernel`]: virtual time, the bus of envelopes, the context and the
//!   messages (with the ids and errors they carry) every component speaks.
//! - [`engine`], [`mns`], [`fc`]: the three simulated components, side by
//!   side: executions, history and task tokens; topics, subscriptions,
//!   queues and push delivery; the simulated function and its behaviours.
//! - [`sim`]: the world: the [`sim::Sim`] that owns the three and steps the bus.
//! - [`runtime`]: drives a `Sim` on tokio for interactive front ends:
//!   commands in, a published state out, RUN/STEP pacing, real HTTP pushes.
//! - [`headless`]: `run` and `bench` on top of a `Sim`, for scripts and CI.
//! - [`api`]: the FnF (RPC) and MNS (REST) HTTP APIs, a client of the runtime.
//! - [`tui`]: the terminal front end (ratatui), a client of the runtime.
//! - [`cli`]: the command line, composing the rest; nothing imports it.
//!
//! Glossary: *Flow* (a parsed definition) · *Execution* (one run) · *Step*
//! (a node of a flow) · *Envelope* (a message in flight on the bus) ·
//! *Command* (a request from a front end) · *HistoryEvent* (an entry of an
//! execution's history, upstream types) · *TaskToken* · *Message* (an MNS
//! message) · *Notification* (a push of a Message) · *Action* (a UI intent
//! decoded from a key).

pub mod api;
pub mod cli;
pub mod cloudflow;
pub mod engine;
pub mod fc;
pub mod fdl;
pub mod headless;
pub mod kernel;
pub mod mns;
pub mod runtime;
pub mod sim;
pub mod syntax;
pub mod tui;

#[cfg(test)]
mod layering;

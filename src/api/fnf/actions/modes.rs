//! The actions CloudFlow added to the 2019-03-15 API and the execution
//! modes: `UpdateFlow` (both specs), `StartSyncExecution` (Express flows),
//! and the refusal of `StartExecution` on an Express flow.
//!
//! Kept apart from the older actions so each reads on its own; they share
//! the parent's helpers (definitions, flow JSON, the catalog).

use std::time::Duration;

use serde_json::{Map, Value};

use super::{Answer, execution_mode, flow_json, info_of, load_definition, unexpected_op};
use crate::api::ApiState;
use crate::api::fnf::{ApiError, Rpc};
use crate::cloudflow::Mode;
use crate::engine::ExecId;
use crate::fdl::{Flow, Lang};
use crate::kernel::FnfError;
use crate::sim::op::{Applied, Op};

/// Longest `StartSyncExecution` wait, in wall seconds. An Express
/// execution ends within five virtual minutes (its compiled timeout); in
/// RUN mode at the default speed that is five wall minutes, and this bound
/// is a little more. It only matters when virtual time is paused (STEP
/// mode, `flowsim tui --listen`) or slowed: the answer is then the
/// execution as it is, still `Running`.
pub const MAX_SYNC_WAIT_SECONDS: u64 = 330;

/// The `ExecutionMode` a flow answers: a state machine's mode; an FDL v1
/// flow is a Standard one (the service treats an empty mode as Standard).
pub(super) fn mode_of(flow: &Flow) -> Mode {
    match flow.lang {
        Lang::StateMachine(mode) => mode,
        Lang::Fdl => Mode::Standard,
    }
}

/// `StartExecution` (and a child started with `CallbackFnFTaskToken`)
/// needs a Standard flow: "The specified flow must exist and be in
/// Standard execution mode" (the StartExecution page). An Express flow is
/// refused with `ActionNotSupported`, naming StartSyncExecution. A missing
/// flow is left to the start itself (`FlowNotExists`).
pub(super) fn refuse_express(state: &ApiState, flow: &str) -> Result<(), ApiError> {
    let express = state
        .handle
        .sim()
        .engine
        .flow(flow)
        .is_some_and(|f| f.is_express());
    if express {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "ActionNotSupported",
            format!(
                "Express execution is not supported by StartExecution: flow `{flow}` runs in \
                 Express mode; start it with StartSyncExecution"
            ),
        ));
    }
    Ok(())
}

/// `UpdateFlow`: `Name` (required), and any of `Definition` (either spec),
/// `Description`, `RoleArn`, `Type` (`FDL`). The flow keeps its execution
/// mode (the API documents no `ExecutionMode` for UpdateFlow; flowsim also
/// takes one, as CreateFlow does). Executions started from now on run the
/// new definition; running ones keep theirs. An invalid definition gets
/// CreateFlow's error, every problem positioned; a missing flow
/// `FlowNotExists`.
pub(super) async fn update_flow(state: &ApiState, rpc: &Rpc) -> Answer {
    let name = rpc.required("Name")?.to_owned();
    if let Some(t) = rpc.optional("Type")
        && t != "FDL"
    {
        return Err(ApiError::invalid(format!(
            "Type `{t}` is not supported: only FDL"
        )));
    }
    let requested = execution_mode(rpc)?;
    let (definition, current) = {
        let sim = state.handle.sim();
        let flow = sim
            .engine
            .flow(&name)
            .ok_or_else(|| FnfError::FlowNotExists(name.clone()))?;
        let current = match flow.lang {
            Lang::StateMachine(mode) => Some(mode),
            Lang::Fdl => None,
        };
        (flow.definition.clone(), current)
    };
    let definition = rpc.optional("Definition").unwrap_or(&definition);
    let mode = requested.or(current);
    // Validated here, so its author gets every problem, positioned.
    load_definition(&name, definition, mode)?;
    let op = Op::UpdateFlow {
        name: name.clone(),
        definition: definition.to_owned(),
        mode: mode.map(|m| m.as_str().to_owned()),
        description: rpc.optional("Description").map(str::to_owned),
        role_arn: rpc.optional("RoleArn").map(str::to_owned),
    };
    match state.handle.apply(op).await? {
        Applied::FlowUpdated(r) => r?,
        other => return Err(unexpected_op(&other)),
    };
    let sim = state.handle.sim();
    let flow = sim
        .engine
        .flow(&name)
        .ok_or_else(|| FnfError::FlowNotExists(name.clone()))?;
    Ok(flow_json(flow, &info_of(&sim, &name)))
}

/// `StartSyncExecution`: `FlowName` (an Express flow; a Standard one is
/// refused with `ActionNotSupported`, "Standard execution is not
/// supported", as the page's example answer says), `ExecutionName`
/// (optional, not unique: the execution is named `{ExecutionName}:{UUID}`)
/// and `Input`. Starts the execution and answers when it ends, with
/// `FlowName`, `Name`, `Status`, `Output`, `ErrorCode`, `ErrorMessage`,
/// `StartedTime` and `StoppedTime`. The execution runs on the virtual
/// clock as the runtime paces it; the wait never holds the simulation's
/// lock and ends after [`MAX_SYNC_WAIT_SECONDS`] (or when the server shuts
/// down) with the execution as it is.
pub(super) async fn start_sync_execution(state: &ApiState, rpc: &Rpc) -> Answer {
    let flow = rpc.required("FlowName")?.to_owned();
    if let Some(q) = rpc.optional("Qualifier") {
        return Err(ApiError::invalid(format!(
            "Qualifier `{q}`: flow versions and aliases are not simulated; leave it out"
        )));
    }
    let name = rpc.optional("ExecutionName").map(str::to_owned);
    let input = rpc.optional("Input").unwrap_or("{}").to_owned();
    {
        let sim = state.handle.sim();
        let f = sim
            .engine
            .flow(&flow)
            .ok_or_else(|| FnfError::FlowNotExists(flow.clone()))?;
        if !f.is_express() {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "ActionNotSupported",
                format!(
                    "Standard execution is not supported: StartSyncExecution runs Express \
                     flows only, and `{flow}` is a Standard one (start it with StartExecution)"
                ),
            ));
        }
    }
    // Subscribe before the start, so no change is missed.
    let mut changes = state.handle.state();
    changes.borrow_and_update();
    let op = Op::StartSyncExecution { flow, name, input };
    let id = match state.handle.apply(op).await? {
        Applied::Started(r) => r?,
        other => return Err(unexpected_op(&other)),
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(MAX_SYNC_WAIT_SECONDS);
    loop {
        if ended(state, id) || tokio::time::Instant::now() >= deadline {
            return sync_json(state, id);
        }
        tokio::select! {
            changed = tokio::time::timeout_at(deadline, changes.changed()) => match changed {
                Ok(Ok(())) => {}
                // The wait expired, or the runtime stopped: answer as it is.
                Ok(Err(_)) | Err(_) => return sync_json(state, id),
            },
            // The server is shutting down: answer as it is, now.
            () = state.closing() => return sync_json(state, id),
        }
    }
}

/// Whether the execution has ended (or is gone: evicted).
fn ended(state: &ApiState, id: ExecId) -> bool {
    state
        .handle
        .sim()
        .engine
        .execution(id)
        .is_none_or(|x| x.status.is_final())
}

/// The execution in the `StartSyncExecution` answer's shape (the SDK's
/// StartSyncExecutionResponseBody): absent values are left out.
fn sync_json(state: &ApiState, id: ExecId) -> Answer {
    let sim = state.handle.sim();
    let x = sim
        .engine
        .execution(id)
        .ok_or_else(|| ApiError::invalid("the execution vanished"))?;
    let Value::Object(all) = x.to_json(sim.epoch_ms()) else {
        return Err(ApiError::invalid("the execution has no JSON shape"));
    };
    let mut m = Map::new();
    for key in [
        "FlowName",
        "Name",
        "Status",
        "Output",
        "StartedTime",
        "StoppedTime",
    ] {
        if let Some(v) = all.get(key).filter(|v| !v.is_null()) {
            m.insert(key.into(), v.clone());
        }
    }
    if let Some(e) = &x.error {
        m.insert("ErrorCode".into(), Value::String(e.error.clone()));
        m.insert("ErrorMessage".into(), Value::String(e.cause.clone()));
    }
    Ok(m)
}

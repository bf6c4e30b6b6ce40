//! The FnF actions: each reads its parameters from an [`Rpc`], acts on the
//! simulation through the runtime handle, and answers the upstream JSON
//! (without `RequestId`, which the envelope adds).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{ApiError, FlowInfo, Rpc, object};
use crate::api::ApiState;
use crate::engine::history::{event_json, format_time};
use crate::engine::{ExecId, Status};
use crate::fdl::{self, Flow};
use crate::runtime::{Command, Outcome};
use crate::sim::Sim;
use crate::sim::op::{Applied, Op};

mod modes;

type Answer = Result<Map<String, Value>, ApiError>;

/// Every action the simulator answers, for `ActionNotSupported` messages.
pub const ACTIONS: [&str; 13] = [
    "StartExecution",
    "DescribeExecution",
    "StopExecution",
    "ListExecutions",
    "GetExecutionHistory",
    "ReportTaskSucceeded",
    "ReportTaskFailed",
    "CreateFlow",
    "DescribeFlow",
    "ListFlows",
    "DeleteFlow",
    "UpdateFlow",
    "StartSyncExecution",
];

/// Longest `DescribeExecution` long poll (seconds).
pub const MAX_WAIT_SECONDS: i64 = 60;

/// Runs the action the request names.
pub async fn dispatch(state: &ApiState, rpc: &Rpc) -> Answer {
    // Reads need no clock; the hot actions bring it up to the wall clock
    // themselves, under their command's lock (`call_now_at`).
    let start = rpc.action == "StartExecution" && rpc.optional("CallbackFnFTaskToken").is_none();
    if !start
        && !matches!(
            rpc.action.as_str(),
            "DescribeExecution"
                | "ListExecutions"
                | "GetExecutionHistory"
                | "DescribeFlow"
                | "ListFlows"
                | "ReportTaskSucceeded"
                | "ReportTaskFailed"
        )
    {
        crate::api::sync_clock(state).await;
    }
    match rpc.action.as_str() {
        "StartExecution" => start_execution(state, rpc).await,
        "DescribeExecution" => describe_execution(state, rpc).await,
        "StopExecution" => stop_execution(state, rpc).await,
        "ListExecutions" => list_executions(state, rpc).await,
        "GetExecutionHistory" => get_execution_history(state, rpc).await,
        "ReportTaskSucceeded" => report_succeeded(state, rpc).await,
        "ReportTaskFailed" => report_failed(state, rpc).await,
        "CreateFlow" => create_flow(state, rpc).await,
        "DescribeFlow" => describe_flow(state, rpc),
        "ListFlows" => list_flows(state, rpc),
        "DeleteFlow" => delete_flow(state, rpc).await,
        "UpdateFlow" => modes::update_flow(state, rpc).await,
        "StartSyncExecution" => modes::start_sync_execution(state, rpc).await,
        other => Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "ActionNotSupported",
            format!(
                "action `{other}` is not supported by the simulator; supported: {}",
                ACTIONS.join(", ")
            ),
        )),
    }
}

/// The execution in the `DescribeExecution` shape.
fn execution_json(state: &ApiState, id: ExecId) -> Answer {
    let sim = state.handle.sim();
    let x = sim
        .engine
        .execution(id)
        .ok_or_else(|| ApiError::invalid("the execution vanished"))?;
    Ok(object(x.to_json(sim.epoch_ms())))
}

async fn start_execution(state: &ApiState, rpc: &Rpc) -> Answer {
    let flow = rpc.required("FlowName")?.to_owned();
    let name = rpc.optional("ExecutionName").map(str::to_owned);
    let input = rpc.optional("Input").unwrap_or("{}").to_owned();
    modes::refuse_express(state, &flow)?;
    let id = match rpc.optional("CallbackFnFTaskToken") {
        None => match state
            .handle
            .call_now_at(
                Command::StartExecution { flow, name, input },
                crate::api::wall_target(state),
            )
            .await?
        {
            Outcome::Started(id) => id,
            other => return Err(unexpected(&other)),
        },
        Some(token) => {
            check_callback_token(token)?;
            // The child reports its outcome to this token when it ends
            // (the engine checks the token names a task it issued).
            let op = Op::StartExecution {
                flow,
                name,
                input,
                callback: Some(token.to_owned()),
            };
            match state.handle.apply(op).await? {
                Applied::Started(r) => r?,
                other => return Err(unexpected_op(&other)),
            }
        }
    };
    execution_json(state, id)
}

/// `CallbackFnFTaskToken` must look like a task token (base64 text of a
/// sane length); whether it names a waiting task is the engine's business.
fn check_callback_token(token: &str) -> Result<(), ApiError> {
    use base64::Engine as _;
    let ok = token.len() <= 4096
        && base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .is_ok();
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "CallbackFnFTaskToken is malformed: it must be a task token (base64 text)",
        ))
    }
}

fn unexpected(outcome: &Outcome) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        format!("unexpected runtime answer: {outcome:?}"),
    )
}

/// An execution `--retain` evicted, from the data file (`--data`): its
/// `DescribeExecution` JSON and history events.
async fn evicted(state: &ApiState, flow: &str, name: &str) -> Option<(Value, Vec<Value>)> {
    let journal = state.handle.journal()?;
    // An execution evicted a moment ago may still be on its way to disk.
    if let Err(e) = journal.sync().await {
        tracing::warn!("{e}");
    }
    journal.evicted(flow, name)
}

fn unexpected_op(applied: &Applied) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        format!("unexpected answer of an op: {applied:?}"),
    )
}

fn find(sim: &Sim, flow: &str, name: &str) -> Result<ExecId, ApiError> {
    Ok(sim.engine.find_execution(flow, name)?.id)
}

async fn describe_execution(state: &ApiState, rpc: &Rpc) -> Answer {
    let flow = rpc.required("FlowName")?;
    let name = rpc.required("ExecutionName")?;
    let wait = rpc.int("WaitTimeSeconds", 0, MAX_WAIT_SECONDS, 0)?;
    // Subscribe before the first look, so a change between the look and
    // the wait is not missed.
    let mut changes = state.handle.state();
    changes.borrow_and_update();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
    loop {
        let looked = {
            let sim = state.handle.sim();
            find(&sim, flow, name).map(|id| {
                let done = sim.engine.execution(id).is_none_or(|x| x.status.is_final());
                (id, done)
            })
        };
        let (id, done) = match looked {
            Ok(found) => found,
            // Evicted from memory, kept on disk (`--data`): final.
            Err(e) => {
                return match evicted(state, flow, name).await {
                    Some((description, _)) => Ok(object(description)),
                    None => Err(e),
                };
            }
        };
        if done || tokio::time::Instant::now() >= deadline {
            return execution_json(state, id);
        }
        tokio::select! {
            changed = tokio::time::timeout_at(deadline, changes.changed()) => match changed {
                Ok(Ok(())) => {}
                // The wait expired, or the runtime stopped: answer as it is.
                Ok(Err(_)) | Err(_) => return execution_json(state, id),
            },
            // The server is shutting down: answer as it is, now.
            () = state.closing() => return execution_json(state, id),
        }
    }
}

async fn stop_execution(state: &ApiState, rpc: &Rpc) -> Answer {
    let flow = rpc.required("FlowName")?.to_owned();
    let name = rpc.required("ExecutionName")?.to_owned();
    let error = rpc.optional("Error").unwrap_or("").to_owned();
    let cause = rpc.optional("Cause").unwrap_or("").to_owned();
    match state
        .handle
        .call(Command::StopExecution {
            flow,
            name,
            error,
            cause,
        })
        .await?
    {
        Outcome::Stopped(id) => execution_json(state, id),
        other => Err(unexpected(&other)),
    }
}

/// Decodes a `NextToken` of ours: a position, as decimal text.
fn cursor(rpc: &Rpc) -> Result<usize, ApiError> {
    match rpc.optional("NextToken") {
        None => Ok(0),
        Some(t) => t
            .parse()
            .map_err(|_| ApiError::invalid(format!("NextToken `{t}` is not one this API issued"))),
    }
}

async fn list_executions(state: &ApiState, rpc: &Rpc) -> Answer {
    let flow_name = rpc.required("FlowName")?;
    let limit = rpc.int("Limit", 1, 100, 100)? as usize;
    let from = cursor(rpc)?;
    let status = match rpc.optional("Status") {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "Status `{s}` is invalid: expected one of Starting, Running, Stopped, Succeeded, Failed, TimedOut"
            ))
        })?),
    };
    let prefix = rpc.optional("ExecutionNamePrefix").unwrap_or("");
    let (mut found, evicted_any) = {
        let sim = state.handle.sim();
        let flow = sim
            .engine
            .flow(flow_name)
            .ok_or_else(|| crate::kernel::FnfError::FlowNotExists(flow_name.to_owned()))?;
        // Executions keep their start order forever: a position in it is a
        // stable cursor, new executions only append.
        // The cursor is an id: evicted ones (gone from memory) are skipped,
        // or, with `--data`, read back from the data file and merged in.
        let mut found: Vec<(u32, Value)> = Vec::new();
        let all = sim
            .engine
            .executions_from(ExecId(u32::try_from(from).unwrap_or(u32::MAX)));
        for x in all {
            let matches = (Arc::ptr_eq(&x.flow, flow) || sim.engine.is_execution_of(flow_name, x))
                && status.is_none_or(|s| x.status == s)
                && x.name.starts_with(prefix);
            if !matches {
                continue;
            }
            found.push((x.id.0, x.to_json(sim.epoch_ms())));
            if found.len() > limit {
                break;
            }
        }
        (found, sim.engine.evicted() > 0)
    };
    if let Some(journal) = state.handle.journal().filter(|_| evicted_any) {
        if let Err(e) = journal.sync().await {
            tracing::warn!("{e}");
        }
        let page = journal.list_evicted(
            flow_name,
            u32::try_from(from).unwrap_or(u32::MAX),
            status.map(Status::as_str),
            prefix,
            limit + 1,
        );
        if !page.executions.is_empty() {
            // Kept in memory wins (a restart with a larger --retain).
            found.extend(
                page.executions
                    .into_iter()
                    .filter(|(id, _)| state.handle.sim().engine.execution(ExecId(*id)).is_none()),
            );
            found.sort_by_key(|(id, _)| *id);
        }
    }
    let next = match found.get(limit) {
        Some((id, _)) => id.to_string(),
        None => String::new(),
    };
    let executions: Vec<Value> = found.into_iter().take(limit).map(|(_, v)| v).collect();
    let mut m = Map::new();
    m.insert("Executions".into(), Value::Array(executions));
    m.insert("NextToken".into(), Value::String(next));
    Ok(m)
}

async fn get_execution_history(state: &ApiState, rpc: &Rpc) -> Answer {
    let flow = rpc.required("FlowName")?;
    let name = rpc.required("ExecutionName")?;
    let limit = rpc.int("Limit", 1, 1000, 1000)? as usize;
    let from = cursor(rpc)?;
    // In memory (the lock released before any wait), else on disk.
    let in_memory = {
        let sim = state.handle.sim();
        sim.engine.find_execution(flow, name).map(|x| {
            let events: Vec<Value> = x
                .history
                .iter()
                .skip(from)
                .take(limit)
                .map(|ev| event_json(&x.flow, ev, sim.epoch_ms()))
                .collect();
            (events, x.history.len())
        })
    };
    let (events, total) = match in_memory {
        Ok(found) => found,
        Err(e) => {
            let Some((_, history)) = evicted(state, flow, name).await else {
                return Err(e.into());
            };
            let total = history.len();
            (history.into_iter().skip(from).take(limit).collect(), total)
        }
    };
    let end = from.saturating_add(events.len());
    let next = if end < total {
        end.to_string()
    } else {
        String::new()
    };
    let mut m = Map::new();
    m.insert("Events".into(), Value::Array(events));
    m.insert("NextToken".into(), Value::String(next));
    Ok(m)
}

fn event_answer(outcome: Outcome) -> Answer {
    match outcome {
        Outcome::Reported(event) => Ok(object(json!({ "EventId": event }))),
        other => Err(unexpected(&other)),
    }
}

async fn report_succeeded(state: &ApiState, rpc: &Rpc) -> Answer {
    let token = rpc.required("TaskToken")?.to_owned();
    let output = rpc.optional("Output").unwrap_or("{}").to_owned();
    event_answer(
        state
            .handle
            .call_now_at(
                Command::ReportSucceeded { token, output },
                crate::api::wall_target(state),
            )
            .await?,
    )
}

async fn report_failed(state: &ApiState, rpc: &Rpc) -> Answer {
    let token = rpc.required("TaskToken")?.to_owned();
    let error = rpc.required("Error")?.to_owned();
    let cause = rpc.optional("Cause").unwrap_or("").to_owned();
    event_answer(
        state
            .handle
            .call_now_at(
                Command::ReportFailed {
                    token,
                    error,
                    cause,
                },
                crate::api::wall_target(state),
            )
            .await?,
    )
}

/// Flow names follow the execution name rule upstream.
fn check_flow_name(name: &str) -> Result<(), ApiError> {
    if crate::engine::is_valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Name `{name}` is invalid: it must match [A-Za-z_][A-Za-z0-9_-]{{0,127}}"
        )))
    }
}

fn flow_json(flow: &Flow, info: &FlowInfo) -> Map<String, Value> {
    // A flow loaded from a file was given no id: one derived from its name,
    // the same at every start.
    let id = if info.id.is_empty() {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(flow.name.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string()
    } else {
        info.id.clone()
    };
    object(json!({
        "Name": flow.name,
        "Id": id,
        "Description": info.description,
        "Definition": flow.definition,
        "Type": "FDL",
        "RoleArn": info.role_arn,
        "ExecutionMode": modes::mode_of(flow).as_str(),
        "CreatedTime": info.created,
        "LastModifiedTime": info.modified.as_deref().unwrap_or(&info.created),
    }))
}

/// What `CreateFlow` (and `UpdateFlow`) was told of a flow (a flow loaded
/// from a file has no id or description), and when it was created and
/// last updated.
fn info_of(sim: &Sim, name: &str) -> FlowInfo {
    match sim.flow_meta(name) {
        Some(m) => FlowInfo {
            id: m.id.clone(),
            description: m.description.clone(),
            created: format_time(m.created_ms),
            role_arn: m.role_arn.clone(),
            modified: m.modified_ms.map(format_time),
        },
        None => FlowInfo {
            created: format_time(sim.epoch_ms()),
            ..FlowInfo::default()
        },
    }
}

async fn create_flow(state: &ApiState, rpc: &Rpc) -> Answer {
    let name = rpc.required("Name")?.to_owned();
    check_flow_name(&name)?;
    let definition = rpc.required("Definition")?;
    if let Some(t) = rpc.optional("Type")
        && t != "FDL"
    {
        return Err(ApiError::invalid(format!(
            "Type `{t}` is not supported: only FDL"
        )));
    }
    let description = rpc.optional("Description").unwrap_or("").to_owned();
    let mode = execution_mode(rpc)?;
    // Validated here, so its author gets every problem, positioned.
    load_definition(&name, definition, mode)?;
    // The id is chosen here, not by the simulation: it is part of the op,
    // so a replay gives the flow the same one.
    let op = Op::AddFlow {
        name: name.clone(),
        definition: definition.to_owned(),
        id: uuid::Uuid::new_v4().hyphenated().to_string(),
        description,
        mode: mode.map(|m| m.as_str().to_owned()),
        role_arn: rpc.optional("RoleArn").unwrap_or("").to_owned(),
    };
    match state.handle.apply(op).await? {
        Applied::FlowAdded(r) => r?,
        other => return Err(unexpected_op(&other)),
    };
    let sim = state.handle.sim();
    let flow = sim
        .engine
        .flow(&name)
        .ok_or_else(|| crate::kernel::FnfError::FlowNotExists(name.clone()))?;
    Ok(flow_json(flow, &info_of(&sim, &name)))
}

/// CreateFlow's (and UpdateFlow's) `ExecutionMode`: `Standard` or
/// `Express`, for a CloudFlow state machine.
fn execution_mode(rpc: &Rpc) -> Result<Option<crate::cloudflow::Mode>, ApiError> {
    match rpc.optional("ExecutionMode") {
        None | Some("") => Ok(None),
        Some("Standard") => Ok(Some(crate::cloudflow::Mode::Standard)),
        Some("Express") => Ok(Some(crate::cloudflow::Mode::Express)),
        Some(other) => Err(ApiError::invalid(format!(
            "ExecutionMode `{other}` is not one of Standard, Express"
        ))),
    }
}

/// A `Definition` of either spec (`Type: StateMachine` is CloudFlow), with
/// every problem at once, positioned, in the error.
fn load_definition(
    name: &str,
    definition: &str,
    mode: Option<crate::cloudflow::Mode>,
) -> Result<Flow, ApiError> {
    fdl::load_any(name, definition, mode)
        .map(|(flow, _)| flow)
        .map_err(|diagnostics| {
            let what = if crate::cloudflow::is_state_machine(definition) {
                "a valid CloudFlow state machine"
            } else {
                "a valid flow"
            };
            ApiError::invalid(format!(
                "Definition is not {what}:\n{}",
                fdl::LoadError::Invalid {
                    file: "Definition".into(),
                    diagnostics,
                }
            ))
        })
}

fn describe_flow(state: &ApiState, rpc: &Rpc) -> Answer {
    let name = rpc.required("Name")?;
    let sim = state.handle.sim();
    let flow = sim
        .engine
        .flow(name)
        .ok_or_else(|| crate::kernel::FnfError::FlowNotExists(name.to_owned()))?;
    Ok(flow_json(flow, &info_of(&sim, name)))
}

fn list_flows(state: &ApiState, rpc: &Rpc) -> Answer {
    let limit = rpc.int("Limit", 1, 100, 100)? as usize;
    // Flows are kept in name order: the next name is a stable cursor.
    let from = rpc.optional("NextToken").unwrap_or("");
    let sim = state.handle.sim();
    let mut flows = Vec::new();
    let mut next = String::new();
    for flow in sim.engine.flows().filter(|f| f.name.as_str() >= from) {
        if flows.len() == limit {
            next = flow.name.clone();
            break;
        }
        flows.push(Value::Object(flow_json(flow, &info_of(&sim, &flow.name))));
    }
    let mut m = Map::new();
    m.insert("Flows".into(), Value::Array(flows));
    m.insert("NextToken".into(), Value::String(next));
    Ok(m)
}

async fn delete_flow(state: &ApiState, rpc: &Rpc) -> Answer {
    let name = rpc.required("Name")?.to_owned();
    match state.handle.apply(Op::DeleteFlow { name }).await? {
        Applied::FlowDeleted(r) => r?,
        other => return Err(unexpected_op(&other)),
    }
    Ok(Map::new())
}

//! Helpers shared by the example-flow suites (`example_flows`,
//! `cloudflow_examples`).

#![allow(dead_code)]

use flowsim::engine::{ExecId, Execution};
use flowsim::sim::Sim;
use serde_json::Value;

/// Redacts what differs run to run in a history event (tokens, message
/// and request ids), also inside JSON text.
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match k.as_str() {
                    "taskToken" | "MessageId" | "RequestId" | "messageId" | "MessageBodyMD5" => {
                        *x = "[redacted]".into()
                    }
                    _ => redact(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        Value::String(s) if s.starts_with('{') => {
            if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                redact(&mut inner);
                *v = inner;
            }
        }
        _ => {}
    }
}

/// Runs the simulation until execution `id` ends, jumping the clock to
/// each timer (a dropped callback ends on a timeout); answers it.
pub fn run_to_end(sim: &mut Sim, id: ExecId) -> Execution {
    for _ in 0..10_000 {
        sim.run_until_idle(1_000_000);
        if sim.engine.execution(id).unwrap().stopped.is_some()
            || sim.jump_to_next_due().moved_to().is_none()
        {
            break;
        }
    }
    sim.engine.execution(id).unwrap().clone()
}

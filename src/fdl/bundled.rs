//! The flow bundled into the binary: the seed scenario (publish a task token
//! to an MNS topic, the function reports back). Every command that takes a
//! FLOW uses it when none is given. Constants only.

/// The seed flow's FDL v1 source.
pub const SEED_FLOW: &str = include_str!("../../flows/mns-topic-callback.yaml");
/// The bundled seed flow's name.
pub const SEED_FLOW_NAME: &str = "mns-topic-callback";
/// The seed's input.
pub const SEED_INPUT: &str = r#"{"messageBody": "hello world"}"#;

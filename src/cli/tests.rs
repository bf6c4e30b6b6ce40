//! The command line's own parsing and helpers.

use super::*;
use crate::mns::{NotifyFormat, NotifyStrategy};

fn endpoints(args: &[&str]) -> Result<EndpointArgs, clap::Error> {
    let cli = Cli::try_parse_from([&["flowsim", "tui"], args].concat())?;
    match cli.command {
        Some(Command::Tui(t)) => Ok(t.endpoints),
        other => panic!("{other:?}"),
    }
}

#[test]
fn speed_must_be_positive_and_at_most_a_day_per_second() {
    for ok in [0.1, 1.0, 86_400.0] {
        assert!(check_speed(ok).is_ok(), "{ok}");
    }
    for bad in [0.0, -1.0, 86_400.5, 1e300, f64::INFINITY, f64::NAN] {
        let e = check_speed(bad).unwrap_err().to_string();
        assert!(e.contains("at most 86400"), "{bad}: {e}");
    }
}

#[test]
fn handler_none_and_subscribe_flags() {
    // The TUI's default is manual: you answer the callbacks.
    let e = endpoints(&[]).unwrap();
    assert_eq!(e.handler, HandlerChoice::Simulated(Behaviour::Manual));
    let e = endpoints(&["--handler", "succeed"]).unwrap();
    assert_eq!(e.handler, HandlerChoice::Simulated(Behaviour::Succeed));
    assert!(e.subscribe.is_empty());
    let e = endpoints(&[
        "--handler",
        "none",
        "--subscribe",
        "orders=http://127.0.0.1:9000/push",
        "--subscribe",
        "t=http://h/x,format=XML,strategy=EXPONENTIAL_DECAY_RETRY",
    ])
    .unwrap();
    assert_eq!(e.handler, HandlerChoice::None);
    assert_eq!(e.subscribe.len(), 2);
    assert_eq!(e.subscribe[1].format, NotifyFormat::Xml);
    assert_eq!(
        e.subscribe[1].strategy,
        NotifyStrategy::ExponentialDecayRetry
    );
    let mut config = SimConfig::default();
    e.apply(&mut config);
    assert!(!config.subscribe_handler);
    assert_eq!(config.subscriptions, e.subscribe);
    let e = endpoints(&["--handler", "manual"]).unwrap();
    assert_eq!(e.handler, HandlerChoice::Simulated(Behaviour::Manual));

    let err = endpoints(&["--subscribe", "t=https://h/x"]).unwrap_err();
    assert!(err.to_string().contains("https"), "{err}");
    assert!(endpoints(&["--handler", "sometimes"]).is_err());
}

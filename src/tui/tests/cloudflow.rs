//! CloudFlow state machines in the TUI: each example's graph on the
//! screen at 80x24 and 120x40, and an execution driven by keys through
//! every inspector tab, like the FDL seed's.

use super::*;

/// A CloudFlow example (`flows/cloudflow/NAME.yaml`), compiled.
fn state_machine(name: &str) -> crate::fdl::Flow {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("flows/cloudflow")
        .join(format!("{name}.yaml"));
    crate::fdl::load_any_file(&path).unwrap().0
}

/// Every CloudFlow example's name, in file order.
fn state_machine_names() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows/cloudflow");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // Flow tests (`flowsim test`) sit beside the flows.
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A world on the CloudFlow examples named (and nothing else), the
/// function behaving as given, STEP mode.
pub(super) fn world_on(names: &[&str], behaviour: Behaviour) -> World {
    let mut config = SimConfig {
        seed: 7,
        ..SimConfig::default()
    };
    config.handler.behaviour = behaviour;
    let mut sim = Sim::new(config);
    for name in names {
        sim.add_flow(state_machine(name)).unwrap();
    }
    let run = RunState {
        version: 0,
        mode: Mode::Step,
        speed: 1.0,
        anchor: None,
    };
    let app = App::new(&sim, run, Theme::COLOR);
    World { sim, app }
}

/// `s` (and `t` when only a timer is left) until a task of the selected
/// execution waits for its callback for the `runs`-th time.
pub(super) fn until_waiting(w: &mut World, runs: usize) {
    for _ in 0..60 {
        let x = w.sim.engine.execution(w.app.selected.unwrap()).unwrap();
        let submitted = x
            .history
            .iter()
            .filter(|e| e.kind == crate::engine::EventType::TaskSubmitted)
            .count();
        if submitted >= runs && step_states(&x.flow, &x.history).contains(&StepState::Waiting) {
            return;
        }
        if w.sim.next_due().is_some_and(|d| d <= w.sim.now()) {
            w.act(Action::Step);
        } else {
            w.act(Action::JumpClock);
        }
    }
    panic!("no task waited");
}

/// Before any execution, each example's graph is what the pane shows, at
/// the recommended size and a large one; the boxes carry CloudFlow types.
#[test]
fn each_state_machine_graph_at_80x24_and_120x40() {
    let names = state_machine_names();
    assert!(names.len() >= 9, "{names:?}");
    for name in &names {
        let mut w = world_on(&[name], Behaviour::Succeed);
        let flow = state_machine(name);
        let first = &flow.step(flow.body[0]).name;
        for (width, height) in [(80, 24), (120, 40)] {
            let screen = screen_at(&mut w, width, height);
            assert!(screen.contains(&format!(" {name} ")), "{screen}");
            assert!(screen.contains(first.as_str()), "{first}: {screen}");
            assert!(screen.contains("● Start"), "{screen}");
            let tag = flow.type_name(flow.step(flow.body[0]));
            assert!(screen.contains(&format!("┌ {tag} ")), "{tag}: {screen}");
            insta::assert_snapshot!(format!("cloudflow_{name}_{width}x{height}"), screen);
        }
    }
}

/// The seed's chain in CloudFlow, by keys: `n` Enter starts it with the
/// file's sample input; the Step tab shows the waiting state's token, the
/// Messages tab the message the function holds, the History tab the
/// events; `Y` reports success and the execution, Start to End, is
/// Succeeded.
#[test]
fn a_cloudflow_execution_is_driven_by_keys_like_an_fdl_one() {
    let mut w = world_on(&["mns-topic-callback"], Behaviour::Manual);
    w.act(Action::NewExecution);
    assert_eq!(
        w.app.editor.as_ref().unwrap().fields[0].text,
        r#"{"messageBody": "hello world"}"#
    );
    w.act(Action::Submit);
    until_waiting(&mut w, 1);
    let id = w.app.selected.unwrap();
    // The Step tab: the waiting state, its token.
    w.act(Action::ShowTab(Tab::Step));
    let token = {
        let x = w.sim.engine.execution(id).unwrap();
        x.history
            .iter()
            .find_map(|e| {
                let d: serde_json::Value = serde_json::from_str(&e.detail).ok()?;
                Some(d.get("taskToken")?.as_str()?.to_owned())
            })
            .unwrap()
    };
    let screen = w.screen();
    assert!(screen.contains("◷ mns-topic-task"), "{screen}");
    assert!(screen.contains("┌ Task "), "{screen}");
    assert!(screen.contains(&token[..8]), "{token}: {screen}");
    // The Messages tab: the push the function holds.
    while w.sim.fc.inbox().is_empty() {
        w.act(Action::Step);
    }
    w.act(Action::ShowTab(Tab::Messages));
    let screen = w.screen();
    assert!(screen.contains("Held by function"), "{screen}");
    assert!(screen.contains("body hello"), "{screen}");
    // The History tab, the Bus tab.
    w.act(Action::ShowTab(Tab::History));
    let screen = w.screen();
    assert!(screen.contains("TaskSubmitted"), "{screen}");
    w.act(Action::ShowTab(Tab::Bus));
    let _ = w.screen();
    // Y: ReportTaskSucceeded with the default output.
    w.act(Action::ReportSuccessDefault);
    while w.sim.next_due().is_some_and(|d| d <= w.sim.now()) {
        w.act(Action::Step);
    }
    let x = w.sim.engine.execution(id).unwrap();
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(x.output.as_deref(), Some(r#"{"status":"success"}"#));
    w.act(Action::ShowTab(Tab::Step));
    let screen = w.screen();
    assert!(screen.contains("✓ Succeeded"), "{screen}");
    assert!(screen.contains("✓ mns-topic-task"), "{screen}");
    insta::assert_snapshot!("cloudflow_seed_after_success", screen);
}

/// poll-until-ready, function manual: `n` Enter, `y` with `{"status":
/// "running"}` (the Default goes back to `pause`), steps until the second
/// check waits; then Enter (the graph) and `G` (its last state, `done`, so
/// the Choice and its edge back are in view).
pub(super) fn poll_once_round() -> World {
    let mut w = world_on(&["poll-until-ready"], Behaviour::Manual);
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    until_waiting(&mut w, 1);
    w.act(Action::ReportSuccess);
    assert!(w.app.editor.is_some());
    w.act(Action::Bottom);
    w.act(Action::KillToStart);
    w.type_text(r#"{"status": "running"}"#);
    w.act(Action::Submit);
    until_waiting(&mut w, 2);
    w.act(Action::Select);
    w.act(Action::Bottom);
    w
}

/// The polling loop goes round: `y` with `{"status": "running"}` takes
/// the Default back to `pause`; the second check waits, `pause` shows it
/// ran again; picking the last state scrolls the loop's edge into view at
/// 80x24; `Y` then ends it.
#[test]
fn a_polling_loop_goes_round_in_the_tui() {
    let mut w = poll_once_round();
    let id = w.app.selected.unwrap();
    let x = w.sim.engine.execution(id).unwrap();
    let pauses = x
        .history
        .iter()
        .filter(|e| {
            e.kind == crate::engine::EventType::StepEntered
                && e.step.is_some_and(|s| x.flow.step(s).name == "pause")
        })
        .count();
    assert_eq!(pauses, 2, "went round once");
    assert_eq!(w.app.focus, Focus::Graph);
    let screen = screen_at(&mut w, 80, 24);
    assert!(screen.contains("default ↺ pause"), "{screen}");
    assert!(
        screen.contains("◷ check-status") || screen.contains("is-ready"),
        "{screen}"
    );
    insta::assert_snapshot!("cloudflow_poll_looping_80x24", screen);
    w.act(Action::ReportSuccessDefault);
    while w.sim.next_due().is_some_and(|d| d <= w.sim.now()) {
        w.act(Action::Step);
    }
    assert_eq!(
        w.sim.engine.execution(id).unwrap().status,
        Status::Succeeded
    );
}

/// Before its first execution a flow's graph is a preview: j/k and G/g
/// scroll it, so the states below the pane can be read.
#[test]
fn the_preview_of_a_tall_graph_scrolls_before_any_execution() {
    let mut w = world_on(&["subflow-approval"], Behaviour::Manual);
    let top = screen_at(&mut w, 80, 24);
    assert!(w.app.selected.is_none());
    w.act(Action::Select);
    assert_eq!(w.app.focus, Focus::Graph);
    w.act(Action::Bottom);
    let bottom = screen_at(&mut w, 80, 24);
    assert_ne!(w.app.graph_scroll.1, 0, "{bottom}");
    assert_ne!(top, bottom);
    w.act(Action::Top);
    screen_at(&mut w, 80, 24);
    assert_eq!(w.app.graph_scroll.1, 0);
    w.act(Action::Down);
    screen_at(&mut w, 80, 24);
    assert_eq!(w.app.graph_scroll.1, 2);
}

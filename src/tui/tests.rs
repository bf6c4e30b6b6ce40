//! Whole-screen tests of the TUI: the App driven by actions over a real
//! `Sim` (commands applied synchronously with `runtime::apply`), rendered
//! to a `TestBackend` at 100x30 and compared with insta snapshots.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::action::{Action, Focus, Tab};
use super::app::App;
use super::theme::Theme;
use super::ui;
use crate::engine::{ExecId, Status, StepState, step_states};
use crate::fc::Behaviour;
use crate::runtime::{self, Command, Mode, RunState};
use crate::sim::{Sim, SimConfig};

struct World {
    sim: Sim,
    app: App,
}

impl World {
    fn new(behaviour: Behaviour) -> World {
        let mut config = SimConfig {
            seed: 7,
            ..SimConfig::default()
        };
        config.handler.behaviour = behaviour;
        World::with_config(config)
    }

    fn with_config(config: SimConfig) -> World {
        let mut sim = Sim::new(config);
        sim.add_flow(crate::sim::testing::seed_flow()).unwrap();
        let run = RunState {
            version: 0,
            mode: Mode::Step,
            speed: 1.0,
            anchor: None,
        };
        let app = App::new(&sim, run, Theme::COLOR);
        World { sim, app }
    }

    /// One action, and its command applied like the runtime would.
    fn act(&mut self, action: Action) {
        let command = self.app.update(action, &self.sim);
        if let Some(c) = command {
            if let Command::SetMode(m) = c {
                self.app.run.mode = m;
            }
            let reply = runtime::apply(&mut self.sim, c);
            self.app.on_reply(reply, &self.sim);
        }
        let run = self.app.run;
        self.app.sync(&self.sim, run);
    }

    /// `F`, the name typed into the picker's filter, Enter.
    fn pick_flow(&mut self, name: &str) {
        self.act(Action::PickFlow);
        assert!(self.app.picker.is_some(), "{:?}", self.app.status);
        self.type_text(name);
        self.act(Action::Submit);
        assert_eq!(self.app.current_flow(), Some(name));
    }

    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.act(Action::Insert(c));
        }
    }

    /// `n`, Enter, then `s` until the task waits for its callback.
    fn start_and_wait(&mut self) {
        self.act(Action::NewExecution);
        self.act(Action::Submit);
        for _ in 0..20 {
            let x = self
                .sim
                .engine
                .execution(self.app.selected.unwrap())
                .unwrap();
            if step_states(&x.flow, &x.history).contains(&StepState::Waiting) {
                return;
            }
            self.act(Action::Step);
        }
        panic!("the task never waited");
    }

    fn screen(&mut self) -> String {
        let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
        let now = self.sim.now();
        term.draw(|f| ui::draw(f, &mut self.app, &self.sim, now))
            .unwrap();
        term.backend().to_string()
    }
}

#[test]
fn seed_waiting_for_callback_in_step_mode() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    let screen = w.screen();
    assert!(screen.contains("◷ mns-topic-task"), "{screen}");
    assert!(screen.contains("waiting "), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn seed_after_success() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    w.act(Action::ReportSuccessDefault);
    let id = w.app.selected.unwrap();
    let x = w.sim.engine.execution(id).unwrap();
    assert_eq!(x.status, Status::Succeeded);
    assert_eq!(x.output.as_deref(), Some(r#"{"status":"success"}"#));
    let screen = w.screen();
    assert!(screen.contains("✓ Succeeded"), "{screen}");
    assert!(
        screen.contains(r#"output {"status":"success"}"#),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
}

#[test]
fn seed_after_failure() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    w.act(Action::ReportFailure);
    assert!(w.app.editor.is_some());
    w.act(Action::Submit);
    let id = w.app.selected.unwrap();
    assert_eq!(w.sim.engine.execution(id).unwrap().status, Status::Failed);
    let screen = w.screen();
    assert!(screen.contains("UserError"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn help_overlay() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::ToggleHelp);
    insta::assert_snapshot!(w.screen());
    w.act(Action::CloseOverlay);
    assert!(!w.app.help);
}

#[test]
fn input_editor_checks_json_as_you_type() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::NewExecution);
    let screen = w.screen();
    assert!(screen.contains("✓ valid JSON object"), "{screen}");
    insta::assert_snapshot!(screen);
    w.act(Action::Backspace);
    let screen = w.screen();
    assert!(screen.contains("✗ invalid JSON"), "{screen}");
    // Enter on invalid JSON keeps the editor open and says why.
    w.act(Action::Submit);
    assert!(w.app.editor.is_some());
    w.act(Action::Cancel);
    assert!(w.app.editor.is_none());
    assert!(w.sim.engine.executions().is_empty());
}

#[test]
fn the_next_input_is_the_last_one() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::NewExecution);
    w.act(Action::Bottom);
    for _ in 0..2 {
        w.act(Action::Backspace);
    }
    w.type_text(r#"!"}"#);
    w.act(Action::Submit);
    assert_eq!(
        w.app.inputs["mns-topic-callback"],
        r#"{"messageBody": "hello world!"}"#
    );
    w.act(Action::NewExecution);
    assert_eq!(
        w.app.editor.as_ref().unwrap().fields[0].text,
        r#"{"messageBody": "hello world!"}"#
    );
}

#[test]
fn reporting_on_an_ended_task_shows_the_upstream_error() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    w.act(Action::ReportSuccessDefault);
    w.act(Action::ReportSuccessDefault);
    let status = w.app.status.clone().unwrap();
    assert!(status.error);
    assert!(
        status.text.starts_with("TaskAlreadyCompleted"),
        "{status:?}"
    );
    assert!(w.screen().contains("✗ TaskAlreadyCompleted"));
}

#[test]
fn manual_notifications_are_answered_from_the_messages_tab() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    // Deliver the push so the function holds it.
    while w.sim.fc.inbox().is_empty() {
        w.act(Action::Step);
    }
    w.act(Action::ShowTab(Tab::Messages));
    let screen = w.screen();
    assert!(screen.contains("Held by function"), "{screen}");
    w.act(Action::AnswerHeld);
    assert!(
        w.app
            .editor
            .as_ref()
            .unwrap()
            .title
            .contains("Answer as the function")
    );
    w.act(Action::Submit);
    assert!(w.sim.fc.inbox().is_empty());
    // The function's report travels on the bus.
    while !w.sim.bus().is_empty() {
        w.act(Action::Step);
    }
    let id = w.app.selected.unwrap();
    assert_eq!(
        w.sim.engine.execution(id).unwrap().status,
        Status::Succeeded
    );
}

#[test]
fn time_travel_replays_the_graph() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    w.act(Action::ReportSuccessDefault);
    let n = w
        .sim
        .engine
        .execution(w.app.selected.unwrap())
        .unwrap()
        .history
        .len();
    w.act(Action::HistoryBack);
    assert_eq!(w.app.cursor, Some(n - 1));
    for _ in 0..n {
        w.act(Action::HistoryBack);
    }
    assert_eq!(w.app.cursor, Some(1));
    let screen = w.screen();
    assert!(screen.contains("○ mns-topic-task"), "{screen}");
    assert!(screen.contains("⟲ event 1 of"), "{screen}");
    for _ in 0..n {
        w.act(Action::HistoryForward);
    }
    assert_eq!(w.app.cursor, None);
    assert!(w.screen().contains("✓ mns-topic-task"));
}

#[test]
fn handler_cycles_and_stop_stops() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::CycleHandler);
    assert_eq!(w.sim.fc.config.behaviour, Behaviour::Fail);
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    // x asks first; n keeps it running, y stops it.
    w.act(Action::StopExecution);
    assert!(w.app.confirm.is_some());
    assert!(w.screen().contains("cannot be undone"));
    w.act(Action::Cancel);
    let id = w.app.selected.unwrap();
    assert_eq!(w.sim.engine.execution(id).unwrap().status, Status::Running);
    w.act(Action::StopExecution);
    w.act(Action::Submit);
    assert_eq!(w.sim.engine.execution(id).unwrap().status, Status::Stopped);
    w.act(Action::StopExecution);
    assert!(w.app.confirm.is_none(), "nothing to ask: it has ended");
    assert!(
        w.app
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("ExecutionAlreadyCompleted")
    );
}

#[test]
fn focus_moves_and_enter_selects() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    assert_eq!(w.app.focus, Focus::List);
    w.act(Action::Select);
    assert_eq!(w.app.focus, Focus::Graph);
    w.act(Action::Select);
    assert_eq!(w.app.focus, Focus::Inspector);
    assert_eq!(w.app.tab, Tab::Step);
    assert!(w.app.step_sel.is_some());
    w.act(Action::Right);
    assert_eq!(w.app.tab, Tab::Messages);
    w.act(Action::FocusNext);
    assert_eq!(w.app.focus, Focus::List);
    w.act(Action::FocusPrev);
    assert_eq!(w.app.focus, Focus::Inspector);
}

#[test]
fn step_in_run_mode_explains_itself() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::ToggleMode);
    assert_eq!(w.app.run.mode, Mode::Run);
    w.act(Action::Step);
    assert!(w.app.status.as_ref().unwrap().text.contains("STEP mode"));
}

#[test]
fn too_small_a_terminal_says_so() {
    let mut w = World::new(Behaviour::Succeed);
    let mut term = Terminal::new(TestBackend::new(50, 12)).unwrap();
    let now = w.sim.now();
    term.draw(|f| ui::draw(f, &mut w.app, &w.sim, now)).unwrap();
    let screen = term.backend().to_string();
    assert!(screen.contains("too small"), "{screen}");
}

#[test]
fn everything_fits_at_80x24() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let now = w.sim.now();
    term.draw(|f| ui::draw(f, &mut w.app, &w.sim, now)).unwrap();
    let screen = term.backend().to_string();
    for want in [
        "flowsim",
        "STEP",
        "Executions",
        "mns-topic-task",
        "1 Step",
        "? help",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
}

#[test]
fn a_hundred_thousand_executions_scroll_by_rows() {
    let mut sim = Sim::new(SimConfig::default());
    sim.add_flow(crate::sim::testing::seed_flow()).unwrap();
    for i in 0..100_000 {
        sim.start_execution("mns-topic-callback", Some(&format!("x{i}")), Some("{}"))
            .unwrap();
    }
    let run = RunState {
        version: 0,
        mode: Mode::Step,
        speed: 1.0,
        anchor: None,
    };
    let mut app = App::new(&sim, run, Theme::COLOR);
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    term.draw(|f| ui::draw(f, &mut app, &sim, 0)).unwrap();
    assert!(term.backend().to_string().contains("x99999"));
    app.follow = false;
    app.update(Action::PageDown, &sim);
    app.update(Action::Down, &sim);
    term.draw(|f| ui::draw(f, &mut app, &sim, 0)).unwrap();
    let rows = app.list_height;
    let want = format!("x{}", 99_999 - rows - 1);
    assert_eq!(
        sim.engine
            .execution(app.selected.unwrap())
            .unwrap()
            .name
            .as_ref(),
        want
    );
    app.update(Action::Bottom, &sim);
    term.draw(|f| ui::draw(f, &mut app, &sim, 0)).unwrap();
    assert!(term.backend().to_string().contains("x0 "));
    // A filter indexes matches once, then only what is new.
    app.update(Action::StartFilter, &sim);
    for c in "x4242".chars() {
        app.update(Action::Insert(c), &sim);
    }
    assert_eq!(app.list.len(), 11); // x4242 and x42420..x42429
    sim.start_execution("mns-topic-callback", Some("x4242z"), Some("{}"))
        .unwrap();
    app.sync(&sim, run);
    assert_eq!(app.list.len(), 12);
}

#[test]
fn a_graph_larger_than_its_pane_scrolls_to_the_picked_step() {
    let mut w = World::new(Behaviour::Manual);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layout/nested.yaml");
    w.sim
        .add_flow(crate::fdl::load_file(&path).unwrap())
        .unwrap();
    w.sim
        .start_execution("nested", None, Some(r#"{"n": 1, "items": []}"#))
        .unwrap();
    let run = w.app.run;
    w.app.sync(&w.sim, run);
    w.act(Action::Top);
    w.act(Action::Select);
    assert_eq!(w.app.focus, Focus::Graph);
    let x = w.sim.engine.execution(w.app.selected.unwrap()).unwrap();
    assert_eq!(x.flow.name, "nested");
    let graph = w.app.graph(&x.flow.clone());
    assert!(
        graph.height > 30 && graph.width > 60,
        "bigger than the pane"
    );
    w.act(Action::Bottom);
    let screen = w.screen();
    assert!(screen.contains("last-fail"), "{screen}");
    assert!(screen.contains("more: j/k"), "{screen}");
    assert_ne!(w.app.graph_scroll, (0, 0));
    w.act(Action::Top);
    let screen = w.screen();
    assert!(
        screen.contains("○ fan") || screen.contains("fan"),
        "{screen}"
    );
    assert!(!screen.contains("last-fail"), "{screen}");
    // A step on the far right is brought into view too.
    for _ in 0..10 {
        w.act(Action::Down);
    }
    let screen = w.screen();
    let picked = w.app.step_sel.unwrap();
    let name = w
        .sim
        .engine
        .flow("nested")
        .unwrap()
        .step(picked)
        .name
        .clone();
    assert!(screen.contains(&name), "{name}: {screen}");
}

fn screen_at(w: &mut World, width: u16, height: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
    let now = w.sim.now();
    term.draw(|f| ui::draw(f, &mut w.app, &w.sim, now)).unwrap();
    term.backend().to_string()
}

/// `--handler none --subscribe flowsim-callback-topic=http://127.0.0.1:9/cb`.
fn world_without_function() -> World {
    World::with_config(SimConfig {
        seed: 7,
        subscribe_handler: false,
        subscriptions: vec![
            "flowsim-callback-topic=http://127.0.0.1:9/cb"
                .parse()
                .unwrap(),
        ],
        ..SimConfig::default()
    })
}

/// Steps (jumping timers) until the sim hands the shell a real push.
fn next_http_push(w: &mut World) -> crate::mns::HttpPush {
    for _ in 0..20 {
        if let Some(p) = w.sim.take_http_pushes().pop() {
            return p;
        }
        if w.sim.bus().is_empty() {
            w.act(Action::JumpClock);
        } else {
            w.act(Action::Step);
        }
    }
    panic!("no push to the real endpoint");
}

#[test]
fn function_none_is_said_and_h_explains_there_is_nothing_to_cycle() {
    let mut w = world_without_function();
    let screen = w.screen();
    assert!(screen.contains("function none"), "{screen}");
    assert!(screen.contains("→ http://127.0.0.1:9/cb"), "{screen}");
    assert!(
        !screen.contains("h function"),
        "no h in the footer: {screen}"
    );
    let before = w.sim.fc.config.behaviour;
    assert!(w.app.update(Action::CycleHandler, &w.sim).is_none());
    let status = w.app.status.clone().unwrap();
    assert!(status.error);
    assert!(
        status.text.contains("no simulated function"),
        "{}",
        status.text
    );
    assert_eq!(w.sim.fc.config.behaviour, before);
    // At 80 columns the URL does not fit the header: the Messages tab has it.
    w.act(Action::ShowTab(Tab::Messages));
    let narrow = screen_at(&mut w, 80, 24);
    let header = narrow.lines().next().unwrap();
    assert!(header.contains("function none"), "{narrow}");
    assert!(!header.contains("→"), "{narrow}");
    assert!(narrow.contains("Real endpoints"), "{narrow}");
}

#[test]
fn function_none_without_endpoints_says_messages_wait() {
    let mut w = World::with_config(SimConfig {
        seed: 7,
        subscribe_handler: false,
        ..SimConfig::default()
    });
    w.act(Action::ShowTab(Tab::Messages));
    let screen = w.screen();
    assert!(
        screen.contains("Function none and no real endpoint"),
        "{screen}"
    );
}

#[test]
fn messages_tab_shows_each_push_endpoint_answer_and_latency() {
    let mut w = world_without_function();
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    let first = next_http_push(&mut w);
    assert_eq!(first.url, "http://127.0.0.1:9/cb");
    w.sim.push_answered(
        first.notification,
        crate::sim::PushOutcome::Error("connection refused".into()),
        Some(3),
    );
    let second = next_http_push(&mut w);
    assert_eq!(second.attempt, first.attempt + 1);
    w.sim.push_answered(
        second.notification,
        crate::sim::PushOutcome::Status(204),
        Some(15),
    );
    // The answer travels back to MNS as an envelope.
    w.act(Action::Step);
    w.act(Action::ShowTab(Tab::Messages));
    let screen = screen_at(&mut w, 150, 40);
    for want in [
        "push 1 → http://127.0.0.1:9/cb",
        "✗ error: connection refused in 3 ms",
        "push 2 → http://127.0.0.1:9/cb",
        "✓ HTTP 204 in 15 ms",
    ] {
        assert!(screen.contains(want), "{want} missing:\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn pushes_to_the_simulated_function_name_it() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    for _ in 0..30 {
        if w.sim.bus().is_empty() {
            break;
        }
        w.act(Action::Step);
    }
    w.act(Action::ShowTab(Tab::Messages));
    let screen = screen_at(&mut w, 150, 40);
    assert!(screen.contains("push 1 → fc:callback-handler"), "{screen}");
    assert!(screen.contains("✓ HTTP"), "{screen}");
    // Simulated pushes take no wall-clock time: no latency.
    assert!(!screen.contains(" ms"), "{screen}");
}

/// The seed flow plus the example sub-flow pair, a subflow-approval
/// execution started whose child waits for its review.
fn world_with_a_child() -> (World, ExecId, ExecId) {
    let mut w = World::new(Behaviour::Manual);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    for f in ["approval-review.yaml", "subflow-approval.yaml"] {
        w.sim
            .add_flow(crate::fdl::load_file(&dir.join(f)).unwrap())
            .unwrap();
    }
    w.app = App::new(&w.sim, w.app.run, Theme::COLOR);
    w.pick_flow("subflow-approval");
    w.act(Action::NewExecution);
    // The flow's own sample input line.
    assert_eq!(
        w.app.editor.as_ref().unwrap().fields[0].text,
        r#"{"requestId": "r-42", "amount": 1200}"#
    );
    w.act(Action::Submit);
    let parent = w.app.selected.unwrap();
    for _ in 0..20 {
        if w.sim.engine.executions().len() == 2 {
            break;
        }
        w.act(Action::Step);
    }
    let child = ExecId(1);
    assert_eq!(
        w.sim
            .engine
            .execution(child)
            .unwrap()
            .parent()
            .unwrap()
            .task
            .exec,
        parent
    );
    // Following the newest execution started from outside: the parent,
    // not its child (reached with c).
    assert_eq!(w.app.selected, Some(parent));
    assert!(w.app.follow);
    // Then the child, as most tests want it.
    w.act(Action::GoChild);
    assert_eq!(w.app.selected, Some(child));
    (w, parent, child)
}

#[test]
fn a_child_execution_is_marked_and_names_its_parent() {
    let (mut w, parent, child) = world_with_a_child();
    assert_eq!(w.app.selected, Some(child));
    let parent_name = w.sim.engine.execution(parent).unwrap().name.to_string();
    let screen = w.screen();
    // Listed by what tells it from its siblings: the name past the parent's.
    assert!(screen.contains("lead-review-3 ask-reviewer"), "{screen}");
    assert!(!screen.contains("↳_88db"), "{screen}");
    assert!(
        screen.contains(&format!("Parent  ↰ {parent_name}")),
        "{screen}"
    );
    assert!(screen.contains("p parent"), "{screen}");
    insta::assert_snapshot!("subflow_child", screen);
}

#[test]
fn p_goes_to_the_parent_and_c_or_enter_back_to_the_child() {
    let (mut w, parent, child) = world_with_a_child();
    w.act(Action::GoParent);
    assert_eq!(w.app.selected, Some(parent));
    assert!(!w.app.follow, "a jump stops following the newest");
    let x = w.sim.engine.execution(parent).unwrap();
    let task = w.app.step_sel.unwrap();
    assert_eq!(x.flow.step(task).name, "team-lead-review");
    assert_eq!(w.app.tab, Tab::Step);
    let child_name = w.sim.engine.execution(child).unwrap().name.to_string();
    let screen = w.screen();
    assert!(screen.contains("Child   ↳"), "{screen}");
    assert!(screen.contains(&child_name[..20]), "{screen}");
    assert!(screen.contains("c child"), "{screen}");
    insta::assert_snapshot!("subflow_parent", screen);
    w.act(Action::GoChild);
    assert_eq!(w.app.selected, Some(child));
    assert!(
        w.app.status.as_ref().unwrap().text.contains(&child_name),
        "{:?}",
        w.app.status
    );
    // Enter on the inspector's Step tab follows the link too.
    w.act(Action::GoParent);
    w.app.focus = Focus::Inspector;
    w.act(Action::Select);
    assert_eq!(w.app.selected, Some(child));
    // In the child, the inspected step is a plain task: Enter stays put.
    w.app.status = None;
    w.act(Action::Select);
    assert_eq!(w.app.selected, Some(child));
    assert_eq!(w.app.status, None);
}

#[test]
fn links_that_lead_nowhere_say_why() {
    let (mut w, parent, _child) = world_with_a_child();
    w.act(Action::GoParent);
    w.act(Action::GoParent);
    assert_eq!(w.app.selected, Some(parent));
    let status = w.app.status.clone().unwrap();
    assert!(
        status.error && status.text.contains("has no parent"),
        "{status:?}"
    );
    // finance-review has not started its child yet; Start/End are not tasks.
    let x = w.sim.engine.execution(parent).unwrap();
    let finance = x.flow.step_by_name("finance-review").unwrap().id;
    w.app.step_sel = Some(finance);
    w.act(Action::GoChild);
    let status = w.app.status.clone().unwrap();
    assert!(
        status.error && status.text.contains("has not started a child"),
        "{status:?}"
    );
    let screen = w.screen();
    assert!(screen.contains("Child   — (not started)"), "{screen}");
}

#[test]
fn jumping_clears_a_filter_that_hides_the_target() {
    let (mut w, parent, child) = world_with_a_child();
    w.act(Action::StartFilter);
    w.type_text("review-3");
    w.act(Action::Submit);
    assert_eq!(w.app.list.len(), 1, "only the child matches");
    assert_eq!(w.app.selected, Some(child));
    w.act(Action::GoParent);
    assert_eq!(w.app.selected, Some(parent));
    assert!(w.app.list.text.is_empty());
    assert_eq!(w.app.list.row_of(parent), Some(1));
}

#[test]
fn every_pane_wraps_its_placeholder_at_80x24() {
    let mut w = World::new(Behaviour::Succeed);
    let screen = screen_at(&mut w, 80, 24);
    assert!(screen.contains("No executions yet."), "{screen}");
    assert!(screen.contains("press n to start one."), "{screen}");
}

/// Before any execution, the graph pane shows the flow `n` would start,
/// every step not reached: the seed is Start -> mns-topic-task -> End.
#[test]
fn the_flow_to_start_is_drawn_before_any_execution() {
    let mut w = World::new(Behaviour::Succeed);
    let screen = screen_at(&mut w, 100, 30);
    assert!(
        screen.contains("no execution yet: n starts one"),
        "{screen}"
    );
    for text in ["Start", "○ mns-topic-task", "End"] {
        assert!(screen.contains(text), "{text}: {screen}");
    }
    assert!(
        !screen.contains("The graph of the selected execution"),
        "{screen}"
    );
}

#[test]
fn help_scrolls_to_its_last_line_and_no_further_at_80x24() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::ToggleHelp);
    let first = screen_at(&mut w, 80, 24);
    assert!(first.contains("↓ more"), "{first}");
    for _ in 0..100 {
        w.act(Action::Down);
    }
    let last = screen_at(&mut w, 80, 24);
    assert!(last.contains("⊘ timed out"), "{last}");
    assert!(last.contains("c / p"), "{last}");
    assert!(!last.contains("↓ more"), "{last}");
    assert!(w.app.help_scroll < 50, "clamped: {}", w.app.help_scroll);
    // One step up shows the line above again at once.
    w.act(Action::Up);
    let up = screen_at(&mut w, 80, 24);
    assert!(up.contains("↓ more"), "{up}");
}

/// `flowsim tui --listen`: the API's address (the real port, for port 0)
/// is in the header; at 80 columns the counts drop their words for it.
#[test]
fn the_api_address_is_in_the_header_at_any_width() {
    let mut w = World::new(Behaviour::Succeed);
    w.app.api = Some("http://127.0.0.1:40123".into());
    let narrow = screen_at(&mut w, 80, 24);
    let header = narrow.lines().nth(1).unwrap();
    assert!(header.contains("API http://127.0.0.1:40123"), "{narrow}");
    assert!(!header.contains("succeeded"), "{header}");
    let wide = screen_at(&mut w, 160, 40);
    let header = wide.lines().nth(1).unwrap();
    assert!(header.contains("API http://127.0.0.1:40123"), "{wide}");
    assert!(header.contains("✓0 succeeded"), "{header}");
    // Without --listen nothing changes.
    w.app.api = None;
    let plain = screen_at(&mut w, 80, 24);
    assert!(!plain.contains("API "), "{plain}");
    assert!(
        plain.lines().nth(1).unwrap().contains("succeeded"),
        "{plain}"
    );
}

#[test]
fn a_paste_goes_into_the_open_editor_as_text_and_never_submits() {
    let mut w = World::new(Behaviour::Succeed);
    // No editor open: ignored.
    assert!(!w.app.paste("n"));
    assert!(w.app.editor.is_none());
    w.act(Action::NewExecution);
    w.act(Action::Bottom);
    w.act(Action::Backspace);
    w.act(Action::Backspace);
    assert!(w.app.paste("!\r\n\"}\n"));
    let editor = w.app.editor.as_ref().unwrap();
    assert_eq!(
        editor.fields[0].text,
        r#"{"messageBody": "hello world! "} "#
    );
    assert_eq!(
        editor.fields[0].cursor,
        editor.fields[0].text.chars().count()
    );
    assert!(w.sim.engine.executions().is_empty());
}

/// Keys handled in one drain, before the runtime answers any of them: each
/// builds on what the previous one asked for, not on the published state.
#[test]
fn fast_toggles_build_on_what_was_asked_not_on_the_stale_state() {
    let mut w = World::new(Behaviour::Manual);
    let stale = w.app.run;
    let mut sent = Vec::new();
    let keys = [Action::ToggleMode; 3]
        .into_iter()
        .chain([Action::SpeedUp; 6])
        .chain([Action::CycleHandler; 2]);
    for a in keys {
        sent.extend(w.app.update(a, &w.sim));
        // The loop redraws with the runtime's state as published so far.
        w.app.sync(&w.sim, stale);
    }
    let modes: Vec<Mode> = sent
        .iter()
        .filter_map(|c| match c {
            Command::SetMode(m) => Some(*m),
            _ => None,
        })
        .collect();
    assert_eq!(modes, [Mode::Run, Mode::Step, Mode::Run]);
    assert_eq!(w.app.run.mode, Mode::Run);
    assert_eq!(w.app.run.speed, 3600.0);
    assert_eq!(w.app.handler(&w.sim), Behaviour::Fail);
    let screen = w.screen();
    assert!(screen.contains("function fail"), "{screen}");
    assert!(screen.contains(" RUN  1h/s "), "{screen}");
    // The runtime answers each; then its state confirms what was shown.
    for c in sent {
        let reply = runtime::apply(&mut w.sim, c);
        w.app.on_reply(reply, &w.sim);
    }
    assert_eq!(w.sim.fc.config.behaviour, Behaviour::Fail);
    let published = RunState {
        mode: Mode::Run,
        speed: 3600.0,
        ..stale
    };
    w.app.sync(&w.sim, published);
    assert_eq!(w.app.run.mode, Mode::Run);
    assert_eq!(w.app.handler(&w.sim), Behaviour::Fail);
}

#[test]
fn the_editor_cursor_counts_display_width_and_scrolls_wide_text() {
    // Two cells per CJK glyph: the cursor on 中 sits at cell 2, not 1.
    let (vis, x, w) = ui::field_window("a中b", 1, 10);
    assert_eq!((vis.as_str(), x, w), ("a中b", 1, 2));
    let (_, x, w) = ui::field_window("中中b", 2, 10);
    assert_eq!((x, w), (4, 1));
    // At the end: the cursor's own cell stays in view.
    let (vis, x, w) = ui::field_window("中中中中中", 5, 6);
    assert_eq!((vis.as_str(), x, w), ("中中", 4, 1));
    // Off the end's view, the cursor sits at the left edge.
    let (vis, x, w) = ui::field_window("中中中中中", 1, 6);
    assert_eq!((vis.as_str(), x, w), ("中中中", 0, 2));
    let (vis, x, _) = ui::field_window("中中中中中", 4, 6);
    assert_eq!((vis.as_str(), x), ("中中", 2));
    // Long wide text in the real editor: the typed end is shown.
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::NewExecution);
    w.act(Action::Bottom);
    w.act(Action::Backspace);
    w.act(Action::Backspace);
    w.type_text(&"漢字😀".repeat(20));
    w.type_text("終\"}");
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let now = w.sim.now();
    term.draw(|f| ui::draw(f, &mut w.app, &w.sim, now)).unwrap();
    let screen = term.backend().to_string();
    assert!(screen.contains("終\"}"), "{screen}");
    assert!(screen.contains("✓ valid JSON object"), "{screen}");
    // The reversed cell is right after the closing brace.
    let buf = term.backend().buffer();
    let row = (0..30)
        .find(|y| (0..100).any(|x| buf[(x, *y)].symbol() == "終"))
        .unwrap();
    let brace = (0..100).find(|x| buf[(*x, row)].symbol() == "}").unwrap();
    let reversed = |x: u16| {
        buf[(x, row)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    };
    assert!(reversed(brace + 1), "{screen}");
    assert!(!reversed(brace), "{screen}");
}

/// Starts an execution and steps until the function holds its push.
fn start_and_hold(w: &mut World) -> ExecId {
    let before = w.sim.fc.inbox().len();
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    let id = w.app.selected.unwrap();
    for _ in 0..40 {
        if w.sim.fc.inbox().len() > before {
            return id;
        }
        w.act(Action::Step);
    }
    panic!("the push was never held");
}

#[test]
fn the_messages_tab_holds_only_the_selected_executions_notifications() {
    let mut w = World::new(Behaviour::Manual);
    let first = start_and_hold(&mut w);
    let second = start_and_hold(&mut w);
    assert_eq!(w.sim.fc.inbox().len(), 2);
    // Back to the first (older: the second row).
    w.act(Action::Down);
    assert_eq!(w.app.selected, Some(first));
    w.act(Action::ShowTab(Tab::Messages));
    let screen = screen_at(&mut w, 200, 40);
    assert!(
        screen.contains("for this execution (1): a answers success"),
        "{screen}"
    );
    assert!(screen.contains("(1 held for other executions)"), "{screen}");
    // The seed's message has a messageBody; shown as the body.
    assert!(screen.contains("body hello world"), "{screen}");
    w.act(Action::AnswerHeld);
    let name = w.sim.engine.execution(first).unwrap().name.to_string();
    let title = w.app.editor.as_ref().unwrap().title.clone();
    assert!(title.contains(&name), "{title}");
    w.act(Action::Submit);
    while !w.sim.bus().is_empty() {
        w.act(Action::Step);
    }
    assert_eq!(
        w.sim.engine.execution(first).unwrap().status,
        Status::Succeeded
    );
    assert_eq!(
        w.sim.engine.execution(second).unwrap().status,
        Status::Running
    );
    // Nothing is held for the first any more: said, and a/A, y/f open
    // nothing.
    let screen = screen_at(&mut w, 200, 40);
    assert!(screen.contains("nothing for this execution"), "{screen}");
    w.act(Action::AnswerHeld);
    assert!(w.app.editor.is_none());
    let status = w.app.status.clone().unwrap();
    assert!(
        status.error && status.text.contains("holds nothing"),
        "{status:?}"
    );
    for a in [Action::ReportSuccess, Action::ReportFailure] {
        w.act(a);
        assert!(w.app.editor.is_none());
        let status = w.app.status.clone().unwrap();
        assert!(status.error, "{status:?}");
        assert!(
            status.text.starts_with("TaskAlreadyCompleted"),
            "{status:?}"
        );
    }
}

#[test]
fn a_held_message_without_message_body_shows_its_text() {
    let mut w = World::new(Behaviour::Manual);
    w.act(Action::NewExecution);
    let field = &mut w.app.editor.as_mut().unwrap().fields[0];
    field.text = r#"{"note": "no body here"}"#.into();
    field.cursor = field.text.chars().count();
    w.act(Action::Submit);
    for _ in 0..40 {
        if !w.sim.fc.inbox().is_empty() {
            break;
        }
        w.act(Action::Step);
    }
    w.act(Action::ShowTab(Tab::Messages));
    let screen = screen_at(&mut w, 200, 40);
    assert!(!screen.contains("body —"), "{screen}");
    assert!(screen.contains("message "), "{screen}");
}

#[test]
fn a_filter_matching_nothing_says_no_execution_selected() {
    let mut w = World::new(Behaviour::Succeed);
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    w.act(Action::StartFilter);
    w.type_text("zzz-no-such");
    w.act(Action::Submit);
    assert!(w.app.list.is_empty());
    let screen = w.screen();
    assert!(screen.contains("no execution selected"), "{screen}");
    assert!(!screen.contains("no execution yet"), "{screen}");
    // The flow `n` would start is still drawn.
    assert!(screen.contains("mns-topic-task"), "{screen}");
}

#[test]
fn inspector_scrolling_stops_at_the_end_of_its_content() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    w.app.focus = Focus::Inspector;
    w.act(Action::ShowTab(Tab::Step));
    let top = w.screen();
    assert!(top.contains("more: j/k"), "{top}");
    // G: the last rows, not a blank pane.
    w.act(Action::Bottom);
    let bottom = w.screen();
    let max = w.app.inspector_scroll;
    assert!(max > 0 && max < 100, "{max}");
    assert!(bottom.contains("Error "), "{bottom}");
    // j past the end stays there; k moves back at once.
    for _ in 0..5 {
        w.act(Action::Down);
    }
    w.screen();
    assert_eq!(w.app.inspector_scroll, max);
    w.act(Action::Up);
    w.screen();
    assert_eq!(w.app.inspector_scroll, max - 1);
    // Content that fits: no scrolling, no hint.
    let fits = screen_at(&mut w, 200, 60);
    assert_eq!(w.app.inspector_scroll, 0);
    assert!(!fits.contains("more: j/k"), "{fits}");
}

/// A world on the example flows named (from `flows/`), function manual.
fn world_with_flows(names: &[&str]) -> World {
    let mut w = World::new(Behaviour::Manual);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    for f in names {
        w.sim
            .add_flow(crate::fdl::load_file(&dir.join(format!("{f}.yaml"))).unwrap())
            .unwrap();
    }
    w.app = App::new(&w.sim, w.app.run, Theme::COLOR);
    w
}

/// Steps until nothing is due now (what STEP mode's `s` would deliver).
fn settle(w: &mut World) {
    while w.sim.next_due().is_some_and(|d| d <= w.sim.now()) {
        w.act(Action::Step);
    }
}

#[test]
fn n_prefills_each_flows_sample_input_then_its_last_input() {
    let mut w = world_with_flows(&["foreach-fanout", "wait-then-publish"]);
    let editor_text = |w: &World| w.app.editor.as_ref().unwrap().fields[0].text.clone();
    w.pick_flow("foreach-fanout");
    w.act(Action::NewExecution);
    assert_eq!(editor_text(&w), r#"{"recipients": ["ann", "bo", "cy"]}"#);
    w.act(Action::Cancel);
    w.pick_flow("wait-then-publish");
    w.act(Action::NewExecution);
    assert_eq!(
        editor_text(&w),
        r#"{"delaySeconds": 90, "text": "stand-up"}"#
    );
    w.act(Action::Bottom);
    w.act(Action::KillWord); // `"stand-up"}` goes: a word is what has no space
    w.type_text(r#""later"}"#);
    w.act(Action::Submit);
    // The flow's last input from now on; another flow keeps its own.
    w.act(Action::NewExecution);
    assert_eq!(editor_text(&w), r#"{"delaySeconds": 90, "text": "later"}"#);
    w.act(Action::Cancel);
    w.pick_flow("foreach-fanout");
    w.act(Action::NewExecution);
    assert_eq!(editor_text(&w), r#"{"recipients": ["ann", "bo", "cy"]}"#);
    w.act(Action::Cancel);
    // A flow without a sample input line: `{}`, never another flow's.
    let mut bare = crate::sim::testing::seed_flow();
    bare.name = "bare".into();
    bare.definition = "version: v1\n".into();
    w.sim.add_flow(bare).unwrap();
    w.app = App::new(&w.sim, w.app.run, Theme::COLOR);
    w.pick_flow("bare");
    w.act(Action::NewExecution);
    assert_eq!(editor_text(&w), "{}");
}

#[test]
fn the_flow_picker_filters_moves_and_picks() {
    let mut w = world_with_flows(&["foreach-fanout", "retry-then-catch"]);
    let screen = screen_at(&mut w, 80, 24);
    assert!(screen.contains("F flow"), "{screen}");
    w.act(Action::PickFlow);
    let screen = screen_at(&mut w, 80, 24);
    assert!(screen.contains("New executions start flow"), "{screen}");
    // Flows in name order, the current one picked and marked.
    assert!(screen.contains("› foreach-fanout  • now"), "{screen}");
    w.act(Action::Down);
    w.act(Action::Submit);
    let picked = w.app.current_flow().unwrap().to_owned();
    assert_eq!(picked, "mns-topic-callback");
    // Typing filters; Esc closes without picking.
    w.act(Action::PickFlow);
    w.type_text("RETRY");
    let screen = screen_at(&mut w, 80, 24);
    assert!(screen.contains("› retry-then-catch"), "{screen}");
    assert!(!screen.contains("  foreach-fanout"), "{screen}");
    w.act(Action::Cancel);
    assert!(w.app.picker.is_none());
    assert_eq!(w.app.current_flow(), Some(picked.as_str()));
    // With one flow there is nothing to pick: said, and no `F flow`.
    let mut one = World::new(Behaviour::Manual);
    assert!(!one.screen().contains("F flow"));
    one.act(Action::PickFlow);
    assert!(one.app.picker.is_none());
    assert!(
        one.app
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("only one flow")
    );
}

#[test]
fn a_foreach_box_shows_progress_until_every_iteration_is_done() {
    let mut w = world_with_flows(&["foreach-fanout"]);
    w.pick_flow("foreach-fanout");
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    settle(&mut w);
    let id = w.app.selected.unwrap();
    // Three invocations held by the manual function (an FC task counts as
    // submitted when its invocation returns: until then it runs).
    let waiting = w.sim.engine.waiting_tasks(id);
    assert_eq!(waiting.len(), 3);
    let big = |w: &mut World| screen_at(w, 120, 50);
    let screen = big(&mut w);
    assert_eq!(screen.matches("running 0/3").count(), 2, "{screen}");
    // One iteration answered: the body step still runs for the others.
    w.sim
        .report_succeeded(&waiting[0].2, r#"{"status": "success"}"#)
        .unwrap();
    settle(&mut w);
    let screen = big(&mut w);
    assert_eq!(screen.matches("running 1/3").count(), 2, "{screen}");
    assert!(!screen.contains("succeeded 1/3"), "{screen}");
    assert!(!screen.contains("─ succeeded ─"), "{screen}");
    for (_, _, token) in &waiting[1..] {
        w.sim
            .report_succeeded(token, r#"{"status": "success"}"#)
            .unwrap();
    }
    settle(&mut w);
    let screen = big(&mut w);
    assert_eq!(screen.matches("succeeded 3/3").count(), 2, "{screen}");
    assert_eq!(
        w.sim.engine.execution(id).unwrap().status,
        Status::Succeeded
    );
}

#[test]
fn a_parallel_box_counts_its_branches() {
    let mut w = world_with_flows(&["order-parallel-callbacks"]);
    w.pick_flow("order-parallel-callbacks");
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    settle(&mut w);
    let id = w.app.selected.unwrap();
    let waiting = w.sim.engine.waiting_tasks(id);
    assert_eq!(waiting.len(), 2);
    w.sim
        .report_succeeded(&waiting[0].2, r#"{"status": "success"}"#)
        .unwrap();
    settle(&mut w);
    let screen = screen_at(&mut w, 140, 40);
    assert!(screen.contains("running 1/2"), "{screen}");
}

#[test]
fn a_stopped_execution_shows_its_task_cancelled_not_waiting() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    w.act(Action::StopExecution);
    w.act(Action::Submit);
    let screen = w.screen();
    assert!(screen.contains("■ mns-topic-task"), "{screen}");
    assert!(screen.contains("cancelled"), "{screen}");
    assert!(!screen.contains("waiting"), "{screen}");
    // The held push went with it.
    assert!(w.sim.fc.inbox().is_empty());
}

#[test]
fn y_reports_on_the_token_and_a_answers_the_held_push_one_key_one_meaning() {
    let mut w = World::new(Behaviour::Manual);
    let id = start_and_hold(&mut w);
    let screen = w.screen();
    assert!(screen.contains("a answer held"), "{screen}");
    // On the Messages tab too, Y reports on the token (not the push)...
    w.act(Action::ShowTab(Tab::Messages));
    w.act(Action::ReportSuccessDefault);
    assert_eq!(
        w.sim.engine.execution(id).unwrap().status,
        Status::Succeeded
    );
    // ...and the held push is let go at once, answered 200: never re-pushed.
    assert!(w.sim.fc.inbox().is_empty());
    for _ in 0..10 {
        w.act(Action::JumpClock);
        settle(&mut w);
    }
    assert_eq!(w.sim.mns.messages()[0].attempts.len(), 1);
    assert_eq!(w.sim.fc.received(), 1);
}

#[test]
fn esc_clears_a_filter_and_an_empty_filtered_list_says_how() {
    let mut w = World::new(Behaviour::Manual);
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    w.act(Action::StartFilter);
    w.type_text("xyz");
    w.act(Action::Submit);
    let screen = screen_at(&mut w, 80, 24);
    assert!(screen.contains("No execution matches `xyz`."), "{screen}");
    assert!(screen.contains("Esc clears the filter."), "{screen}");
    assert!(screen.contains("Esc clear filter"), "{screen}");
    assert!(!screen.contains("Press n"), "{screen}");
    w.act(Action::Live);
    assert!(w.app.list.text.is_empty());
    assert_eq!(w.app.list.len(), 1);
}

/// At 80 columns the footer keeps `? help` and `q quit` whatever else
/// applies, dropping the less important hints.
#[test]
fn the_footer_keeps_help_and_quit_at_80_columns() {
    let (mut w, _, _) = world_with_a_child();
    for tab in Tab::ALL {
        w.act(Action::ShowTab(tab));
        let screen = screen_at(&mut w, 80, 24);
        let footer = screen.lines().last().unwrap();
        assert!(footer.contains("? help"), "{footer}");
        assert!(footer.contains("q quit"), "{footer}");
        assert!(
            footer.contains("Y success") && footer.contains("f fail"),
            "{footer}"
        );
    }
    let mut w = World::new(Behaviour::Manual);
    w.act(Action::ToggleMode);
    let footer = screen_at(&mut w, 80, 24).lines().last().unwrap().to_owned();
    assert!(
        footer.contains("? help") && footer.contains("q quit"),
        "{footer}"
    );
}

/// The History tab's detail (the event's JSON) is shown whole when it
/// fits, and scrolls with J/K (saying so) when it does not; Enter shows it
/// alone.
#[test]
fn the_history_detail_is_visible_or_scrollable_at_80x24_and_100x30() {
    let mut w = World::new(Behaviour::Manual);
    w.start_and_wait();
    w.act(Action::ReportSuccessDefault);
    w.act(Action::ShowTab(Tab::History));
    w.app.focus = Focus::Inspector;
    // TaskScheduled: the longest detail (the service params with the token).
    let x = w.sim.engine.execution(w.app.selected.unwrap()).unwrap();
    let scheduled = x
        .history
        .iter()
        .position(|e| e.kind == crate::engine::EventType::TaskScheduled)
        .unwrap();
    w.app.cursor = Some(scheduled + 1);
    for (width, height) in [(80, 24), (100, 30)] {
        w.app.detail_scroll = 0;
        let top = screen_at(&mut w, width, height);
        assert!(top.contains("Event 3 TaskScheduled"), "{top}");
        let cut = top.contains("more: J/K");
        // 80x24 cuts it (pretty-printed, J/K scroll); 100x30 shows it whole.
        assert_eq!(cut, width == 80, "{top}");
        for _ in 0..100 {
            w.act(Action::ScrollDown);
        }
        // Scrolled to its last line, no further; or all there.
        let bottom = screen_at(&mut w, width, height);
        assert!(
            bottom.contains("┃}  ") || bottom.contains("cEE=\"}}}"),
            "{bottom}"
        );
        if cut {
            let max = w.app.detail_scroll;
            assert!(max > 0, "{bottom}");
            w.act(Action::ScrollUp);
            assert_eq!(w.app.detail_scroll, max - 1);
        } else {
            assert_eq!(w.app.detail_scroll, 0);
        }
    }
    // Enter: the detail alone.
    w.act(Action::Select);
    assert!(w.app.detail_zoom);
    w.app.detail_scroll = 0;
    let zoomed = screen_at(&mut w, 100, 30);
    assert!(zoomed.contains("\"resourceArn\""), "{zoomed}");
    // A short detail fits without a hint.
    w.act(Action::Live);
    assert!(!w.app.detail_zoom);
    w.app.cursor = None;
    let last = screen_at(&mut w, 100, 30);
    assert!(last.contains("ExecutionSucceeded"), "{last}");
    assert!(!last.contains("more: J/K"), "{last}");
}

/// On the Messages tab, j/k pick a held push: the hint names J/K, which
/// scroll.
#[test]
fn the_messages_hint_names_the_keys_that_scroll() {
    let mut w = World::new(Behaviour::Manual);
    start_and_hold(&mut w);
    w.act(Action::ShowTab(Tab::Messages));
    w.app.focus = Focus::Inspector;
    let screen = screen_at(&mut w, 80, 24);
    // The inspector's bottom border (the graph's says j/k: j/k pick steps).
    let border = screen.lines().nth(21).unwrap();
    assert!(border.contains("more: J/K"), "{screen}");
    w.act(Action::ScrollDown);
    assert_eq!(w.app.inspector_scroll, 1);
    w.act(Action::Down);
    assert_eq!(w.app.inspector_scroll, 1, "j picks, it does not scroll");
}

#[test]
fn c_copies_the_token_or_the_history_event() {
    let mut w = World::new(Behaviour::Manual);
    w.act(Action::Copy);
    assert!(w.app.clipboard.is_none());
    w.start_and_wait();
    let id = w.app.selected.unwrap();
    let token = w.sim.engine.waiting_tasks(id)[0].2.clone();
    w.act(Action::Copy);
    assert_eq!(w.app.clipboard.take().as_deref(), Some(token.as_str()));
    assert!(
        w.app
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("copied the task token")
    );
    w.act(Action::ShowTab(Tab::History));
    w.act(Action::Copy);
    let json: serde_json::Value = serde_json::from_str(&w.app.clipboard.take().unwrap()).unwrap();
    assert!(
        json["Type"].is_string() && json["EventDetail"].is_string(),
        "{json}"
    );
    assert_eq!(
        super::osc52("hi"),
        "\u{1b}]52;c;aGk=\u{7}",
        "OSC 52 with the text in base64"
    );
}

#[test]
fn the_mouse_selects_executions_tabs_and_events_and_the_wheel_scrolls() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mouse = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    let click = |c, r| mouse(MouseEventKind::Down(MouseButton::Left), c, r);
    let mut w = World::new(Behaviour::Manual);
    let first = start_and_hold(&mut w);
    let second = start_and_hold(&mut w);
    w.screen();
    assert_eq!(w.app.selected, Some(second));
    // The second row of the list: the first execution.
    let rows = w.app.regions.list_rows;
    assert!(w.app.mouse(click(rows.x + 3, rows.y + 1), &w.sim));
    assert_eq!(w.app.selected, Some(first));
    assert_eq!(w.app.focus, Focus::List);
    // A tab title.
    w.screen();
    let tab = w.app.regions.tabs[2];
    assert!(w.app.mouse(click(tab.x + 1, tab.y), &w.sim));
    assert_eq!(w.app.tab, Tab::History);
    assert_eq!(w.app.focus, Focus::Inspector);
    // A history event: the first row is event 1.
    w.screen();
    let ev = w.app.regions.history_rows;
    let first_shown = w.app.regions.history_first;
    assert!(w.app.mouse(click(ev.x + 2, ev.y), &w.sim));
    assert_eq!(w.app.cursor, Some(first_shown + 1));
    // The wheel over the list moves the selection there.
    w.screen();
    assert!(
        w.app
            .mouse(mouse(MouseEventKind::ScrollUp, rows.x + 2, rows.y), &w.sim)
    );
    assert_eq!(w.app.selected, Some(second));
    // Over the graph: scrolled by hand, it stays put.
    let g = w.app.regions.graph;
    assert!(
        w.app
            .mouse(mouse(MouseEventKind::ScrollDown, g.x + 2, g.y + 2), &w.sim)
    );
    assert!(w.app.graph_free);
    // Overlays take no clicks.
    w.act(Action::NewExecution);
    assert!(!w.app.mouse(click(rows.x + 3, rows.y), &w.sim));
}

#[test]
fn t_with_envelopes_due_says_how_many_on_one_line_at_80_columns() {
    let mut w = World::new(Behaviour::Manual);
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    w.act(Action::JumpClock);
    let status = w.app.status.clone().unwrap();
    assert!(status.error, "{status:?}");
    let screen = screen_at(&mut w, 80, 24);
    let line = screen.lines().nth(22).unwrap();
    assert!(
        line.contains("envelopes are due now: deliver them first (s steps, space runs), then jump"),
        "{line}"
    );
}

#[test]
fn the_editor_marks_its_field_and_takes_readline_keys() {
    let mut w = World::new(Behaviour::Manual);
    w.act(Action::NewExecution);
    let screen = w.screen();
    assert!(screen.contains("› Input"), "{screen}");
    assert!(!screen.contains("Tab next field"), "{screen}");
    w.act(Action::KillToStart);
    assert_eq!(w.app.editor.as_ref().unwrap().fields[0].text, "");
    w.type_text(r#"{"a": 1}"#);
    w.act(Action::Top);
    w.act(Action::KillToEnd);
    assert_eq!(w.app.editor.as_ref().unwrap().fields[0].text, "");
    w.act(Action::Cancel);
    // Two fields: the hint names Tab; the second field marked once picked.
    w.start_and_wait();
    w.act(Action::ReportFailure);
    w.act(Action::NextField);
    let screen = w.screen();
    assert!(screen.contains("Tab next field"), "{screen}");
    assert!(screen.contains("› Cause"), "{screen}");
    assert!(screen.contains("  Error"), "{screen}");
}

#[test]
fn n_selects_the_started_parent_not_its_child() {
    let (w, parent, child) = world_with_a_child();
    // world_with_a_child checked the parent was selected after `n`; the
    // child starting later did not take the selection.
    assert_ne!(parent, child);
    assert!(w.sim.engine.execution(child).unwrap().parent().is_some());
}

/// A screen as text, the way `tmux capture-pane` prints it: one line per
/// row, trailing spaces trimmed.
fn screen_text(w: &mut World) -> String {
    let screen = w.screen();
    let mut out = String::new();
    for line in screen.lines() {
        let line = line.strip_prefix('"').unwrap_or(line);
        let line = line.strip_suffix('"').unwrap_or(line);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The text screens in `assets/screenshots/` and the capture in README.md
/// (after its `<!-- screen: FILE -->` marker) are made here, on the seed
/// flow with the function manual, seed 7, in STEP mode (`flowsim --seed 7
/// --step`), from the keys `assets/screenshots/README.md` lists, so they
/// cannot drift from the TUI. `FLOWSIM_UPDATE_SCREENSHOTS=1 cargo test --lib
/// readme_screens` rewrites them.
#[test]
fn readme_screens_are_the_tuis() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("FLOWSIM_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1");
    let mut w = World::new(Behaviour::Manual);
    let mut shots: Vec<(&str, String)> = Vec::new();
    shots.push(("01-launch-seed-flow.txt", screen_text(&mut w)));
    for a in [
        Action::NewExecution,
        Action::Submit,
        Action::Step,
        Action::Step,
        Action::Step,
    ] {
        w.act(a);
    }
    shots.push(("02-waiting-for-callback.txt", screen_text(&mut w)));
    w.act(Action::ShowTab(Tab::Messages));
    shots.push(("03-messages-tab-held-notification.txt", screen_text(&mut w)));
    for a in [
        Action::ShowTab(Tab::Step),
        Action::ReportSuccessDefault,
        Action::Step,
        Action::ShowTab(Tab::History),
    ] {
        w.act(a);
    }
    shots.push(("04-succeeded-history.txt", screen_text(&mut w)));
    shots.push(("05-messages-real-endpoint.txt", real_endpoint_messages()));
    let mut stale = Vec::new();
    for (file, text) in &shots {
        let path = root.join("assets/screenshots").join(file);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        if old != *text {
            if update {
                std::fs::write(&path, text).unwrap();
            } else {
                stale.push(format!("{file}:\n{text}"));
            }
        }
    }
    // README.md: the fenced block after each `<!-- screen: FILE -->`.
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let mut out = String::new();
    let mut rest = readme.as_str();
    let mut markers = 0;
    while let Some(i) = rest.find("<!-- screen: ") {
        let (before, after) = rest.split_at(i);
        out.push_str(before);
        let end = after.find("-->").unwrap() + 3;
        // The marker's first word is the file; the rest is a note.
        let file = after["<!-- screen: ".len()..end - 3]
            .split_whitespace()
            .next()
            .unwrap_or("");
        let file = file.trim_start_matches("assets/screenshots/");
        let text = &shots
            .iter()
            .find(|(f, _)| *f == file)
            .unwrap_or_else(|| panic!("README names an unknown screen {file}"))
            .1;
        let open = after[end..].find("```text\n").unwrap() + end + "```text\n".len();
        let close = after[open..].find("```").unwrap() + open;
        out.push_str(&after[..open]);
        out.push_str(text);
        rest = &after[close..];
        markers += 1;
    }
    out.push_str(rest);
    assert!(markers > 0, "README.md has no <!-- screen: FILE --> marker");
    if out != readme {
        if update {
            std::fs::write(&readme_path, out).unwrap();
        } else {
            stale.push("README.md's capture".to_owned());
        }
    }
    assert!(
        stale.is_empty(),
        "screens out of date (FLOWSIM_UPDATE_SCREENSHOTS=1 cargo test --lib readme_screens rewrites them):\n{}",
        stale.join("\n")
    );
}

/// The Messages tab's text with `--handler none --subscribe
/// flowsim-callback-topic=http://127.0.0.1:9/cb`: a refused push, then one
/// answered 204 (latencies as the runtime measures them: 3 and 15 ms);
/// only the pane's content, from `Real endpoints` to the last push.
fn real_endpoint_messages() -> String {
    let mut w = world_without_function();
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    let first = next_http_push(&mut w);
    w.sim.push_answered(
        first.notification,
        crate::sim::PushOutcome::Error("connection refused".into()),
        Some(3),
    );
    let second = next_http_push(&mut w);
    w.sim.push_answered(
        second.notification,
        crate::sim::PushOutcome::Status(204),
        Some(15),
    );
    w.act(Action::Step);
    w.act(Action::ShowTab(Tab::Messages));
    let screen = screen_at(&mut w, 160, 40);
    let rows: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let start = rows
        .iter()
        .position(|r| r.iter().collect::<String>().contains("Real endpoints"))
        .unwrap();
    let line = rows[start].iter().collect::<String>();
    let col = line[..line.find("Real endpoints").unwrap()].chars().count();
    let mut out = Vec::new();
    for r in &rows[start..] {
        // The pane's content: from its first column to its right border.
        let text: String = r[col..].iter().take_while(|c| **c != '│').collect();
        out.push(text.trim_end().to_owned());
    }
    let last = out.iter().rposition(|l| l.contains("push ")).unwrap();
    out.truncate(last + 1);
    out.join("\n") + "\n"
}

/// Two `Y` in one burst, before the runtime answers the first: the second
/// reports on the next waiting task, not the same one again.
#[test]
fn quick_reports_take_the_next_waiting_task() {
    let mut w = world_with_flows(&["foreach-fanout"]);
    w.pick_flow("foreach-fanout");
    w.act(Action::NewExecution);
    w.act(Action::Submit);
    settle(&mut w);
    let id = w.app.selected.unwrap();
    let a = w.app.update(Action::ReportSuccessDefault, &w.sim).unwrap();
    let b = w.app.update(Action::ReportSuccessDefault, &w.sim).unwrap();
    let token = |c: &Command| match c {
        Command::ReportSucceeded { token, .. } => token.clone(),
        other => panic!("{other:?}"),
    };
    assert_ne!(token(&a), token(&b));
    for c in [a, b] {
        let reply = runtime::apply(&mut w.sim, c);
        assert!(reply.is_ok(), "{reply:?}");
        w.app.on_reply(reply, &w.sim);
    }
    assert_eq!(w.sim.engine.waiting_tasks(id).len(), 1);
}

//! Whole-screen tests of the TUI: the App driven by actions over a real
//! `Sim` (commands applied synchronously with `runtime::apply`), rendered
//! to a `TestBackend` at 100x30 and compared with insta snapshots.

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

/// A flow given another definition under the same name (UpdateFlow) is
/// laid out again; its old executions still get the old layout.
#[test]
fn a_flow_with_a_new_definition_gets_a_new_graph() {
    let w = World::new(Behaviour::Manual);
    let mut app = w.app;
    let old = crate::sim::testing::seed_flow();
    let machine = "Type: StateMachine\nStartAt: a\nStates:\n  - Type: Pass\n    Name: a\n    Next: b\n  - Type: Pass\n    Name: b\n    End: true\n";
    let (new, _) = crate::fdl::load_any(&old.name, machine, None).unwrap();
    let first = app.graph(&old);
    assert!(std::rc::Rc::ptr_eq(&first, &app.graph(&old)));
    let second = app.graph(&new);
    assert!(!std::rc::Rc::ptr_eq(&first, &second));
    assert!(second.node_for_step(crate::fdl::StepId(1)).is_some());
    assert!(first.node_for_step(crate::fdl::StepId(1)).is_none());
    assert_eq!(app.graph(&old).nodes.len(), first.nodes.len());
}

mod cloudflow;
mod features;
mod screens;

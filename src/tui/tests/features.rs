//! The TUI's behaviour since "Trustworthy time and the first five minutes":
//! per-flow sample inputs, the flow picker, graph boxes per run, one key
//! one meaning for reports and held pushes, the filter, the footer, the
//! History detail, the clipboard, the mouse, the editor's keys.

use super::*;

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
        crate::tui::osc52("hi"),
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

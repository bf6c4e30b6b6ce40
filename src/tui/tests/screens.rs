//! The screens in the docs (`assets/screenshots/`, README.md), made from
//! the TUI and compared with the files.

use super::*;

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
    let mut poll = super::cloudflow::poll_once_round();
    shots.push(("06-cloudflow-polling-loop.txt", screen_text(&mut poll)));
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

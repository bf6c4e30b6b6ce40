//! The invalid-flow corpus: every file under `tests/invalid_flows/` must be
//! rejected with exactly the diagnostics its `# expect: LINE:COL: message`
//! comments name (same positions, messages starting with the given text),
//! no more and no fewer. Adding a case is adding a file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::Path;

use flowsim::fdl::{self, LoadError};

fn expectations(text: &str) -> Vec<(u32, u32, String)> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("# expect: "))
        .map(|e| {
            let mut parts = e.splitn(3, ':');
            let line = parts.next().and_then(|s| s.trim().parse().ok());
            let col = parts.next().and_then(|s| s.trim().parse().ok());
            let msg = parts.next().map(|s| s.trim().to_owned());
            match (line, col, msg) {
                (Some(l), Some(c), Some(m)) => (l, c, m),
                _ => panic!("malformed expectation: {e}"),
            }
        })
        .collect()
}

#[test]
fn every_invalid_flow_reports_its_diagnostics_at_their_positions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_flows");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    let mut failures = String::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let want = expectations(&text);
        let shown = file.file_name().unwrap_or_default().to_string_lossy();
        assert!(!want.is_empty(), "{shown} has no `# expect:` line");
        let got = match fdl::load_file(file) {
            Ok(_) => {
                writeln!(failures, "{shown}: loaded, but should be invalid").unwrap();
                continue;
            }
            Err(LoadError::Io { error, .. }) => panic!("{shown}: {error}"),
            Err(LoadError::Invalid { diagnostics, .. }) => diagnostics,
        };
        let matched = |(l, c, m): &(u32, u32, String)| {
            got.iter()
                .any(|d| d.pos.line == *l && d.pos.col == *c && d.message.starts_with(m))
        };
        let missing: Vec<_> = want.iter().filter(|w| !matched(w)).collect();
        if !missing.is_empty() || got.len() != want.len() {
            writeln!(failures, "{shown}:").unwrap();
            for (l, c, m) in &missing {
                writeln!(failures, "  expected {l}:{c}: {m}").unwrap();
            }
            for d in &got {
                writeln!(failures, "  got      {d}").unwrap();
            }
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

#[test]
fn diagnostics_render_as_file_line_col() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_flows");
    let err = fdl::load_file(&dir.join("31-many-problems.yaml")).unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for l in lines {
        assert!(
            l.contains("31-many-problems.yaml:") && l.split(':').nth(1).is_some(),
            "{l}"
        );
    }
}

#[test]
fn loading_never_panics_on_prefixes_of_valid_and_invalid_flows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources =
        vec![std::fs::read_to_string(dir.join("flows/mns-topic-callback.yaml")).expect("seed")];
    for e in std::fs::read_dir(dir.join("tests/invalid_flows")).expect("corpus") {
        sources.push(std::fs::read_to_string(e.expect("entry").path()).expect("readable"));
    }
    for src in &sources {
        let cuts: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
        for &i in &cuts {
            let _ = fdl::load("prefix", &src[..i]);
        }
    }
    for junk in [
        "\u{0}",
        "{{{{",
        "[[[",
        "&a *a",
        "*nope",
        "? [a]: b",
        "!!binary x",
        ":",
    ] {
        let _ = fdl::load("junk", junk);
    }
}

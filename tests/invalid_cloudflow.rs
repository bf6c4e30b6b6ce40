//! The CloudFlow corpus: every file under `tests/invalid_cloudflow/` must
//! be rejected with exactly the diagnostics its `# expect: LINE:COL:
//! message` comments name (same positions, messages starting with the
//! given text), no more and no fewer. A file with only `# warn:` lines
//! must load, with exactly those warnings. Adding a case is adding a file.
//! Also: every example flow under `flows/cloudflow/` loads with neither
//! errors nor warnings, and no input makes the loader panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use flowsim::cloudflow;
use flowsim::fdl::{Diagnostic, LoadError};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
        .expect("folder")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        // Flow tests (`flowsim test`) sit beside the flows.
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .collect();
    files.sort();
    files
}

fn expectations(text: &str, tag: &str) -> Vec<(u32, u32, String)> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix(tag))
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

/// Compares diagnostics with expectations; a report of the differences.
fn compare(shown: &str, want: &[(u32, u32, String)], got: &[Diagnostic], out: &mut String) {
    let matched = |(l, c, m): &(u32, u32, String)| {
        got.iter()
            .any(|d| d.pos.line == *l && d.pos.col == *c && d.message.starts_with(m))
    };
    let missing: Vec<_> = want.iter().filter(|w| !matched(w)).collect();
    if !missing.is_empty() || got.len() != want.len() {
        writeln!(out, "{shown}:").unwrap();
        for (l, c, m) in &missing {
            writeln!(out, "  expected {l}:{c}: {m}").unwrap();
        }
        for d in got {
            writeln!(out, "  got      {d}").unwrap();
        }
    }
}

#[test]
fn every_invalid_flow_reports_its_diagnostics_at_their_positions() {
    let files = yaml_files("tests/invalid_cloudflow");
    assert!(files.len() >= 25, "the corpus has {} files", files.len());
    let mut failures = String::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable");
        let errors = expectations(&text, "# expect: ");
        let warnings = expectations(&text, "# warn: ");
        let shown = file.file_name().unwrap_or_default().to_string_lossy();
        assert!(
            !errors.is_empty() || !warnings.is_empty(),
            "{shown} has no `# expect:` or `# warn:` line"
        );
        match cloudflow::load_file(file) {
            Ok(loaded) if errors.is_empty() => {
                compare(&shown, &warnings, &loaded.warnings, &mut failures)
            }
            Ok(_) => writeln!(failures, "{shown}: loaded, but should be invalid").unwrap(),
            Err(LoadError::Io { error, .. }) => panic!("{shown}: {error}"),
            Err(LoadError::Invalid { diagnostics, .. }) => {
                if errors.is_empty() {
                    writeln!(failures, "{shown}: should load with warnings only").unwrap();
                }
                compare(&shown, &errors, &diagnostics, &mut failures);
            }
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

#[test]
fn diagnostics_render_as_file_line_col() {
    let file = root().join("tests/invalid_cloudflow/40-many-problems.yaml");
    let err = cloudflow::load_file(&file).unwrap_err();
    let text = err.to_string();
    assert!(text.lines().count() >= 5, "{text}");
    for l in text.lines() {
        let mut parts = l.splitn(4, ':');
        assert!(
            parts.next().unwrap().ends_with("40-many-problems.yaml"),
            "{l}"
        );
        assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{l}");
        assert!(parts.next().unwrap().parse::<u32>().is_ok(), "{l}");
    }
}

#[test]
fn every_example_flow_loads_without_errors_or_warnings() {
    let files = yaml_files("flows/cloudflow");
    let mut failures = String::new();
    for file in &files {
        let shown = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(file).expect("readable");
        assert!(cloudflow::is_state_machine(&text), "{shown}");
        assert!(
            text.starts_with("# "),
            "{shown} opens with a header comment"
        );
        assert!(
            root()
                .join("flows")
                .join(file.file_name().unwrap())
                .exists(),
            "{shown} is the CloudFlow version of an FDL example of the same name"
        );
        match cloudflow::load_file(file) {
            Ok(l) if l.warnings.is_empty() => {
                let stem = file.file_stem().unwrap().to_string_lossy();
                assert_eq!(
                    l.machine.declared_name.as_deref(),
                    Some(stem.as_ref()),
                    "{shown}"
                );
            }
            Ok(l) => {
                for w in l.warnings {
                    writeln!(failures, "{shown}: warning {w}").unwrap();
                }
            }
            Err(e) => writeln!(failures, "{e}").unwrap(),
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
    // One CloudFlow version per FDL example.
    assert_eq!(files.len(), yaml_files("flows").len());
}

#[test]
fn the_loaders_tell_the_two_specs_apart() {
    for file in yaml_files("flows") {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!cloudflow::is_state_machine(&text), "{}", file.display());
        let err = cloudflow::load("x", &text).unwrap_err();
        assert!(
            err[0].message.starts_with("this is an FDL v1 flow"),
            "{err:?}"
        );
    }
    for file in yaml_files("flows/cloudflow") {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(flowsim::fdl::load("x", &text).is_err());
    }
}

#[test]
fn loading_never_panics_on_prefixes_of_valid_and_invalid_flows() {
    let mut sources: Vec<String> = yaml_files("flows/cloudflow")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    sources.extend(
        yaml_files("tests/invalid_cloudflow")
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap()),
    );
    for src in &sources {
        // Every line boundary and every 7th character: the prefixes cut
        // every construct somewhere without taking minutes.
        let cuts: Vec<usize> = src
            .char_indices()
            .filter(|(i, c)| *c == '\n' || i % 7 == 0)
            .map(|(i, _)| i)
            .collect();
        for &i in &cuts {
            let _ = cloudflow::load("prefix", &src[..i]);
            let _ = cloudflow::is_state_machine(&src[..i]);
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
        "Type: StateMachine\nStates: 5\n",
        "Type: StateMachine\nStartAt: [1]\nStates: [[], 1, null, {Name: {a: b}}, {Type: [x]}]\n",
        "Type: StateMachine\nStartAt: a\nStates:\n  - {Name: a, Type: Map, Processor: 1, ItemsPath: {}}\n",
        "Type: StateMachine\nStartAt: a\nStates:\n  - {Name: a, Type: Parallel, Branches: [1, {States: {}}], End: true}\n",
        "Type: StateMachine\nStartAt: a\nStates:\n  - {Name: a, Type: Task, Action: ':', Parameters: [], Retry: {}, Catch: [1]}\n",
        "Type: StateMachine\nStartAt: a\nStates:\n  - {Name: a, Type: Choice, Branches: [{Condition: 1}], Default: 2}\n",
        "Type: StateMachine\nStartAt: a\nStates:\n  - {Name: a, Type: Pass, InputConstructor: {'.$': x, 'a.$': [1], b: {'c.$': '$Input['}}, End: true}\n",
    ] {
        let _ = cloudflow::load("junk", junk);
        let _ = cloudflow::is_state_machine(junk);
    }
}

#[test]
fn seeded_mutations_of_the_examples_never_panic() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    // Characters that matter to YAML and to expressions.
    let alphabet: Vec<char> = " \n\t-:[]{}$.,'\"`()!=<>&|#*&?%@\\0123456789aZ.名"
        .chars()
        .collect();
    let sources: Vec<Vec<char>> = yaml_files("flows/cloudflow")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap().chars().collect())
        .collect();
    for _ in 0..1_500 {
        let mut s = sources[rng.random_range(0..sources.len())].clone();
        for _ in 0..rng.random_range(1..6) {
            let i = rng.random_range(0..s.len());
            match rng.random_range(0..3) {
                0 => {
                    s.remove(i);
                }
                1 => s.insert(i, alphabet[rng.random_range(0..alphabet.len())]),
                _ => s[i] = alphabet[rng.random_range(0..alphabet.len())],
            }
        }
        let text: String = s.into_iter().collect();
        if let Ok(loaded) = cloudflow::load("m", &text) {
            // Whatever loads can be evaluated on odd data without panicking.
            let input =
                serde_json::json!({"messageBody": [1], "recipients": "x", "delaySeconds": -1});
            let scope = cloudflow::Scope::new(&input);
            for st in loaded.machine.all_states() {
                for c in [&st.input_constructor, &st.output_constructor]
                    .into_iter()
                    .flatten()
                {
                    let _ = c.build(&scope, &mut rng);
                }
            }
        }
    }
}

#[test]
fn random_expression_soup_never_panics() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let pieces = [
        "$Input",
        "$Output",
        "$Context",
        ".a",
        ".Current",
        ".Input",
        "[0]",
        "[\"k\"]",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "\"s\"",
        "'t'",
        "`u`",
        "1",
        "-2.5",
        "1e3",
        "true",
        "null",
        "==",
        "!=",
        "<",
        ">=",
        "&&",
        "||",
        "!",
        "-",
        "in",
        "length(",
        "format(",
        "hash(",
        "uuid()",
        "randomInt(",
        "split(",
        "get(",
        "intAdd(",
        "jsonMerge(",
        "toArray(",
        "regexMatchString(",
        "\"(a|b)*\"",
        "stringToJson(",
        "\"[1]\"",
        " ",
    ];
    let input = serde_json::json!({"a": [1, {"k": "v"}], "s": "x,y"});
    for _ in 0..20_000 {
        let n = rng.random_range(1..14);
        let text: String = (0..n)
            .map(|_| pieces[rng.random_range(0..pieces.len())])
            .collect();
        if let Ok(e) = cloudflow::Expression::parse(&text) {
            let _ = e.eval(&cloudflow::Scope::new(&input), &mut rng);
        }
        if let Ok(c) = cloudflow::Condition::parse(&text) {
            let _ = c.eval(&cloudflow::Scope::new(&input));
        }
    }
}

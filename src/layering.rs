//! The layering rules, as a test: reads every `crate::` path in the core's
//! source (not tests) and fails on an import the floors forbid, naming the
//! rule. The floors, from the ground up (an arrow: "may import"):
//!
//! `syntax` -> `cloudflow` -> `fdl` (the flow model, both languages) -> `kernel` -> `engine` | `mns` | `fc` (side by side, never each
//! other) -> `sim` -> `runtime` | `headless` -> `api` | `tui` (never each
//! other) -> `cli`. Nothing imports `cli`. See CONTRIBUTING.md.

use std::path::{Path, PathBuf};

/// The floor of each top-level module; a module may import modules on
/// lower floors, and on its own floor only itself.
const FLOORS: &[(&str, u8)] = &[
    ("syntax", 0),
    // The CloudFlow front end: its model and expression language.
    ("cloudflow", 1),
    // The flow model the engine runs (FDL v1 builds it; CloudFlow state
    // machines compile into it).
    ("fdl", 2),
    ("kernel", 3),
    ("engine", 4),
    ("mns", 4),
    ("fc", 4),
    ("sim", 5),
    ("runtime", 6),
    ("headless", 6),
    ("api", 7),
    ("tui", 7),
    ("cli", 8),
];

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

/// The rule an import of `to` from `from` breaks, if any.
fn broken_rule(from: &str, to: &str) -> Option<String> {
    if from == to {
        return None;
    }
    let (Some(f), Some(t)) = (floor(from), floor(to)) else {
        return None;
    };
    if to == "cli" {
        return Some("nothing imports `cli` (it is the composition root)".into());
    }
    if f == t {
        return Some(format!(
            "`{from}` and `{to}` stand side by side on one floor and never import each other"
        ));
    }
    if t > f {
        return Some(format!(
            "`{from}` (floor {f}) may import only lower floors, and `{to}` is on floor {t}"
        ));
    }
    None
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::module` names a source text uses outside comments and its
/// test module, with their 1-based lines.
fn imports(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let t = line.trim_start();
        // An inline test module runs to the end of the file by convention.
        if t == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|(_, l)| l.trim_start().starts_with("mod tests"))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let mut rest = t;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `$crate::` and `flowsim::crate` do not occur; a `{a, b}` group
            // at the root (`use crate::{x, y}`) is read name by name.
            if name.is_empty() && after.starts_with('{') {
                let group: String = after[1..].chars().take_while(|c| *c != '}').collect();
                for part in group.split(',') {
                    let n: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !n.is_empty() {
                        found.push((i + 1, n));
                    }
                }
            } else if !name.is_empty() {
                found.push((i + 1, name));
            }
            rest = after;
        }
    }
    found
}

/// The top-level module a file under `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

#[test]
fn no_module_imports_across_the_floors() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut broken = Vec::new();
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // Tests may reach anywhere; so may the layering test itself.
        if name == "tests.rs"
            || name == "testing.rs"
            || name == "layering.rs"
            || file.components().any(|c| c.as_os_str() == "tests")
        {
            continue;
        }
        let Some(from) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, to) in imports(&text) {
            if let Some(rule) = broken_rule(&from, &to) {
                broken.push(format!(
                    "{}:{line}: `{from}` imports `crate::{to}`: {rule}",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "imports across the floors:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_rules_name_what_they_forbid() {
    assert!(
        broken_rule("engine", "mns")
            .unwrap()
            .contains("side by side")
    );
    assert!(
        broken_rule("kernel", "sim")
            .unwrap()
            .contains("lower floors")
    );
    assert!(
        broken_rule("api", "cli")
            .unwrap()
            .contains("nothing imports `cli`")
    );
    assert!(broken_rule("tui", "api").unwrap().contains("side by side"));
    assert_eq!(broken_rule("sim", "engine"), None);
    assert_eq!(broken_rule("tui", "runtime"), None);
    assert_eq!(
        imports(
            "use crate::kernel::Msg;\n// crate::cli\nlet x = crate::fdl::load;\n#[cfg(test)]\nmod tests {\n use crate::cli;\n}"
        ),
        vec![(1, "kernel".to_owned()), (3, "fdl".to_owned())]
    );
}

//! junit: the results as JUnit XML (`--junit FILE`), the shape CI systems
//! (GitLab, Jenkins, GitHub actions that read test reports) display: one
//! `<testsuite>` per test file, one `<testcase>` per case, a `<failure>`
//! with the expected/actual text for a failed case. Pure formatting.

use std::io::{self, Write};

use quick_xml::escape::escape;

use super::report::CaseReport;
use super::spec::TestFile;

/// One file's cases, as run.
pub struct Suite<'a> {
    pub file: &'a TestFile,
    pub cases: Vec<&'a CaseReport>,
}

/// Writes the JUnit XML document.
pub fn write(suites: &[Suite<'_>], out: &mut dyn Write) -> io::Result<()> {
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites
        .iter()
        .map(|s| s.cases.iter().filter(|c| !c.passed()).count())
        .sum();
    let time: f64 = suites
        .iter()
        .flat_map(|s| s.cases.iter().map(|c| c.wall.as_secs_f64()))
        .sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="flowsim test" tests="{tests}" failures="{failures}" errors="0" time="{time:.3}">"#
    )?;
    for s in suites {
        let shown = s.file.shown();
        let flow = &s.file.flow().name;
        let failures = s.cases.iter().filter(|c| !c.passed()).count();
        let time: f64 = s.cases.iter().map(|c| c.wall.as_secs_f64()).sum();
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" skipped="0" time="{time:.3}" file="{}">"#,
            escape(shown.as_str()),
            s.cases.len(),
            escape(shown.as_str()),
        )?;
        for c in &s.cases {
            let head = format!(
                r#"    <testcase name="{}" classname="{}" file="{}" line="{}" time="{:.3}""#,
                escape(c.name.as_str()),
                escape(flow.as_str()),
                escape(shown.as_str()),
                c.pos.line,
                c.wall.as_secs_f64()
            );
            if c.passed() {
                writeln!(out, "{head}/>")?;
                continue;
            }
            writeln!(out, "{head}>")?;
            let message = c.headline();
            writeln!(
                out,
                r#"      <failure message="{}" type="AssertionError">{}</failure>"#,
                escape(message.as_str()),
                escape(c.details_plain().as_str())
            )?;
            writeln!(out, "    </testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")?;
    Ok(())
}

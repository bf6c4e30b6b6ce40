//! Condition grammar, evaluation and error positions.

use super::*;
use serde_json::json;

fn parse(text: &str) -> Condition {
    Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn reads(text: &str) -> String {
    parse(text).explain()
}

fn eval(text: &str, input: Value) -> Result<bool, EvalError> {
    parse(text).eval(&input)
}

fn err(text: &str) -> ConditionError {
    match Condition::parse(text) {
        Ok(c) => panic!("{text} parsed as {}", c.explain()),
        Err(e) => e,
    }
}

#[test]
fn precedence_and_grouping() {
    assert_eq!(reads("$.a"), "$.a");
    assert_eq!(reads("$.a > 1"), "($.a > 1)");
    assert_eq!(
        reads("$.a > 1 && $.b < 2 || $.c"),
        "((($.a > 1) && ($.b < 2)) || $.c)"
    );
    assert_eq!(
        reads("$.a || $.b && $.c"),
        "($.a || ($.b && $.c))",
        "&& binds tighter than ||"
    );
    assert_eq!(
        reads("!$.a == false"),
        "(!$.a == false)",
        "! binds tightest"
    );
    assert_eq!(reads("!($.a == 1)"), "!($.a == 1)");
    assert_eq!(reads("!!$.a"), "!!$.a");
    assert_eq!(reads("($.a || $.b) && $.c"), "(($.a || $.b) && $.c)");
    assert_eq!(reads("(((true)))"), "true");
    assert_eq!(reads("$.a&&$.b||!$.c"), "(($.a && $.b) || !$.c)");
    assert_eq!(reads("$.a_b == 1"), "($.a_b == 1)");
}

#[test]
fn literals() {
    assert_eq!(reads("$.n == -1.5"), "($.n == -1.5)");
    assert_eq!(reads("$.n >= 1e3"), "($.n >= 1000.0)");
    assert_eq!(reads("$.n != 0"), "($.n != 0)");
    assert_eq!(
        reads("$.n == 18446744073709551615"),
        "($.n == 18446744073709551615)"
    );
    assert_eq!(reads("$.s == null"), "($.s == null)");
    assert_eq!(
        reads(r#"$.s == "a \"q\" \\ \n \u00e9""#),
        r#"($.s == "a \"q\" \\ \n é")"#
    );
    assert_eq!(reads("true"), "true");
    assert_eq!(reads("$input.x <= 2"), "($input.x <= 2)");
    assert_eq!(reads("$.xs[0].n > $.xs[1].n"), "($.xs[0].n > $.xs[1].n)");
    assert_eq!(reads(r#"$["a b"] == 1"#), r#"($["a b"] == 1)"#);
}

#[test]
fn seed_style_conditions_evaluate() {
    let input = json!({"status": "success", "amount": 1200, "vip": false,
                       "order": {"items": [{"qty": 2}, {"qty": 0}]}, "n": null});
    let cases = [
        (r#"$.status == "success""#, true),
        (r#"$.status != "success""#, false),
        ("$.amount > 1000", true),
        ("$.amount >= 1200", true),
        ("$.amount < 1200", false),
        ("$.amount <= 1200.0", true),
        ("$.amount == 1200.0", true),
        ("$.amount > -5", true),
        ("$.vip", false),
        ("!$.vip", true),
        ("$.vip || $.amount > 1000", true),
        ("$.vip && $.amount > 1000", false),
        ("!($.amount > 1000 && !$.vip)", false),
        ("$.order.items[0].qty == 2", true),
        ("$.n == null", true),
        ("$.n != null && $.n > 1", false),
        (r#""b" > "a""#, true),
        (r#""B" < "a""#, true),
        (r#"$.status < "t""#, true),
        ("$.order == $.order", true),
        ("true && true", true),
        ("false || false", false),
    ];
    for (text, want) in cases {
        assert_eq!(eval(text, input.clone()), Ok(want), "{text}");
    }
    assert_eq!(
        eval(
            "$.order.items[*].qty == $.order.items[*].qty",
            input.clone()
        ),
        Ok(true)
    );
}

#[test]
fn equality_is_structural_with_numbers_by_value() {
    let input = json!({"a": [1, {"x": 2.0}], "b": [1.0, {"x": 2}], "c": [1]});
    assert_eq!(eval("$.a == $.b", input.clone()), Ok(true));
    assert_eq!(eval("$.a != $.c", input.clone()), Ok(true));
    assert_eq!(eval(r#"$.c == "1""#, input.clone()), Ok(false));
    assert_eq!(eval("$.a == null", input), Ok(false));
}

#[test]
fn short_circuit_skips_what_would_fail() {
    let input = json!({"a": null});
    assert_eq!(eval("$.a != null && $.a.b > 1", input.clone()), Ok(false));
    assert_eq!(eval("$.a == null || $.missing", input), Ok(true));
}

#[test]
fn missing_paths_do_not_match_as_the_service_documents() {
    let c = |t: &str| Condition::parse(t).unwrap();
    assert_eq!(
        c("$.order.total > 10").eval(&json!({"order": {}})),
        Ok(false)
    );
    assert_eq!(c(r#"$.status == "ok""#).eval(&json!({})), Ok(false));
    assert_eq!(c("$.status == null").eval(&json!({})), Ok(false));
    assert_eq!(c("$.status != 1").eval(&json!({})), Ok(false));
    assert_eq!(c("$.xs[3] == 1").eval(&json!({"xs": [1]})), Ok(false));
    assert_eq!(c("$.flag").eval(&json!({})), Ok(false));
    assert_eq!(c("!$.flag").eval(&json!({})), Ok(true));
    assert_eq!(c("$.a == 1 || $.b == 2").eval(&json!({"b": 2})), Ok(true));
    // Only a missing path is forgiven: a type mismatch is still an error.
    assert!(c(r#"$.n < "1""#).eval(&json!({"n": 1})).is_err());
}

#[test]
fn strict_mode_makes_missing_paths_errors_naming_the_path() {
    let strict = |t: &str, v: Value| Condition::parse(t).unwrap().eval_strict(&v);
    let e = strict("$.order.total > 10", json!({"order": {}})).unwrap_err();
    assert_eq!(
        e,
        EvalError::MissingPath {
            path: "$.order.total".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "`$.order.total` does not exist in the step input"
    );
    let e = strict("$.xs[3] == 1", json!({"xs": [1]})).unwrap_err();
    assert_eq!(e.to_string(), "`$.xs[3]` does not exist in the step input");
    let e = strict("$.flag", json!({})).unwrap_err();
    assert!(matches!(e, EvalError::MissingPath { .. }));
    assert_eq!(
        strict("$.a == null || $.missing", json!({"a": null})),
        Ok(true)
    );
}

#[test]
fn ordering_mismatched_types_is_an_error_saying_so() {
    let e = eval(r#"$.n < "10""#, json!({"n": 5})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot compare a number (5) with a string (\"10\") using `<`: it compares numbers with numbers and strings with strings"
    );
    for text in ["$.b > true", "$.n >= 1", "$.o <= $.o"] {
        let e = eval(text, json!({"b": false, "n": null, "o": {}})).unwrap_err();
        assert!(matches!(e, EvalError::Mismatch { .. }), "{text}: {e}");
    }
}

#[test]
fn non_booleans_where_a_boolean_is_needed_fail_at_run_time() {
    let e = eval("$.n", json!({"n": 5})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`$.n` is a number (5), but a condition needs true or false here"
    );
    let e = eval("!$.s", json!({"s": "yes"})).unwrap_err();
    assert!(matches!(e, EvalError::NotBoolean { .. }), "{e}");
    let e = eval("$.s && true", json!({"s": null})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`$.s` is null, but a condition needs true or false here"
    );
}

#[test]
fn parse_errors_point_at_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("$.x = 1", 4, "`=` is not an operator; use `==`"),
        (r#"$.status == "ok"#, 12, "unterminated string"),
        ("", 0, "the condition is empty"),
        ("   ", 0, "the condition is empty"),
        ("$.a &&", 6, "expected a value"),
        (
            "$.a && ",
            7,
            "expected a value (a `$.path`, a \"string\", a number, true, false, null, `!` or `(`), found the end",
        ),
        ("$.a & $.b", 4, "`&` is not an operator; use `&&`"),
        ("$.a | $.b", 4, "`|` is not an operator; use `||`"),
        (
            "($.a > 1",
            8,
            "missing `)` to close the `(` at character 1, found the end",
        ),
        (
            "($.a > 1 $.b",
            9,
            "missing `)` to close the `(` at character 1, found `$.b`",
        ),
        ("$.a > 1)", 7, "unmatched `)`"),
        (
            "$.a $.b",
            4,
            "expected `&&`, `||` or the end after a complete condition, found `$.b`",
        ),
        ("1 < $.a < 3", 8, "comparisons do not chain"),
        ("$.s == 'ok'", 7, "strings are written in double quotes"),
        (
            "$.a == True",
            7,
            "unknown word `True`; write `true` in lower case",
        ),
        ("$.a and $.b", 4, "unknown word `and`; write `&&`"),
        (
            "status == 1",
            0,
            "unknown word `status`; a value is a `$.path`",
        ),
        ("$.a == - 1", 7, "`-` must be followed by a number"),
        ("$.a == 1.", 9, "expected a digit after `.`"),
        ("$.a == 1e", 9, "expected the exponent's digits"),
        ("$.a > 1 # note", 8, "unexpected `#`"),
        (
            "$local.x == 1",
            0,
            "`$local` cannot be used here; use `$` or `$input`",
        ),
        ("$.items[x] == 1", 8, "expected an index such as `[0]`"),
        ("$.a. == 1", 4, "expected a key after `.`, found a space"),
        ("$foo == 1", 0, "unknown root `$foo`"),
        ("== 1", 0, "expected a value"),
        ("$.a == ==", 7, "expected a value"),
        ("()", 1, "expected a value"),
        ("1", 0, "`1` is a number (1), not true or false; compare it"),
        ("$.a && \"yes\"", 7, "`\"yes\"` is a string"),
        ("!null", 1, "`null` is null, not true or false"),
        ("$.a || (2)", 7, "`(2)` is a number"),
        ("$.a == 1 && $.b = 2", 16, "`=` is not an operator"),
        ("$.a ! $.b", 4, "expected `&&`, `||` or the end"),
        (r#"$.s == "\x""#, 8, "unknown escape `\\x`"),
        ("$.n == 1e999", 7, "the number 1e999 is too large"),
    ];
    for (text, offset, msg) in cases {
        let e = err(text);
        assert_eq!(e.offset, *offset, "{text}: {e}");
        assert!(e.message.starts_with(msg), "{text}: {}", e.message);
    }
}

#[test]
fn an_earlier_grammar_error_wins_over_a_later_bad_character() {
    let e = err("$.a $.b = 1");
    assert_eq!(e.offset, 4, "{e}");
}

#[test]
fn offsets_count_characters() {
    let e = err(r#"$.名前 == "é" = 1"#);
    assert_eq!(e.offset, 12, "{e}");
}

#[test]
fn deep_or_long_conditions_are_refused_not_overflowing_the_stack() {
    let deep = format!("{}$.a == 1{}", "(".repeat(200), ")".repeat(200));
    let e = err(&deep);
    assert!(e.message.contains("levels deep"), "{}", e.message);
    assert_eq!(e.offset, MAX_DEPTH);
    let nots = format!("{}$.a", "!".repeat(200));
    assert!(err(&nots).message.contains("levels deep"));
    // Far beyond both: refused before parsing, at the first token past
    // the bound.
    let huge = format!("{}$.a{}", "(".repeat(20_000), ")".repeat(20_000));
    assert_eq!(err(&huge).offset, MAX_TOKENS);
    let chain = vec!["$.a"; 20_000].join(" && ");
    let e = err(&chain);
    assert!(e.message.contains("too long"), "{}", e.message);
    // Within the bounds, deep and long conditions work.
    let ok = format!("{}$.a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(eval(&ok, json!({"a": true})), Ok(true));
    let long = vec!["$.a"; 400].join(" && ");
    assert_eq!(eval(&long, json!({"a": true})), Ok(true));
}

#[test]
fn source_is_kept() {
    let c = parse("  $.a  ");
    assert_eq!(c.source, "  $.a  ");
}

#[test]
fn never_panics_on_prefixes() {
    let texts = [
        r#"!($.a.b[0] >= -1.5e3 && $["x y"] != "q\"\u00e9") || $.c < null"#,
        "$.名前 == \"é\"",
    ];
    for t in texts {
        let chars: Vec<char> = t.chars().collect();
        for n in 0..=chars.len() {
            let s: String = chars[..n].iter().collect();
            if let Ok(c) = Condition::parse(&s) {
                let _ = c.eval(&json!({"a": {"b": [1]}, "x y": "z", "c": 1}));
            }
        }
    }
}

#[test]
fn witnesses_make_the_condition_true() {
    for (text, want) in [
        ("$.decision == \"success\"", r#"{"decision":"success"}"#),
        ("$.amount > 1000 && $.vip", r#"{"amount":1001,"vip":true}"#),
        ("!$.flag", r#"{"flag":false}"#),
        ("$.a.b[1] != 3", r#"{"a":{"b":[null,4]}}"#),
        ("5 > $.n", r#"{"n":4}"#),
        ("$.x == 1 || $.y == 2", r#"{"x":1}"#),
        ("!($.s == \"ok\" || $.n <= 2)", r#"{"s":"not-ok","n":3}"#),
    ] {
        let c = Condition::parse(text).unwrap();
        assert_eq!(
            c.witness().map(|v| v.to_string()).as_deref(),
            Some(want),
            "{text}"
        );
    }
    for text in ["$.x == 1 && $.x == 2", "$.xs[*] == 1", "$.a < true"] {
        assert_eq!(Condition::parse(text).unwrap().witness(), None, "{text}");
    }
}

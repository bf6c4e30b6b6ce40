use rand::SeedableRng;
use serde_json::{Value, json};

use super::*;

fn rng() -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(7)
}

fn reads(text: &str) -> String {
    Expression::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .explain()
}

fn eval(text: &str, input: Value) -> Result<Value, EvalError> {
    let e = Expression::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    e.eval(&Scope::new(&input), &mut rng())
}

fn cond(text: &str, input: Value) -> Result<bool, EvalError> {
    let c = Condition::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    c.eval(&Scope::new(&input))
}

fn err(text: &str) -> ExprError {
    match Expression::parse(text) {
        Ok(e) => panic!("{text} parsed as {}", e.explain()),
        Err(e) => e,
    }
}

fn err_in(text: &str, place: Place) -> ExprError {
    match Expression::parse_in(text, place) {
        Ok(e) => panic!("{text} parsed as {}", e.explain()),
        Err(e) => e,
    }
}

#[test]
fn precedence_and_grouping() {
    assert_eq!(reads("$Input.a"), "$Input.a");
    assert_eq!(reads("$Input.a > 1"), "($Input.a > 1)");
    assert_eq!(
        reads("$Input.a > 1 && $Input.b < 2 || $Input.c"),
        "((($Input.a > 1) && ($Input.b < 2)) || $Input.c)"
    );
    assert_eq!(
        reads("$Input.a || $Input.b && $Input.c"),
        "($Input.a || ($Input.b && $Input.c))",
        "&& binds tighter than ||"
    );
    assert_eq!(
        reads("!$Input.a == false"),
        "(!$Input.a == false)",
        "! binds tightest"
    );
    assert_eq!(reads("!($Input.a == 1)"), "!($Input.a == 1)");
    assert_eq!(reads("\"x\" in $Input.tags"), "(\"x\" in $Input.tags)");
    assert_eq!(reads("-$Input.n < 0"), "(-$Input.n < 0)");
    assert_eq!(
        reads("$Input.status==\"ready\""),
        "($Input.status == \"ready\")"
    );
    assert_eq!(
        reads("length($Input.items) >= 2 && arrayContains($Input.tags, 'vip')"),
        "((length($Input.items) >= 2) && arrayContains($Input.tags, \"vip\"))"
    );
    assert_eq!(
        reads("stringToJson($Input.s).a[0]"),
        "(stringToJson($Input.s)).a[0]"
    );
    assert_eq!(reads("($Input.o)[\"a b\"]"), "($Input.o)[\"a b\"]");
}

#[test]
fn literals() {
    assert_eq!(reads("\"a\\\"b\""), "\"a\\\"b\"");
    assert_eq!(reads("'it\\'s'"), "\"it's\"");
    assert_eq!(reads("`raw \\n`"), "\"raw \\\\n\"");
    assert_eq!(reads("12.5"), "12.5");
    assert_eq!(reads("-1"), "-1");
    assert_eq!(reads("-9223372036854775808"), "-9223372036854775808");
    assert_eq!(reads("1e3"), "1000.0");
    assert_eq!(reads("[1, 'a', true, null]"), "[1,\"a\",true,null]");
    assert_eq!(
        reads("{\"name\": \"Tom\", 'age': 10}"),
        "{\"name\":\"Tom\",\"age\":10}"
    );
    assert_eq!(reads("[$Input.a, 1]"), "[$Input.a, 1]");
    assert_eq!(reads("{\"k\": $Input.a}"), "{\"k\": $Input.a}");
    assert_eq!(reads("[]"), "[]");
    assert_eq!(reads("{}"), "{}");
    assert_eq!(reads("$Input.order-id"), "$Input.order-id");
    assert_eq!(reads("$Input[\"a.b\"][2]"), "$Input[\"a.b\"][2]");
    assert_eq!(reads("\"\\u00e9\\ud83d\\ude00\""), "\"é😀\"");
}

#[test]
fn paths_read_the_scope() {
    let input =
        json!({"order": {"items": [{"sku": "a"}, {"sku": "b"}], "total": 12.5}, "odd key": 1});
    let out = json!({"status": "success"});
    let exec_input = json!({"requestId": "r-1"});
    let scope = Scope {
        output: Some(&out),
        execution_name: "exec-1",
        execution_input: &exec_input,
        state_name: "charge",
        error: Some(CurrentError {
            code: "FC.Timeout",
            detail: "too slow",
        }),
        retry_count: 2,
        task_token: Some("tok-1"),
        ..Scope::new(&input)
    };
    let mut r = rng();
    let v = |t: &str, r: &mut rand_chacha::ChaCha8Rng| {
        Expression::parse(t).unwrap().eval(&scope, r).unwrap()
    };
    assert_eq!(v("$Input.order.items[1].sku", &mut r), json!("b"));
    assert_eq!(v("$Input[\"odd key\"]", &mut r), json!(1));
    assert_eq!(v("$Output.status", &mut r), json!("success"));
    assert_eq!(
        v("$Context.Current.Output.status", &mut r),
        json!("success")
    );
    assert_eq!(v("$Context.Current.Input.order.total", &mut r), json!(12.5));
    assert_eq!(v("$Context.Current.Name", &mut r), json!("charge"));
    assert_eq!(v("$Context.Current.TaskToken", &mut r), json!("tok-1"));
    assert_eq!(v("$Context.Current.RetryCount", &mut r), json!(2));
    assert_eq!(
        v("$Context.Current.Error.Code", &mut r),
        json!("FC.Timeout")
    );
    assert_eq!(
        v("$Context.Current.Error", &mut r),
        json!({"Code": "FC.Timeout", "Detail": "too slow"})
    );
    assert_eq!(v("$Context.Execution.Name", &mut r), json!("exec-1"));
    assert_eq!(
        v("$Context.Execution.Input.requestId", &mut r),
        json!("r-1")
    );
    assert_eq!(
        v("$Context.Execution.Input", &mut r),
        json!({"requestId": "r-1"})
    );
    let all = v("$Context", &mut r);
    assert_eq!(all["Execution"]["Name"], json!("exec-1"));
    assert_eq!(all["Current"]["RetryCount"], json!(2));
    assert_eq!(all["Current"]["Input"], input);
}

#[test]
fn a_missing_path_is_null_in_an_expression_and_no_match_in_a_condition() {
    assert_eq!(eval("$Input.nope.deeper", json!({})), Ok(Value::Null));
    assert_eq!(eval("$Input.xs[5]", json!({"xs": [1]})), Ok(Value::Null));
    assert_eq!(eval("$Output.x", json!({})), Ok(Value::Null));
    assert_eq!(
        eval("$Context.Current.TaskToken", json!({})),
        Ok(Value::Null)
    );
    assert_eq!(eval("[$Input.a, 1]", json!({})), Ok(json!([null, 1])));
    assert_eq!(eval("$Input.a == null", json!({})), Ok(json!(true)));
    // In a condition the comparison reading it does not match.
    assert_eq!(cond("$Input.status == \"ok\"", json!({})), Ok(false));
    assert_eq!(cond("$Input.status == null", json!({})), Ok(false));
    assert_eq!(cond("$Input.status != \"ok\"", json!({})), Ok(false));
    assert_eq!(cond("$Input.flag", json!({})), Ok(false));
    assert_eq!(cond("!$Input.flag", json!({})), Ok(true));
    assert_eq!(
        cond("$Input.a == 1 || $Input.b == 2", json!({"b": 2})),
        Ok(true)
    );
    assert_eq!(cond("length($Input.items) > 0", json!({})), Ok(false));
    assert_eq!(cond("\"a\" in $Input.tags", json!({})), Ok(false));
}

#[test]
fn conditions_evaluate_as_documented() {
    let input = json!({"status": "ready", "Size": 2048, "vip": false, "tags": ["a", "b"],
                       "meta": {"k": 1}, "n": null, "price": 12.5});
    let cases = [
        ("$Input.status==\"ready\"", true),
        ("$Input.status == `ready`", true),
        ("$Input.status != 'ready'", false),
        ("$Context.Current.Input.Size>=1024", true),
        ("$Input.Size < 1024", false),
        ("$Input.price <= 12.5", true),
        ("$Input.price == 12.50", true),
        ("$Input.Size == 2048.0", true),
        ("$Input.vip", false),
        ("!$Input.vip", true),
        ("$Input.vip || $Input.Size > 1000", true),
        ("$Input.vip && $Input.Size > 1000", false),
        ("\"a\" in $Input.tags", true),
        ("\"c\" in $Input.tags", false),
        ("\"k\" in $Input.meta", true),
        ("$Input.n == null", true),
        ("$Input.status > \"abc\"", true),
        ("-$Input.Size < 0", true),
        ("$Input.tags == [\"a\", \"b\"]", true),
        ("$Input.meta == {\"k\": 1.0}", true),
        ("$Input.Size == \"2048\"", false),
        ("true", true),
        ("regexMatchString(\"^re\", $Input.status)", true),
    ];
    for (text, want) in cases {
        assert_eq!(cond(text, input.clone()), Ok(want), "{text}");
    }
}

#[test]
fn evaluation_errors_name_the_expression_and_the_types() {
    let e = cond("$Input.n < \"10\"", json!({"n": 5})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`$Input.n < \"10\"`: cannot compare a number (5) with a string (\"10\") using `<`: it compares numbers with numbers and strings with strings"
    );
    let e = cond("$Input.n", json!({"n": 5})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`$Input.n`: `$Input.n` is a number (5), but true or false is needed here"
    );
    let e = cond("\"k\" in $Input.s", json!({"s": "text"})).unwrap_err();
    assert!(
        matches!(e.reason, EvalReason::Operand { op: "in", .. }),
        "{e}"
    );
    let e = cond("1 in $Input.o", json!({"o": {}})).unwrap_err();
    assert!(
        e.to_string().contains("looks up a string key in an object"),
        "{e}"
    );
    let e = eval("-$Input.s", json!({"s": "x"})).unwrap_err();
    assert!(e.to_string().contains("`-` negates a number"), "{e}");
    let e = eval("length($Input.n)", json!({"n": 5})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`length($Input.n)`: length: its 1st argument must be an array, an object or a string, found a number (5)"
    );
    // A missing path is null in an expression, and null is a type error
    // for a function that needs something else.
    let e = eval("length($Input.none)", json!({})).unwrap_err();
    assert!(e.to_string().contains("found null"), "{e}");
}

#[test]
fn parse_errors_point_at_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("$Input.x = 1", 9, "`=` is not an operator; use `==`"),
        ("$Input.s == \"ok", 12, "unterminated string"),
        ("", 0, "the expression is empty"),
        ("$Input.a &&", 11, "expected a value"),
        ("$Input.a & $Input.b", 9, "`&` is not an operator"),
        (
            "($Input.a > 1",
            13,
            "missing `)` to close the `(` at character 1",
        ),
        ("$Input.a > 1)", 12, "unmatched `)`"),
        ("$Input.a $Input.b", 9, "expected an operator"),
        ("1 < $Input.a < 3", 13, "comparisons do not chain"),
        (
            "$Input.a == True",
            12,
            "unknown word `True`; write `true` in lower case",
        ),
        ("$Input.a and $Input.b", 9, "unknown word `and`; write `&&`"),
        ("status == 1", 0, "unknown word `status`"),
        ("$.status == 1", 0, "`$` alone is FDL v1's JSONPath"),
        (
            "$input.a",
            0,
            "unknown root `$input`; CloudFlow writes it `$Input`",
        ),
        (
            "$Inptu.a",
            0,
            "unknown root `$Inptu`; did you mean `$Input`?",
        ),
        ("$local.a", 0, "`$local` is FDL v1's"),
        ("$Global.a", 0, "`$Global`"),
        ("$Input.xs[*]", 10, "`[*]` wildcards"),
        ("$Input.xs[-1]", 10, "indexes count from 0"),
        ("$Input. == 1", 7, "expected a key after `.`"),
        (
            "lenght($Input.a)",
            0,
            "unknown function `lenght`; did you mean `length`?",
        ),
        ("length", 0, "`length` is a built-in function: call it"),
        ("length()", 7, "`length` takes 1 argument"),
        ("length([1], [2])", 12, "`length` takes 1 argument"),
        (
            "length(5)",
            7,
            "`length` takes a string, an array or an object as its 1st argument (value), and `5` is a number",
        ),
        (
            "hash(\"abc\", \"MD4\")",
            12,
            "unknown hash algorithm \"MD4\"",
        ),
        (
            "format(\"{} {}\", 1)",
            7,
            "the template has 2 `{}` but 1 value(s)",
        ),
        (
            "regexMatchString(\"(a\", $Input.s)",
            17,
            "bad regular expression",
        ),
        ("stringToJson('{bad')", 13, "`'{bad'` is not JSON text"),
        ("fromBase64('***')", 11, "\"***\" is not Base64"),
        ("intAdd(1.5, 2)", 7, "`1.5` is not an integer"),
        (
            "randomInt(5, 5)",
            10,
            "randomInt(min, max) draws min ≤ n < max, so min must be below max",
        ),
        (
            "get([1, 2], \"a\")",
            12,
            "an array is indexed by a whole number",
        ),
        ("{a: 1}", 1, "an object's keys are quoted strings"),
        ("{\"a\": 1, \"a\": 2}", 9, "duplicate key \"a\""),
        ("[1, 2", 5, "expected `,` or `]`"),
        (
            "$Input.a && 5",
            12,
            "`&&` needs true or false, and `5` is a number",
        ),
        ("!\"yes\"", 1, "`!` needs true or false"),
        (
            "1 < \"a\"",
            2,
            "`<` compares numbers with numbers and strings with strings",
        ),
        (
            "[1] < 2",
            0,
            "`<` orders numbers and strings, and `[1]` is an array",
        ),
        ("1 in 2", 5, "`in` looks in an array or an object"),
        ("-\"a\"", 1, "`-` negates a number"),
        (
            "$Context.Current.Eror",
            0,
            "`$Context.Current` has no field `.Eror`; did you mean `.Error`?",
        ),
        ("$Context.Foo", 0, "`$Context` has no field `.Foo`"),
        (
            "$Context.Current.Name.x",
            0,
            "`$Context.Current.Name` is a single value",
        ),
        ("1.x", 1, "unexpected `.x`"),
        ("$Input.a # note", 9, "unexpected `#`"),
        ("\"\\x\"", 1, "unknown escape `\\x`"),
        ("1e999", 0, "the number 1e999 is too large"),
    ];
    let mut bad = Vec::new();
    for (text, offset, msg) in cases {
        let e = err(text);
        if !e.message.starts_with(msg) || e.offset != *offset {
            bad.push(format!("{text}: {} at {}", e.message, e.offset));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn places_restrict_output_and_randomness() {
    let e = err_in("$Output.status", Place::INPUT);
    assert!(e.message.starts_with(
        "`$Output` is the task's result and can only be used in an OutputConstructor"
    ));
    let e = err_in("$Context.Current.Output", Place::INPUT);
    assert!(
        e.message
            .starts_with("`$Context.Current.Output` is the task's result")
    );
    assert!(Expression::parse_in("$Output.status", Place::OUTPUT).is_ok());
    let e = Condition::parse("randomInt(1, 3) == 2").unwrap_err();
    assert!(e.message.contains("cannot be used in a condition"), "{e}");
    let e = Condition::parse("$Output.x == 1").unwrap_err();
    assert!(e.message.contains("OutputConstructor"), "{e}");
    let e = Condition::parse("$Input.a").map(|_| ());
    assert!(e.is_ok(), "a bare path may hold a boolean");
    let e = Condition::parse("length($Input.a)").unwrap_err();
    assert!(
        e.message
            .starts_with("a condition must give true or false, and this gives a number"),
        "{e}"
    );
    let e = Condition::parse("\"ready\"").unwrap_err();
    assert!(e.message.contains("gives a string"), "{e}");
}

#[test]
fn functions_nest_at_most_ten_deep() {
    let nested = |n: usize| format!("{}\"x\"{}", "toBase64(".repeat(n), ")".repeat(n));
    assert!(Expression::parse(&nested(10)).is_ok());
    let e = err(&nested(11));
    assert_eq!(e.offset, 90);
    assert!(
        e.message
            .starts_with("built-in functions nest at most 10 levels deep"),
        "{e}"
    );
    // Siblings do not count as nesting.
    let wide = format!("toArray({})", vec!["length(\"a\")"; 20].join(", "));
    assert!(Expression::parse(&wide).is_ok());
}

#[test]
fn deep_or_long_expressions_are_refused_not_overflowing_the_stack() {
    let deep = format!("{}$Input.a{}", "(".repeat(200), ")".repeat(200));
    assert!(err(&deep).message.contains("levels deep"));
    let nots = format!("{}$Input.a", "!".repeat(200));
    assert!(err(&nots).message.contains("levels deep"));
    let arrays = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    assert!(err(&arrays).message.contains("levels deep"));
    let huge = vec!["$Input.a"; 5_000].join(" && ");
    assert!(err(&huge).message.contains("too long"));
    let ok = format!("{}$Input.a{}", "(".repeat(60), ")".repeat(60));
    assert!(Expression::parse(&ok).is_ok());
}

#[test]
fn offsets_count_characters() {
    let e = err("$Input.名前 == \"é\" = 1");
    assert_eq!(e.offset, 17, "{e}");
}

#[test]
fn constants_are_folded() {
    let e = Expression::parse("[1, {\"a\": [true]}]").unwrap();
    assert_eq!(e.as_constant(), Some(&json!([1, {"a": [true]}])));
    assert!(
        Expression::parse("[$Input.a]")
            .unwrap()
            .as_constant()
            .is_none()
    );
}

#[test]
fn never_panics_on_prefixes() {
    let texts = [
        r#"!($Input.a.b[0] >= -1.5e3 && $Input["x y"] != 'q\'é') || format("{}", $Context.Current.Error.Code) in ["a"]"#,
        "hash(jsonToString({\"k\": `v`, \"n\": [1, 2.5e-3]}), \"SHA-256\") == $Output.h",
        "$Input.名前 == \"é\\u00e9\\ud83d\\ude00\"",
    ];
    let input = json!({"a": {"b": [1]}, "x y": "z", "名前": "é"});
    for t in texts {
        let chars: Vec<char> = t.chars().collect();
        for n in 0..=chars.len() {
            let s: String = chars[..n].iter().collect();
            if let Ok(e) = Expression::parse(&s) {
                let _ = e.eval(&Scope::new(&input), &mut rng());
            }
            if let Ok(c) = Condition::parse(&s) {
                let _ = c.eval(&Scope::new(&input));
            }
        }
    }
}

#[test]
fn witnesses_are_inputs_that_make_a_condition_true_or_false() {
    let w = |src: &str, want: bool| Condition::parse(src).unwrap().witness(want);
    assert_eq!(
        w(r#"$Input.status == "ready""#, true),
        Some(json!({"status": "ready"}))
    );
    assert_eq!(
        w(r#"$Input.status == "ready""#, false),
        Some(json!({"status": "not-ready"}))
    );
    assert_eq!(
        w("$Input.order.total > 100 && !$Input.vip", true),
        Some(json!({"order": {"total": 101}, "vip": false}))
    );
    assert_eq!(
        w("$Context.Current.Input.Size >= 1024", true),
        Some(json!({"Size": 1024}))
    );
    // Functions and the execution's context have none.
    assert_eq!(w("length($Input.xs) > 2", true), None);
    assert_eq!(w(r#"$Context.Execution.Name == "x""#, true), None);
}

use rand::SeedableRng;
use serde_json::{Value, json};

use super::super::expr::{Expression, Scope};

fn run_with(text: &str, input: &Value, seed: u64) -> Result<Value, String> {
    let e = Expression::parse(text).map_err(|e| format!("parse: {e}"))?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    e.eval(&Scope::new(input), &mut rng)
        .map_err(|e| e.to_string())
}

fn run(text: &str) -> Value {
    run_with(text, &json!({}), 1).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn run_on(text: &str, input: Value) -> Result<Value, String> {
    run_with(text, &input, 1)
}

/// Every example of the built-in-functions page (SPEC-CLOUDFLOW.md's
/// table), with its documented result.
#[test]
fn the_documented_examples_give_the_documented_results() {
    let cases = [
        (r#"arrayContains(["Tom",10],10)"#, json!(true)),
        (r#"arrayContains(["Tom",10],"Jack")"#, json!(false)),
        ("arrayUnique([1, 2, 3, 1])", json!([1, 2, 3])),
        (r#"format("hello {}","world")"#, json!("hello world")),
        (r#"fromBase64("Rm5G")"#, json!("FnF")),
        (
            r#"stringToJson('{"name": "Tom", "age": 10}')"#,
            json!({"name": "Tom", "age": 10}),
        ),
        (
            r#"fromJSON('{"name": "Tom", "age": 10}')"#,
            json!({"name": "Tom", "age": 10}),
        ),
        (
            r#"hash("abc","MD5")"#,
            json!("900150983cd24fb0d6963f7d28e17f72"),
        ),
        (
            r#"jsonMerge({"name":"Tom","age":10},{"name":"Tom","address":"beijing"})"#,
            json!({"name": "Tom", "age": 10, "address": "beijing"}),
        ),
        ("length([1, 2, 3])", json!(3)),
        (r#"length({"name":"Tom","age":10})"#, json!(2)),
        (r#"length("name")"#, json!(4)),
    ];
    for (text, want) in cases {
        assert_eq!(run(text), want, "{text}");
    }
    // jsonMerge keeps the first object's key order, then the new keys.
    assert_eq!(
        run(r#"jsonMerge({"name":"Tom","age":10},{"name":"Tom","address":"beijing"})"#).to_string(),
        r#"{"name":"Tom","age":10,"address":"beijing"}"#
    );
}

#[test]
fn array_functions() {
    assert_eq!(
        run("arrayContains([1.0, 2], 1)"),
        json!(true),
        "numbers by value"
    );
    assert_eq!(
        run("arrayContains([[1], {\"a\": 1}], {\"a\": 1})"),
        json!(true)
    );
    assert_eq!(run("arrayContains([], null)"), json!(false));
    assert_eq!(
        run("arrayUnique([\"b\", \"a\", \"b\", 1, 1.0])"),
        json!(["b", "a", 1])
    );
    assert_eq!(run("arrayUnique([])"), json!([]));
    assert_eq!(
        run("toArray(1, \"a\", null, [2])"),
        json!([1, "a", null, [2]])
    );
    assert_eq!(run("toArray()"), json!([]));
    let e = run_on("arrayUnique($Input.s)", json!({"s": "x"})).unwrap_err();
    assert!(
        e.contains("its 1st argument must be an array, found a string"),
        "{e}"
    );
}

#[test]
fn map_functions() {
    assert_eq!(run("mapKeys({\"b\": 1, \"a\": 2})"), json!(["b", "a"]));
    assert_eq!(run("mapValues({\"b\": 1, \"a\": [2]})"), json!([1, [2]]));
    assert_eq!(run("mapKeys({})"), json!([]));
    assert_eq!(
        run("jsonMerge({\"a\": {\"x\": 1}}, {\"a\": {\"y\": 2}})"),
        json!({"a": {"y": 2}}),
        "shallow: the second object's value wins"
    );
    let e = run_on("mapKeys($Input.a)", json!({"a": [1]})).unwrap_err();
    assert!(e.contains("must be an object, found an array"), "{e}");
}

#[test]
fn format_fills_each_placeholder_in_order() {
    assert_eq!(run("format(\"{}-{}\", 1, \"a\")"), json!("1-a"));
    assert_eq!(
        run("format(\"{} {} {}\", null, [1, 2], {\"k\": true})"),
        json!("null [1,2] {\"k\":true}")
    );
    assert_eq!(run("format(\"no holes\")"), json!("no holes"));
    assert_eq!(
        run("format(\"{x}\")"),
        json!("{x}"),
        "only `{{}}` is a placeholder"
    );
    assert_eq!(
        run_on("format($Input.t, 1)", json!({"t": "{} and {}"})).unwrap_err(),
        "`format($Input.t, 1)`: format: the template has 2 `{}` but 1 value(s) follow it"
    );
    assert_eq!(
        run_on(
            "format('Hello, {}', $Input.username)",
            json!({"username": "ann"})
        ),
        Ok(json!("Hello, ann")),
        "the example of the 2026 page"
    );
}

#[test]
fn encoding_functions() {
    assert_eq!(run("toBase64(\"FnF\")"), json!("Rm5G"));
    assert_eq!(run("fromBase64(toBase64(\"héllo\"))"), json!("héllo"));
    assert_eq!(run("toBase64(\"\")"), json!(""));
    let e = run_on("fromBase64($Input.s)", json!({"s": "/w=="})).unwrap_err();
    assert!(e.contains("not UTF-8 text"), "{e}");
    let e = run_on("fromBase64($Input.s)", json!({"s": "Rm5G!"})).unwrap_err();
    assert!(e.contains("is not Base64"), "{e}");
}

#[test]
fn json_functions() {
    assert_eq!(
        run("jsonToString({\"a\": [1, \"x\"], \"b\": null})"),
        json!("{\"a\":[1,\"x\"],\"b\":null}")
    );
    assert_eq!(run("jsonToString(\"s\")"), json!("\"s\""));
    assert_eq!(
        run("stringToJson(\"[1, 2]\")"),
        json!([1, 2]),
        "any JSON text"
    );
    assert_eq!(run("stringToJson(jsonToString({\"k\": 1})).k"), json!(1));
    let e = run_on("stringToJson($Input.s)", json!({"s": "{"})).unwrap_err();
    assert!(e.contains("its argument is not JSON text"), "{e}");
}

#[test]
fn hash_algorithms() {
    let cases = [
        ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA-1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "SHA-256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            "SHA-512",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
        (
            "sha-256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
    ];
    for (alg, want) in cases {
        assert_eq!(
            run(&format!("hash(\"abc\", \"{alg}\")")),
            json!(want),
            "{alg}"
        );
    }
    let e = run_on("hash(\"abc\", $Input.alg)", json!({"alg": "CRC32"})).unwrap_err();
    assert!(
        e.contains("unknown hash algorithm \"CRC32\"; use MD5, SHA-1, SHA-256 or SHA-512"),
        "{e}"
    );
}

#[test]
fn length_counts_characters() {
    assert_eq!(run("length(\"名前\")"), json!(2));
    assert_eq!(run("length(\"\")"), json!(0));
    assert_eq!(run("length([])"), json!(0));
}

#[test]
fn regex_match_string_takes_the_pattern_first() {
    assert_eq!(run("regexMatchString(\"^[a-z]+$\", \"abc\")"), json!(true));
    assert_eq!(
        run("regexMatchString(\"^[a-z]+$\", \"abc1\")"),
        json!(false)
    );
    assert_eq!(
        run("regexMatchString(\"b\", \"abc\")"),
        json!(true),
        "matches anywhere"
    );
    assert_eq!(
        run_on("regexMatchString($Input.p, \"x\")", json!({"p": "(x"})).unwrap_err(),
        "`regexMatchString($Input.p, \"x\")`: regexMatchString: bad regular expression: missing `)` to close this group (at character 1 of the pattern)"
    );
}

#[test]
fn split_is_go_strings_split() {
    assert_eq!(run("split(\"a,b,,c\", \",\")"), json!(["a", "b", "", "c"]));
    assert_eq!(run("split(\"a,b,\", \",\")"), json!(["a", "b", ""]));
    assert_eq!(run("split(\"abc\", \"\")"), json!(["a", "b", "c"]));
    assert_eq!(run("split(\"\", \",\")"), json!([""]));
    assert_eq!(run("split(\"a--b\", \"--\")"), json!(["a", "b"]));
}

#[test]
fn get_reads_an_element_or_null() {
    assert_eq!(run("get([10, 20], 1)"), json!(20));
    assert_eq!(run("get([10, 20], 2)"), Value::Null);
    assert_eq!(run("get({\"a\": 1}, \"a\")"), json!(1));
    assert_eq!(run("get({\"a\": 1}, \"b\")"), Value::Null);
    let e = run_on("get($Input.xs, \"a\")", json!({"xs": [1]})).unwrap_err();
    assert!(e.contains("a whole number from 0"), "{e}");
    let e = run_on("get($Input.o, 1)", json!({"o": {}})).unwrap_err();
    assert!(e.contains("a string (an object key)"), "{e}");
}

#[test]
fn int_add_adds_integers() {
    assert_eq!(run("intAdd(2, 3)"), json!(5));
    assert_eq!(run("intAdd(-2, 3)"), json!(1));
    assert_eq!(
        run_on("intAdd($Input.n, 1)", json!({"n": 41})),
        Ok(json!(42))
    );
    let e = run_on("intAdd($Input.n, 1)", json!({"n": 1.5})).unwrap_err();
    assert!(
        e.contains("must be an integer, found a number (1.5)"),
        "{e}"
    );
    let e = run("intAdd(9223372036854775807, 0)");
    assert_eq!(e, json!(i64::MAX));
    let e = run_on("intAdd($Input.n, 1)", json!({"n": i64::MAX})).unwrap_err();
    assert!(e.contains("beyond the 64-bit integer range"), "{e}");
}

#[test]
fn random_functions_are_deterministic_for_a_seed() {
    let draws = |seed| {
        (0..50)
            .map(|_| ())
            .scan(rand_chacha::ChaCha8Rng::seed_from_u64(seed), |rng, ()| {
                let e = Expression::parse("randomInt(1, 7)").unwrap();
                Some(e.eval(&Scope::empty(), rng).unwrap())
            })
            .collect::<Vec<_>>()
    };
    let a = draws(3);
    assert_eq!(a, draws(3), "same seed, same draws");
    assert_ne!(a, draws(4));
    for v in &a {
        let n = v.as_i64().unwrap();
        assert!((1..7).contains(&n), "{n}");
    }
    assert!(a.iter().any(|v| v == &json!(1)) && a.iter().any(|v| v == &json!(6)));
    let u1 = run_with("uuid()", &json!({}), 9).unwrap();
    let u2 = run_with("uuid()", &json!({}), 9).unwrap();
    assert_eq!(u1, u2);
    let s = u1.as_str().unwrap();
    assert_eq!(s.len(), 36);
    assert_eq!(&s[14..15], "4", "a version-4 UUID: {s}");
    assert_ne!(run_with("uuid()", &json!({}), 10).unwrap(), u1);
    let e = run_on("randomInt($Input.a, 1)", json!({"a": 3})).unwrap_err();
    assert!(e.contains("min must be below max"), "{e}");
}

#[test]
fn every_function_is_listed_and_documented_in_the_module() {
    let names: Vec<&str> = super::names().collect();
    for f in [
        "arrayContains",
        "arrayUnique",
        "format",
        "fromBase64",
        "toBase64",
        "stringToJson",
        "fromJSON",
        "jsonToString",
        "hash",
        "jsonMerge",
        "length",
        "mapKeys",
        "mapValues",
        "toArray",
        "regexMatchString",
        "split",
        "get",
        "intAdd",
        "randomInt",
        "uuid",
    ] {
        assert!(names.contains(&f), "{f}");
    }
    assert_eq!(names.len(), 20);
}

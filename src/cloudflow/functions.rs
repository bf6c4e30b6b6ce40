//! The built-in functions of CloudFlow expressions (built-in-functions
//! page): their signatures, the checks made when a flow is loaded (arity,
//! argument types, constant arguments such as a hash algorithm or a regex)
//! and their evaluation.
//!
//! | function | arguments → result | flowsim's reading where the docs are silent |
//! |---|---|---|
//! | `arrayContains` | (array, any) → bool | equality as `==` (numbers by value) |
//! | `arrayUnique` | array → array | keeps each first occurrence, in order |
//! | `format` | (string, any…) → string | each `{}` takes the next argument; a string as is, anything else as JSON; as many arguments as `{}` |
//! | `fromBase64`, `toBase64` | string → string | standard alphabet with padding; the decoded bytes must be UTF-8 |
//! | `stringToJson` (alias `fromJSON`) | string → any | any JSON text, not only objects |
//! | `jsonToString` | any → string | compact JSON, keys in order |
//! | `hash` | (string, algorithm) → string | `MD5`, `SHA-1`, `SHA-256`, `SHA-512` (any case); lower-case hex |
//! | `jsonMerge` | (object, object) → object | shallow: the second's keys win, first's order then new keys |
//! | `length` | array / object / string → int | a string's length in characters (code points) |
//! | `mapKeys`, `mapValues` | object → array | in the object's key order |
//! | `toArray` | (any…) → array | its arguments, in order |
//! | `regexMatchString` | (pattern, string) → bool | Go's `regexp.MatchString`: pattern first, RE2 syntax, matches anywhere (anchor with `^…$`) |
//! | `split` | (string, separator) → array | Go's `strings.Split`: an empty separator splits into characters |
//! | `get` | (array, index) / (object, key) → any | `null` when the index or key is not there |
//! | `intAdd` | (int, int) → int | both integers; overflow is an error |
//! | `randomInt` | (min, max) → int | `min ≤ n < max`, from the caller's RNG |
//! | `uuid` | () → string | a version-4 UUID from the caller's RNG |

mod regex;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use rand::{Rng, RngCore};
use serde_json::{Map, Value};

use super::expr::{ExprError, Ty, describe, json_eq};

pub(crate) use regex::Regex;

/// The randomness a function may draw: the caller's RNG, or none (a
/// condition; the parser refuses random functions there).
pub(crate) struct Rand<'r>(pub Option<&'r mut dyn RngCore>);

type Run = fn(&[&Value], &mut Rand<'_>) -> Result<Value, String>;
type Check = fn(&[Arg<'_>]) -> Result<(), ExprError>;

/// A parameter: its name (for messages) and the types it takes.
pub(crate) struct Param {
    pub name: &'static str,
    pub ty: Ty,
}

/// A built-in function.
pub(crate) struct Spec {
    pub name: &'static str,
    pub params: &'static [Param],
    /// The type every further argument takes, for variadic functions.
    pub rest: Option<Param>,
    pub ret: Ty,
    /// Draws from the RNG (not allowed in conditions).
    pub random: bool,
    /// Checks of constant arguments, made when the flow is loaded.
    pub check: Option<Check>,
    pub run: Run,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)
    }
}

impl PartialEq for Spec {
    fn eq(&self, other: &Spec) -> bool {
        self.name == other.name
    }
}

/// What the parser knows of an argument.
pub(crate) struct Arg<'a> {
    pub ty: Ty,
    /// Its value, when it is a constant.
    pub constant: Option<&'a Value>,
    /// Where it starts in the expression.
    pub at: usize,
    pub text: &'a str,
}

const fn p(name: &'static str, ty: Ty) -> Param {
    Param { name, ty }
}

const COLLECTION: Ty = Ty::ARR.or(Ty::OBJ);
const SIZED: Ty = Ty::ARR.or(Ty::OBJ).or(Ty::STR);
const KEY: Ty = Ty::NUM.or(Ty::STR);

/// Every built-in function, by name. `fromJSON` is the Japanese page's
/// alias of `stringToJson`.
static SPECS: &[Spec] = &[
    Spec {
        name: "arrayContains",
        params: &[p("array", Ty::ARR), p("value", Ty::ANY)],
        rest: None,
        ret: Ty::BOOL,
        random: false,
        check: None,
        run: array_contains,
    },
    Spec {
        name: "arrayUnique",
        params: &[p("array", Ty::ARR)],
        rest: None,
        ret: Ty::ARR,
        random: false,
        check: None,
        run: array_unique,
    },
    Spec {
        name: "format",
        params: &[p("template", Ty::STR)],
        rest: Some(p("value", Ty::ANY)),
        ret: Ty::STR,
        random: false,
        check: Some(check_format),
        run: format,
    },
    Spec {
        name: "fromBase64",
        params: &[p("text", Ty::STR)],
        rest: None,
        ret: Ty::STR,
        random: false,
        check: Some(check_base64),
        run: from_base64,
    },
    Spec {
        name: "toBase64",
        params: &[p("text", Ty::STR)],
        rest: None,
        ret: Ty::STR,
        random: false,
        check: None,
        run: to_base64,
    },
    Spec {
        name: "stringToJson",
        params: &[p("text", Ty::STR)],
        rest: None,
        ret: Ty::ANY,
        random: false,
        check: Some(check_json),
        run: string_to_json,
    },
    Spec {
        name: "fromJSON",
        params: &[p("text", Ty::STR)],
        rest: None,
        ret: Ty::ANY,
        random: false,
        check: Some(check_json),
        run: string_to_json,
    },
    Spec {
        name: "jsonToString",
        params: &[p("value", Ty::ANY)],
        rest: None,
        ret: Ty::STR,
        random: false,
        check: None,
        run: json_to_string,
    },
    Spec {
        name: "hash",
        params: &[p("input", Ty::STR), p("algorithm", Ty::STR)],
        rest: None,
        ret: Ty::STR,
        random: false,
        check: Some(check_hash),
        run: hash,
    },
    Spec {
        name: "jsonMerge",
        params: &[p("first", Ty::OBJ), p("second", Ty::OBJ)],
        rest: None,
        ret: Ty::OBJ,
        random: false,
        check: None,
        run: json_merge,
    },
    Spec {
        name: "length",
        params: &[p("value", SIZED)],
        rest: None,
        ret: Ty::NUM,
        random: false,
        check: None,
        run: length,
    },
    Spec {
        name: "mapKeys",
        params: &[p("map", Ty::OBJ)],
        rest: None,
        ret: Ty::ARR,
        random: false,
        check: None,
        run: map_keys,
    },
    Spec {
        name: "mapValues",
        params: &[p("map", Ty::OBJ)],
        rest: None,
        ret: Ty::ARR,
        random: false,
        check: None,
        run: map_values,
    },
    Spec {
        name: "toArray",
        params: &[],
        rest: Some(p("value", Ty::ANY)),
        ret: Ty::ARR,
        random: false,
        check: None,
        run: to_array,
    },
    Spec {
        name: "regexMatchString",
        params: &[p("pattern", Ty::STR), p("text", Ty::STR)],
        rest: None,
        ret: Ty::BOOL,
        random: false,
        check: Some(check_regex),
        run: regex_match_string,
    },
    Spec {
        name: "split",
        params: &[p("text", Ty::STR), p("separator", Ty::STR)],
        rest: None,
        ret: Ty::ARR,
        random: false,
        check: None,
        run: split,
    },
    Spec {
        name: "get",
        params: &[p("container", COLLECTION), p("index or key", KEY)],
        rest: None,
        ret: Ty::ANY,
        random: false,
        check: Some(check_get),
        run: get,
    },
    Spec {
        name: "intAdd",
        params: &[p("a", Ty::NUM), p("b", Ty::NUM)],
        rest: None,
        ret: Ty::NUM,
        random: false,
        check: Some(check_ints),
        run: int_add,
    },
    Spec {
        name: "randomInt",
        params: &[p("min", Ty::NUM), p("max", Ty::NUM)],
        rest: None,
        ret: Ty::NUM,
        random: true,
        check: Some(check_random_int),
        run: random_int,
    },
    Spec {
        name: "uuid",
        params: &[],
        rest: None,
        ret: Ty::STR,
        random: true,
        check: None,
        run: uuid,
    },
];

/// The names of the built-in functions.
pub fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    SPECS.iter().find(|s| s.name == name)
}

/// The message for an unknown function name, with the closest one.
pub(crate) fn unknown(name: &str) -> String {
    let all: Vec<&str> = names().collect();
    match super::build::suggest(name, &all) {
        Some(s) => format!("unknown function `{name}`; did you mean `{s}`?"),
        None => format!(
            "unknown function `{name}`; the built-in functions are {}",
            all.join(", ")
        ),
    }
}

fn signature(spec: &Spec) -> String {
    let mut parts: Vec<String> = spec.params.iter().map(|p| p.name.to_owned()).collect();
    if let Some(r) = &spec.rest {
        parts.push(format!("{}…", r.name));
    }
    format!("{}({})", spec.name, parts.join(", "))
}

fn ordinal(i: usize) -> String {
    match i + 1 {
        1 => "1st".to_owned(),
        2 => "2nd".to_owned(),
        3 => "3rd".to_owned(),
        n => format!("{n}th"),
    }
}

fn cerr<T>(offset: usize, message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError {
        offset,
        message: message.into(),
    })
}

/// Arity and argument types of a call, then the function's own checks of
/// constant arguments. `close_at` is where the call's `)` is.
pub(crate) fn check_call(spec: &Spec, args: &[Arg<'_>], close_at: usize) -> Result<(), ExprError> {
    let n = spec.params.len();
    if args.len() < n {
        let word = if n == 1 { "argument" } else { "arguments" };
        let exactly = if spec.rest.is_some() { "at least " } else { "" };
        return cerr(
            close_at,
            format!(
                "`{}` takes {exactly}{n} {word}, as in {}; found {}",
                spec.name,
                signature(spec),
                args.len()
            ),
        );
    }
    if args.len() > n && spec.rest.is_none() {
        let word = if n == 1 { "argument" } else { "arguments" };
        return cerr(
            args[n].at,
            format!(
                "`{}` takes {n} {word}, as in {}; found {}",
                spec.name,
                signature(spec),
                args.len()
            ),
        );
    }
    for (i, a) in args.iter().enumerate() {
        let Some(param) = spec.params.get(i).or(spec.rest.as_ref()) else {
            continue;
        };
        if !a.ty.has(param.ty) {
            return cerr(
                a.at,
                format!(
                    "`{}` takes {} as its {} argument ({}), and `{}` is {}",
                    spec.name,
                    param.ty.describe(),
                    ordinal(i),
                    param.name,
                    a.text,
                    a.ty.describe()
                ),
            );
        }
    }
    match spec.check {
        Some(check) => check(args),
        None => Ok(()),
    }
}

// ---- checks of constant arguments ------------------------------------------------

fn constant_str<'a>(a: &Arg<'a>) -> Option<&'a str> {
    a.constant.and_then(Value::as_str)
}

fn check_format(args: &[Arg<'_>]) -> Result<(), ExprError> {
    let Some(t) = args.first().and_then(constant_str) else {
        return Ok(());
    };
    let holes = t.matches("{}").count();
    let given = args.len() - 1;
    if holes != given {
        let at = args.get(holes + 1).map_or(args[0].at, |a| a.at);
        return cerr(
            at,
            format!(
                "the template has {holes} `{{}}` but {given} value(s) follow it; give one value per `{{}}`"
            ),
        );
    }
    Ok(())
}

fn check_base64(args: &[Arg<'_>]) -> Result<(), ExprError> {
    if let Some(a) = args.first()
        && let Some(s) = constant_str(a)
        && let Err(m) = decode_base64(s)
    {
        return cerr(a.at, m);
    }
    Ok(())
}

fn check_json(args: &[Arg<'_>]) -> Result<(), ExprError> {
    if let Some(a) = args.first()
        && let Some(s) = constant_str(a)
        && let Err(e) = serde_json::from_str::<Value>(s)
    {
        return cerr(a.at, format!("`{}` is not JSON text: {e}", a.text));
    }
    Ok(())
}

fn check_hash(args: &[Arg<'_>]) -> Result<(), ExprError> {
    if let Some(a) = args.get(1)
        && let Some(s) = constant_str(a)
        && let Err(m) = algorithm(s)
    {
        return cerr(a.at, m);
    }
    Ok(())
}

fn check_regex(args: &[Arg<'_>]) -> Result<(), ExprError> {
    if let Some(a) = args.first()
        && let Some(s) = constant_str(a)
        && let Err(e) = Regex::new(s)
    {
        return cerr(a.at, format!("bad regular expression: {e}"));
    }
    Ok(())
}

fn check_get(args: &[Arg<'_>]) -> Result<(), ExprError> {
    let (Some(c), Some(k)) = (args.first(), args.get(1)) else {
        return Ok(());
    };
    if let Some(key) = k.constant {
        if c.ty == Ty::ARR && !key.is_u64() {
            return cerr(
                k.at,
                format!(
                    "an array is indexed by a whole number from 0, and `{}` is not one",
                    k.text
                ),
            );
        }
        if c.ty == Ty::OBJ && !key.is_string() {
            return cerr(
                k.at,
                format!(
                    "an object is indexed by a string key, and `{}` is not one",
                    k.text
                ),
            );
        }
    }
    Ok(())
}

fn check_ints(args: &[Arg<'_>]) -> Result<(), ExprError> {
    for a in args {
        if let Some(v) = a.constant
            && v.as_i64().is_none()
        {
            return cerr(a.at, format!("`{}` is not an integer", a.text));
        }
    }
    Ok(())
}

fn check_random_int(args: &[Arg<'_>]) -> Result<(), ExprError> {
    check_ints(args)?;
    if let (Some(lo), Some(hi)) = (
        args.first()
            .and_then(|a| a.constant)
            .and_then(Value::as_i64),
        args.get(1).and_then(|a| a.constant).and_then(Value::as_i64),
    ) && lo >= hi
    {
        return cerr(
            args[0].at,
            format!(
                "randomInt(min, max) draws min ≤ n < max, so min must be below max; found {lo} and {hi}"
            ),
        );
    }
    Ok(())
}

// ---- evaluation ------------------------------------------------------------------

fn arg<'v>(args: &[&'v Value], i: usize) -> Result<&'v Value, String> {
    args.get(i)
        .copied()
        .ok_or_else(|| format!("its {} argument is missing", ordinal(i)))
}

fn wrong(i: usize, expected: &str, found: &Value) -> String {
    format!(
        "its {} argument must be {expected}, found {}",
        ordinal(i),
        describe(found)
    )
}

fn array_arg<'v>(args: &[&'v Value], i: usize) -> Result<&'v Vec<Value>, String> {
    let v = arg(args, i)?;
    v.as_array().ok_or_else(|| wrong(i, "an array", v))
}

fn object_arg<'v>(args: &[&'v Value], i: usize) -> Result<&'v Map<String, Value>, String> {
    let v = arg(args, i)?;
    v.as_object().ok_or_else(|| wrong(i, "an object", v))
}

fn str_arg<'v>(args: &[&'v Value], i: usize) -> Result<&'v str, String> {
    let v = arg(args, i)?;
    v.as_str().ok_or_else(|| wrong(i, "a string", v))
}

fn int_arg(args: &[&Value], i: usize) -> Result<i64, String> {
    let v = arg(args, i)?;
    v.as_i64().ok_or_else(|| wrong(i, "an integer", v))
}

fn array_contains(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let items = array_arg(args, 0)?;
    let x = arg(args, 1)?;
    Ok(Value::Bool(items.iter().any(|i| json_eq(i, x))))
}

fn array_unique(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let items = array_arg(args, 0)?;
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for i in items {
        if !out.iter().any(|o| json_eq(o, i)) {
            out.push(i.clone());
        }
    }
    Ok(Value::Array(out))
}

/// A value as `format` and `jsonToString`'s callers see it: a string as
/// is, anything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn format(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let template = str_arg(args, 0)?;
    let values = args.get(1..).unwrap_or(&[]);
    let holes = template.matches("{}").count();
    if holes != values.len() {
        return Err(format!(
            "the template has {holes} `{{}}` but {} value(s) follow it",
            values.len()
        ));
    }
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut values = values.iter();
    while let Some(i) = rest.find("{}") {
        out.push_str(&rest[..i]);
        if let Some(v) = values.next() {
            out.push_str(&text_of(v));
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

fn decode_base64(s: &str) -> Result<String, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("\"{s}\" is not Base64: {e}"))?;
    String::from_utf8(bytes)
        .map_err(|_| format!("\"{s}\" decodes to bytes that are not UTF-8 text"))
}

fn from_base64(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    decode_base64(str_arg(args, 0)?).map(Value::String)
}

fn to_base64(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let s = str_arg(args, 0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
    ))
}

fn string_to_json(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let s = str_arg(args, 0)?;
    serde_json::from_str(s).map_err(|e| format!("its argument is not JSON text: {e}"))
}

fn json_to_string(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    Ok(Value::String(arg(args, 0)?.to_string()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

fn algorithm(name: &str) -> Result<Algorithm, String> {
    match name.to_ascii_uppercase().as_str() {
        "MD5" => Ok(Algorithm::Md5),
        "SHA-1" => Ok(Algorithm::Sha1),
        "SHA-256" => Ok(Algorithm::Sha256),
        "SHA-512" => Ok(Algorithm::Sha512),
        _ => Err(format!(
            "unknown hash algorithm \"{name}\"; use MD5, SHA-1, SHA-256 or SHA-512"
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    use sha2::Digest as _;
    let input = str_arg(args, 0)?.as_bytes();
    let digest = match algorithm(str_arg(args, 1)?)? {
        Algorithm::Md5 => hex(&md5::Md5::digest(input)),
        Algorithm::Sha1 => hex(&sha1::Sha1::digest(input)),
        Algorithm::Sha256 => hex(&sha2::Sha256::digest(input)),
        Algorithm::Sha512 => hex(&sha2::Sha512::digest(input)),
    };
    Ok(Value::String(digest))
}

fn json_merge(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let mut out = object_arg(args, 0)?.clone();
    for (k, v) in object_arg(args, 1)? {
        out.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(out))
}

fn length(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let v = arg(args, 0)?;
    let n = match v {
        Value::Array(a) => a.len(),
        Value::Object(m) => m.len(),
        Value::String(s) => s.chars().count(),
        other => return Err(wrong(0, "an array, an object or a string", other)),
    };
    Ok(Value::from(n))
}

fn map_keys(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    Ok(Value::Array(
        object_arg(args, 0)?
            .keys()
            .map(|k| Value::String(k.clone()))
            .collect(),
    ))
}

fn map_values(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    Ok(Value::Array(
        object_arg(args, 0)?.values().cloned().collect(),
    ))
}

fn to_array(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    Ok(Value::Array(args.iter().map(|v| (*v).clone()).collect()))
}

fn regex_match_string(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let pattern = str_arg(args, 0)?;
    let text = str_arg(args, 1)?;
    let re = Regex::new(pattern).map_err(|e| format!("bad regular expression: {e}"))?;
    Ok(Value::Bool(re.is_match(text)))
}

fn split(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let text = str_arg(args, 0)?;
    let sep = str_arg(args, 1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(sep)
            .map(|s| Value::String(s.to_owned()))
            .collect()
    };
    Ok(Value::Array(parts))
}

fn get(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let container = arg(args, 0)?;
    let key = arg(args, 1)?;
    match (container, key) {
        (Value::Array(a), Value::Number(n)) => match n.as_u64() {
            Some(i) => Ok(usize::try_from(i)
                .ok()
                .and_then(|i| a.get(i))
                .cloned()
                .unwrap_or(Value::Null)),
            None => Err(wrong(1, "a whole number from 0 (an array index)", key)),
        },
        (Value::Array(_), other) => Err(wrong(1, "a whole number from 0 (an array index)", other)),
        (Value::Object(m), Value::String(k)) => Ok(m.get(k).cloned().unwrap_or(Value::Null)),
        (Value::Object(_), other) => Err(wrong(1, "a string (an object key)", other)),
        (other, _) => Err(wrong(0, "an array or an object", other)),
    }
}

fn int_add(args: &[&Value], _: &mut Rand<'_>) -> Result<Value, String> {
    let a = int_arg(args, 0)?;
    let b = int_arg(args, 1)?;
    a.checked_add(b)
        .map(Value::from)
        .ok_or_else(|| format!("{a} + {b} is beyond the 64-bit integer range"))
}

fn random_int(args: &[&Value], rand: &mut Rand<'_>) -> Result<Value, String> {
    let lo = int_arg(args, 0)?;
    let hi = int_arg(args, 1)?;
    if lo >= hi {
        return Err(format!(
            "it draws min ≤ n < max, so min must be below max; found {lo} and {hi}"
        ));
    }
    let rng = rand.0.as_deref_mut().ok_or("no random source here")?;
    Ok(Value::from(rng.random_range(lo..hi)))
}

fn uuid(_: &[&Value], rand: &mut Rand<'_>) -> Result<Value, String> {
    let rng = rand.0.as_deref_mut().ok_or("no random source here")?;
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    Ok(Value::String(
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string(),
    ))
}

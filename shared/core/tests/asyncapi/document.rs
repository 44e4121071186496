//! Reading `docs/asyncapi.yaml`: YAML to JSON values, `$ref` resolution, the operations and their
//! messages, and a small structural check of an example against its schema (the JSON Schema
//! keywords the document uses, less `pattern` and `format`).

use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

/// Reads a file of the repository, relative to this crate.
pub fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The AsyncAPI document as JSON.
pub fn load() -> Value {
    let text = read("../../docs/asyncapi.yaml");
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|error| panic!("asyncapi.yaml: {error}"));
    assert_eq!(docs.len(), 1, "asyncapi.yaml holds one document");
    to_json(&docs[0])
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::Real(text) => Value::from(
            text.parse::<f64>()
                .unwrap_or_else(|_| panic!("not a number: {text}")),
        ),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| {
                    let key = key
                        .as_str()
                        .unwrap_or_else(|| panic!("a non-string key: {key:?}"));
                    (key.to_owned(), to_json(value))
                })
                .collect::<Map<_, _>>(),
        ),
        Yaml::Alias(_) | Yaml::BadValue => panic!("asyncapi.yaml uses no aliases and has no bad values"),
    }
}

/// Follows `$ref`s (local JSON pointers) from `value` until a value without one.
pub fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(pointer) = value.get("$ref").and_then(Value::as_str) {
        let path = pointer
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references: {pointer}"));
        value = doc
            .pointer(path)
            .unwrap_or_else(|| panic!("{pointer} points at nothing"));
    }
    value
}

/// Every `$ref` string anywhere in `value`.
pub fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(pointer)) = map.get("$ref") {
                found.push(pointer.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// One operation of the document: its key, and its message's payload (resolved).
pub struct Operation<'a> {
    /// The operation's key under `operations`.
    pub key: &'a str,
    /// Its raw JSON.
    pub raw: &'a Value,
    /// The payload of its (first) message.
    pub payload: &'a Value,
    /// The message itself.
    pub message: &'a Value,
}

/// The operations whose `action` is `send` or `receive`.
pub fn operations<'a>(doc: &'a Value, action: &str) -> Vec<Operation<'a>> {
    let all = doc["operations"].as_object().expect("an operations object");
    all.iter()
        .filter(|(_, op)| op["action"] == action)
        .map(|(key, op)| {
            let messages = op["messages"]
                .as_array()
                .expect("an operation lists its messages");
            assert_eq!(messages.len(), 1, "{key}: one message");
            let message = resolve(doc, &messages[0]);
            Operation {
                key,
                raw: op,
                payload: resolve(doc, &message["payload"]),
                message,
            }
        })
        .collect()
}

/// The `const` of a payload property (`action` or `event`).
pub fn constant<'a>(doc: &'a Value, payload: &'a Value, property: &str) -> &'a str {
    resolve(doc, &payload["properties"][property])["const"]
        .as_str()
        .unwrap_or_else(|| panic!("payload property `{property}` has a string const: {payload}"))
}

/// The first example's payload of a message.
pub fn example(message: &Value) -> &Value {
    &message["examples"][0]["payload"]
}

/// The names of an object schema's properties.
pub fn properties(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

/// The names an object schema requires.
pub fn required(schema: &Value) -> BTreeSet<String> {
    schema["required"]
        .as_array()
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The keys of a JSON object (none for anything else).
pub fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

/// What is wrong with `value` as an instance of `schema`, at `path`; empty when it conforms.
/// Stricter than JSON Schema in one way: an object may only carry declared properties (unless
/// `additionalProperties` is a schema), so an example cannot show a field the schema forgot.
pub fn conformance(doc: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut problems = Vec::new();
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options
            .iter()
            .filter(|option| conformance(doc, option, value, path).is_empty())
            .count();
        if matching != 1 {
            problems.push(format!(
                "{path}: matches {matching} of the oneOf schemas: {value}"
            ));
        }
    }
    if let Some(expected) = schema.get("const")
        && expected != value
    {
        problems.push(format!("{path}: {value} is not the const {expected}"));
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        problems.push(format!("{path}: {value} is not one of {options:?}"));
    }
    if let Some(kind) = schema.get("type")
        && !type_matches(kind, value)
    {
        problems.push(format!("{path}: {value} is not of type {kind}"));
    }
    bounds(schema, value, path, &mut problems);
    if let Value::Object(map) = value {
        for name in required(schema) {
            if !map.contains_key(&name) {
                problems.push(format!("{path}: the required `{name}` is missing"));
            }
        }
        let declared = schema["properties"].as_object();
        for (name, item) in map {
            match declared.and_then(|d| d.get(name)) {
                Some(property) => {
                    problems.extend(conformance(doc, property, item, &format!("{path}.{name}")))
                }
                None => match &schema["additionalProperties"] {
                    extra @ Value::Object(_) => {
                        problems.extend(conformance(doc, extra, item, &format!("{path}.{name}")));
                    }
                    _ if declared.is_some() => {
                        problems.push(format!("{path}: `{name}` is not a declared property"))
                    }
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            problems.extend(conformance(doc, item_schema, item, &format!("{path}[{i}]")));
        }
    }
    problems
}

fn type_matches(kind: &Value, value: &Value) -> bool {
    match kind {
        Value::Array(kinds) => kinds.iter().any(|k| type_matches(k, value)),
        Value::String(name) => match name.as_str() {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("unknown JSON Schema type `{other}`"),
        },
        other => panic!("a type is a name or a list of names: {other}"),
    }
}

fn bounds(schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    let count = |key: &str| schema.get(key).and_then(Value::as_u64).map(|n| n as usize);
    if let Some(n) = value.as_f64()
        && (number("minimum").is_some_and(|min| n < min) || number("maximum").is_some_and(|max| n > max))
    {
        problems.push(format!("{path}: {n} is out of bounds"));
    }
    let length = match value {
        Value::String(s) => Some(s.len()),
        Value::Array(items) => Some(items.len()),
        _ => None,
    };
    if let Some(len) = length {
        let (min, max) = if value.is_string() {
            (count("minLength"), count("maxLength"))
        } else {
            (count("minItems"), count("maxItems"))
        };
        if min.is_some_and(|min| len < min) || max.is_some_and(|max| len > max) {
            problems.push(format!("{path}: length {len} is out of bounds"));
        }
    }
}

//! Generators for the property-based fuzz suites (`tests/fuzz_*.rs` of this crate and of
//! `cirrus-handlers`): arbitrary JSON, hostile strings and mutations of valid inputs.
//! Built only with the `fuzzing` feature, which only test builds turn on.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

/// A proptest configuration running `default_cases` cases, or `PROPTEST_CASES` when it is set
/// (the long run sets it); no regression files are written, found cases become unit tests.
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Strings a parser is likely to trip on: empty, huge, control and non-BMP characters, JSON
/// punctuation, path tricks, or anything at all.
pub fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[a-zA-Z0-9_./-]{0,40}",
        1 => "[\\x00-\\x1f\"\\\\{}\\[\\]:,/.*_=+-]{0,20}",
        1 => Just(String::new()),
        1 => Just("..".to_owned()),
        1 => (1usize..3000).prop_map(|n| "a".repeat(n)),
        1 => Just("\u{10FFFF}\u{FEFF}\u{0}".to_owned()),
    ]
}

/// Numbers at the edges of every integer width and float range, or anything.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            0i64,
            -1,
            1,
            i64::from(i32::MAX),
            i64::from(u32::MAX),
            i64::MAX,
            i64::MIN
        ])
        .prop_map(Value::from),
    ]
}

/// A key of an object: one of `keys` (the field names the parser expects) or any string.
fn key(keys: &'static [&'static str]) -> BoxedStrategy<String> {
    if keys.is_empty() {
        hostile_string().boxed()
    } else {
        prop_oneof![
            3 => prop::sample::select(keys).prop_map(str::to_owned),
            1 => hostile_string(),
        ]
        .boxed()
    }
}

/// An arbitrary JSON value up to a few levels deep, its object keys mostly taken from `keys`.
pub fn json_value(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(keys), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Text that is mostly not JSON: arbitrary bytes read as UTF-8 (lossily, as a text frame or a
/// request body is text), hostile strings, or JSON cut short.
pub fn arbitrary_text(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        hostile_string(),
        (json_value(keys), any::<prop::sample::Index>()).prop_map(|(value, cut)| {
            let text = value.to_string();
            let mut at = cut.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_owned()
        }),
    ]
}

/// One edit of a JSON document, applied by [`Mutation::apply`].
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Replace the chosen node with another value.
    Replace(Value),
    /// Remove the chosen node from its object or array.
    Remove,
    /// Add a member to the chosen object (or push to the chosen array).
    Insert(String, Value),
    /// Turn the chosen node into its JSON text, as a string.
    Stringify,
    /// Change one byte of the document's text (the result read as UTF-8, lossily).
    Byte(u8),
}

impl Mutation {
    /// Applies the edit at the node numbered `at` (pre-order, modulo the node count) of `doc`
    /// and returns the document's text.
    pub fn apply(&self, doc: &Value, at: prop::sample::Index) -> String {
        if let Self::Byte(byte) = self {
            let mut bytes = doc.to_string().into_bytes();
            let i = at.index(bytes.len());
            bytes[i] = *byte;
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        let mut doc = doc.clone();
        let target = at.index(count(&doc));
        if target == 0 {
            // The root has no parent to remove it from: removing it leaves nothing.
            return match self {
                Self::Remove => String::new(),
                _ => self.edit_root(doc).to_string(),
            };
        }
        let mut seen = 0;
        self.edit(&mut doc, target, &mut seen);
        doc.to_string()
    }

    fn edit_root(&self, doc: Value) -> Value {
        let mut holder = Value::Array(vec![doc]);
        let mut seen = 0;
        self.edit(&mut holder, 1, &mut seen);
        match holder {
            Value::Array(mut items) if items.len() == 1 => items.remove(0),
            other => other,
        }
    }

    /// Walks `node`'s children in pre-order; edits the one numbered `target`. Returns true once done.
    fn edit(&self, node: &mut Value, target: usize, seen: &mut usize) -> bool {
        let children: Vec<String> = match node {
            Value::Object(map) => map.keys().cloned().collect(),
            Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
            _ => return false,
        };
        for name in children {
            *seen += 1;
            if *seen == target {
                self.edit_child(node, &name);
                return true;
            }
            let child = match node {
                Value::Object(map) => map.get_mut(&name),
                Value::Array(items) => name.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
                _ => None,
            };
            if let Some(child) = child
                && self.edit(child, target, seen)
            {
                return true;
            }
        }
        false
    }

    fn edit_child(&self, parent: &mut Value, name: &str) {
        let slot = match parent {
            Value::Object(map) => map.get_mut(name),
            Value::Array(items) => name.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        };
        match self {
            Self::Replace(value) => {
                if let Some(slot) = slot {
                    *slot = value.clone();
                }
            }
            Self::Stringify => {
                if let Some(slot) = slot {
                    *slot = Value::String(slot.to_string());
                }
            }
            Self::Insert(key, value) => match slot {
                Some(Value::Object(map)) => {
                    map.insert(key.clone(), value.clone());
                }
                Some(Value::Array(items)) => items.push(value.clone()),
                Some(slot) => *slot = value.clone(),
                None => {}
            },
            Self::Remove => match parent {
                Value::Object(map) => {
                    map.remove(name);
                }
                Value::Array(items) => {
                    if let Ok(i) = name.parse::<usize>() {
                        items.remove(i);
                    }
                }
                _ => {}
            },
            Self::Byte(_) => {}
        }
    }
}

fn count(node: &Value) -> usize {
    1 + match node {
        Value::Object(map) => map.values().map(count).sum(),
        Value::Array(items) => items.iter().map(count).sum(),
        _ => 0,
    }
}

/// An edit of a JSON document whose new values and keys come from [`json_value`] over `keys`.
pub fn mutation(keys: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => json_value(keys).prop_map(Mutation::Replace),
        2 => Just(Mutation::Remove),
        2 => (key(keys), json_value(keys)).prop_map(|(k, v)| Mutation::Insert(k, v)),
        1 => Just(Mutation::Stringify),
        1 => any::<u8>().prop_map(Mutation::Byte),
    ]
}

/// Text derived from `valid`: itself, or one to three edits of it, so most cases get past the
/// JSON parser and exercise the checks behind it.
pub fn mutated(valid: Value, keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec((mutation(keys), any::<prop::sample::Index>()), 0..=3).prop_map(move |edits| {
        let mut text = valid.to_string();
        for (edit, at) in edits {
            let doc = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
            text = edit.apply(&doc, at);
        }
        text
    })
}

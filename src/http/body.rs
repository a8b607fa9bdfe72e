//! One pass over a request body, before the MCP library parses it (docs/remote.md,
//! "Memory"): it counts the JSON values in the body without building any of them, and
//! picks out the two fields the access log prints (`method`, `params.name`), clipped.
//!
//! Parsing JSON into a tree costs tens of bytes per value, so a 4 MiB body of
//! `[0,0,0,…]` (two million values) would cost well over a hundred megabytes. Bounding
//! the number of values per request bounds that cost to a small multiple of the body
//! limit, whatever the body holds.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

/// How many body bytes buy one JSON value: a request may hold at most
/// `MOLECULE_MCP_MAX_BODY_BYTES / BYTES_PER_VALUE` values (131,072 at the default 4 MiB).
/// Real MCP requests hold far fewer (a tool's arguments are a few dozen values; a
/// bundle is mostly long strings). Parsed, a value costs about 54 bytes (measured by
/// `cargo bench --bench http`), so a body at the limit costs under three times its size.
pub const BYTES_PER_VALUE: usize = 32;

/// The longest `method` or tool name kept for the access log.
const FIELD_BYTES: usize = 64;

/// The longest JSON-RPC method a request may name. MCP's are a few dozen bytes; the MCP
/// library echoes an unknown method whole in its error, so a longer one is refused
/// before it is parsed (docs/remote.md, "Memory").
pub const MAX_METHOD_BYTES: usize = 128;

/// What the access log prints of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The JSON-RPC method (`batch` for an array, `-` when there is none).
    pub method: String,
    /// `params.name` (`-` when there is none).
    pub tool: String,
    /// The length of the JSON-RPC method as sent, before clipping.
    pub method_bytes: usize,
}

impl Default for Summary {
    /// Nothing known: both fields `-`.
    fn default() -> Self {
        Summary {
            method: "-".into(),
            tool: "-".into(),
            method_bytes: 0,
        }
    }
}

/// Why a body is refused before parsing.
#[derive(Debug, PartialEq, Eq)]
pub struct TooManyValues {
    /// The most values allowed.
    pub limit: usize,
}

/// Scans `body`: its summary, or [`TooManyValues`] when it holds more than `limit` JSON
/// values. A body that is not JSON is summarised as `-` and left to the MCP library,
/// which answers it with the JSON-RPC parse error.
pub fn scan(body: &[u8], limit: usize) -> Result<Summary, TooManyValues> {
    let budget = Cell::new(limit);
    let over = Cell::new(false);
    let mut method = None;
    let mut tool = None;
    let method_bytes = Cell::new(0);
    let seed = Walk {
        budget: &budget,
        over: &over,
        role: Role::Message {
            method: &mut method,
            tool: &mut tool,
            method_bytes: &method_bytes,
        },
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let read = seed.deserialize(&mut de);
    if over.get() {
        return Err(TooManyValues { limit });
    }
    let dash = || "-".to_string();
    Ok(match read {
        Ok(Shape::Array) => Summary {
            method: "batch".into(),
            tool: dash(),
            method_bytes: 0,
        },
        Ok(Shape::Other) => Summary {
            method: method.unwrap_or_else(dash),
            tool: tool.unwrap_or_else(dash),
            method_bytes: method_bytes.get(),
        },
        Err(_) => Summary::default(),
    })
}

/// What a value turned out to be, where that matters (the top level).
enum Shape {
    Array,
    Other,
}

/// Where in the message a value stands.
enum Role<'r> {
    /// The whole body.
    Message {
        method: &'r mut Option<String>,
        tool: &'r mut Option<String>,
        method_bytes: &'r Cell<usize>,
    },
    /// The message's `params`.
    Params { tool: &'r mut Option<String> },
    /// A string worth keeping (`method`, `params.name`), and where to note its length.
    Keep(&'r mut Option<String>, Option<&'r Cell<usize>>),
    /// Anything else: counted only.
    Count,
}

struct Walk<'b, 'r> {
    budget: &'b Cell<usize>,
    over: &'b Cell<bool>,
    role: Role<'r>,
}

impl<'b> Walk<'b, '_> {
    fn child<'r>(&self, role: Role<'r>) -> Walk<'b, 'r> {
        Walk {
            budget: self.budget,
            over: self.over,
            role,
        }
    }

    /// Counts one value; an error (which stops the parse) once the budget is spent.
    fn tick<E: de::Error>(&self) -> Result<(), E> {
        match self.budget.get().checked_sub(1) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => {
                self.over.set(true);
                Err(E::custom("too many JSON values"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        self.tick().map(|()| Shape::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        self.tick().map(|()| Shape::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        self.tick().map(|()| Shape::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        self.tick().map(|()| Shape::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        self.tick().map(|()| Shape::Other)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Shape, E> {
        self.tick()?;
        if let Role::Keep(slot, length) = self.role {
            *slot = Some(crate::result::clipped(v, FIELD_BYTES));
            if let Some(length) = length {
                length.set(v.len());
            }
        }
        Ok(Shape::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        self.tick()?;
        while seq.next_element_seed(self.child(Role::Count))?.is_some() {}
        Ok(Shape::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        self.tick()?;
        let Walk {
            budget,
            over,
            mut role,
        } = self;
        // Keys are read as strings, borrowed where the body has no escapes, never kept.
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let role = match (&mut role, key.as_ref()) {
                (
                    Role::Message {
                        method,
                        method_bytes,
                        ..
                    },
                    "method",
                ) => Role::Keep(method, Some(method_bytes)),
                (Role::Message { tool, .. }, "params") => Role::Params { tool },
                (Role::Params { tool }, "name") => Role::Keep(tool, None),
                _ => Role::Count,
            };
            map.next_value_seed(Walk { budget, over, role })?;
        }
        Ok(Shape::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Summary {
        scan(text.as_bytes(), 1000).unwrap()
    }

    /// The access log's method and tool: a batch is named as one, anything unreadable
    /// is `-`, and a hostile method name is clipped.
    #[test]
    fn the_access_log_summarises_each_kind_of_body() {
        let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_workspace","arguments":{"name":"x"}}}"#;
        assert_eq!(
            of(call),
            Summary {
                method: "tools/call".into(),
                tool: "get_workspace".into(),
                method_bytes: 10,
            }
        );
        assert_eq!(
            of(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#).method,
            "batch"
        );
        assert_eq!(of("not json").method, "-");
        assert_eq!(of(r#"{"id":1}"#), Summary::default());
        // A `name` anywhere but directly in `params` is not the tool.
        assert_eq!(
            of(r#"{"method":"m","name":"x","params":{"arguments":{"name":"y"}}}"#).tool,
            "-"
        );
        let summary = of(&format!(r#"{{"method":"{}"}}"#, "m".repeat(5000)));
        assert!(summary.method.len() < 100, "{}", summary.method);
        assert_eq!(summary.method_bytes, 5000, "the length as sent");
    }

    /// Values are counted exactly, nested or not: at the limit a body passes, one more
    /// value and it is refused.
    #[test]
    fn values_are_counted_to_the_exact_limit() {
        // 1 object + 1 string + 1 array + 3 numbers + 1 object + 1 null = 8 values.
        let body = br#"{"method":"m","params":[1,2,3,{"a":null}]}"#;
        assert!(scan(body, 8).is_ok());
        assert_eq!(scan(body, 7), Err(TooManyValues { limit: 7 }));
        let zeros = format!("[{}0]", "0,".repeat(999));
        assert!(scan(zeros.as_bytes(), 1001).is_ok());
        assert!(scan(zeros.as_bytes(), 1000).is_err());
    }
}

//! The `when` grammar of a step, kept tiny on purpose:
//!
//! ```text
//! condition := ["!"] "input" ("." key)+        key := [A-Za-z0-9_]+
//! ```
//!
//! It holds when the JSON value at that path of the run input is truthy: anything but a
//! missing member, `null`, `false`, `0`, `""`, `[]` or `{}`. `!` negates.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    negate: bool,
    path: Vec<String>,
}

impl Condition {
    pub fn parse(text: &str) -> Result<Condition, String> {
        let t = text.trim();
        let (negate, rest) = match t.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, t),
        };
        let mut parts = rest.split('.');
        if parts.next() != Some("input") {
            return Err(format!(
                "condition {text:?} must start with `input.` (e.g. \"input.restock\")"
            ));
        }
        let path: Vec<String> = parts.map(str::to_string).collect();
        if path.is_empty() {
            return Err(format!("condition {text:?} names no input member"));
        }
        for key in &path {
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "condition {text:?}: {key:?} is not a member name ([A-Za-z0-9_]+)"
                ));
            }
        }
        Ok(Condition { negate, path })
    }

    pub fn holds(&self, input: &Value) -> bool {
        let mut v = input;
        let mut truthy = true;
        for key in &self.path {
            match v.get(key) {
                Some(next) => v = next,
                None => {
                    truthy = false;
                    break;
                }
            }
        }
        if truthy {
            truthy = match v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
            };
        }
        truthy != self.negate
    }
}

impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.negate {
            f.write_str("!")?;
        }
        write!(f, "input.{}", self.path.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(cond: &str, input: Value) -> bool {
        Condition::parse(cond).unwrap().holds(&input)
    }

    #[test]
    fn truthiness() {
        assert!(holds("input.restock", json!({"restock": true})));
        assert!(!holds("input.restock", json!({"restock": false})));
        assert!(!holds("input.restock", json!({})));
        assert!(!holds("input.restock", json!({"restock": null})));
        assert!(!holds("input.n", json!({"n": 0})));
        assert!(holds("input.n", json!({"n": 2})));
        assert!(!holds("input.s", json!({"s": ""})));
        assert!(holds("input.s", json!({"s": "x"})));
        assert!(!holds("input.a", json!({"a": []})));
        assert!(holds("input.a.b", json!({"a": {"b": [1]}})));
        assert!(!holds("input.a.b", json!({"a": 3})));
        assert!(holds("!input.refund", json!({"refund": false})));
        assert!(!holds("! input.refund", json!({"refund": true})));
    }

    #[test]
    fn bad_conditions_are_rejected() {
        for bad in [
            "restock",
            "input",
            "input.",
            "input..x",
            "input.a-b",
            "output.x",
            "",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Condition::parse("!input.a.b").unwrap().to_string(),
            "!input.a.b"
        );
    }
}

//! The field half of a partner's access policy: JSON pointers (with `*` for any array element or
//! object member) applied to the canonical passport before it is mapped for the partner.
//!
//! ```
//! use dpp_gateway::exchange::policy::redact;
//! use dpp_gateway::store::FieldPolicy;
//! let doc = serde_json::json!({ "materials": [{ "name": "PP", "grade": "X" }] });
//! let policy = FieldPolicy { allow: None, deny: vec!["/materials/*/grade".into()] };
//! let redacted = redact(&doc, &policy).unwrap().unwrap();
//! assert_eq!(redacted, serde_json::json!({ "materials": [{ "name": "PP" }] }));
//! ```

use dpp_schemas::{Passport, SchemaKind, SchemaRegistry};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::selector_inputs;
use crate::problem::ViolationDetail;
use crate::store::{AccessPolicy, FieldPolicy};

/// A passport as one partner may have it.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The passport with the fields the policy lets through.
    pub passport: Passport,
    /// Whether fields were removed: then the stored JWS does not cover it and the shared form
    /// must be signed itself.
    pub redacted: bool,
}

/// Why a partner may not have a passport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    /// The policy's passport selector does not select it.
    #[error("the access policy does not select the passport")]
    NotSelected,
    /// The stored passport or what the field policy leaves of it is not a valid passport.
    #[error("{0}")]
    Unusable(String),
}

/// Applies a partner's access policy to one stored passport (`doc`, its canonical JSON): the
/// passport selector first, then the field policy. Every way a partner gets a passport (push,
/// pull, search, lineage) goes through here.
pub fn share(policy: &AccessPolicy, passport_id: &str, doc: &Value) -> Result<Shared, Withheld> {
    let passport = Passport::deserialize(doc)
        .map_err(|e| Withheld::Unusable(format!("stored passport is unreadable: {e}")))?;
    let (product_ids, materials) = selector_inputs(&passport);
    if !policy
        .passports
        .matches(passport_id, &product_ids, &materials)
    {
        return Err(Withheld::NotSelected);
    }
    match redact(doc, &policy.fields)
        .map_err(|e| Withheld::Unusable(format!("access policy: {e}")))?
    {
        None => Ok(Shared {
            passport,
            redacted: false,
        }),
        Some(redacted) => Passport::deserialize(&redacted)
            .map(|passport| Shared {
                passport,
                redacted: true,
            })
            .map_err(|e| {
                Withheld::Unusable(format!("the field policy leaves no valid passport: {e}"))
            }),
    }
}

/// Matches any array element or object member in a policy pointer.
pub const WILDCARD: &str = "*";

/// Splits a JSON pointer (RFC 6901, `*` as a wildcard token) into unescaped tokens.
pub fn parse_pointer(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "{pointer:?} is not a JSON pointer: it must start with '/'"
        ));
    };
    rest.split('/')
        .map(|token| {
            if token.is_empty() {
                return Err(format!("{pointer:?} has an empty segment"));
            }
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => return Err(format!("{pointer:?} has a bad '~' escape")),
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

/// The document as `policy` lets it through, or `None` when the policy changes nothing.
pub fn redact(doc: &Value, policy: &FieldPolicy) -> Result<Option<Value>, String> {
    if policy.is_open() {
        return Ok(None);
    }
    let mut out = match &policy.allow {
        Some(allow) => {
            let paths = allow
                .iter()
                .map(|p| parse_pointer(p))
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
            keep(doc, &refs).unwrap_or_else(|| Value::Object(Map::new()))
        }
        None => doc.clone(),
    };
    for pointer in &policy.deny {
        let path = parse_pointer(pointer)?;
        if path.is_empty() {
            return Err("a deny pointer of \"\" would remove the whole passport".into());
        }
        remove(&mut out, &path);
    }
    Ok(if out == *doc { None } else { Some(out) })
}

fn token_matches(pattern: &str, token: &str) -> bool {
    pattern == WILDCARD || pattern == token
}

/// The parts of `value` under any of `paths`; `None` when none reaches into it.
fn keep(value: &Value, paths: &[&[String]]) -> Option<Value> {
    if paths.iter().any(|p| p.is_empty()) {
        return Some(value.clone());
    }
    let below = |token: &str| -> Vec<&[String]> {
        paths
            .iter()
            .filter(|p| token_matches(&p[0], token))
            .map(|p| &p[1..])
            .collect()
    };
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, member) in map {
                let sub = below(key);
                if !sub.is_empty()
                    && let Some(kept) = keep(member, &sub)
                {
                    out.insert(key.clone(), kept);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let sub = below(&index.to_string());
                if !sub.is_empty()
                    && let Some(kept) = keep(item, &sub)
                {
                    out.push(kept);
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        _ => None,
    }
}

/// Removes every subtree `path` (non-empty) reaches.
fn remove(value: &mut Value, path: &[String]) {
    let (head, rest) = (&path[0], &path[1..]);
    match value {
        Value::Object(map) => {
            if rest.is_empty() {
                if head == WILDCARD {
                    map.clear();
                } else {
                    map.remove(head);
                }
            } else if head == WILDCARD {
                map.values_mut().for_each(|v| remove(v, rest));
            } else if let Some(v) = map.get_mut(head) {
                remove(v, rest);
            }
        }
        Value::Array(items) => {
            if head == WILDCARD {
                if rest.is_empty() {
                    items.clear();
                } else {
                    items.iter_mut().for_each(|v| remove(v, rest));
                }
            } else if let Ok(index) = head.parse::<usize>()
                && index < items.len()
            {
                if rest.is_empty() {
                    items.remove(index);
                } else {
                    remove(&mut items[index], rest);
                }
            }
        }
        _ => {}
    }
}

/// Everything wrong with a field policy, located under `base` (e.g. `/policy/fields`): bad
/// pointers, and pointers that would strip members a valid passport must have (found by applying
/// the policy to every fixture passport and validating the result against the canonical schema).
pub fn field_policy_problems(
    policy: &FieldPolicy,
    schemas: &SchemaRegistry,
    base: &str,
) -> Vec<ViolationDetail> {
    let mut problems = Vec::new();
    let lists = [
        ("allow", policy.allow.as_deref().unwrap_or(&[])),
        ("deny", &policy.deny[..]),
    ];
    for (list, pointers) in lists {
        for (i, pointer) in pointers.iter().enumerate() {
            let located = format!("{base}/{list}/{i}");
            match parse_pointer(pointer) {
                Err(message) => problems.push(ViolationDetail {
                    pointer: located,
                    message,
                }),
                Ok(path) if path.is_empty() && list == "deny" => problems.push(ViolationDetail {
                    pointer: located,
                    message: "\"\" would deny the whole passport".into(),
                }),
                Ok(_) => {}
            }
        }
    }
    if !problems.is_empty() || policy.is_open() {
        return problems;
    }
    let mut broken: Vec<String> = Vec::new();
    for passport in dpp_schemas::fixtures::all_passports() {
        let Ok(doc) = serde_json::to_value(&passport) else {
            continue;
        };
        match redact(&doc, policy) {
            Err(message) => {
                problems.push(ViolationDetail {
                    pointer: base.to_owned(),
                    message,
                });
                return problems;
            }
            Ok(None) => {}
            Ok(Some(redacted)) => {
                if let Err(violations) = schemas.validate(SchemaKind::Passport, &redacted) {
                    for v in violations {
                        let text = v.to_string();
                        if !broken.contains(&text) {
                            broken.push(text);
                        }
                    }
                }
            }
        }
    }
    if !broken.is_empty() {
        broken.truncate(5);
        problems.push(ViolationDetail {
            pointer: base.to_owned(),
            message: format!(
                "the field policy strips members a passport must have, so nothing could be sent: {}",
                broken.join("; ")
            ),
        });
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(allow: Option<&[&str]>, deny: &[&str]) -> FieldPolicy {
        FieldPolicy {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn doc() -> Value {
        json!({
            "id": "x",
            "materials": [
                { "name": "PP", "grade": "A", "substancesOfConcern": [{ "name": "Pb" }] },
                { "name": "PE", "substancesOfConcern": [] }
            ],
            "carbonFootprint": { "total": 1.0 },
            "a/b": { "~": 1 }
        })
    }

    #[test]
    fn pointers_parse_with_escapes_and_refuse_garbage() {
        assert_eq!(parse_pointer("/a~1b/~0").unwrap(), vec!["a/b", "~"]);
        assert!(parse_pointer("materials").is_err());
        assert!(parse_pointer("/a//b").is_err());
        assert!(parse_pointer("/a~2").is_err());
        assert!(parse_pointer("").unwrap().is_empty());
    }

    #[test]
    fn deny_removes_wildcard_subtrees_everywhere() {
        let out = redact(
            &doc(),
            &policy(None, &["/materials/*/substancesOfConcern", "/a~1b/~0"]),
        )
        .unwrap()
        .unwrap();
        assert!(
            out["materials"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m.get("substancesOfConcern").is_none())
        );
        assert_eq!(out["materials"][0]["grade"], "A");
        assert_eq!(out["a/b"], json!({}));
    }

    #[test]
    fn allow_keeps_only_listed_subtrees_then_deny_applies() {
        let out = redact(
            &doc(),
            &policy(
                Some(&["/id", "/materials/*/name", "/materials/0/grade"]),
                &["/materials/1"],
            ),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            json!({ "id": "x", "materials": [{ "name": "PP", "grade": "A" }] })
        );
    }

    #[test]
    fn an_open_or_ineffective_policy_changes_nothing() {
        assert_eq!(redact(&doc(), &FieldPolicy::default()).unwrap(), None);
        assert_eq!(redact(&doc(), &policy(None, &["/nowhere"])).unwrap(), None);
    }

    #[test]
    fn policies_stripping_required_members_are_refused() {
        let schemas = SchemaRegistry::new().unwrap();
        let ok = field_policy_problems(
            &policy(
                None,
                &["/materials/*/substancesOfConcern", "/carbonFootprint"],
            ),
            &schemas,
            "/policy/fields",
        );
        assert!(ok.is_empty(), "{ok:?}");
        let bad = field_policy_problems(&policy(None, &["/materials"]), &schemas, "/policy/fields");
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].message.contains("materials"), "{bad:?}");
        let syntax = field_policy_problems(&policy(None, &["materials", ""]), &schemas, "/p");
        let pointers: Vec<_> = syntax.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(pointers, vec!["/p/deny/0", "/p/deny/1"]);
    }
}

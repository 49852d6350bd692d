//! A partner's access policy applied to one passport: the passport selector, then the field
//! policy — JSON pointers (with `*` for any array element or object member) matched against the
//! canonical passport before it is mapped for the partner — and the marking of what came out
//! redacted, so that a signed redacted form is never mistaken for the authoritative passport.
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
use crate::trust::{PassportSigner, TrustError};

/// `typ` of the JWS over a redacted passport. The full passport is signed as `dpp+jws`; a
/// verifier that checks `typ` (RFC 8725 §3.11) cannot take one for the other.
pub const REDACTED_PASSPORT_JWS_TYP: &str = "dpp-redacted+jws";

/// Protected header parameter of a redacted passport's JWS: the field policy that was applied
/// (`{"deny": [...], "allow": [...]}`), so whoever holds the JWS can see what may be missing.
/// It names the policy's pointers, not which fields the passport had: the header must not
/// reveal what it withholds.
pub const REDACTION_HEADER: &str = "redaction";

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

/// Applies a partner's access policy to the latest version of a passport (`doc`, its canonical
/// JSON): the passport selector first, then the field policy. Every way a partner gets a
/// passport (push, pull, search, lineage) goes through here or [`share_version`].
pub fn share(policy: &AccessPolicy, passport_id: &str, doc: &Value) -> Result<Shared, Withheld> {
    let passport = selected(policy, passport_id, doc)?;
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

/// Applies a partner's access policy to an older version `doc` of a passport whose latest
/// version is `latest`. A partner has a passport's versions only while the latest one is
/// selected — the grant is to the passport as it is now, so a passport that moved out of the
/// selector takes its history with it — and only those versions that are selected themselves
/// (one written outside the grant was never granted), each redacted by the field policy.
pub fn share_version(
    policy: &AccessPolicy,
    passport_id: &str,
    doc: &Value,
    latest: &Value,
) -> Result<Shared, Withheld> {
    selected(policy, passport_id, latest)?;
    share(policy, passport_id, doc)
}

/// The passport `doc` is, if the policy's selector selects it.
fn selected(policy: &AccessPolicy, passport_id: &str, doc: &Value) -> Result<Passport, Withheld> {
    let passport = Passport::deserialize(doc)
        .map_err(|e| Withheld::Unusable(format!("stored passport is unreadable: {e}")))?;
    let (product_ids, materials) = selector_inputs(&passport);
    if policy
        .passports
        .matches(passport_id, &product_ids, &materials)
    {
        Ok(passport)
    } else {
        Err(Withheld::NotSelected)
    }
}

/// The [`REDACTION_HEADER`] value for a field policy.
pub fn redaction_header(fields: &FieldPolicy) -> Value {
    let mut header = Map::new();
    if let Some(allow) = &fields.allow {
        header.insert("allow".into(), Value::from(allow.clone()));
    }
    header.insert("deny".into(), Value::from(fields.deny.clone()));
    Value::Object(header)
}

/// Signs the canonical bytes of a redacted passport as such: `typ` [`REDACTED_PASSPORT_JWS_TYP`]
/// and the [`REDACTION_HEADER`] naming the field policy applied. Every redacted form a partner
/// gets, pushed or pulled, is signed here.
pub fn sign_redacted(
    signer: &PassportSigner,
    canonical: &[u8],
    fields: &FieldPolicy,
) -> Result<String, TrustError> {
    signer.sign_compact_with(
        canonical,
        REDACTED_PASSPORT_JWS_TYP,
        &[(REDACTION_HEADER, redaction_header(fields))],
    )
}

/// Whether `jws` was signed by [`sign_redacted`] under `fields` (its protected header says so;
/// the signature is not checked): a kept signature is reused only then.
pub fn is_signed_redacted_under(jws: &str, fields: &FieldPolicy) -> bool {
    use base64::Engine as _;
    let Some(header) = jws
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
    else {
        return false;
    };
    header.get("typ").and_then(Value::as_str) == Some(REDACTED_PASSPORT_JWS_TYP)
        && header.get(REDACTION_HEADER) == Some(&redaction_header(fields))
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
///
/// Every pointer is matched against the stored document's own member names and array indices,
/// in one walk that builds the answer: removing `materials[2]` never shifts which element
/// `/materials/3` names, and an allow-list that drops an element never shifts what a deny
/// pointer names. Arrays come out compacted (what is left, in the original order).
pub fn redact(doc: &Value, policy: &FieldPolicy) -> Result<Option<Value>, String> {
    if policy.is_open() {
        return Ok(None);
    }
    let allow = policy
        .allow
        .as_ref()
        .map(|allow| allow.iter().map(|p| parse_pointer(p)).collect())
        .transpose()?;
    let deny = policy
        .deny
        .iter()
        .map(|p| parse_pointer(p))
        .collect::<Result<Vec<_>, _>>()?;
    if deny.iter().any(Vec::is_empty) {
        return Err("a deny pointer of \"\" would remove the whole passport".into());
    }
    let allow_refs: Option<Vec<&[String]>> = allow
        .as_ref()
        .map(|paths: &Vec<Vec<String>>| paths.iter().map(Vec::as_slice).collect());
    let deny_refs: Vec<&[String]> = deny.iter().map(Vec::as_slice).collect();
    let out = project(doc, allow_refs.as_deref(), &deny_refs)
        .unwrap_or_else(|| Value::Object(Map::new()));
    Ok(if out == *doc { None } else { Some(out) })
}

/// What of `value` the remaining pointers let through, `None` when nothing is.
///
/// `allow` is `None` where everything is allowed (no allow-list, or an allow pointer ended at or
/// above `value`), else the allow pointers' remaining tokens; `deny` holds the deny pointers'
/// remaining tokens. Under an allow-list a container nothing is kept of disappears; without one
/// it stays (possibly empty), as it was before its denied members were taken out.
fn project(value: &Value, allow: Option<&[&[String]]>, deny: &[&[String]]) -> Option<Value> {
    if deny.iter().any(|p| p.is_empty()) {
        return None;
    }
    let allow = allow.filter(|paths| !paths.iter().any(|p| p.is_empty()));
    if allow.is_none() && deny.is_empty() {
        return Some(value.clone());
    }
    let member = |token: &str, item: &Value, is_index: Option<usize>| -> Option<Value> {
        let sub_allow: Option<Vec<&[String]>> =
            allow.map(|paths| below(paths, |t| t == WILDCARD || t == token));
        if sub_allow.as_ref().is_some_and(Vec::is_empty) {
            return None;
        }
        // A deny pointer may spell an index loosely (`02`, `+2`): it still removes that element,
        // so a sloppy pointer withholds more, never less. Allow pointers match indices exactly.
        let sub_deny = below(deny, |t| {
            t == WILDCARD || t == token || is_index.is_some_and(|i| t.parse::<usize>() == Ok(i))
        });
        project(item, sub_allow.as_deref(), &sub_deny)
    };
    match value {
        Value::Object(map) => {
            let out: Map<String, Value> = map
                .iter()
                .filter_map(|(key, item)| member(key, item, None).map(|kept| (key.clone(), kept)))
                .collect();
            (allow.is_none() || !out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            let out: Vec<Value> = items
                .iter()
                .enumerate()
                .filter_map(|(index, item)| member(&index.to_string(), item, Some(index)))
                .collect();
            (allow.is_none() || !out.is_empty()).then_some(Value::Array(out))
        }
        // A leaf under an allow-list that no pointer reached.
        _ if allow.is_some() => None,
        scalar => Some(scalar.clone()),
    }
}

/// The remaining tokens of those `paths` whose first token `matches`.
fn below<'p>(paths: &[&'p [String]], matches: impl Fn(&str) -> bool) -> Vec<&'p [String]> {
    paths
        .iter()
        .filter(|p| matches(&p[0]))
        .map(|p| &p[1..])
        .collect()
}

/// Whether `fields` may withhold or change any part of what `reads` (a pointer, `*` for every
/// element) reaches in some passport: a deny pointer above, at or below it, or an allow-list
/// none of whose pointers covers all of it. Search filters reading such a pointer cannot be
/// answered from the store's index of the full passport (that would confirm withheld values);
/// they are checked on the partner's form instead.
pub fn may_withhold(fields: &FieldPolicy, reads: &str) -> bool {
    let Ok(reads) = parse_pointer(reads) else {
        return true;
    };
    let compatible = |a: &str, b: &str| {
        a == WILDCARD
            || b == WILDCARD
            || a == b
            || matches!((a.parse::<usize>(), b.parse::<usize>()), (Ok(x), Ok(y)) if x == y)
    };
    let denied = fields.deny.iter().any(|d| match parse_pointer(d) {
        Ok(d) => d.iter().zip(&reads).all(|(a, b)| compatible(a, b)),
        Err(_) => true,
    });
    let outside_allow = fields.allow.as_ref().is_some_and(|allow| {
        !allow.iter().any(|a| match parse_pointer(a) {
            Ok(a) => {
                a.len() <= reads.len()
                    && a.iter()
                        .zip(&reads)
                        .all(|(a, r)| a == WILDCARD || (a == r && r != WILDCARD))
            }
            Err(_) => false,
        })
    });
    denied || outside_allow
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
    fn deny_pointers_name_elements_of_the_stored_array_not_of_what_is_left() {
        let doc = json!({ "materials": [
            { "n": 0, "grade": "a" }, { "n": 1, "grade": "b" }, { "n": 2, "grade": "c" },
            { "n": 3, "grade": "d" }, { "n": 4, "grade": "e" }
        ] });
        // Several indices of one array, in either order: the elements the pointers name go.
        for deny in [
            &["/materials/2", "/materials/3"][..],
            &["/materials/3", "/materials/2"],
        ] {
            let out = redact(&doc, &policy(None, deny)).unwrap().unwrap();
            let left: Vec<_> = out["materials"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["n"].as_i64().unwrap())
                .collect();
            assert_eq!(left, vec![0, 1, 4], "{deny:?}");
        }
        // Indices beside wildcards and members of named elements: each by the stored index.
        let out = redact(
            &doc,
            &policy(
                None,
                &[
                    "/materials/1",
                    "/materials/*/grade",
                    "/materials/3/n",
                    "/materials/02",
                ],
            ),
        )
        .unwrap()
        .unwrap();
        assert_eq!(out, json!({ "materials": [{ "n": 0 }, {}, { "n": 4 }] }));
    }

    #[test]
    fn allow_and_deny_pointers_both_name_stored_indices() {
        let doc = json!({ "materials": [
            { "n": 0, "mass": 10 }, { "n": 1, "mass": 11 }, { "n": 2, "mass": 12 },
            { "n": 3, "mass": 13 }
        ] });
        // The allow-list drops element 1; deny /materials/2/mass is still about stored element 2.
        let out = redact(
            &doc,
            &policy(
                Some(&["/materials/0", "/materials/2", "/materials/3"]),
                &["/materials/2/mass"],
            ),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            json!({ "materials": [{ "n": 0, "mass": 10 }, { "n": 2 }, { "n": 3, "mass": 13 }] })
        );
        // An allow pointer takes indices literally: `01` names no element.
        let out = redact(
            &doc,
            &policy(Some(&["/materials/01/n", "/materials/3/n"]), &[]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(out, json!({ "materials": [{ "n": 3 }] }));
    }

    #[test]
    fn search_filters_know_which_pointers_a_policy_may_withhold() {
        let polymer = "/materials/*/polymer";
        let share = "/materials/*/recycledShare";
        let ids = "/product/ids/*/value";
        assert!(!may_withhold(&FieldPolicy::default(), polymer));
        let grades = policy(None, &["/materials/*/grade", "/carbonFootprint"]);
        assert!(!may_withhold(&grades, polymer));
        assert!(!may_withhold(&grades, ids));
        // A whole element, a member below the read, a wildcard above it.
        assert!(may_withhold(&policy(None, &["/materials/2"]), polymer));
        assert!(may_withhold(
            &policy(None, &["/materials/*/recycledShare/preConsumer"]),
            share
        ));
        assert!(may_withhold(&policy(None, &["/product/*"]), ids));
        assert!(!may_withhold(&policy(None, &["/product/name"]), ids));
        // Under an allow-list a read must be covered for every element.
        let lots = policy(Some(&["/id", "/product", "/materials/*/polymer"]), &[]);
        assert!(!may_withhold(&lots, polymer));
        assert!(!may_withhold(&lots, ids));
        assert!(may_withhold(&lots, share));
        assert!(may_withhold(
            &policy(Some(&["/materials/0/polymer"]), &[]),
            polymer
        ));
    }

    #[test]
    fn a_version_is_shared_only_while_the_latest_is_selected() {
        let fixture = dpp_schemas::fixtures::pp_pellets();
        let id = fixture.id.to_string();
        let v1 = serde_json::to_value(&fixture).unwrap();
        let mut v2 = v1.clone();
        v2["materials"][0]["polymer"] = json!("PE-HD");
        v2["version"] = json!(2);
        let pp = AccessPolicy {
            passports: crate::store::PassportSelector {
                polymer: Some(fixture.materials[0].polymer.clone()),
                ..Default::default()
            },
            fields: policy(None, &["/carbonFootprint"]),
        };
        assert!(share(&pp, &id, &v1).unwrap().redacted);
        // v2 left the grant: v1 goes with it.
        assert_eq!(share(&pp, &id, &v2).unwrap_err(), Withheld::NotSelected);
        assert_eq!(
            share_version(&pp, &id, &v1, &v2).unwrap_err(),
            Withheld::NotSelected
        );
        // Back in the grant, an older version outside it stays out; one inside is redacted.
        assert_eq!(
            share_version(&pp, &id, &v2, &v1).unwrap_err(),
            Withheld::NotSelected
        );
        let shared = share_version(&pp, &id, &v1, &v1).unwrap();
        assert!(shared.redacted && shared.passport.carbon_footprint.is_none());
    }

    #[test]
    fn redacted_forms_are_signed_as_such_and_recognised() {
        use base64::Engine as _;
        let (key, _) = crate::trust::AwsLcEs256Signer::generate().unwrap();
        let signer = PassportSigner::from(key);
        let fields = policy(Some(&["/id"]), &["/materials/1"]);
        let jws = sign_redacted(&signer, br#"{"id":"x"}"#, &fields).unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jws.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], REDACTED_PASSPORT_JWS_TYP);
        assert_eq!(
            header[REDACTION_HEADER],
            json!({ "allow": ["/id"], "deny": ["/materials/1"] })
        );
        assert!(is_signed_redacted_under(&jws, &fields));
        assert!(!is_signed_redacted_under(
            &jws,
            &policy(None, &["/materials/1"])
        ));
        let full = signer.sign_compact(br#"{"id":"x"}"#, "dpp+jws").unwrap();
        assert!(!is_signed_redacted_under(&full, &fields));
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

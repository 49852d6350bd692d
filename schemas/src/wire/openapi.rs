//! Turns OpenAPI 3.0 documents (YAML, possibly split across files) into plain JSON Schema
//! 2020-12 documents, one per request body and per response body, with every `$ref` inlined.
//!
//! OpenAPI 3.0 Schema Objects are a dialect of JSON Schema draft-05: `nullable: true` instead of a
//! `"null"` type, `example` instead of `examples`, vendor `x-*` keys, and boolean
//! `exclusiveMinimum`/`exclusiveMaximum`. [`to_json_schema`] rewrites exactly those and keeps every
//! assertion (`type`, `enum`, `required`, lengths, `pattern`, bounds, `multipleOf`, item counts).

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

/// `$ref` chains deeper than this are treated as a cycle (the Ouranos specs nest at most 4 deep).
const MAX_REF_DEPTH: usize = 32;

/// HTTP methods an OpenAPI path item can hold, in the spelling of the document.
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// A set of parsed YAML documents, addressed by their path relative to one root folder.
pub(crate) struct DocumentSet {
    docs: HashMap<String, Value>,
}

impl DocumentSet {
    /// Parses every `(relative path, YAML text)` pair.
    pub(crate) fn parse(files: &[(&str, &str)]) -> Result<Self, String> {
        let mut docs = HashMap::with_capacity(files.len());
        for (path, text) in files {
            let value: Value =
                serde_norway::from_str(text).map_err(|e| format!("{path}: invalid yaml: {e}"))?;
            docs.insert((*path).to_owned(), value);
        }
        Ok(Self { docs })
    }

    /// The parsed document at `path`.
    pub(crate) fn get(&self, path: &str) -> Option<&Value> {
        self.docs.get(path)
    }

    /// Resolves `reference` (a `$ref` value) written inside document `base`: returns the path of
    /// the document holding the target and the target itself.
    fn resolve<'a>(&'a self, base: &str, reference: &str) -> Result<(String, &'a Value), String> {
        let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let doc_path = if file.is_empty() {
            base.to_owned()
        } else {
            join_relative(base, file)
        };
        let doc = self
            .docs
            .get(&doc_path)
            .ok_or_else(|| format!("{base}: $ref {reference} names a missing file {doc_path}"))?;
        let target = if fragment.is_empty() {
            doc
        } else {
            doc.pointer(fragment)
                .ok_or_else(|| format!("{base}: $ref {reference} points at nothing"))?
        };
        Ok((doc_path, target))
    }

    /// Follows `$ref`s until `node` is not a reference.
    fn deref<'a>(&'a self, base: &str, node: &'a Value) -> Result<(String, &'a Value), String> {
        let mut base = base.to_owned();
        let mut node = node;
        for _ in 0..MAX_REF_DEPTH {
            match node.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let (next_base, next) = self.resolve(&base, reference)?;
                    base = next_base;
                    node = next;
                }
                None => return Ok((base, node)),
            }
        }
        Err(format!("{base}: $ref chain deeper than {MAX_REF_DEPTH}"))
    }
}

/// `rel` resolved against the folder of document `base` (`a/b.yaml` + `../c.yaml` = `c.yaml`).
fn join_relative(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for segment in rel.split('/') {
        match segment {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The JSON Schemas of one operation (path + method) of an OpenAPI document.
#[derive(Debug, Default)]
pub(crate) struct OperationSchemas {
    /// Schema of the `application/json` request body, if the operation has one.
    pub(crate) request: Option<Value>,
    /// Schema of each response's `application/json` body, by status code.
    pub(crate) responses: BTreeMap<u16, Value>,
}

/// Every operation under `paths` of the document at `root`, keyed by (path key, method).
pub(crate) fn operations(
    docs: &DocumentSet,
    root: &str,
) -> Result<BTreeMap<(String, &'static str), OperationSchemas>, String> {
    let doc = docs
        .get(root)
        .ok_or_else(|| format!("{root}: not loaded"))?;
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{root}: no paths"))?;
    let mut out = BTreeMap::new();
    for (key, item) in paths {
        let (item_base, item) = docs.deref(root, item)?;
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let mut schemas = OperationSchemas::default();
            if let Some(body) = op.get("requestBody") {
                let (body_base, body) = docs.deref(&item_base, body)?;
                if let Some(schema) = json_media_schema(body) {
                    schemas.request = Some(to_json_schema(docs, &body_base, schema)?);
                }
            }
            if let Some(responses) = op.get("responses").and_then(Value::as_object) {
                for (status, response) in responses {
                    let Ok(status) = status.parse::<u16>() else {
                        continue;
                    };
                    let (resp_base, response) = docs.deref(&item_base, response)?;
                    if let Some(schema) = json_media_schema(response) {
                        schemas
                            .responses
                            .insert(status, to_json_schema(docs, &resp_base, schema)?);
                    }
                }
            }
            out.insert((key.clone(), method), schemas);
        }
    }
    Ok(out)
}

/// `content["application/json"].schema` of a request body or response object.
fn json_media_schema(holder: &Value) -> Option<&Value> {
    holder
        .get("content")?
        .get("application/json")?
        .get("schema")
}

/// Converts one OpenAPI 3.0 Schema Object (written in document `base`) to JSON Schema 2020-12,
/// inlining every `$ref`.
pub(crate) fn to_json_schema(
    docs: &DocumentSet,
    base: &str,
    node: &Value,
) -> Result<Value, String> {
    convert(docs, base, node, 0)
}

fn convert(docs: &DocumentSet, base: &str, node: &Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_REF_DEPTH {
        return Err(format!(
            "{base}: schema nesting deeper than {MAX_REF_DEPTH} (cycle?)"
        ));
    }
    let Some(map) = node.as_object() else {
        // `true`/`false` schemas and anything odd pass through untouched.
        return Ok(node.clone());
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        // OpenAPI 3.0: siblings of `$ref` are ignored.
        let (target_base, target) = docs.resolve(base, reference)?;
        return convert(docs, &target_base, target, depth + 1);
    }
    let mut out = Map::with_capacity(map.len());
    let mut nullable = false;
    for (key, value) in map {
        match key.as_str() {
            "nullable" => nullable = value.as_bool().unwrap_or(false),
            // Annotations that are not JSON Schema keywords (or are OpenAPI-only).
            "example" | "discriminator" | "xml" | "externalDocs" => {}
            k if k.starts_with("x-") => {}
            "properties" | "patternProperties" => {
                let mut props = Map::new();
                for (name, schema) in value.as_object().into_iter().flatten() {
                    props.insert(name.clone(), convert(docs, base, schema, depth + 1)?);
                }
                out.insert(key.clone(), Value::Object(props));
            }
            "items" | "not" | "additionalProperties" if value.is_object() => {
                out.insert(key.clone(), convert(docs, base, value, depth + 1)?);
            }
            "allOf" | "anyOf" | "oneOf" => {
                let mut branches = Vec::new();
                for schema in value.as_array().into_iter().flatten() {
                    branches.push(convert(docs, base, schema, depth + 1)?);
                }
                out.insert(key.clone(), Value::Array(branches));
            }
            // OpenAPI 3.0 (draft-05) boolean form: `exclusiveMinimum: true` next to `minimum`.
            "exclusiveMinimum" | "exclusiveMaximum" if value.is_boolean() => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if map.get(flag).and_then(Value::as_bool) == Some(true)
            && let Some(limit) = out.remove(bound)
        {
            out.insert(flag.to_owned(), limit);
        }
    }
    if nullable {
        return Ok(make_nullable(out));
    }
    Ok(Value::Object(out))
}

/// Applies OpenAPI 3.0 `nullable: true`: `null` becomes an allowed value.
fn make_nullable(mut schema: Map<String, Value>) -> Value {
    let composite = ["allOf", "anyOf", "oneOf", "not"]
        .iter()
        .any(|k| schema.contains_key(*k));
    if composite {
        return json!({ "anyOf": [{ "type": "null" }, Value::Object(schema)] });
    }
    match schema.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            schema.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => {
            types.push(Value::from("null"));
        }
        _ => {}
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum")
        && !values.iter().any(Value::is_null)
    {
        values.push(Value::Null);
    }
    Value::Object(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(files: &[(&str, &str)]) -> DocumentSet {
        DocumentSet::parse(files).unwrap()
    }

    #[test]
    fn relative_paths_resolve_against_the_referring_file() {
        assert_eq!(
            join_relative("a/paths/login.yaml", "../components/x.yaml"),
            "a/components/x.yaml"
        );
        assert_eq!(
            join_relative("a/openapi.yaml", "./paths/login.yaml"),
            "a/paths/login.yaml"
        );
    }

    #[test]
    fn nullable_adds_null_to_type_and_enum() {
        let set = docs(&[(
            "d.yaml",
            "s:\n  type: string\n  nullable: true\n  enum: [a, b]\n  example: a\n  x-foo: 1\n",
        )]);
        let out =
            to_json_schema(&set, "d.yaml", set.get("d.yaml").unwrap().get("s").unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"type": ["string", "null"], "enum": ["a", "b", null]})
        );
    }

    #[test]
    fn refs_across_files_are_inlined_and_boolean_exclusive_bounds_converted() {
        let set = docs(&[
            ("root.yaml", "s:\n  $ref: 'sub/m.yaml#/m'\n"),
            (
                "sub/m.yaml",
                "m:\n  type: object\n  properties:\n    n:\n      type: number\n      minimum: 0\n      exclusiveMinimum: true\n",
            ),
        ]);
        let out = to_json_schema(
            &set,
            "root.yaml",
            set.get("root.yaml").unwrap().get("s").unwrap(),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 0}}})
        );
    }

    #[test]
    fn a_reference_cycle_is_an_error_not_a_stack_overflow() {
        let set = docs(&[("c.yaml", "a:\n  $ref: '#/b'\nb:\n  $ref: '#/a'\n")]);
        let err = to_json_schema(&set, "c.yaml", set.get("c.yaml").unwrap().get("a").unwrap());
        assert!(err.is_err());
    }
}

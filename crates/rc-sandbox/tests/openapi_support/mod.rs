//! The one strict OpenAPI 3.0 checker of the conformance tests (REST
//! responses and webhook bodies alike), against RingCentral's published
//! spec extract copied into `tests/rest_fixtures/`.
#![allow(dead_code)]

use std::collections::BTreeSet;

use serde_json::{Value, json};

const SPEC: &str = include_str!("../rest_fixtures/rc-public-openapi.relevant-extract.yaml");

/// The parsed spec extract.
pub fn spec() -> Value {
    serde_yaml_ng::from_str(SPEC).unwrap()
}

/// Every way `v` breaks the component schema `name`, strictly (empty = valid).
pub fn schema_errors(spec: &Value, name: &str, v: &Value) -> Vec<String> {
    let checker = Checker {
        root: spec,
        strict: true,
    };
    let mut errs = Vec::new();
    let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
    checker.check_owned(&schema, v, name, &mut errs);
    errs
}

/// Panics with the problems when `v` breaks the component schema `name`.
pub fn assert_valid(spec: &Value, name: &str, v: &Value) {
    let errs = schema_errors(spec, name, v);
    assert!(
        errs.is_empty(),
        "{name} invalid:\n{}\n{v:#}",
        errs.join("\n")
    );
}

/// A small OpenAPI 3.0 schema checker: `$ref`, `allOf`/`anyOf`/`oneOf`,
/// `type`, `enum`, `required`, `properties`, `items`, `minimum`/`maximum`,
/// `additionalProperties: false`, formats `date-time` and `uri`; in strict
/// mode an object key that no (merged) schema defines is an error unless
/// the schema allows additional properties.
pub struct Checker<'a> {
    /// The whole spec document (`$ref`s resolve against it).
    pub root: &'a Value,
    /// Reject object keys no schema defines.
    pub strict: bool,
}

impl<'a> Checker<'a> {
    fn resolve(&self, s: &'a Value) -> &'a Value {
        let mut s = s;
        while let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let mut node = self.root;
            for part in r.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            assert!(!node.is_null(), "unresolved {r}");
            s = node;
        }
        s
    }

    /// Property names an object schema defines, through `allOf` / `$ref`,
    /// and whether it allows extra keys.
    fn known_keys(&self, s: &'a Value, keys: &mut BTreeSet<String>) -> bool {
        let s = self.resolve(s);
        let mut open = s.get("additionalProperties") == Some(&Value::Bool(true));
        if let Some(p) = s.get("properties").and_then(Value::as_object) {
            keys.extend(p.keys().cloned());
        }
        for k in ["allOf", "anyOf", "oneOf"] {
            for sub in s.get(k).and_then(Value::as_array).into_iter().flatten() {
                open |= self.known_keys(sub, keys);
            }
        }
        open
    }

    /// Appends to `errs` every way `v` (at `path`) breaks schema `s`.
    pub fn check(&self, s: &'a Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let s = self.resolve(s);
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.check_shallow(sub, v, path, errs);
            }
        }
        for k in ["anyOf", "oneOf"] {
            if let Some(any) = s.get(k).and_then(Value::as_array) {
                let ok = any.iter().any(|sub| {
                    let mut e = Vec::new();
                    self.check(sub, v, path, &mut e);
                    e.is_empty()
                });
                if !ok {
                    errs.push(format!("{path}: matches no {k} branch"));
                }
            }
        }
        self.check_own(s, v, path, errs);
        if self.strict && v.is_object() {
            let mut keys = BTreeSet::new();
            let open = self.known_keys(s, &mut keys);
            if !open && !keys.is_empty() {
                for k in v.as_object().unwrap().keys() {
                    if !keys.contains(k) {
                        errs.push(format!("{path}.{k}: not defined by the schema"));
                    }
                }
            }
        }
    }

    /// `allOf` members are checked without the strict unknown-key test
    /// (keys may come from a sibling member; the parent checks them).
    fn check_shallow(&self, s: &'a Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let sub = Checker {
            root: self.root,
            strict: false,
        };
        sub.check(s, v, path, errs);
        if self.strict {
            // Still check nested values strictly.
            let s = self.resolve(s);
            if let (Some(props), Some(obj)) = (
                s.get("properties").and_then(Value::as_object),
                v.as_object(),
            ) {
                for (k, ps) in props {
                    if let Some(val) = obj.get(k) {
                        let mut nested = Vec::new();
                        self.check(ps, val, &format!("{path}.{k}"), &mut nested);
                        for e in nested {
                            if !errs.contains(&e) {
                                errs.push(e);
                            }
                        }
                    }
                }
            }
        }
    }

    fn check_own(&self, s: &'a Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        if let Some(t) = s.get("type").and_then(Value::as_str) {
            let ok = match t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "number" => v.is_number(),
                "boolean" => v.is_boolean(),
                _ => true,
            };
            if !ok {
                errs.push(format!("{path}: expected {t}, got {v}"));
                return;
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array)
            && !e.contains(v)
        {
            errs.push(format!("{path}: {v} not in enum"));
        }
        if let Some(n) = v.as_f64() {
            if s.get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n < m)
            {
                errs.push(format!("{path}: {n} below minimum"));
            }
            if s.get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m)
            {
                errs.push(format!("{path}: {n} above maximum"));
            }
        }
        if let (Some(f), Some(text)) = (s.get("format").and_then(Value::as_str), v.as_str()) {
            match f {
                "date-time" if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                    errs.push(format!("{path}: {text} is not a date-time"))
                }
                "uri" if url::Url::parse(text).is_err() => {
                    errs.push(format!("{path}: {text} is not a uri"))
                }
                _ => {}
            }
        }
        if let Some(obj) = v.as_object() {
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    errs.push(format!("{path}: missing required {r}"));
                }
            }
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, ps) in props {
                    if let Some(val) = obj.get(k) {
                        self.check(ps, val, &format!("{path}.{k}"), errs);
                    }
                }
                if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                    for k in obj.keys() {
                        if !props.contains_key(k) {
                            errs.push(format!("{path}.{k}: additional property"));
                        }
                    }
                }
            }
        }
        if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
            for (i, item) in arr.iter().enumerate() {
                self.check(items, item, &format!("{path}[{i}]"), errs);
            }
        }
    }
}

/// The schema of `method path` answering `status` with `media`.
pub fn response_schema<'a>(
    spec: &'a Value,
    path: &str,
    method: &str,
    status: &str,
    media: &str,
) -> &'a Value {
    let mut resp = &spec["paths"][path][method]["responses"][status];
    assert!(!resp.is_null(), "{method} {path} has no {status}");
    if let Some(r) = resp.get("$ref").and_then(Value::as_str) {
        resp = &spec["components"]["responses"][r.rsplit('/').next().unwrap()];
    }
    let s = &resp["content"][media]["schema"];
    assert!(
        !s.is_null(),
        "{method} {path} {status} has no {media} schema"
    );
    s
}

impl Checker<'_> {
    /// [`Checker::check`] for a schema value that does not live in the spec
    /// (e.g. a `$ref` built on the spot).
    fn check_owned(&self, s: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let resolved = s
            .get("$ref")
            .and_then(Value::as_str)
            .map(|r| {
                let mut node = self.root;
                for part in r.trim_start_matches("#/").split('/') {
                    node = &node[part];
                }
                assert!(!node.is_null(), "unresolved {r}");
                node
            })
            .expect("a $ref");
        self.check(resolved, v, path, errs);
    }
}

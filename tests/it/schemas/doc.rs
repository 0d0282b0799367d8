//! The OpenAPI document and JSON Schema checks against its parts.

use serde_json::{json, Value};

/// The OpenAPI document, and schema checks against its parts.
pub struct Doc(Value);

impl Doc {
    pub fn load() -> Doc {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
        Doc(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    /// Where `pointer` (a JSON pointer into the document) leads.
    pub fn at(&self, pointer: &str) -> &Value {
        self.0
            .pointer(pointer)
            .unwrap_or_else(|| panic!("nothing at {pointer} in docs/openapi.json"))
    }

    /// Checks `instance` against the schema at `pointer`; its `$ref`s resolve in the
    /// whole document. Returns the errors, one line each.
    pub fn errors(&self, pointer: &str, instance: &Value) -> Vec<String> {
        let mut root = self.0.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        // A URI fragment: the braces of path templates are percent-encoded.
        root["$ref"] = json!(format!("#{}", fragment(pointer)));
        let validator = jsonschema::draft202012::new(&root)
            .unwrap_or_else(|e| panic!("the schema at {pointer} does not compile: {e}"));
        validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// A response or request object, through its `$ref` if it is one: (its pointer, it).
    fn follow(&self, pointer: String) -> (String, &Value) {
        match self.at(&pointer)["$ref"].as_str() {
            Some(target) => {
                let target = target.trim_start_matches('#').to_owned();
                let value = self.at(&target);
                (target, value)
            }
            None => {
                let value = self.at(&pointer);
                (pointer, value)
            }
        }
    }

    /// Pointer to an operation: `/paths/<escaped template>/<method>`.
    fn operation(template: &str, method: &str) -> String {
        let escaped = template.replace('~', "~0").replace('/', "~1");
        format!("/paths/{escaped}/{}", method.to_lowercase())
    }

    /// Checks one answer: its status is documented for the operation, and a JSON body
    /// validates against that status's schema (a status without JSON content has none).
    pub fn check_response(&self, method: &str, template: &str, status: u16, body: &Value) {
        let op = Doc::operation(template, method);
        let responses = format!("{op}/responses");
        let documented = self.at(&responses);
        assert!(
            documented.get(status.to_string()).is_some(),
            "{method} {template} answered {status}, which docs/openapi.json does not list: {body}"
        );
        let (pointer, response) = self.follow(format!("{responses}/{status}"));
        if response["content"].get("application/json").is_none() {
            assert!(
                body.is_null(),
                "{method} {template} {status}: a body where the document has none: {body}"
            );
            return;
        }
        let schema = format!("{pointer}/content/application~1json/schema");
        let what = format!("{method} {template} {status} does not match its schema");
        self.assert_valid(&schema, body, &what);
    }

    /// Checks a request body against the operation's request schema.
    pub fn check_request(&self, method: &str, template: &str, body: &Value) {
        let op = Doc::operation(template, method);
        let (pointer, _) = self.follow(format!("{op}/requestBody"));
        let schema = format!("{pointer}/content/application~1json/schema");
        let what =
            format!("the test's own {method} {template} body is not what the document describes");
        self.assert_valid(&schema, body, &what);
    }

    /// Fails with `what`, the errors and the instance unless `instance` matches the
    /// schema at `schema`.
    pub fn assert_valid(&self, schema: &str, instance: &Value, what: &str) {
        let errors = self.errors(schema, instance);
        assert!(
            errors.is_empty(),
            "{what}:\n{}\n{instance:#}",
            errors.join("\n")
        );
    }

    /// Every `example` and `examples` value under a media type, with its schema: the
    /// document's own examples must be true to it.
    pub fn examples(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        collect_examples(&self.0, String::new(), &mut out);
        out
    }
}

/// A JSON pointer as a URI fragment: what a fragment may not hold percent-encoded (the
/// braces of path templates, the spaces of media-type parameters).
fn fragment(pointer: &str) -> String {
    let mut out = String::new();
    for c in pointer.chars() {
        if c.is_ascii_alphanumeric() || "-._~/!$&'()*+,;=:@".contains(c) {
            out.push(c);
        } else {
            let mut bytes = [0; 4];
            for b in c.encode_utf8(&mut bytes).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn collect_examples(node: &Value, pointer: String, out: &mut Vec<(String, Value)>) {
    let Some(map) = node.as_object() else { return };
    if map.contains_key("schema") {
        let schema = format!("{pointer}/schema");
        if let Some(example) = map.get("example") {
            out.push((schema.clone(), example.clone()));
        }
        for example in map
            .get("examples")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(value) = example.1.get("value") {
                out.push((schema.clone(), value.clone()));
            }
        }
    }
    for (key, child) in map {
        let escaped = key.replace('~', "~0").replace('/', "~1");
        collect_examples(child, format!("{pointer}/{escaped}"), out);
    }
}

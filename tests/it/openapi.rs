//! `docs/openapi.json` and the admin API's router name the same paths and methods, both
//! ways: a route the document lacks, or a documented path no route serves, fails here.

use std::collections::BTreeSet;

/// (method, path) of every route in `src/api/`, paths as OpenAPI writes them.
fn routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for (start, _) in text.match_indices(".route(") {
            // The whole call, however rustfmt wrapped it: up to its closing parenthesis.
            let mut depth = 0;
            let call: String = text[start + 6..]
                .chars()
                .take_while(|c| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth > 0
                })
                .collect();
            let Some((path, rest)) = call.split_once('"').and_then(|(_, r)| r.split_once('"'))
            else {
                continue;
            };
            let path = path
                .split('/')
                .map(|s| match s.strip_prefix(':') {
                    Some(name) => format!("{{{name}}}"),
                    None => s.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("/");
            let full = if path == "/metrics" {
                path
            } else {
                format!("/api/v1{path}")
            };
            for method in ["get", "post", "patch", "delete", "put"] {
                if rest.contains(&format!("{method}(")) {
                    out.insert((method.to_owned(), full.clone()));
                }
            }
        }
    }
    out
}

fn documented() -> BTreeSet<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "delete", "put"] {
            if item.get(method).is_some() {
                out.insert((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_and_the_router_name_the_same_routes() {
    let (routes, documented) = (routes(), documented());
    assert!(
        routes.len() >= 12,
        "the route reader found too few: {routes:?}"
    );
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "routes not in docs/openapi.json: {undocumented:?}\ndocumented but not routed: {unserved:?}"
    );
}

//! The floors of the house (see `src/lib.rs`): a module may import its own floor or a
//! lower one, never a higher one, and no modules import each other in a circle: neither
//! the top-level modules, nor the files of one folder (a file may import its own
//! folder's `mod.rs`). Read from `src/` as text, so that the next change cannot undo it
//! without this test naming the line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every top-level module and its floor. A new module needs a line here (and in
/// `lib.rs`'s map).
const FLOORS: &[(&str, u8)] = &[
    // 1: vocabulary and leaves
    ("protocol", 1),
    ("mqtt", 1),
    ("model", 1),
    ("config", 1),
    ("shutdown", 1),
    ("metrics", 1),
    ("timezone", 1),
    ("host", 1),
    ("process", 1),
    ("logging", 1),
    // 2: infrastructure with state
    ("datadir", 2),
    ("registry", 2),
    ("store", 2),
    ("broker", 2),
    // 3: what joins the two halves of the device road
    ("hub", 3),
    // 4: the two halves, which never import each other (see below)
    ("gate", 4),
    ("engine", 4),
    // 5: the faces
    ("api", 5),
    ("homeassistant", 5),
    ("cloud", 5),
    ("notify", 5),
    ("mdns", 5),
    ("firmware", 5),
    // 6: wiring and tools
    ("daemon", 6),
    ("cli", 6),
    ("client", 6),
    ("backup", 6),
    ("pair", 6),
    ("sim", 6),
];

/// Modules of one floor that must not import each other at all.
const APART: &[(&str, &str)] = &[("gate", "engine"), ("engine", "gate")];

fn floor(module: &str) -> Option<u8> {
    FLOORS.iter().find(|(m, _)| *m == module).map(|(_, f)| *f)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of a file that are code outside its tests, numbered from 1.
fn code_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
        if trimmed.starts_with("#[cfg(test)]") && next.starts_with("mod ") {
            break; // the tests of a module come last and may use anything
        }
        if !trimmed.starts_with("//") {
            out.push((i + 1, *line));
        }
    }
    out
}

/// The first segments of the paths after each `prefix` (`crate::a::b`, `crate::{a, b}`).
fn heads_after<'a>(line: &'a str, prefix: &str) -> Vec<&'a str> {
    let ident = |s: &'a str| -> &'a str {
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    };
    let mut out = Vec::new();
    for (at, _) in line.match_indices(prefix) {
        let rest = &line[at + prefix.len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let inner = list.split('}').next().unwrap_or_default();
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(inner[start..i].trim()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            out.push(ident(inner[start..].trim()));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|h| !h.is_empty());
    out
}

/// The strongly connected groups of more than one node.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = edges.keys().collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        let group: Vec<String> = nodes
            .iter()
            .filter(|m| reaches[*n].contains(**m) && reaches[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        if group.len() > 1 && !found.contains(&group) {
            found.push(group);
        }
    }
    found
}

#[test]
fn no_module_imports_one_above_it_and_none_import_each_other_in_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    let mut top_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut file_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let parts: Vec<&str> = rel.split('/').collect();
        let top = parts[0].trim_end_matches(".rs");
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = floor(top) else {
            problems.push(format!(
                "{rel}: module `{top}` has no floor in tests/it/layers.rs"
            ));
            continue;
        };
        let folder = parts[..parts.len() - 1].join("/");
        let me = parts[parts.len() - 1].trim_end_matches(".rs");
        let siblings: BTreeSet<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let module = name.trim_end_matches(".rs").to_owned();
                (module != "mod" && module != me && (e.path().is_dir() || name.ends_with(".rs")))
                    .then_some(module)
            })
            .collect();
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in code_lines(&text) {
            for head in heads_after(line, "crate::") {
                if head == top {
                    continue;
                }
                match floor(head) {
                    Some(theirs) if theirs > own => problems.push(format!(
                        "{rel}:{n}: `{top}` (floor {own}) imports `{head}` (floor {theirs}): {}",
                        line.trim()
                    )),
                    _ if APART.contains(&(top, head)) => problems.push(format!(
                        "{rel}:{n}: `{top}` imports `{head}`, which it must stay apart from: {}",
                        line.trim()
                    )),
                    _ => {}
                }
                if floor(head).is_some() {
                    top_edges
                        .entry(top.to_owned())
                        .or_default()
                        .insert(head.to_owned());
                }
            }
            // Files of one folder importing each other (not their own mod.rs).
            if me != "mod" && !folder.is_empty() {
                let own_path = format!("crate::{}::", folder.replace('/', "::"));
                let heads = heads_after(line, "super::")
                    .into_iter()
                    .chain(heads_after(line, &own_path));
                for head in heads {
                    if siblings.contains(head) {
                        file_edges
                            .entry(format!("{folder}/{me}"))
                            .or_default()
                            .insert(format!("{folder}/{head}"));
                    }
                }
            }
        }
    }
    for group in circles(&top_edges) {
        problems.push(format!(
            "modules import each other in a circle: {}",
            group.join(" -> ")
        ));
    }
    for group in circles(&file_edges) {
        problems.push(format!(
            "files of one folder import each other in a circle: {}",
            group.join(" -> ")
        ));
    }
    assert!(
        problems.is_empty(),
        "the floors are broken:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_reader_finds_imports_in_every_form() {
    assert_eq!(
        heads_after("use crate::gate::Upstream;", "crate::"),
        ["gate"]
    );
    assert_eq!(
        heads_after("use crate::{broker, store::{Store, Sink}};", "crate::"),
        ["broker", "store"]
    );
    assert_eq!(
        heads_after("x(crate::metrics::inc(&c))", "crate::"),
        ["metrics"]
    );
    let mut e: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    e.entry("a".into()).or_default().insert("b".into());
    e.entry("b".into()).or_default().insert("c".into());
    assert!(circles(&e).is_empty());
    e.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        circles(&e),
        vec![vec!["a".to_owned(), "b".into(), "c".into()]]
    );
}

//! The layout stays easy to see: the engine depends on no web stack and no command line (so the
//! compiler keeps them out of it), no import cycle between the modules of the engine or of the
//! `trove` binary, and no source file over 500 lines unless its opening comment says why
//! (`Long file: …`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LONG: usize = 500;

/// Crates the engine must never depend on: the web stack, the UI and the command line.
const FORBIDDEN: [&str; 9] = [
    "axum",
    "leptos",
    "leptos_axum",
    "leptos_meta",
    "leptos_router",
    "clap",
    "app",
    "tower",
    "hyper",
];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("lists") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests { … }` tail
/// (tests may reach anywhere; the layering is about what the product code needs).
fn product_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("reads");
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names `prefix` is followed by in `code`: `crate::a::…` gives `a`, and
/// `crate::{a::x, b}` gives `a` and `b`.
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        rest = after;
    }
    out
}

/// The modules directly in `dir` (files and folders), each with the files it is made of.
fn modules(dir: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("lists") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            out.insert(name, rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs")
            && !["lib", "main", "mod"].contains(&name.as_str())
        {
            out.insert(name, vec![path]);
        }
    }
    out
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|n| n == node) {
            let mut found = path[i..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// Checks the modules directly in `dir` for a cycle; `prefix` is how they name each other
/// (`crate::` at a crate's root, `super::` inside a folder module).
fn assert_no_cycle(dir: &Path, prefix: &str) {
    let modules = modules(dir);
    let graph: BTreeMap<String, BTreeSet<String>> = modules
        .iter()
        .map(|(name, files)| {
            let uses = files
                .iter()
                .flat_map(|f| referenced(&product_code(f), prefix))
                .filter(|m| m != name && modules.contains_key(m))
                .collect();
            (name.clone(), uses)
        })
        .collect();
    if let Some(found) = cycle(&graph) {
        panic!(
            "an import cycle among the modules of {}: {}",
            dir.display(),
            found.join(" → ")
        );
    }
}

fn source_dirs() -> Vec<PathBuf> {
    let root = manifest();
    vec![root.join("src"), root.join("../src")]
}

#[test]
fn no_module_imports_itself_through_others() {
    for src in source_dirs() {
        assert_no_cycle(&src, "crate::");
        for (name, _) in modules(&src) {
            let folder = src.join(&name);
            if folder.is_dir() {
                assert_no_cycle(&folder, "super::");
            }
        }
    }
}

#[test]
fn long_files_say_why() {
    let root = manifest();
    let mut dirs = source_dirs();
    dirs.extend([
        root.join("tests"),
        root.join("../tests"),
        root.join("../benches"),
    ]);
    let mut unexplained = Vec::new();
    for file in dirs.iter().flat_map(|d| rust_files(d)) {
        let text = std::fs::read_to_string(&file).expect("reads");
        let lines = text.lines().count();
        let explained = text.lines().take(40).any(|l| l.contains("Long file:"));
        if lines > LONG && !explained {
            unexplained.push(format!("{} ({lines} lines)", file.display()));
        }
    }
    assert!(
        unexplained.is_empty(),
        "files over {LONG} lines without a `Long file:` reason at the top: {unexplained:#?}"
    );
}

#[test]
fn the_engine_depends_on_no_web_stack_and_no_command_line() {
    let manifest = std::fs::read_to_string(manifest().join("Cargo.toml")).expect("reads");
    let mut section = "";
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let name = line.split(['=', ' ', '.']).next().unwrap_or_default();
        assert!(
            !(section.contains("dependencies") && FORBIDDEN.contains(&name)),
            "trove-engine must not depend on {name} ({section})"
        );
    }
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(
        cycle(&graph).map(|c| c.join(" ")),
        Some("a b c a".to_owned())
    );
    assert_eq!(
        referenced(
            "use crate::{catalog::X, media};\nuse crate::search::Hit;",
            "crate::"
        ),
        ["catalog", "media", "search"]
            .into_iter()
            .map(str::to_owned)
            .collect()
    );
}

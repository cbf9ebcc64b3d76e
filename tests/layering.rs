//! Imports point one way: the top-level modules of a crate's `src/` never import each other in a
//! circle (a circle means a step of the flow has no home yet; see ARCHITECTURE.md).
//!
//! The check reads the sources: every `crate::X` path (in `use` lines and in code, including
//! `use crate::{a, b::c}` groups), every `super::` path that climbs to the crate root, and
//! names the root re-exports (`pub use x::Item;` in `lib.rs`, used as `crate::Item`) by the
//! module they come from. Comments and string literals are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// One import from a module to another: where it was first seen (`src/a.rs:12`).
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn leadsync_has_no_import_circles() {
    assert_no_circles("src");
}

#[test]
fn connector_core_has_no_import_circles() {
    assert_no_circles("connectors/core/src");
}

#[test]
fn spreadsheet_connector_has_no_import_circles() {
    assert_no_circles("connectors/spreadsheet/src");
}

#[test]
fn hubspot_connector_has_no_import_circles() {
    assert_no_circles("connectors/hubspot/src");
}

#[test]
fn pacing_has_no_import_circles() {
    assert_no_circles("connectors/pacing/src");
}

#[test]
fn the_fake_hubspot_has_no_import_circles() {
    assert_no_circles("fakes/hubspot/src");
}

#[test]
fn the_fakes_shared_support_has_no_import_circles() {
    assert_no_circles("fakes/support/src");
}

#[test]
fn salesforce_connector_has_no_import_circles() {
    assert_no_circles("connectors/salesforce/src");
}

#[test]
fn the_fake_salesforce_has_no_import_circles() {
    assert_no_circles("fakes/salesforce/src");
}

/// Fails naming every circle among the top-level modules of `src` (relative to the workspace
/// root), each with the file and line of every import along it.
fn assert_no_circles(src: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let graph = module_graph(&src);
    assert!(
        graph.len() > 1,
        "{}: found no modules to check; is the path right?",
        src.display()
    );
    let circles = circles(&graph);
    let described: Vec<String> = circles.iter().map(|c| describe(&graph, c)).collect();
    assert!(
        described.is_empty(),
        "{}: {} import circle(s) among its top-level modules; move the shared type or function \
         down to the lower module:\n{}",
        src.display(),
        described.len(),
        described.join("\n")
    );
}

/// `a → b (src/a.rs:3) → a (src/b.rs:9)`.
fn describe(graph: &Graph, circle: &[String]) -> String {
    let mut out = format!("  {}", circle[0]);
    for (i, from) in circle.iter().enumerate() {
        let to = &circle[(i + 1) % circle.len()];
        out.push_str(&format!(" → {to} ({})", graph[from][to]));
    }
    out
}

/// The top-level modules of `src` and which of them each one imports.
fn module_graph(src: &Path) -> Graph {
    let mut modules = BTreeSet::new();
    for entry in fs::read_dir(src).unwrap_or_else(|e| panic!("{}: {e}", src.display())) {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() || (path.extension().is_some_and(|e| e == "rs") && !is_root(&name)) {
            modules.insert(name);
        }
    }
    let mut reexports = BTreeMap::new();
    for root in ["lib.rs", "main.rs"] {
        if let Ok(text) = fs::read_to_string(src.join(root)) {
            root_reexports(&tokens(&text), &modules, &mut reexports);
        }
    }
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for file in rust_files(src) {
        let rel = file.strip_prefix(src).unwrap();
        let path = module_path(rel);
        let Some(own) = path.first().cloned() else {
            continue; // lib.rs, main.rs: the root declares the modules, it is no layer
        };
        let text = fs::read_to_string(&file).unwrap();
        let shown = Path::new(src.file_name().unwrap()).join(rel);
        for (target, line) in crate_imports(&tokens(&text), &path) {
            let target = reexports.get(&target).unwrap_or(&target);
            if *target != own && modules.contains(target) {
                graph
                    .get_mut(&own)
                    .unwrap()
                    .entry(target.clone())
                    .or_insert_with(|| format!("{}:{line}", shown.display()));
            }
        }
    }
    graph
}

fn is_root(stem: &str) -> bool {
    stem == "lib" || stem == "main"
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `resolve/phone/mod.rs` → `[resolve, phone]`; `lib.rs` → `[]`.
fn module_path(rel: &Path) -> Vec<String> {
    let mut path: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if path.last().is_some_and(|l| l == "mod") || (path.len() == 1 && is_root(&path[0])) {
        path.pop();
    }
    path
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Path, // `::`
    Punct(char),
}

/// The source as identifiers, `::` and punctuation, each with its line; comments, strings and
/// character literals left out.
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                loop {
                    if at(i) == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if at(i) == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else if i >= chars.len() {
                        break;
                    } else {
                        line += usize::from(chars[i] == '\n');
                        i += 1;
                    }
                }
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    line += usize::from(chars[i] == '\n');
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            'r' if at(i + 1) == '#' || at(i + 1) == '"' => {
                let mut hashes = 0;
                let mut j = i + 1;
                while at(j) == '#' {
                    hashes += 1;
                    j += 1;
                }
                if at(j) != '"' {
                    out.push((Tok::Ident("r".into()), line)); // `r#ident` or plain `r`
                    i += 1;
                    continue;
                }
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let rest: String = chars[j + 1..].iter().collect();
                let end = rest.find(&close).map_or(rest.len(), |e| e + close.len());
                line += rest[..end].matches('\n').count();
                i = j + 1 + rest[..end].chars().count();
            }
            '\'' if at(i + 1) == '\\' => {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            }
            '\'' if at(i + 2) == '\'' => i += 3,
            ':' if at(i + 1) == ':' => {
                out.push((Tok::Path, line));
                i += 2;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // A byte string `b"…"` is a string: its `b` is no identifier.
                if !(word == "b" && at(i) == '"') {
                    out.push((Tok::Ident(word), line));
                }
            }
            c if c.is_whitespace() => i += 1,
            c => {
                out.push((Tok::Punct(c), line));
                i += 1;
            }
        }
    }
    out
}

fn ident(toks: &[(Tok, usize)], i: usize) -> Option<&str> {
    match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

fn is(toks: &[(Tok, usize)], i: usize, t: &Tok) -> bool {
    toks.get(i).is_some_and(|(x, _)| x == t)
}

/// The first segment after each path that reaches the crate root (`crate::x`, `crate::{x, y}`,
/// enough `super::`s), with its line. `path` is the file's module path; inline `mod m { … }`
/// blocks deepen it.
fn crate_imports(toks: &[(Tok, usize)], path: &[String]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let mut depth = path.len();
    // Brace depths at which an inline module opened.
    let mut inline: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Punct('{') => {
                braces += 1;
                if i >= 2 && ident(toks, i - 2) == Some("mod") && ident(toks, i - 1).is_some() {
                    inline.push(braces);
                    depth += 1;
                }
            }
            Tok::Punct('}') => {
                if inline.last() == Some(&braces) {
                    inline.pop();
                    depth -= 1;
                }
                braces = braces.saturating_sub(1);
            }
            Tok::Ident(word) if i == 0 || !is(toks, i - 1, &Tok::Path) => {
                // The start of a path: does it climb to the root?
                let mut j = i;
                let at_root = if word == "crate" {
                    j += 1;
                    true
                } else if word == "super" {
                    let mut ups = 0;
                    while ident(toks, j) == Some("super") && is(toks, j + 1, &Tok::Path) {
                        ups += 1;
                        j += 2;
                    }
                    j = j.saturating_sub(1); // back onto the last `::`
                    ups > 0 && ups >= depth
                } else {
                    false
                };
                if at_root && is(toks, j, &Tok::Path) {
                    found.extend(first_segments(toks, j + 1));
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The first segment of each path at `toks[i]`: one identifier, or each item of a `{…}` group.
fn first_segments(toks: &[(Tok, usize)], i: usize) -> Vec<(String, usize)> {
    if let Some(name) = ident(toks, i) {
        return vec![(name.to_string(), toks[i].1)];
    }
    let mut out = Vec::new();
    if !is(toks, i, &Tok::Punct('{')) {
        return out;
    }
    let mut level = 0;
    let mut item_start = true;
    for (t, line) in &toks[i..] {
        match t {
            Tok::Punct('{') => {
                level += 1;
                item_start = level == 1;
                continue;
            }
            Tok::Punct('}') => {
                level -= 1;
                if level == 0 {
                    break;
                }
            }
            Tok::Punct(',') if level == 1 => {
                item_start = true;
                continue;
            }
            Tok::Ident(name) if item_start && level == 1 && name != "self" => {
                out.push((name.clone(), *line));
            }
            _ => {}
        }
        item_start = false;
    }
    out
}

/// `pub use x::{A, B as C};` in the crate root: `A`, `C` → `x`.
fn root_reexports(
    toks: &[(Tok, usize)],
    modules: &BTreeSet<String>,
    out: &mut BTreeMap<String, String>,
) {
    for (i, (t, _)) in toks.iter().enumerate() {
        if *t != Tok::Ident("use".into()) {
            continue;
        }
        let mut j = i + 1;
        if matches!(ident(toks, j), Some("crate" | "self")) && is(toks, j + 1, &Tok::Path) {
            j += 2;
        }
        let Some(module) = ident(toks, j).filter(|m| modules.contains(*m)) else {
            continue;
        };
        // Every name the statement brings in: the last identifier before `,`, `}` or `;`.
        let mut last = None;
        for (t, _) in &toks[j + 1..] {
            match t {
                Tok::Ident(name) => last = Some(name.clone()),
                Tok::Punct(',' | '}' | ';') => {
                    if let Some(name) = last.take().filter(|n| n != "self") {
                        out.insert(name, module.to_string());
                    }
                    if *t == Tok::Punct(';') {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
}

/// One circle through each group of modules that reach each other (Tarjan's strongly connected
/// components of more than one module), as the modules in order along it.
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        groups: Vec<BTreeSet<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].keys() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.insert(w);
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                s.groups.push(group);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    // The shortest circle through each module of each group, each circle once (rotated to
    // start at its first module in name order).
    let mut found = BTreeSet::new();
    for group in &s.groups {
        for start in group {
            let mut circle = shortest_circle(graph, group, start);
            let first = (0..circle.len()).min_by_key(|&i| &circle[i]).unwrap();
            circle.rotate_left(first);
            found.insert(circle);
        }
    }
    found.into_iter().collect()
}

/// The shortest circle through `start`, staying inside its group.
fn shortest_circle(graph: &Graph, group: &BTreeSet<&str>, start: &str) -> Vec<String> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().map(String::as_str) {
            if w == start {
                let mut circle = vec![v.to_string()];
                let mut at = v;
                while at != start {
                    at = came_from[at];
                    circle.push(at.to_string());
                }
                circle.reverse();
                return circle;
            }
            if group.contains(w) && !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    unreachable!("a strongly connected group has a circle through each of its modules")
}

// The checker itself, on small made-up crates: it must see every way one module names another.

fn fake_crate(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn circles_of(files: &[(&str, &str)]) -> Vec<Vec<String>> {
    let dir = fake_crate(files);
    circles(&module_graph(dir.path()))
}

#[test]
fn the_check_sees_crate_paths_groups_super_paths_and_root_reexports() {
    let lib = "mod a; mod b; mod c;\npub use c::{Thing, other::Other as Renamed};\n";
    // GIVEN a → b by a plain `use`; WHEN b names a in any of these ways THEN it is a circle.
    let ways = [
        "use crate::{x::Y, a::{self, Z}};",
        "fn f() { let _ = crate::a::f(); }",
        "pub(crate) use crate::a;",
        "mod inner { use super::super::super::a::Z; }",
    ];
    for way in ways {
        let found = circles_of(&[
            ("lib.rs", lib),
            ("a.rs", "use crate::b::B;"),
            ("b/mod.rs", "mod leaf;"),
            ("b/leaf.rs", way),
        ]);
        assert_eq!(found, vec![vec!["a".to_string(), "b".into()]], "{way}");
    }
    // A re-export at the root is charged to the module it comes from.
    let found = circles_of(&[
        ("lib.rs", lib),
        ("a.rs", "use crate::Renamed;"),
        ("b.rs", ""),
        ("c/mod.rs", "use crate::{a::f};"),
    ]);
    assert_eq!(found, vec![vec!["a".to_string(), "c".into()]]);
    // A longer circle is named in order, with where each import is.
    let dir = fake_crate(&[
        ("lib.rs", lib),
        ("a.rs", "use crate::b;"),
        ("b.rs", "\n\nuse crate::c;"),
        ("c.rs", "fn f() { crate::a::g() }"),
    ]);
    let graph = module_graph(dir.path());
    let found = circles(&graph);
    assert_eq!(found, vec![vec!["a".to_string(), "b".into(), "c".into()]]);
    let text = describe(&graph, &found[0]);
    let name = dir.path().file_name().unwrap().to_string_lossy();
    assert_eq!(
        text,
        format!("  a → b ({name}/a.rs:1) → c ({name}/b.rs:3) → a ({name}/c.rs:1)")
    );
}

#[test]
fn the_check_ignores_comments_strings_paths_inside_a_module_and_one_way_imports() {
    let found = circles_of(&[
        ("lib.rs", "mod a; mod b;"),
        ("a.rs", "use crate::b::B;"),
        (
            "b/mod.rs",
            "mod leaf;\n// crate::a\n/* crate::a /* nested */ crate::a */\n/// [`crate::a`]\n\
             const S: &str = \"crate::a\"; const R: &str = r#\"crate::{a}\"#;\n\
             const C: char = '\\''; fn f<'a>(x: &'a str) {}\nuse super::leaf::X;",
        ),
        (
            "b/leaf.rs",
            "use super::X; use crate::b::Y; use self::z::a;",
        ),
    ]);
    assert!(found.is_empty(), "{found:?}");
}

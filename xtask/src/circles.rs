//! `cargo xtask circles`: fails when modules of a crate import each other in
//! a circle.
//!
//! Layering is the map a newcomer reads: a module may use what is below it,
//! never what uses it. rustc accepts circles between the modules of a crate,
//! so this check keeps them out: each module's own code (a file, or an inline
//! `mod` block; a folder's `mod.rs` is its parent's own code, not its
//! children's) is a node, with an edge for every path it names into another
//! (`use`, a path in code, a path inside a macro's tokens), re-exports
//! followed to where the item is defined; a strongly connected set of two or
//! more is a circle. Test code (`#[cfg(test)]`) is left out: a test may
//! reach anywhere. (`cargo modules dependencies --acyclic` does a full
//! semantic version of this, but builds rust-analyzer: minutes of CI for a
//! question this syntax answers.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use syn::visit::Visit;

/// The crates whose modules are checked, from the workspace root: each
/// `src/lib.rs` and `src/main.rs` found under them is a root.
const CRATES: &[&str] = &[
    "crates/fal-kontext-api",
    "crates/fal-kontext",
    "crates/fal-kontext-cli",
    "crates/fal-emulator",
    "tests",
    "xtask",
];

/// A module's path from its crate root: `[]` is the root, `["retry", "limits"]`
/// is `crate::retry::limits`.
type ModPath = Vec<String>;

/// `cargo xtask circles`.
#[derive(clap::Args)]
pub struct CirclesArgs {
    /// The workspace to check (default: this one).
    #[arg(long)]
    workspace: Option<std::path::PathBuf>,
}

/// Runs the check over the workspace; prints each circle and fails if any.
pub fn run(args: &CirclesArgs) -> Result<()> {
    let root = match &args.workspace {
        Some(root) => root.as_path(),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("the workspace root")?,
    };
    let mut count = 0;
    for krate in CRATES {
        for file in ["src/lib.rs", "src/main.rs"] {
            let path = root.join(krate).join(file);
            if !path.exists() {
                continue;
            }
            for circle in ModuleTree::read(&path)?.circles() {
                count += 1;
                println!("{krate}/{file}: {circle}");
                for edge in &circle.edges {
                    println!("    {edge}");
                }
            }
        }
    }
    if count == 0 {
        println!("no module imports in a circle ({} crates)", CRATES.len());
        return Ok(());
    }
    bail!("{count} import circle(s) between modules: each edge above is one path to change")
}

/// Every module of one crate root, with the paths its own code names.
#[derive(Default)]
pub struct ModuleTree {
    /// Each module, with the paths its own code names, as written
    /// (`crate::a::B`, `super::c`, `config::Settings`).
    uses: BTreeMap<ModPath, BTreeSet<Vec<String>>>,
    /// Re-exports (`pub use`, `pub(crate) use`): (module, name) → the path it points at, as
    /// written. A re-export is a module's facade, not a use by its code.
    reexports: BTreeMap<(ModPath, String), Vec<String>>,
}

impl ModuleTree {
    /// Reads the module tree whose root file is `root` (`lib.rs` or `main.rs`).
    pub fn read(root: &Path) -> Result<Self> {
        let mut tree = Self::default();
        let dir = root.parent().context("the root's folder")?.to_path_buf();
        tree.read_file(root, Vec::new(), &dir)?;
        Ok(tree)
    }

    fn read_file(&mut self, file: &Path, module: ModPath, children_dir: &Path) -> Result<()> {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let parsed =
            syn::parse_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        self.read_items(&parsed.items, module, children_dir)
    }

    fn read_items(
        &mut self,
        items: &[syn::Item],
        module: ModPath,
        children_dir: &Path,
    ) -> Result<()> {
        self.uses.entry(module.clone()).or_default();
        for item in items {
            if is_test_only(item) {
                continue;
            }
            match item {
                syn::Item::Mod(declared) => {
                    let name = declared.ident.to_string();
                    let mut child = module.clone();
                    child.push(name.clone());
                    let child_dir = children_dir.join(&name);
                    match &declared.content {
                        Some((_, inner)) => self.read_items(inner, child, &child_dir)?,
                        None => {
                            let flat = children_dir.join(format!("{name}.rs"));
                            let file = if flat.exists() {
                                flat
                            } else {
                                child_dir.join("mod.rs")
                            };
                            self.read_file(&file, child, &child_dir)?;
                        }
                    }
                }
                syn::Item::Use(used) if !matches!(used.vis, syn::Visibility::Inherited) => {
                    for (name, path) in use_paths(&used.tree) {
                        self.reexports.insert((module.clone(), name), path);
                    }
                }
                other => {
                    let mut collector = PathCollector::default();
                    collector.visit_item(other);
                    let uses = self.uses.entry(module.clone()).or_default();
                    uses.extend(collector.found);
                }
            }
        }
        Ok(())
    }

    /// A path written in `module`, made absolute, if it names something of
    /// this crate: it starts with `crate`, `self` or `super`, or with a child
    /// module of `module` (a relative path). Anything else is another crate's.
    fn absolute(&self, module: &ModPath, written: &[String]) -> Option<Vec<String>> {
        let first = written.first()?;
        let (mut base, rest) = match first.as_str() {
            "crate" | "$crate" => (Vec::new(), &written[1..]),
            "self" => (module.clone(), &written[1..]),
            "super" => (
                module[..module.len().checked_sub(1)?].to_vec(),
                &written[1..],
            ),
            child => {
                let mut relative = module.clone();
                relative.push(child.to_string());
                if !self.uses.contains_key(&relative) {
                    return None;
                }
                (module.clone(), written)
            }
        };
        let mut rest = rest.iter().peekable();
        while rest
            .next_if(|segment| segment.as_str() == "super")
            .is_some()
        {
            base.pop();
        }
        base.extend(rest.cloned());
        Some(base)
    }

    /// The module that defines what an absolute path names (a module, or an
    /// item of one), following re-exports.
    fn defining_module(&self, path: &[String]) -> ModPath {
        let mut path = path.to_vec();
        let mut module = Vec::new();
        // Re-export chains are short; the bound ends a circle of them.
        for _ in 0..8 {
            module = Vec::new();
            let mut depth = 0;
            while let Some(segment) = path.get(depth) {
                let mut deeper = module.clone();
                deeper.push(segment.clone());
                if !self.uses.contains_key(&deeper) {
                    break;
                }
                module = deeper;
                depth += 1;
            }
            let Some(name) = path.get(depth) else {
                return module;
            };
            let reexport = self
                .reexports
                .get(&(module.clone(), name.clone()))
                .map(|to| (to, depth + 1))
                .or_else(|| {
                    let glob = self.reexports.get(&(module.clone(), "*".into()))?;
                    Some((glob, depth))
                });
            let Some((to, consumed)) = reexport else {
                return module;
            };
            let Some(mut next) = self.absolute(&module, to) else {
                return module;
            };
            next.extend(path[consumed..].iter().cloned());
            path = next;
        }
        module
    }

    /// The circles: modules (each its own file's or block's code, not its
    /// children's) that reach each other through the paths they name.
    pub fn circles(&self) -> Vec<Circle> {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        // One path an edge, to say what makes a circle.
        let mut examples: BTreeMap<(String, String), String> = BTreeMap::new();
        for (from, written) in &self.uses {
            for path in written {
                let Some(path) = self.absolute(from, path) else {
                    continue;
                };
                let to = self.defining_module(&path);
                if &to == from {
                    continue;
                }
                let (from, to) = (display(from), display(&to));
                examples
                    .entry((from.clone(), to.clone()))
                    .or_insert_with(|| format!("{from} uses {}", display(&path)));
                graph.entry(from).or_default().insert(to);
            }
        }
        strongly_connected(&graph)
            .into_iter()
            .map(|modules| {
                let edges = examples
                    .iter()
                    .filter(|((from, to), _)| modules.contains(from) && modules.contains(to))
                    .map(|(_, example)| example.clone())
                    .collect();
                Circle { modules, edges }
            })
            .collect()
    }
}

/// `crate::retry::limits` for `["retry", "limits"]`.
fn display(path: &[String]) -> String {
    std::iter::once("crate")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("::")
}

/// Modules that import each other in a circle.
pub struct Circle {
    /// The modules: `crate::retry`, `crate::retry::limits`.
    modules: Vec<String>,
    /// One path each edge of the circle is made of: `crate::a uses crate::b::B`.
    edges: Vec<String>,
}

impl std::fmt::Display for Circle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.modules.join(" ↔ "))
    }
}

/// Whether an item is compiled for tests only (`#[cfg(test)]`).
fn is_test_only(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(m) => &m.attrs,
        syn::Item::Use(u) => &u.attrs,
        syn::Item::Fn(f) => &f.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Struct(s) => &s.attrs,
        syn::Item::Enum(e) => &e.attrs,
        syn::Item::Const(c) => &c.attrs,
        syn::Item::Static(s) => &s.attrs,
        syn::Item::Macro(m) => &m.attrs,
        syn::Item::Trait(t) => &t.attrs,
        syn::Item::Type(t) => &t.attrs,
        _ => return false,
    };
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// The paths a `use` tree names, as written, with the name each is bound
/// to (`*` for a glob).
fn use_paths(tree: &syn::UseTree) -> Vec<(String, Vec<String>)> {
    fn walk(prefix: Vec<String>, tree: &syn::UseTree, out: &mut Vec<(String, Vec<String>)>) {
        let with = |segment: String| {
            let mut path = prefix.clone();
            path.push(segment);
            path
        };
        match tree {
            syn::UseTree::Path(p) => walk(with(p.ident.to_string()), &p.tree, out),
            syn::UseTree::Name(n) if n.ident == "self" => {
                if let Some(last) = prefix.last() {
                    out.push((last.clone(), prefix.clone()));
                }
            }
            syn::UseTree::Name(n) => out.push((n.ident.to_string(), with(n.ident.to_string()))),
            syn::UseTree::Rename(r) => out.push((r.rename.to_string(), with(r.ident.to_string()))),
            syn::UseTree::Glob(_) => out.push(("*".into(), prefix)),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    walk(prefix.clone(), tree, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(Vec::new(), tree, &mut out);
    out
}

/// Collects the paths of two or more segments in one item's code, as
/// written: its `use`s, paths in types and expressions, and paths spelled in
/// macro tokens (`$crate::a::B` in a `macro_rules!`).
#[derive(Default)]
struct PathCollector {
    found: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test_only(item) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, used: &'ast syn::ItemUse) {
        self.found
            .extend(use_paths(&used.tree).into_iter().map(|(_, path)| path));
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 {
            let segments = path.segments.iter().map(|s| s.ident.to_string());
            self.found.push(segments.collect());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Code that generates code names the generated crate's paths.
        let name = mac.path.segments.last().map(|s| s.ident.to_string());
        if ["quote", "quote_spanned", "parse_quote"]
            .iter()
            .any(|generating| name.as_deref() == Some(generating))
        {
            return;
        }
        // Tokens print as `$ crate :: a :: B`; glue the paths back together.
        let text = mac
            .tokens
            .to_string()
            .replace(" :: ", "::")
            .replace("$ crate", "$crate");
        let words = text.split(|c: char| !(c.is_alphanumeric() || "_$:".contains(c)));
        for word in words.filter(|word| word.contains("::")) {
            let segments: Vec<String> = word.split("::").map(str::to_string).collect();
            if segments.iter().all(|segment| !segment.is_empty()) {
                self.found.push(segments);
            }
        }
        syn::visit::visit_macro(self, mac);
    }
}

/// Tarjan's strongly connected sets of two or more nodes, each sorted.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        sets: Vec<Vec<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        let n = state.index.len();
        state.index.insert(node, n);
        state.low.insert(node, n);
        state.stack.push(node);
        state.on_stack.insert(node);
        for next in state.graph.get(node).into_iter().flatten() {
            let next = next.as_str();
            if !state.index.contains_key(next) {
                visit(state, next);
                let low = state.low[node].min(state.low[next]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next) {
                let low = state.low[node].min(state.index[next]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut set = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                set.push(top.to_string());
                if top == node {
                    break;
                }
            }
            if set.len() > 1 {
                set.sort();
                state.sets.push(set);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        sets: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.sets
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The circles of a crate made of `files` (paths under `src/`, texts).
    fn circles_of(files: &[(&str, &str)]) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let tree = ModuleTree::read(&dir.path().join("lib.rs")).unwrap();
        tree.circles().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn layered_modules_have_no_circle() {
        let found = circles_of(&[
            ("lib.rs", "mod a; mod b; pub use a::A;"),
            (
                "a.rs",
                "pub struct A; fn f() -> crate::b::B { crate::b::B }",
            ),
            ("b.rs", "pub struct B;"),
        ]);
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn two_modules_using_each_other_are_a_circle() {
        let found = circles_of(&[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "use crate::b::B; pub struct A;"),
            ("b.rs", "pub struct B; fn f(_: super::a::A) {}"),
        ]);
        assert_eq!(found, ["crate::a ↔ crate::b"]);
    }

    #[test]
    fn a_circle_through_a_reexport_a_folder_or_a_macro_is_found() {
        // c/x.rs uses crate::A, which lib.rs re-exports from a; a uses c
        // inside a macro's tokens.
        let found = circles_of(&[
            ("lib.rs", "mod a; mod c; pub use a::A;"),
            ("a.rs", "pub struct A; fn f() { g!($crate::c::x::X); }"),
            ("c/mod.rs", "pub mod x;"),
            ("c/x.rs", "pub struct X(crate::A);"),
        ]);
        assert_eq!(found, ["crate::a ↔ crate::c::x"]);
    }

    #[test]
    fn a_parent_and_its_child_can_be_a_circle() {
        let found = circles_of(&[
            ("lib.rs", "mod a; pub struct Client; fn f() { a::go(); }"),
            ("a.rs", "pub fn go() { let _ = crate::Client; }"),
        ]);
        assert_eq!(found, ["crate ↔ crate::a"]);
    }

    #[test]
    fn test_code_and_other_crates_are_left_out() {
        let found = circles_of(&[
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "use crate::b::B; use std::fmt; pub struct A;"),
            (
                "b.rs",
                "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a::A; }",
            ),
        ]);
        assert_eq!(found, Vec::<String>::new());
    }
}

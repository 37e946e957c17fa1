//! The acceptance test of `cargo xtask regen` online: a local server stands in
//! for fal's document server and serves the vendored documents, one of them
//! changed the way fal changes them (a new input field, a new enum value). The
//! built xtask regenerates a copy of the repository from it (`--root`), and the
//! test checks that the change, and only the change, reaches the generated
//! code; that `--check` reports it as a diff; and that a failing fetch is a
//! one-line error naming the endpoint. The API change report (`--report`) is
//! tested the same way, with an additive and a breaking change served.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use serde_json::{Value, json};
use similar::TextDiff;
use syn::visit_mut::{self, VisitMut};

const GENERATED: &str = "crates/fal-kontext-api/src/generated.rs";
/// fal's Platform APIs document, vendored, and the client made from it.
const PLATFORM_FILE: &str = "openapi/fal-platform-apis__v1.json";
const PLATFORM_GENERATED: &str = "crates/fal-kontext-api/src/generated_platform.rs";
/// The table of endpoints, generated from the same documents.
const ENDPOINTS_GENERATED: &str = "crates/fal-kontext-api/src/generated_endpoints.rs";
/// Where fal's docs site serves the Platform APIs document, and the key of
/// its answer in [`Answers`].
const PLATFORM_PATH: &str = "/api-reference/platform-apis/openapi/v1.json";
const PLATFORM: &str = "(platform)";
/// The endpoint whose document the server changes, and its vendored file.
const CHANGED: &str = "fal-ai/flux-pro/kontext";
const CHANGED_FILE: &str = "openapi/fal-ai__flux-pro__kontext.json";
/// The input type of every endpoint; each has an `output_format` enum.
const INPUTS: [&str; 7] = [
    "FluxKontextDevInput",
    "FluxProKontextInput",
    "FluxProKontextMaxInput",
    "FluxProKontextMaxMultiInput",
    "FluxProKontextMaxTextToImageInput",
    "FluxProKontextMultiInput",
    "FluxProKontextTextToImageInput",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A temporary directory laid out like the repository, holding what regen
/// reads and writes: `openapi/` and the generated file.
fn copy_of_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("openapi")).unwrap();
    for entry in std::fs::read_dir(repo().join("openapi")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let to = dir.path().join("openapi").join(entry.file_name());
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
    for file in [GENERATED, PLATFORM_GENERATED, ENDPOINTS_GENERATED] {
        let generated = dir.path().join(file);
        std::fs::create_dir_all(generated.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(file), generated).unwrap();
    }
    dir
}

/// The endpoint ids of `openapi/endpoints.txt`.
fn endpoint_ids() -> Vec<String> {
    read(repo().join("openapi/endpoints.txt"))
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn vendored_file(id: &str) -> String {
    format!("openapi/{}.json", id.replace('/', "__"))
}

fn vendored(id: &str) -> Value {
    serde_json::from_str(&read(repo().join(vendored_file(id)))).unwrap()
}

/// `fal-ai/flux-pro/kontext`'s document with one more input property and one
/// more output format.
fn changed_document() -> Value {
    let mut doc = vendored(CHANGED);
    let properties = &mut doc["components"]["schemas"]["FluxProKontextInput"]["properties"];
    properties["num_inference_steps"] = json!({
        "type": "integer",
        "title": "Num Inference Steps",
        "description": "The number of inference steps to perform."
    });
    properties["output_format"]["enum"]
        .as_array_mut()
        .unwrap()
        .push(json!("webp"));
    doc
}

// ---------------------------------------------------------------------------
// The stand-in for fal's document server

/// What the server answers for each endpoint id (and [`PLATFORM`]): a
/// status and a body.
type Answers = BTreeMap<String, (u16, String)>;

/// Every vendored document, served compact (not in the vendored pretty form,
/// so that writing it canonically is part of what is tested), with
/// `overrides` in place of some.
fn answers(overrides: &[(&str, u16, String)]) -> Answers {
    let mut answers: Answers = endpoint_ids()
        .into_iter()
        .map(|id| {
            let body = vendored(&id).to_string();
            (id, (200, body))
        })
        .collect();
    let platform: Value = serde_json::from_str(&read(repo().join(PLATFORM_FILE))).unwrap();
    answers.insert(PLATFORM.into(), (200, platform.to_string()));
    for (id, status, body) in overrides {
        answers.insert(id.to_string(), (*status, body.clone()));
    }
    answers
}

/// Serves `answers` at `/api/openapi/queue/openapi.json?endpoint_id=<id>`
/// (and the Platform APIs document at [`PLATFORM_PATH`]) on 127.0.0.1 and
/// returns the base URL. The thread lives until the test
/// process ends.
fn serve(answers: Answers) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answers = Arc::new(answers);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            answer(stream, &answers);
        }
    });
    base
}

fn answer(mut stream: TcpStream, answers: &Answers) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Read the headers up to the blank line; a GET has no body.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let (status, body) = target
        .strip_prefix("/api/openapi/queue/openapi.json?endpoint_id=")
        .map(percent_decoded)
        .or_else(|| (target == PLATFORM_PATH).then(|| PLATFORM.to_string()))
        .and_then(|id| answers.get(&id))
        .cloned()
        .unwrap_or((404, format!("no document at {target}")));
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// `fal-ai%2Fflux-pro%2Fkontext` → `fal-ai/flux-pro/kontext`.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------
// Running xtask and reading its output

fn regen(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("regen")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The shape of each item of `mod types` in generated source: a struct's
/// fields with their types, an enum's values on the wire.
#[derive(Debug, PartialEq, Clone)]
enum Shape {
    Struct(BTreeMap<String, String>),
    Enum(Vec<String>),
}

fn type_shapes(source: &str) -> BTreeMap<String, Shape> {
    let file = syn::parse_file(source).unwrap();
    let items = file
        .items
        .into_iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "types" => m.content.map(|(_, items)| items),
            _ => None,
        })
        .expect("the generated source has `pub mod types { … }`");
    let mut shapes = BTreeMap::new();
    for item in items {
        match item {
            syn::Item::Struct(s) => {
                let fields = s
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        let name = f.ident.as_ref().map_or(i.to_string(), |id| id.to_string());
                        (name, rendered(&f.ty))
                    })
                    .collect();
                shapes.insert(s.ident.to_string(), Shape::Struct(fields));
            }
            syn::Item::Enum(e) => {
                let values = e.variants.iter().map(wire_name).collect();
                shapes.insert(e.ident.to_string(), Shape::Enum(values));
            }
            _ => {}
        }
    }
    shapes
}

/// A type as text: tokens print with spaces between them (field types have
/// none that matter), and a type that prettyplease wrapped over several lines
/// keeps a trailing comma in its generic arguments.
fn rendered(ty: &syn::Type) -> String {
    quote::quote!(#ty)
        .to_string()
        .replace(' ', "")
        .replace(",>", ">")
}

/// A variant's `#[serde(rename = "…")]`, or its name.
fn wire_name(variant: &syn::Variant) -> String {
    let mut name = variant.ident.to_string();
    for attr in variant.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                name = meta.value()?.parse::<syn::LitStr>()?.value();
            }
            Ok(())
        });
    }
    name
}

/// The names of the `pub fn`s of `impl Client`: the operations.
fn operations(source: &str) -> Vec<String> {
    let file = syn::parse_file(source).unwrap();
    let mut names = Vec::new();
    for item in &file.items {
        let syn::Item::Impl(imp) = item else { continue };
        let is_client = matches!(&*imp.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if imp.trait_.is_none() && is_client {
            for item in &imp.items {
                if let syn::ImplItem::Fn(f) = item {
                    names.push(f.sig.ident.to_string());
                }
            }
        }
    }
    names
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_string).collect()
}

/// Undoes, in generated code, what the served change does: it names the
/// changed input's own enum `OutputFormat` again, drops the `webp` variant and its
/// match arms, and drops `num_inference_steps` from the items of
/// `FluxProKontextInput` (the struct, its builder, their conversions), not
/// from `FluxKontextDevInput`, which had the field before.
#[derive(Default)]
struct Undo {
    in_changed_input: bool,
}

const CHANGED_INPUT: &str = "FluxProKontextInput";
const NEW_FIELD: &str = "num_inference_steps";

/// Whether a struct is, or an impl is of or for, `name`.
fn concerns(item: &syn::Item, name: &str) -> bool {
    let names = |tokens: String| tokens.split_whitespace().any(|token| token == name);
    match item {
        syn::Item::Struct(s) => s.ident == name,
        syn::Item::Impl(imp) => {
            let self_ty = &imp.self_ty;
            let of_trait = imp.trait_.as_ref().map(|(path, _)| path);
            names(quote::quote!(#self_ty #of_trait).to_string())
        }
        _ => false,
    }
}

fn is_new_field(member: &syn::Member) -> bool {
    matches!(member, syn::Member::Named(ident) if ident == NEW_FIELD)
}

impl VisitMut for Undo {
    fn visit_item_mut(&mut self, item: &mut syn::Item) {
        let outer = self.in_changed_input;
        self.in_changed_input |= concerns(item, CHANGED_INPUT);
        visit_mut::visit_item_mut(self, item);
        self.in_changed_input = outer;
    }

    fn visit_ident_mut(&mut self, ident: &mut syn::Ident) {
        if INPUTS
            .iter()
            .any(|input| *ident == format!("{input}OutputFormat"))
        {
            *ident = syn::Ident::new("OutputFormat", ident.span());
        }
    }

    /// Doc comments name the type too (`///`FluxProKontextInputOutputFormat``).
    fn visit_lit_str_mut(&mut self, lit: &mut syn::LitStr) {
        let mut value = lit.value();
        // Longest first, so that no name is cut inside a longer one.
        let mut inputs = INPUTS;
        inputs.sort_by_key(|input| std::cmp::Reverse(input.len()));
        for input in inputs {
            value = value.replace(&format!("{input}OutputFormat"), "OutputFormat");
        }
        *lit = syn::LitStr::new(&value, lit.span());
    }

    fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
        item.variants = std::mem::take(&mut item.variants)
            .into_iter()
            .filter(|variant| variant.ident != "Webp")
            .collect();
        visit_mut::visit_item_enum_mut(self, item);
    }

    fn visit_expr_match_mut(&mut self, expr: &mut syn::ExprMatch) {
        expr.arms.retain(|arm| {
            let text = quote::quote!(#arm).to_string();
            !text.contains("Webp") && !text.contains("\"webp\"")
        });
        visit_mut::visit_expr_match_mut(self, expr);
    }

    fn visit_fields_named_mut(&mut self, fields: &mut syn::FieldsNamed) {
        if self.in_changed_input {
            fields.named = std::mem::take(&mut fields.named)
                .into_iter()
                .filter(|field| field.ident.as_ref().is_none_or(|i| i != NEW_FIELD))
                .collect();
        }
        visit_mut::visit_fields_named_mut(self, fields);
    }

    fn visit_expr_struct_mut(&mut self, expr: &mut syn::ExprStruct) {
        if self.in_changed_input {
            expr.fields = std::mem::take(&mut expr.fields)
                .into_iter()
                .filter(|field| !is_new_field(&field.member))
                .collect();
        }
        visit_mut::visit_expr_struct_mut(self, expr);
    }

    fn visit_item_impl_mut(&mut self, item: &mut syn::ItemImpl) {
        if self.in_changed_input {
            item.items
                .retain(|item| !matches!(item, syn::ImplItem::Fn(f) if f.sig.ident == NEW_FIELD));
        }
        visit_mut::visit_item_impl_mut(self, item);
    }
}

/// Every item of a generated file (a module as its header, then its items),
/// each pretty-printed after the path of its module, sorted and without
/// duplicates: the changed input's own enum, once undone, is `OutputFormat` again.
fn item_texts(file: &syn::File) -> Vec<String> {
    fn walk(items: &[syn::Item], path: &str, out: &mut BTreeSet<String>) {
        for item in items {
            let mut item = item.clone();
            if let syn::Item::Mod(m) = &mut item
                && let Some((_, content)) = &mut m.content
            {
                let inner = std::mem::take(content);
                walk(&inner, &format!("{path}::{}", m.ident), out);
            }
            let file = syn::File {
                shebang: None,
                frontmatter: None,
                attrs: Vec::new(),
                items: vec![item],
            };
            out.insert(format!("// in {path}\n{}", prettyplease::unparse(&file)));
        }
    }
    let mut out = BTreeSet::new();
    walk(&file.items, "crate", &mut out);
    out.into_iter().collect()
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn online_regen_brings_a_schema_change_into_the_generated_code() {
    let changed = changed_document();
    let base = serve(answers(&[(CHANGED, 200, changed.to_string())]));

    let root = copy_of_repo();
    let root_arg = root.path().to_str().unwrap();
    let output = regen(&["--base-url", &base, "--root", root_arg]);
    assert!(output.status.success(), "{}", stderr(&output));

    // The written document is the served one, in the canonical form
    // (pretty-printed, keys sorted, final newline); the other six, served
    // unchanged, are written byte for byte as they were vendored.
    let written = read(root.path().join(CHANGED_FILE));
    assert_eq!(serde_json::from_str::<Value>(&written).unwrap(), changed);
    assert_eq!(
        written,
        serde_json::to_string_pretty(&changed).unwrap() + "\n"
    );
    for id in endpoint_ids().iter().filter(|id| *id != CHANGED) {
        let file = vendored_file(id);
        assert_eq!(
            read(root.path().join(&file)),
            read(repo().join(&file)),
            "{file}"
        );
    }

    let old = read(repo().join(GENERATED));
    let new = read(root.path().join(GENERATED));
    let old_types = type_shapes(&old);
    let new_types = type_shapes(&new);

    // With the new value, `fal-ai/flux-pro/kontext`'s output_format enum no
    // longer equals the other six. `hoist_shared_enums` keeps the shared
    // `OutputFormat` for the values most inputs use, and gives only the
    // changed input its own `FluxProKontextInputOutputFormat`: the six
    // endpoints whose documents did not change keep their types.
    let removed: BTreeSet<String> = old_types
        .keys()
        .filter(|name| !new_types.contains_key(*name))
        .cloned()
        .collect();
    let added: BTreeSet<String> = new_types
        .keys()
        .filter(|name| !old_types.contains_key(*name))
        .cloned()
        .collect();
    assert_eq!(removed, set([]));
    let own_enum = format!("{CHANGED_INPUT}OutputFormat");
    assert_eq!(added, set([own_enum.as_str()]));

    let Shape::Enum(old_formats) = &old_types["OutputFormat"] else {
        panic!("OutputFormat is an enum")
    };
    let mut formats = old_formats.clone();
    formats.push("webp".into());
    assert_eq!(new_types[&own_enum], Shape::Enum(formats), "{own_enum}");
    let Shape::Struct(mut fields) = old_types[CHANGED_INPUT].clone() else {
        panic!("{CHANGED_INPUT} is a struct")
    };
    fields.insert(
        "output_format".into(),
        format!("::std::option::Option<{own_enum}>"),
    );
    fields.insert(NEW_FIELD.into(), "::std::option::Option<i64>".into());
    assert_eq!(
        new_types[CHANGED_INPUT],
        Shape::Struct(fields),
        "{CHANGED_INPUT}"
    );
    for (name, shape) in &old_types {
        if name != CHANGED_INPUT {
            assert_eq!(&new_types[name], shape, "{name} is unchanged");
        }
    }
    assert_eq!(operations(&new), operations(&old));

    // And nothing else changed: undoing exactly the served change in the new
    // code (the new field, the new value, the per-schema enum names) gives
    // the old code back, item by item.
    let mut undone = syn::parse_file(&new).unwrap();
    Undo::default().visit_file_mut(&mut undone);
    let before = item_texts(&syn::parse_file(&old).unwrap());
    let after = item_texts(&undone);
    if before != after {
        let diff = TextDiff::from_lines(&before.join("\n"), &after.join("\n"))
            .unified_diff()
            .header("before", "after, with the change undone")
            .to_string();
        panic!("{GENERATED} changed beyond the served change:\n{diff}");
    }

    // What was written is what an offline regen of it writes again.
    let offline = regen(&["--offline", "--check", "--root", root_arg]);
    assert!(offline.status.success(), "{}", stderr(&offline));

    // `--check` against an unchanged copy fails with a unified diff naming
    // the document, the client and the table (the input's fields are in
    // its row), and writes nothing.
    let unchanged = copy_of_repo();
    let output = regen(&[
        "--base-url",
        &base,
        "--check",
        "--root",
        unchanged.path().to_str().unwrap(),
    ]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    for file in [CHANGED_FILE, GENERATED, ENDPOINTS_GENERATED] {
        assert!(
            message.contains(&format!(
                "--- a/{file} (committed)\n+++ b/{file} (regenerated)\n"
            )),
            "the diff names {file}:\n{message}"
        );
        assert_eq!(
            read(unchanged.path().join(file)),
            read(repo().join(file)),
            "--check wrote {file}"
        );
    }
    assert!(
        message
            .lines()
            .any(|l| l.starts_with('+') && l.contains("\"num_inference_steps\": {")),
        "the diff shows the new property:\n{message}"
    );
    assert!(
        message
            .lines()
            .any(|l| l.starts_with('+') && l.contains("pub num_inference_steps:")),
        "the diff shows the new field:\n{message}"
    );
    assert!(
        message.lines().any(|l| l.starts_with('+')
            && l.contains("fields: &[")
            && l.contains("\"num_inference_steps\"")),
        "the diff shows the field in the endpoint's row:\n{message}"
    );
    assert!(
        message.contains(&format!(
            "3 file(s) differ from what `cargo xtask regen` writes: \
             {CHANGED_FILE}, {GENERATED}, {ENDPOINTS_GENERATED}"
        )),
        "{message}"
    );
}

#[test]
fn a_failed_fetch_is_an_error_naming_the_endpoint() {
    let failing = "fal-ai/flux-pro/kontext/max";
    let base = serve(answers(&[(failing, 500, "upstream failure".into())]));
    let root = copy_of_repo();
    let output = regen(&["--base-url", &base, "--root", root.path().to_str().unwrap()]);

    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.starts_with(&format!("error: endpoint {failing}: ")),
        "{message}"
    );
    assert!(message.contains("500 Internal Server Error"), "{message}");
    assert!(
        message.contains("upstream failure"),
        "the body is quoted: {message}"
    );
    assert!(!message.contains("panicked"), "no panic: {message}");
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    // Nothing is written when a fetch fails.
    for file in [vendored_file(CHANGED), GENERATED.to_string()] {
        assert_eq!(
            read(root.path().join(&file)),
            read(repo().join(&file)),
            "{file}"
        );
    }
}

/// The names of the methods of the `impl`s of `type_name` in module `module`
/// (`builder` for the operations' builders, `types::builder` for the
/// input types' builders).
fn methods_of(source: &str, module: &[&str], type_name: &str) -> BTreeSet<String> {
    let file = syn::parse_file(source).unwrap();
    let mut items = file.items;
    for name in module {
        items = items
            .into_iter()
            .find_map(|item| match item {
                syn::Item::Mod(m) if m.ident == *name => m.content.map(|(_, items)| items),
                _ => None,
            })
            .unwrap_or_else(|| panic!("the generated source has `mod {name}`"));
    }
    items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Impl(imp) if imp.trait_.is_none() => Some(imp),
            _ => None,
        })
        .filter(|imp| {
            matches!(&*imp.self_ty, syn::Type::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == type_name))
        })
        .flat_map(|imp| &imp.items)
        .filter_map(|item| match item {
            syn::ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_header_and_input_field_become_builder_methods_the_sdk_passes_on() {
    // fal adds to `fal-ai/flux-pro/kontext`'s document an optional header
    // (`x-fal-no-retry`, which fal's queue takes: fal asks not to retry the
    // request internally) and an optional input field.
    let mut changed = vendored(CHANGED);
    changed["paths"]["/fal-ai/flux-pro/kontext"]["post"]["parameters"] = json!([{
        "name": "x-fal-no-retry",
        "in": "header",
        "required": false,
        "description": "Do not retry the request internally.",
        "schema": {"type": "boolean"}
    }]);
    changed["components"]["schemas"]["FluxProKontextInput"]["properties"]["output_quality"] = json!({
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "description": "The quality of a JPEG output."
    });
    let base = serve(answers(&[(CHANGED, 200, changed.to_string())]));
    let root = copy_of_repo();
    let output = regen(&["--base-url", &base, "--root", root.path().to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));

    let old = read(repo().join(GENERATED));
    let new = read(root.path().join(GENERATED));
    let operation = |source: &str, name: &str| methods_of(source, &["builder"], name);
    let input = |source: &str| methods_of(source, &["types", "builder"], CHANGED_INPUT);

    // The changed endpoint's submit gains one builder method, next to the
    // queue options the normalization adds (fal's own header is kept, not
    // replaced); no other operation changes.
    let mut expected = operation(&old, "SubmitFluxProKontext");
    expected.insert("x_fal_no_retry".into());
    assert_eq!(operation(&new, "SubmitFluxProKontext"), expected);
    for unchanged in [
        "SubmitFluxProKontextMax",
        "SubmitFluxKontextDev",
        "StatusFluxPro",
        "StatusStreamFluxPro",
    ] {
        assert_eq!(
            operation(&new, unchanged),
            operation(&old, unchanged),
            "{unchanged}"
        );
    }
    assert!(
        new.contains(r#"header_map.append("x-fal-no-retry", value.to_string().try_into()?);"#),
        "the header is sent when set"
    );
    // The input's builder gains a method for the new field.
    let mut expected = input(&old);
    expected.insert("output_quality".into());
    assert_eq!(input(&new), expected);

    // The SDK passes each on with one line, as the generated builders take
    // them:
    //   crates/fal-kontext/src/api_clients.rs, in `submit!`'s options:
    //       x_fal_no_retry = queue.no_retry,
    //   crates/fal-kontext/src/request/kinds.rs, in `Kind for Edit`, the
    //   `FluxProKontext` arm of `pro_input!`:
    //       output_quality(fields.output_quality),
    // (and a setter on `Request` to let users set each, as for any option).
}

#[test]
fn a_document_without_what_a_step_patches_fails_the_regen_naming_both() {
    let mut changed = vendored(CHANGED);
    changed["components"]["schemas"]
        .as_object_mut()
        .unwrap()
        .remove("QueueStatus");
    let base = serve(answers(&[(CHANGED, 200, changed.to_string())]));
    let root = copy_of_repo();
    let output = regen(&["--base-url", &base, "--root", root.path().to_str().unwrap()]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.starts_with(
            "error: normalization step `queue_status_as_served` found nothing to patch in \
             the document of fal-ai/flux-pro/kontext"
        ),
        "{message}"
    );
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    assert_eq!(
        read(root.path().join(GENERATED)),
        read(repo().join(GENERATED)),
        "nothing is written"
    );
}

// ---------------------------------------------------------------------------
// The API change report

/// Regenerates a copy of the repository from `base` with `--report` and
/// returns the report.
fn report_of(base: &str) -> String {
    let root = copy_of_repo();
    let file = root.path().join("report.md");
    let output = regen(&[
        "--base-url",
        base,
        "--root",
        root.path().to_str().unwrap(),
        "--report",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    read(file)
}

/// The section of `report` about `endpoint`: from its heading to the next.
fn section<'a>(report: &'a str, endpoint: &str) -> &'a str {
    let start = report
        .find(&format!("## `{endpoint}`"))
        .unwrap_or_else(|| panic!("no section for {endpoint}:\n{report}"));
    let rest = &report[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 4);
    let end = rest[..end].find("\nUnchanged: ").map_or(end, |i| i + 1);
    &rest[..end]
}

#[test]
fn the_report_calls_a_new_optional_field_and_enum_value_additive() {
    let base = serve(answers(&[(CHANGED, 200, changed_document().to_string())]));
    let report = report_of(&base);

    assert!(
        report.contains("**Overall: additive** (1 of 11 endpoints changed). A minor release.\n"),
        "{report}"
    );
    assert_eq!(
        section(&report, CHANGED),
        "## `fal-ai/flux-pro/kontext`: additive\n\n\
         | | field | change | verdict |\n|---|---|---|---|\n\
         | input | `num_inference_steps` | added, optional, `integer` | additive |\n\
         | input | `output_format` | enum value `webp` added | additive |\n\n"
    );
    let unchanged: Vec<String> = endpoint_ids()
        .into_iter()
        .filter(|id| id != CHANGED)
        .map(|id| format!("`{id}`"))
        .collect();
    assert!(
        report.contains(&format!("Unchanged: {}.\n", unchanged.join(", "))),
        "{report}"
    );
}

#[test]
fn the_report_calls_removed_retyped_and_newly_required_fields_breaking() {
    const MAX: &str = "fal-ai/flux-pro/kontext/max";
    let mut doc = vendored(MAX);
    let schemas = &mut doc["components"]["schemas"];
    let input = &mut schemas["FluxProKontextMaxInput"];
    let properties = input["properties"].as_object_mut().unwrap();
    properties.remove("enhance_prompt");
    properties["seed"] = json!({ "type": "string", "title": "Seed" });
    properties["aspect_ratio"]["anyOf"][0]["enum"]
        .as_array_mut()
        .unwrap()
        .retain(|value| value != "9:21");
    properties.insert(
        "mask_url".into(),
        json!({ "type": "string", "title": "Mask URL" }),
    );
    input["required"] = json!(["prompt", "image_url", "aspect_ratio", "mask_url"]);
    let output = &mut schemas["FluxProKontextMaxOutput"];
    let properties = output["properties"].as_object_mut().unwrap();
    properties.remove("has_nsfw_concepts");
    properties.insert("request_cost".into(), json!({ "type": "number" }));
    output["required"] = json!(["images", "timings", "prompt"]);

    let base = serve(answers(&[
        (CHANGED, 200, changed_document().to_string()),
        (MAX, 200, doc.to_string()),
    ]));
    let report = report_of(&base);

    assert!(
        report.contains(
            "**Overall: breaking** (2 of 11 endpoints changed). A major release (while the \
             version is 0.x, the next minor: 0.1 → 0.2).\n"
        ),
        "{report}"
    );
    assert!(
        section(&report, CHANGED).starts_with("## `fal-ai/flux-pro/kontext`: additive\n"),
        "{report}"
    );
    assert_eq!(
        section(&report, MAX),
        "## `fal-ai/flux-pro/kontext/max`: **breaking**\n\n\
         | | field | change | verdict |\n|---|---|---|---|\n\
         | input | `aspect_ratio` | now required | **breaking** |\n\
         | input | `aspect_ratio` | enum value `9:21` removed | **breaking** |\n\
         | input | `mask_url` | added, required, `string` | **breaking** |\n\
         | input | `seed` | retyped: `integer \\| null` → `string` | **breaking** |\n\
         | input | `enhance_prompt` | removed (was `boolean`) | **breaking** |\n\
         | output | `request_cost` | added, optional, `number` | additive |\n\
         | output | `seed` | now optional | **breaking** |\n\
         | output | `has_nsfw_concepts` | removed (was `array of boolean`) | **breaking** |\n\n"
    );
}

#[test]
fn an_offline_regen_reports_no_change() {
    let root = copy_of_repo();
    let file = root.path().join("report.md");
    let output = regen(&[
        "--offline",
        "--root",
        root.path().to_str().unwrap(),
        "--report",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report = read(file);
    assert!(
        report.contains("**Overall: no change** that users see.\n"),
        "{report}"
    );
    assert!(!report.contains("## `"), "no endpoint section:\n{report}");
}

#[test]
fn online_regen_keeps_the_platform_operations_it_uses_and_their_changes() {
    // fal's document describes more than prices (usage, here); a field fal
    // adds to a price reaches the generated client, the other operation
    // does not.
    let mut platform: Value = serde_json::from_str(&read(repo().join(PLATFORM_FILE))).unwrap();
    platform["paths"]["/models/usage"] = json!({"get": {"operationId": "usage", "responses": {"200": {
        "description": "usage",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}}
    }}}});
    platform["components"]["schemas"]["Usage"] =
        json!({"type": "object", "properties": {"spent": {"type": "number"}}});
    platform["components"]["schemas"]["ModelPrice"]["properties"]["display_unit"] =
        json!({"type": "string", "description": "The unit, for people."});
    let base = serve(answers(&[(PLATFORM, 200, platform.to_string())]));
    let root = copy_of_repo();
    let output = regen(&["--base-url", &base, "--root", root.path().to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));

    // the vendored copy is fal's document, whole
    let written: Value = serde_json::from_str(&read(root.path().join(PLATFORM_FILE))).unwrap();
    assert_eq!(written, platform);
    let old = type_shapes(&read(repo().join(PLATFORM_GENERATED)));
    let new_code = read(root.path().join(PLATFORM_GENERATED));
    let new = type_shapes(&new_code);
    assert!(!new.contains_key("Usage"), "the unused schema is dropped");
    assert_eq!(
        operations(&new_code),
        operations(&read(repo().join(PLATFORM_GENERATED)))
    );
    let Shape::Struct(mut fields) = old["ModelPrice"].clone() else {
        panic!("ModelPrice is a struct")
    };
    fields.insert(
        "display_unit".into(),
        "::std::option::Option<::std::string::String>".into(),
    );
    assert_eq!(new["ModelPrice"], Shape::Struct(fields));
    // the queue client is untouched
    assert_eq!(
        read(root.path().join(GENERATED)),
        read(repo().join(GENERATED))
    );

    // a document that lost the estimate fails the regen, naming the step
    platform["paths"]
        .as_object_mut()
        .unwrap()
        .remove("/models/pricing/estimate");
    let base = serve(answers(&[(PLATFORM, 200, platform.to_string())]));
    let output = regen(&[
        "--base-url",
        &base,
        "--root",
        copy_of_repo().path().to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("platform_keep_used_operations"),
        "{}",
        stderr(&output)
    );
}

/// The acceptance of "adding an endpoint": an eighth document (a copy of
/// \[dev\]'s under a new id, in a new app) and its line in
/// `openapi/endpoints.txt` are all regen needs to give it its constant, its
/// row, its app, its input and the dispatch to its operations; the table
/// only gains lines.
#[test]
fn an_eighth_document_adds_its_rows_and_dispatch_to_the_table() {
    let root = copy_of_repo();
    let (id, file) = (
        "fal-ai/flux-kontext-eighth",
        "openapi/fal-ai__flux-kontext-eighth.json",
    );
    let document = read(repo().join(vendored_file("fal-ai/flux-kontext/dev")))
        .replace("fal-ai/flux-kontext/dev", id)
        .replace("FluxKontextDev", "FluxKontextEighth");
    std::fs::write(root.path().join(file), document).unwrap();
    let list = root.path().join("openapi/endpoints.txt");
    std::fs::write(&list, format!("{}{id}\n", read(&list))).unwrap();

    let output = regen(&["--offline", "--root", root.path().to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));

    let client = read(root.path().join(GENERATED));
    for item in [
        "pub struct FluxKontextEighthInput ",
        "pub struct FluxKontextEighthOutput ",
        "pub fn submit_flux_kontext_eighth(",
        "pub fn status_flux_kontext_eighth(",
    ] {
        assert!(client.contains(item), "{GENERATED} lacks `{item}`");
    }
    let old = read(repo().join(ENDPOINTS_GENERATED));
    let new = read(root.path().join(ENDPOINTS_GENERATED));
    syn::parse_file(&new).expect("the table is Rust");
    let expected = [
        format!("    pub const FLUX_KONTEXT_EIGHTH: &str = \"{id}\";"),
        "        FLUX_KONTEXT_EIGHTH,".into(),
        "        id: ids::FLUX_KONTEXT_EIGHTH,".into(),
        "        app: App::FluxKontextEighth,".into(),
        "        input: \"FluxKontextEighthInput\",".into(),
        "        output: \"FluxKontextEighthOutput\",".into(),
        "        submit: \"submit_flux_kontext_eighth\",".into(),
        "    FluxKontextEighth,".into(),
        "        App::FluxKontextEighth,".into(),
        format!("            App::FluxKontextEighth => \"{id}\","),
        "    FluxKontextEighth(crate::types::FluxKontextEighthInput),".into(),
        "            Input::FluxKontextEighth(_) => ids::FLUX_KONTEXT_EIGHTH,".into(),
        "            $crate::endpoints::Input::FluxKontextEighth($body) => {".into(),
        "                let $op = $api.submit_flux_kontext_eighth();".into(),
        "            FluxKontextEighthOutput,".into(),
    ];
    let added: Vec<&str> = TextDiff::from_lines(&old, &new)
        .iter_all_changes()
        .filter_map(|change| match change.tag() {
            similar::ChangeTag::Insert => Some(change.value().trim_end_matches('\n')),
            similar::ChangeTag::Delete => panic!("the table lost `{}`", change.value()),
            similar::ChangeTag::Equal => None,
        })
        .collect();
    for line in &expected {
        assert!(
            added.contains(&line.as_str()),
            "not added: `{line}`\nadded:\n{}",
            added.join("\n")
        );
    }
    // the app's arm of each queue operation the SDK runs on any app
    for operation in ["status", "status_stream", "result", "cancel"] {
        let arm = format!("                let $op = $api.{operation}_flux_kontext_eighth();");
        assert!(added.contains(&arm.as_str()), "not added: `{arm}`");
    }
    // the same regen again is up to date with what it wrote
    let check = regen(&[
        "--offline",
        "--check",
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert!(check.status.success(), "{}", stderr(&check));
}

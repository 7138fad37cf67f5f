//! Architecture invariants: the pure core (`model`, `snapshot`, `engine`) does
//! no I/O and knows nothing of the runtime, the database, the wire formats or
//! the adapters around it; the pure parts of the SCIM edge (`schema`,
//! `filter`, `path`, `project`) know nothing of the runtime, the database,
//! HTTP or the store. Dependencies point inward.

use std::fs;
use std::path::{Path, PathBuf};

/// The modules that must stay pure.
const PURE: [&str; 3] = ["src/model", "src/snapshot", "src/engine"];

/// What they must not mention: the I/O crates and the adapter modules.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "sqlx",
    "tonic",
    "axum",
    "prost",
    "crate::pb",
    "crate::store",
    "crate::grpc",
];

/// The pure SCIM modules: parsing, resolution and projection over plain JSON.
/// Each is scanned with its test directory (`src/scim/filter/tests.rs`).
const PURE_SCIM: [&str; 4] = [
    "src/scim/schema.rs",
    "src/scim/filter.rs",
    "src/scim/path.rs",
    "src/scim/project.rs",
];

/// What they must not mention: the I/O crates, the store and the gRPC adapter.
const FORBIDDEN_SCIM: &[&str] = &[
    "tokio",
    "sqlx",
    "tonic",
    "axum",
    "prost",
    "crate::store",
    "crate::grpc",
];

#[test]
fn the_pure_core_does_not_depend_on_io_or_adapters() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut violations = Vec::new();
    let mut scanned = 0;
    for dir in PURE {
        let dir = root.join(dir);
        assert!(
            dir.is_dir(),
            "{} is missing: update PURE in this test",
            dir.display()
        );
        for file in rust_files(&dir) {
            scanned += 1;
            violations.extend(scan(root, &file, FORBIDDEN));
        }
    }
    assert!(
        scanned >= PURE.len(),
        "found only {scanned} source files to scan"
    );
    assert!(
        violations.is_empty(),
        "src/model, src/snapshot and src/engine must stay pure: no I/O crates \
         (tokio, sqlx, tonic, axum, prost) and no adapter modules (crate::pb, \
         crate::store, crate::grpc). Move that code to an adapter and pass plain \
         data in. Found:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_pure_scim_modules_do_not_depend_on_io_or_the_store() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut violations = Vec::new();
    let mut scanned = 0;
    for module in PURE_SCIM {
        let file = root.join(module);
        assert!(
            file.is_file(),
            "{} is missing: update PURE_SCIM in this test",
            file.display()
        );
        let mut files = vec![file.clone()];
        // `foo.rs` keeps its submodules (its tests) in `foo/`.
        let dir = file.with_extension("");
        if dir.is_dir() {
            files.extend(rust_files(&dir));
        }
        for file in files {
            scanned += 1;
            violations.extend(scan(root, &file, FORBIDDEN_SCIM));
        }
    }
    assert!(
        scanned > PURE_SCIM.len(),
        "found only {scanned} source files to scan: the test directories are missing"
    );
    assert!(
        violations.is_empty(),
        "src/scim/schema.rs, filter.rs, path.rs and project.rs (and their tests) must stay \
         pure: no I/O crates (tokio, sqlx, tonic, axum, prost), no crate::store and no \
         crate::grpc. They work on plain JSON; keep HTTP and storage in routes.rs, \
         resource.rs and the store. Found:\n{}",
        violations.join("\n")
    );
}

/// The violations of one file, as `  path:line: mentions `word``.
fn scan(root: &Path, file: &Path, forbidden: &[&'static str]) -> Vec<String> {
    let text = fs::read_to_string(file).unwrap();
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    violations_in(&text, forbidden)
        .into_iter()
        .map(|(line, word)| format!("  {rel}:{line}: mentions `{word}`"))
        .collect()
}

/// The scanner sees code and skips comments.
#[test]
fn the_scanner_ignores_comments_only() {
    let text = r#"//! Knows nothing of tokio.
/// Unlike `crate::store`, pure.
use crate::model::State; // not sqlx
/* tonic
   axum */ fn f() {}
fn g() { let s = "http://x"; } // prost
use tokio::sync::Mutex;
fn h() -> crate::pb::CheckRequest { todo!() }
fn tonic_free() {}
let url = "a//b"; use sqlx;
const S: &str = "axum"; let q = '"'; // tokio
let q = b'"'; /* /* prost */ tonic */ let e = "\"//"; // axum
"#;
    let found = violations_in(text, FORBIDDEN);
    assert_eq!(
        found,
        vec![(7, "tokio"), (8, "crate::pb"), (10, "sqlx"), (11, "axum")],
        "the scanner is wrong"
    );
}

/// The SCIM list catches the store and the HTTP crate, whole paths only.
#[test]
fn the_scim_list_catches_the_store_and_http() {
    let text = r#"use crate::store::scim::UserRecord;
use axum::http::HeaderMap;
use crate::storefront::X; // crate::grpc
use crate::scim::store_like::Y;
fn f() { crate::grpc::serve(); }
use crate::pb::Thing;
"#;
    assert_eq!(
        violations_in(text, FORBIDDEN_SCIM),
        vec![(1, "crate::store"), (2, "axum"), (5, "crate::grpc")],
        "the scanner is wrong"
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
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

/// `(line number, forbidden word)` for each mention in code (not comments).
fn violations_in(text: &str, forbidden: &[&'static str]) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    let mut in_block = 0usize;
    for (i, line) in text.lines().enumerate() {
        let code = strip_comments(line, &mut in_block);
        for &word in forbidden {
            if mentions(&code, word) {
                out.push((i + 1, word));
            }
        }
    }
    out
}

/// The code of `line` without `//` and `/* */` comments (nested, and spanning
/// lines through `in_block`). String and char literals are code: a `//`
/// inside one starts no comment, and a forbidden word in one counts.
fn strip_comments(line: &str, in_block: &mut usize) -> String {
    let b = line.as_bytes();
    // Only ASCII-delimited runs are dropped, so what is kept stays UTF-8.
    let mut out = Vec::with_capacity(b.len());
    let mut in_str = false;
    let mut i = 0;
    while i < b.len() {
        let two = &b[i..(i + 2).min(b.len())];
        if *in_block > 0 {
            match two {
                b"/*" => {
                    *in_block += 1;
                    i += 2;
                }
                b"*/" => {
                    *in_block -= 1;
                    i += 2;
                }
                _ => i += 1,
            }
            continue;
        }
        let len = if in_str {
            match b[i] {
                b'\\' => 2,
                b'"' => {
                    in_str = false;
                    1
                }
                _ => 1,
            }
        } else {
            match (two, b[i]) {
                (b"//", _) => break,
                (b"/*", _) => {
                    *in_block += 1;
                    i += 2;
                    continue;
                }
                (_, b'"') => {
                    in_str = true;
                    1
                }
                // `'"'` and `'\"'` are chars, not the start of a string.
                (_, b'\'') if b[i..].starts_with(b"'\"'") => 3,
                (_, b'\'') if b[i..].starts_with(b"'\\\"'") => 4,
                _ => 1,
            }
        };
        let end = (i + len).min(b.len());
        out.extend_from_slice(&b[i..end]);
        i = end;
    }
    String::from_utf8(out).expect("comments are cut at ASCII delimiters")
}

/// Does `code` mention `word` as a whole identifier path (so `tonic_free`
/// or `prostate` do not count)?
fn mentions(code: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

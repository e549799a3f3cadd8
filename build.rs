//! Embeds the tapset library (`tapsets/`) and the C runtime (`runtime-c/`) into `stap`.

use std::fmt::Write;

#[allow(dead_code)]
#[path = "src/tapset_scan.rs"]
mod tapset_scan;
use std::path::{Path, PathBuf};

fn walk_ext(dir: &Path, out: &mut Vec<PathBuf>, exts: &[&str]) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk_ext(&p, out, exts);
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e))
        {
            out.push(p);
        }
    }
}

/// Writes `$OUT_DIR/<file>`: `pub static <name>: &[(&str, &str)]` of (path under dir, text).
fn embed(dir: &Path, exts: &[&str], name: &str, doc: &str, file: &str) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    walk_ext(dir, &mut files, exts);
    let mut src = format!(
        "/// {}: (path under its directory, text).\npub static {}: &[(&str, &str)] = &[\n",
        doc, name
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            src,
            "    ({:?}, include_str!({:?})),",
            rel,
            f.display().to_string()
        )
        .unwrap();
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join(file);
    std::fs::write(out, src).unwrap();
}

/// Writes `$OUT_DIR/tapset_index.rs`: for each embedded tapset file, in `EMBEDDED`'s order,
/// what it defines and mentions (`src/tapset_scan.rs`), so `stap` need not scan its own
/// library at run time.
fn index_tapsets(dir: &Path) {
    let mut files = Vec::new();
    walk_ext(dir, &mut files, &["stp", "stpm"]);
    let mut src = String::from(
        "/// What each file of `EMBEDDED` defines and mentions (same order).\n\
         pub static EMBEDDED_INDEX: &[(&[&str], &[&str])] = &[\n",
    );
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let s = tapset_scan::scan(&text);
        writeln!(src, "    (&{:?}, &{:?}),", s.defines, s.mentions).unwrap();
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("tapset_index.rs");
    std::fs::write(out, src).unwrap();
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    embed(
        &root.join("tapsets"),
        &["stp", "stpm"],
        "EMBEDDED",
        "The embedded tapset library",
        "tapsets.rs",
    );
    index_tapsets(&root.join("tapsets"));
    embed(
        &root.join("runtime-c"),
        &["h", "c"],
        "RUNTIME",
        "The embedded C runtime",
        "runtime.rs",
    );
}

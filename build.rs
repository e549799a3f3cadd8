//! Embeds the tapset library (`tapsets/`) and the C runtime (`runtime-c/`) into `stap`.

use std::fmt::Write;
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

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    embed(
        &root.join("tapsets"),
        &["stp", "stpm"],
        "EMBEDDED",
        "The embedded tapset library",
        "tapsets.rs",
    );
    embed(
        &root.join("runtime-c"),
        &["h", "c"],
        "RUNTIME",
        "The embedded C runtime",
        "runtime.rs",
    );
}

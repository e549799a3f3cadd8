//! Embeds the tapset library (`tapsets/`) into the `stap` binary.

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

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let tapsets = root.join("tapsets");
    println!("cargo:rerun-if-changed=tapsets");
    let mut files = Vec::new();
    walk_ext(&tapsets, &mut files, &["stp", "stpm"]);
    let mut src = String::from("/// The embedded tapset library: (path under tapsets/, text).\npub static EMBEDDED: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&tapsets)
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
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("tapsets.rs");
    std::fs::write(out, src).unwrap();

    // The C runtime, embedded the same way: (path under runtime-c/, text).
    let runtime = root.join("runtime-c");
    println!("cargo:rerun-if-changed=runtime-c");
    let mut files = Vec::new();
    walk_ext(&runtime, &mut files, &["h", "c"]);
    let mut src = String::from("/// The embedded C runtime: (path under runtime-c/, text).\npub static RUNTIME: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&runtime)
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
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("runtime.rs");
    std::fs::write(out, src).unwrap();
}

//! The tapset library: the embedded `tapsets/` (or, as in SystemTap, the directories
//! `SYSTEMTAP_TAPSET` names in its place), then every `-I DIR`.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/tapsets.rs"));
include!(concat!(env!("OUT_DIR"), "/tapset_index.rs"));

/// One tapset file: its name (for diagnostics) and text.
#[derive(Debug, Clone)]
pub struct TapsetFile {
    /// `tapsets/foo.stp` for embedded files, the path for files on disk.
    pub name: String,
    /// The text.
    pub text: String,
    /// What it defines and mentions, when `build.rs` indexed it (the embedded library):
    /// the tapset index then need not scan it (`tapset_index.rs`).
    pub index: Option<(&'static [&'static str], &'static [&'static str])>,
}

impl TapsetFile {
    /// True for macro libraries (`.stpm`).
    pub fn is_macro_file(&self) -> bool {
        self.name.ends_with(".stpm")
    }
}

/// File contents as text: valid UTF-8 is taken as is (no copy), anything else lossily.
pub fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("stp") | Some("stpm")
        ) {
            out.push(p);
        }
    }
}

/// The directories `SYSTEMTAP_TAPSET` names (colon-separated): as in SystemTap, they replace
/// the standard library (here, the embedded one), so a tapset can be changed without a rebuild.
fn library_override() -> Option<Vec<PathBuf>> {
    let env = std::env::var("SYSTEMTAP_TAPSET").ok()?;
    Some(
        env.split(':')
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect(),
    )
}

/// The `.stp`/`.stpm` files under `dir`, in name order, named by their path.
fn read_dir_files(dir: &Path, files: &mut Vec<TapsetFile>) {
    let mut paths = Vec::new();
    walk(dir, &mut paths);
    for p in paths {
        if let Ok(bytes) = std::fs::read(&p) {
            files.push(TapsetFile {
                name: p.display().to_string(),
                text: text_of(bytes),
                index: None,
            });
        }
    }
}

/// Every tapset file of the session: the standard library (embedded, or `SYSTEMTAP_TAPSET`'s
/// directories in its place), then each `-I` dir's files.
pub fn collect(include: &[String]) -> Vec<TapsetFile> {
    let mut files = Vec::new();
    match library_override() {
        Some(dirs) => {
            for dir in dirs {
                read_dir_files(&dir, &mut files);
            }
        }
        None => files.extend(EMBEDDED.iter().zip(EMBEDDED_INDEX).map(
            |((name, text), (defines, mentions))| TapsetFile {
                name: format!("tapsets/{}", name),
                text: text.to_string(),
                index: Some((defines, mentions)),
            },
        )),
    }
    for dir in include {
        read_dir_files(Path::new(dir), &mut files);
    }
    files
}

/// The system call tapset of the target kernel, written from its metadata (see
/// `syscall_tapset`); `others` are the session's tapset files, whose hand-written
/// `syscall.NAME` aliases replace the generated ones.
pub fn syscalls(
    kernel: &crate::session::Kernel,
    btf: &stap_kdata::BtfResolver,
    others: &[TapsetFile],
) -> Result<TapsetFile, String> {
    use crate::syscall_tapset as gen;
    let calls = stap_kdata::syscalls::syscalls(
        &kernel.release,
        kernel.build_dir.as_deref(),
        &gen::number_name,
        &crate::userbuild::cache_root(),
    )?;
    let data = btf.data()?;
    let hand = gen::handwritten_aliases(others.iter().map(|t| t.text.as_str()));
    Ok(TapsetFile {
        name: format!("<generated>/syscalls-{}.stp", kernel.release),
        text: gen::generate(
            &kernel.release,
            &calls,
            &|f| data.function(f).is_some(),
            &hand,
        ),
        index: None,
    })
}

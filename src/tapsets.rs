//! The tapset library: the embedded `tapsets/`, every `-I DIR`, and `SYSTEMTAP_TAPSET`.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/tapsets.rs"));

/// One tapset file: its name (for diagnostics) and text.
#[derive(Debug, Clone)]
pub struct TapsetFile {
    /// `tapsets/foo.stp` for embedded files, the path for files on disk.
    pub name: String,
    /// The text.
    pub text: String,
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

/// The tapset directories to search, in order: `-I` dirs, then `SYSTEMTAP_TAPSET`.
pub fn search_dirs(include: &[String]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = include.iter().map(PathBuf::from).collect();
    if let Ok(env) = std::env::var("SYSTEMTAP_TAPSET") {
        dirs.extend(env.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    dirs
}

/// Every tapset file of the session: the embedded library, then each search dir's files.
pub fn collect(include: &[String]) -> Vec<TapsetFile> {
    let mut files: Vec<TapsetFile> = EMBEDDED
        .iter()
        .map(|(name, text)| TapsetFile {
            name: format!("tapsets/{}", name),
            text: text.to_string(),
        })
        .collect();
    for dir in search_dirs(include) {
        let mut paths = Vec::new();
        walk(&dir, &mut paths);
        for p in paths {
            if let Ok(bytes) = std::fs::read(&p) {
                files.push(TapsetFile {
                    name: p.display().to_string(),
                    text: text_of(bytes),
                });
            }
        }
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
    })
}

//! Passes 4 and 5 of the user-space backend: build the generated C with the system C
//! compiler against `runtime-c/user/`, cached by content hash, and run it.

use std::path::{Path, PathBuf};
use std::process::Command;

include!(concat!(env!("OUT_DIR"), "/runtime.rs"));

/// Flags every user-backend build uses (the runtime and generated code are warning-free
/// under -Wall -Werror).
pub const CFLAGS: &[&str] = &["-std=gnu11", "-O2", "-Wall", "-Werror", "-pthread"];

/// 64-bit FNV-1a, for cache keys.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h = (*h ^ *b as u64).wrapping_mul(0x100000001b3);
    }
}

/// Where built programs are cached: $SYSTEMTAP_DIR/cache, else $XDG_CACHE_HOME/stap-rs,
/// else the cache directory of the user's home (from the password database when HOME is
/// unset; never a shared directory such as /tmp).  The directory is created 0700; one
/// that another user owns or can write is not used (see [`is_private`]), and a private
/// directory of this run stands in for it.
pub fn cache_root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let wanted = if let Ok(d) = std::env::var("SYSTEMTAP_DIR") {
            PathBuf::from(d).join("cache")
        } else if let Ok(d) = std::env::var("XDG_CACHE_HOME") {
            PathBuf::from(d).join("stap-rs")
        } else {
            home_dir().join(".cache/stap-rs")
        };
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&wanted);
        if is_private(&wanted) {
            return wanted;
        }
        eprintln!(
            "WARNING: not using the cache {}: it is not a directory owned and writable only by this user",
            wanted.display()
        );
        let own = std::env::temp_dir().join(format!(
            "stap-rs-cache-{}-{}",
            nix::unistd::geteuid(),
            std::process::id()
        ));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&own);
        own
    })
    .clone()
}

/// The user's home: $HOME, else the password database's entry for this user.
fn home_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.dir)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Whether `p` (not through a symbolic link) is owned by this user and writable by no one
/// else: what a cached module or kernel data must be before stap trusts it.
pub fn is_private(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(p) {
        Ok(m) => m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o022 == 0,
        Err(_) => false,
    }
}

/// Writes the runtime and the generated C into `dir`.
pub fn write_sources(dir: &Path, c_source: &str) -> std::io::Result<PathBuf> {
    for (rel, text) in RUNTIME {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(p, text)?;
    }
    let c = dir.join("stap_program.c");
    std::fs::write(&c, c_source)?;
    Ok(c)
}

/// Builds (or finds in the cache) the executable for `c_source`; `extra` are -D flags
/// already inside the source, so the hash covers everything.  Returns its path.
pub fn build(c_source: &str, keep: bool, verbose: u8) -> Result<PathBuf, String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let extra: Vec<String> = std::env::var("STAP_USER_CFLAGS")
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let mut h: u64 = 0xcbf29ce484222325;
    fnv(&mut h, c_source.as_bytes());
    for (rel, text) in RUNTIME {
        fnv(&mut h, rel.as_bytes());
        fnv(&mut h, text.as_bytes());
    }
    fnv(&mut h, cc.as_bytes());
    for f in CFLAGS
        .iter()
        .copied()
        .chain(extra.iter().map(|s| s.as_str()))
    {
        fnv(&mut h, f.as_bytes());
    }
    let final_dir = cache_root().join(format!("user-{:016x}", h));
    let final_exe = final_dir.join("stap_program");
    if final_exe.is_file() {
        if verbose >= 2 {
            eprintln!("Pass 4: using cached {}", final_exe.display());
        }
        return Ok(final_exe);
    }
    // Build in a private directory, then move it into the cache in one step, so two
    // builds of the same program never share a directory.
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = cache_root().join(format!(
        "user-{:016x}.build{}-{}",
        h,
        std::process::id(),
        stamp
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {}", dir.display(), e))?;
    let c = write_sources(&dir, c_source).map_err(|e| format!("cannot write sources: {}", e))?;
    let tmp_exe = dir.join("stap_program");
    let mut cmd = Command::new(&cc);
    cmd.args(CFLAGS)
        .args(&extra)
        .arg("-I")
        .arg(dir.join("user"))
        .arg("-I")
        .arg(dir.join("common"))
        .arg("-o")
        .arg(&tmp_exe)
        .arg(&c);
    if verbose >= 3 {
        eprintln!("Running {:?}", cmd);
    }
    let out = cmd.output().map_err(|e| {
        format!(
            "cannot run the C compiler '{}': {} (install gcc, or set CC)",
            cc, e
        )
    })?;
    if !out.status.success() {
        let mut msg = format!(
            "the generated C did not compile ({} kept in {}):\n",
            c.display(),
            dir.display()
        );
        msg.push_str(&String::from_utf8_lossy(&out.stderr));
        return Err(msg);
    }
    if !keep {
        let _ = std::fs::remove_file(&c);
    }
    if std::fs::rename(&dir, &final_dir).is_err() {
        // Another build of the same program got there first; ours is not needed.
        let _ = std::fs::remove_dir_all(&dir);
    }
    if final_exe.is_file() {
        Ok(final_exe)
    } else {
        Err(format!(
            "the built program vanished from {}",
            final_dir.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::is_private;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_files_of_this_user_that_no_one_else_can_write_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.ko");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(is_private(&f));
        for mode in [0o666, 0o664, 0o646] {
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(!is_private(&f), "{mode:o}");
        }
        // A link is not followed, and a missing file is not private.
        let link = dir.path().join("l.ko");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(!is_private(&link));
        assert!(!is_private(&dir.path().join("none")));
    }
}

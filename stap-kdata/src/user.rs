//! User-space programs: where a `process("NAME")` point's executable is.

use std::path::{Path, PathBuf};

/// The executable `name` names, as SystemTap finds it: a name without a `/` is looked up
/// in `$PATH`; a name that exists becomes its canonical absolute path (symbolic links
/// resolved); one that does not is kept as written.
pub fn find_executable(name: &str) -> String {
    let found: Option<PathBuf> = if name.contains('/') {
        Some(PathBuf::from(name))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| is_executable(p))
        })
    };
    found
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| name.to_string())
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::find_executable;

    #[test]
    fn names_are_found_in_path_and_canonicalized() {
        let sh = find_executable("sh");
        assert!(sh.starts_with('/'), "{}", sh);
        assert_eq!(
            std::fs::canonicalize("/bin/sh").unwrap().to_str().unwrap(),
            sh
        );
        assert_eq!(
            find_executable("no-such-program-here"),
            "no-such-program-here"
        );
        assert_eq!(find_executable("./no/such/../x"), "./no/such/../x");
    }
}

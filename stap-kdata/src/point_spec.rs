//! The pattern of a DWARF probe point, `FUNC[@FILE[:LINE | :* | :FIRST-LAST | +OFFSET]]`
//! (stapprobes(3stap)), and how its parts match functions, files and lines of the DWARF.

use crate::dwarf::{Func, ModuleDwarf};
use crate::glob;
use std::path::Path;

/// Which lines of a file a pattern names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Lines {
    /// None given.
    None,
    /// `:N`.
    Exact(u64),
    /// `:*`.
    Any,
    /// `:FIRST-LAST`.
    Range(u64, u64),
    /// `+N`: lines after the function's declaration.
    After(u64),
}

/// A point's pattern: `FUNC[@FILE[:LINE]]`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Spec<'s> {
    pub func: &'s str,
    pub file: Option<&'s str>,
    pub lines: Lines,
}

pub(crate) fn parse_spec(s: &str) -> Result<Spec<'_>, String> {
    let Some((func, rest)) = s.split_once('@') else {
        return Ok(Spec {
            func: s,
            file: None,
            lines: Lines::None,
        });
    };
    let bad = || {
        format!(
            "'{}': expected FUNCTION@FILE[:LINE | :* | :FIRST-LAST | +N]",
            s
        )
    };
    let (file, lines) = if let Some((f, n)) = rest.rsplit_once('+') {
        (f, Lines::After(n.parse().map_err(|_| bad())?))
    } else if let Some((f, n)) = rest.rsplit_once(':') {
        let lines = match n {
            "*" => Lines::Any,
            _ => match n.split_once('-') {
                Some((a, b)) => {
                    Lines::Range(a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)
                }
                None => Lines::Exact(n.parse().map_err(|_| bad())?),
            },
        };
        (f, lines)
    } else {
        (rest, Lines::None)
    };
    Ok(Spec {
        func,
        file: Some(file),
        lines,
    })
}

/// Whether DWARF's path `path` is the file a script names: the pattern as is, under any
/// directory (an implicit `*/`), or the base name.
pub(crate) fn file_matches(path: &str, pat: &str) -> bool {
    let path = path.trim_start_matches("./");
    let pat = pat.trim_start_matches("./");
    if !pat.contains(['*', '?', '[']) {
        return path == pat
            || (path.ends_with(pat) && path[..path.len() - pat.len()].ends_with('/'))
            || Path::new(path).file_name().is_some_and(|n| n == pat);
    }
    glob(pat, path)
        || glob(&format!("*/{}", pat), path)
        || Path::new(path)
            .file_name()
            .is_some_and(|n| glob(pat, &n.to_string_lossy()))
}

/// A file as concrete points show it: relative paths as DWARF has them, absolute ones
/// (a module built out of tree) by their base name.
pub(crate) fn shown(path: &str) -> String {
    let path = path.trim_start_matches("./");
    if path.starts_with('/') {
        Path::new(path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        path.to_string()
    }
}

/// Source files whose functions are never probed, as in SystemTap: the kprobes machinery
/// itself, and the low-level helpers (port I/O, bit operations, paravirt hooks) that it and
/// the probe handlers run through.
pub(crate) fn blacklisted_file(path: &str) -> bool {
    let path = path.trim_start_matches("./");
    const FILES: &[&str] = &[
        "kernel/kprobes.c",
        "arch/x86/kernel/kprobes/*",
        "arch/x86/kernel/paravirt.c",
        "*/include/asm/io.h",
        "*/include/asm/bitops.h",
        "*/include/asm/paravirt.h",
    ];
    FILES.iter().any(|f| glob(f, path))
}

/// Why a function may not be probed although the kernel would allow it: the lock
/// primitives the runtime takes itself, with interrupts off, on every probe hit (as
/// SystemTap refuses the kernel's spinlock functions).  A probe there fires inside the
/// runtime's own locking, on every lock taken anywhere in the kernel.
pub(crate) fn runtime_unsafe(name: &str) -> Option<&'static str> {
    const PREFIXES: &[&str] = &[
        "__raw_spin_",
        "__raw_read_",
        "__raw_write_",
        "_raw_spin_",
        "_raw_read_",
        "_raw_write_",
        "do_raw_spin_",
        "do_raw_read_",
        "do_raw_write_",
        "rt_spin_",
        "rt_read_",
        "rt_write_",
    ];
    let lock = PREFIXES.iter().any(|p| name.starts_with(p))
        || ["queued_spin_lock", "queued_read_lock", "queued_write_lock"]
            .iter()
            .any(|p| name.contains(p));
    lock.then_some("stap-rs takes the kernel's spinlocks in every probe: probes on them are refused, as SystemTap refuses them")
}

/// Whether out-of-line function `f` is the one a concrete point names.
pub(crate) fn declared(f: &Func, spec: &Spec) -> bool {
    f.name == spec.func && declared_like(f, spec)
}

/// Whether `f`'s declaration is in the file (and at the line) a pattern names.
pub(crate) fn declared_like(f: &Func, spec: &Spec) -> bool {
    spec.file.is_none_or(|p| file_matches(&f.decl.0, p))
        && match spec.lines {
            Lines::Exact(n) => f.decl.1 == n,
            Lines::Range(a, b) => a <= f.decl.1 && f.decl.1 <= b,
            _ => true,
        }
}

/// The first statement address of `file:line` inside function `f`.
pub(crate) fn line_addr(m: &ModuleDwarf, f: &Func, file: &str, line: u64) -> Option<u64> {
    m.lines_in(f.low, f.high)
        .iter()
        .filter(|l| l.line == line && file_matches(&l.file, file))
        .map(|l| l.addr)
        .min()
}

/// The lines (file, line) with code in function `f` that a pattern names.
pub(crate) fn lines_of(m: &ModuleDwarf, f: &Func, file: &str, lines: Lines) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = m
        .lines_in(f.low, f.high)
        .iter()
        .filter(|l| file_matches(&l.file, file))
        .filter(|l| match lines {
            Lines::Exact(n) => l.line == n,
            Lines::Range(a, b) => a <= l.line && l.line <= b,
            Lines::After(n) => l.line == f.decl.1 + n,
            // Not the lines of code inlined from above the function.
            Lines::Any | Lines::None => l.line >= f.decl.1 || l.file != f.decl.0,
        })
        .map(|l| (l.file.clone(), l.line))
        .collect();
    out.sort_by_key(|l| l.1);
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_split_into_function_file_and_lines() {
        let s = parse_spec("vfs_*@fs/read_write.c:450").unwrap();
        assert_eq!(
            (s.func, s.file, s.lines),
            ("vfs_*", Some("fs/read_write.c"), Lines::Exact(450))
        );
        assert_eq!(parse_spec("f@x.c:*").unwrap().lines, Lines::Any);
        assert_eq!(parse_spec("f@x.c:3-9").unwrap().lines, Lines::Range(3, 9));
        assert_eq!(parse_spec("f@x.c+2").unwrap().lines, Lines::After(2));
        let plain = parse_spec("ksys_write").unwrap();
        assert_eq!((plain.file, plain.lines), (None, Lines::None));
        assert!(parse_spec("f@x.c:abc").is_err());
        assert!(parse_spec("f@x.c:1-").is_err());
    }

    #[test]
    fn files_match_as_given_under_any_directory_or_by_base_name() {
        assert!(file_matches("fs/read_write.c", "fs/read_write.c"));
        assert!(file_matches("./fs/read_write.c", "read_write.c"));
        assert!(file_matches("/src/m/stapmod_test.c", "stapmod_test.c"));
        assert!(file_matches("kernel/kprobes.c", "kernel/*.c"));
        assert!(file_matches("mm/slab_common.c", "mm/slab*"));
        assert!(!file_matches("fs/xread_write.c", "read_write.c"));
        assert!(!file_matches("fs/open.c", "fs/read_write.c"));
        assert_eq!(shown("/src/m/stapmod_test.c"), "stapmod_test.c");
        assert_eq!(shown("./include/linux/fs.h"), "include/linux/fs.h");
        assert!(blacklisted_file("kernel/kprobes.c"));
        assert!(blacklisted_file("./arch/x86/include/asm/paravirt.h"));
        assert!(!blacklisted_file("fs/read_write.c"));
        assert!(runtime_unsafe("_raw_spin_lock_irqsave").is_some());
        assert!(runtime_unsafe("native_queued_spin_lock_slowpath").is_some());
        // The inline helpers the lock functions are made of.
        assert!(runtime_unsafe("__raw_spin_lock_irq").is_some());
        assert!(runtime_unsafe("__raw_write_unlock_irqrestore").is_some());
        assert!(runtime_unsafe("spin_lock_init_something").is_none());
        assert!(runtime_unsafe("vfs_read").is_none());
    }
}

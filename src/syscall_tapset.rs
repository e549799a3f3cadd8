//! The `syscall.*` and `nd_syscall.*` tapset, written for the target kernel from what it says
//! of its own system calls (`stap_kdata::syscalls`): one pair of aliases per call that has an
//! x86_64 entry function (`__x64_sys_NAME`), so a new kernel needs no new tapset.
//!
//! For each call NAME with arguments `T1 A1, ...` this emits
//!
//! ```text
//! probe __syscall.NAME = kprobe.function("__x64_sys_NAME") { __nr = N; A1 = ...; ... }
//! probe __syscall.NAME.return = kprobe.function("__x64_sys_NAME").return { __nr = N }
//! probe syscall.NAME = __syscall.NAME { name = "NAME"; argstr = ... }
//! probe syscall.NAME.return = __syscall.NAME.return { name = "NAME"; retval = ...; retstr = ... }
//! probe nd_syscall.NAME = syscall.NAME { }   (and .return)
//! ```
//!
//! The variables follow SystemTap's conventions: a string argument `A` gives `A` (quoted),
//! `A_unquoted` and `A_uaddr`; another user pointer gives `A_uaddr`; a number gives `A`, read
//! at its C type's width and sign.  An argument named `name` is `name_str`, since `name` is
//! the call's name.  A hand-written tapset (`tapsets/syscalls.stp`) that defines
//! `syscall.NAME` itself replaces the generated public alias (it keeps `__syscall.NAME`), so
//! what the kernel cannot tell (the formatting of flags in `argstr`) is written once, here.

use stap_kdata::syscalls::Syscall;
use std::collections::HashSet;
use std::fmt::Write;

/// Names SystemTap's x86_64 tapsets give calls whose kernel names differ.
const USER_NAMES: &[(&str, &str)] = &[
    ("newfstat", "fstat"),
    ("newstat", "stat"),
    ("newlstat", "lstat"),
    ("newfstatat", "fstatat"),
    ("newuname", "uname"),
    ("mmap", "mmap2"),
    ("pread64", "pread"),
    ("pwrite64", "pwrite"),
    ("sendfile64", "sendfile"),
    ("_sysctl", "sysctl"),
];

/// The arguments (C type and name) of calls the kernel keeps a number for but no longer
/// implements, which therefore leave no metadata; from their manual pages.
const REMOVED: &[(&str, &[(&str, &str)])] = &[
    ("_sysctl", &[("struct __sysctl_args *", "args")]),
    (
        "lookup_dcookie",
        &[("u64", "cookie64"), ("char *", "buf"), ("size_t", "len")],
    ),
];

/// The `unistd_64.h` name of calls whose number is not under their own name.
const NUMBER_NAMES: &[(&str, &str)] = &[("umount", "umount2")];

/// Words of the language that cannot name a variable.
const KEYWORDS: &[&str] = &[
    "if", "else", "for", "foreach", "while", "in", "limit", "return", "next", "break", "continue",
    "delete", "global", "private", "probe", "function", "string", "long", "try", "catch", "name",
    "argstr", "retstr", "retval",
];

/// How one argument is read and shown.
#[derive(Clone, Copy)]
enum ArgKind {
    /// A NUL-terminated string in user memory.
    String,
    /// Another user pointer.
    Pointer,
    /// A number of 32 bits, signed or not.
    Int32 { signed: bool },
    /// A file mode.
    Mode,
    /// A number of 64 bits.
    Long,
}

fn kind_of(ty: &str, name: &str) -> ArgKind {
    let t = ty.trim();
    if t.contains('*') {
        let stringy = t.starts_with("const char *") && t.matches('*').count() == 1;
        return if stringy && name != "buf" {
            ArgKind::String
        } else {
            ArgKind::Pointer
        };
    }
    if t == "umode_t" || name == "mode" {
        return ArgKind::Mode;
    }
    match t {
        "int" | "pid_t" | "key_serial_t" | "clockid_t" | "timer_t" | "mqd_t" | "key_t"
        | "rwf_t" | "__s32" | "s32" => ArgKind::Int32 { signed: true },
        "unsigned int" | "unsigned" | "uid_t" | "gid_t" | "old_uid_t" | "old_gid_t" | "u32"
        | "__u32" | "qid_t" | "unsigned short" | "u16" => ArgKind::Int32 { signed: false },
        _ => ArgKind::Long,
    }
}

/// SystemTap's names where they are not the kernel's (`src/syscall_names.txt`).
const NAMES: &str = include_str!("syscall_names.txt");

/// One argument as the tapset shows it: the base of its variables' names and its kind.
struct Arg {
    base: String,
    kind: ArgKind,
}

/// The arguments of `c` (known as `alias`), with SystemTap's names.
fn args_of(c: &Syscall, alias: &str) -> Vec<Arg> {
    let renames: Vec<(&str, &str)> = NAMES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split_whitespace().next() == Some(alias))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|r| r.split_once('='))
                .collect()
        })
        .unwrap_or_default();
    c.args
        .iter()
        .map(|(ty, arg)| {
            let mut kind = kind_of(ty, arg);
            let mut base = var_name(arg);
            if let Some((_, new)) = renames.iter().find(|(k, _)| k == arg) {
                if let Some(n) = new.strip_suffix('!') {
                    kind = ArgKind::Long;
                    base = n.to_string();
                } else if let Some(n) = new.strip_suffix('@') {
                    kind = ArgKind::Pointer;
                    base = n.to_string();
                } else {
                    base = new.to_string();
                }
            }
            if base == "name" && matches!(kind, ArgKind::String) {
                base = "name_str".to_string();
            }
            Arg { base, kind }
        })
        .collect()
}

/// The name of a string or pointer argument's address variable.
fn uaddr_of(a: &Arg) -> String {
    format!("{}_uaddr", a.base.strip_suffix("_str").unwrap_or(&a.base))
}

/// The variable an argument is known by (not a keyword, not `name`).
fn var_name(arg: &str) -> String {
    if arg == "name" {
        "name_str".to_string()
    } else if KEYWORDS.contains(&arg) || arg.is_empty() {
        format!("{}_arg", arg)
    } else {
        arg.to_string()
    }
}

/// The alias name SystemTap uses for a kernel system call name.
pub fn user_name(kernel: &str) -> &str {
    USER_NAMES
        .iter()
        .find(|(k, _)| *k == kernel)
        .map(|(_, u)| *u)
        .unwrap_or(kernel)
}

/// The `unistd_64.h` name of a call whose number is not under its kernel name.
pub fn number_name(kernel: &str) -> String {
    NUMBER_NAMES
        .iter()
        .find(|(k, _)| *k == kernel)
        .map(|(_, u)| *u)
        .unwrap_or_else(|| user_name(kernel))
        .to_string()
}

/// The base alias: where the call is probed, and its arguments as variables.
fn write_base(out: &mut String, c: &Syscall, alias: &str, nr: i64, entry: &str, ia32: bool) {
    let _ = writeln!(
        out,
        "probe __syscall.{} = kprobe.function(\"{}\") {{\n\t__nr = {}",
        alias, entry, nr
    );
    for (i, a) in args_of(c, alias).iter().enumerate() {
        let v = &a.base;
        let raw = format!(
            "{}({})",
            if ia32 { "__sc_arg32" } else { "__sc_arg" },
            i + 1
        );
        match a.kind {
            ArgKind::String => {
                let u = uaddr_of(a);
                let _ = writeln!(out, "\t{} = {}", u, raw);
                let _ = writeln!(out, "\t{}_unquoted = user_string({}, \"\")", v, u);
                let _ = writeln!(out, "\t{} = user_string_quoted({})", v, u);
            }
            ArgKind::Pointer => {
                let _ = writeln!(out, "\t{} = {}", uaddr_of(a), raw);
            }
            ArgKind::Int32 { signed: true } => {
                let _ = writeln!(out, "\t{} = __int32({})", v, raw);
            }
            ArgKind::Int32 { signed: false } | ArgKind::Mode => {
                let _ = writeln!(out, "\t{} = __uint32({})", v, raw);
            }
            ArgKind::Long => {
                let _ = writeln!(out, "\t{} = {}", v, raw);
            }
        }
    }
    let _ = writeln!(out, "}}");
    let _ = writeln!(
        out,
        "probe __syscall.{}.return = kprobe.function(\"{}\").return {{\n\t__nr = {}\n}}",
        alias, entry, nr
    );
}

/// `c` with the arguments `REMOVED` knows for it.
fn with_known_args(c: &Syscall) -> Syscall {
    let args = REMOVED
        .iter()
        .find(|(n, _)| *n == c.name)
        .map(|(_, a)| {
            a.iter()
                .map(|(t, n)| (t.to_string(), n.to_string()))
                .collect()
        })
        .unwrap_or_default();
    Syscall {
        name: c.name.clone(),
        nr: c.nr,
        args,
    }
}

/// The base alias of a call without an entry function: the raw_syscalls tracepoints,
/// filtered by its number; the arguments are in the user registers the tracepoint gets.
fn write_raw(out: &mut String, c: &Syscall, alias: &str, nr: i64) {
    let _ = writeln!(
        out,
        "probe __syscall.{} = kernel.trace(\"raw_syscalls:sys_enter\") {{\n\tif ($id != {}) next\n\t__nr = {}",
        alias, nr, nr
    );
    const REGS: [&str; 6] = ["di", "si", "dx", "r10", "r8", "r9"];
    for (a, reg) in args_of(c, alias).iter().zip(REGS) {
        let v = &a.base;
        let raw = format!("$regs->{}", reg);
        let _ = match a.kind {
            ArgKind::String => {
                let u = uaddr_of(a);
                writeln!(
                    out,
                    "\t{u} = {raw}\n\t{v}_unquoted = user_string({u}, \"\")\n\t{v} = user_string_quoted({u})"
                )
            }
            ArgKind::Pointer => writeln!(out, "\t{} = {}", uaddr_of(a), raw),
            ArgKind::Int32 { signed: true } => writeln!(out, "\t{} = __int32({})", v, raw),
            ArgKind::Int32 { signed: false } | ArgKind::Mode => {
                writeln!(out, "\t{} = __uint32({})", v, raw)
            }
            ArgKind::Long => writeln!(out, "\t{} = {}", v, raw),
        };
    }
    let _ = writeln!(
        out,
        "}}\nprobe __syscall.{}.return = kernel.trace(\"raw_syscalls:sys_exit\") {{\n\tif ($regs->orig_ax != {}) next\n\t__nr = {}\n\t__ret = $ret\n}}",
        alias, nr, nr
    );
}

/// SystemTap's default `argstr`: each argument as its kind shows it, ", " between.
fn argstr(c: &Syscall, alias: &str) -> String {
    if c.args.is_empty() {
        return "\"\"".to_string();
    }
    let mut fmt = Vec::new();
    let mut vals = Vec::new();
    for a in args_of(c, alias) {
        match a.kind {
            ArgKind::String => {
                fmt.push("%s");
                vals.push(a.base.clone());
            }
            ArgKind::Pointer => {
                fmt.push("%p");
                vals.push(uaddr_of(&a));
            }
            ArgKind::Mode => {
                fmt.push("%#o");
                vals.push(a.base.clone());
            }
            ArgKind::Int32 { .. } | ArgKind::Long => {
                fmt.push("%d");
                vals.push(a.base.clone());
            }
        }
    }
    format!("sprintf(\"{}\", {})", fmt.join(", "), vals.join(", "))
}

/// The tapset text for `calls`.  `has_entry` says whether the kernel has a function;
/// `handwritten` holds the `syscall.NAME` aliases a tapset file already defines.
pub fn generate(
    release: &str,
    calls: &[Syscall],
    has_entry: &dyn Fn(&str) -> bool,
    handwritten: &HashSet<String>,
) -> String {
    let mut out = format!(
        "// The system calls of kernel {}, from its own metadata (written by stap-rs).\n\n",
        release
    );
    let mut names: Vec<(i64, String)> = Vec::new();
    let mut seen = HashSet::new();
    for c in calls {
        // The entry is __x64_sys_NAME; for calls without arguments that is an alias the
        // kernel's types know by the body's name, __do_sys_NAME (the same address).  Calls
        // without an x86_64 number are the 32-bit ABI's (fstatfs64): their entries take
        // the arguments in the i386 registers.
        let candidates: &[(&str, bool)] = if c.nr.is_some() {
            &[("__x64_sys_", false), ("__do_sys_", false)]
        } else {
            &[
                ("__ia32_sys_", true),
                ("__ia32_compat_sys_", true),
                ("__x64_sys_", false),
                ("__do_sys_", false),
                ("sys_", false),
            ]
        };
        let entry = candidates
            .iter()
            .map(|(p, ia32)| (format!("{}{}", p, c.name), *ia32))
            .find(|(e, _)| has_entry(e));
        // A numbered call without an entry function (one the kernel no longer
        // implements) is seen on the raw_syscalls tracepoints, by its number.
        let removed;
        let c = match (&entry, c.nr) {
            (Some(_), _) => c,
            (None, Some(_)) => {
                removed = with_known_args(c);
                &removed
            }
            (None, None) => continue,
        };
        let alias = user_name(&c.name).to_string();
        if !seen.insert(alias.clone()) {
            continue;
        }
        let nr = c.nr.map(i64::from).unwrap_or(-1);
        if nr >= 0 {
            names.push((nr, alias.clone()));
        }
        let retval = match &entry {
            Some((entry, ia32)) => {
                write_base(&mut out, c, &alias, nr, entry, *ia32);
                "returnval()"
            }
            None => {
                write_raw(&mut out, c, &alias, nr);
                "__ret"
            }
        };
        if !handwritten.contains(&alias) {
            let _ = writeln!(
                out,
                "probe syscall.{a} = __syscall.{a} {{\n\tname = \"{a}\"\n\targstr = {s}\n}}",
                a = alias,
                s = argstr(c, &alias)
            );
            let _ = writeln!(
                out,
                "probe syscall.{a}.return = __syscall.{a}.return {{\n\tname = \"{a}\"\n\
                 \tretval = {r}\n\tretstr = return_str(1, retval)\n}}",
                a = alias,
                r = retval
            );
        }
        let _ = writeln!(
            out,
            "probe nd_syscall.{a} = syscall.{a} {{ }}\nprobe nd_syscall.{a}.return = syscall.{a}.return {{ }}\n",
            a = alias
        );
    }
    names.sort();
    out.push_str(
        "/* The name of system call number nr, or \"\" */\nfunction __syscall_name:string (nr:long) %{ /* pure */ /* unprivileged */\n\tswitch (STAP_ARG_nr) {\n",
    );
    for (nr, n) in &names {
        let _ = writeln!(
            out,
            "\tcase {}: stp_strcpy(STAP_RETVALUE, \"{}\"); break;",
            nr, n
        );
    }
    out.push_str("\tdefault: STAP_RETVALUE[0] = '\\0'; break;\n\t}\n%}\n");
    out.push_str(
        "/**\n * sfunction syscall_name - The name of a system call\n * @num: its number\n *\n * Description: \"\" for a number no call has.\n */\nfunction syscall_name:string (num:long) { return __syscall_name(num) }\n\n",
    );
    out.push_str(
        "/**\n * sfunction syscall_num - The number of a system call\n * @name: its name\n *\n * Description: -1 for a name no call has.\n */\nfunction syscall_num:long (name:string) %{ /* pure */ /* unprivileged */\n\tSTAP_RETVALUE = -1;\n",
    );
    for (nr, n) in &names {
        let _ = writeln!(
            out,
            "\tif (!strcmp(STAP_ARG_name, \"{}\"))\n\t\tSTAP_RETVALUE = {};",
            n, nr
        );
    }
    out.push_str("%}\n");
    out
}

/// The `syscall.NAME` aliases the tapset texts define by hand.
pub fn handwritten_aliases<'a>(texts: impl Iterator<Item = &'a str>) -> HashSet<String> {
    let mut set = HashSet::new();
    for t in texts {
        for line in t.lines() {
            let Some(rest) = line.trim_start().strip_prefix("probe syscall.") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                set.insert(name);
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openat() -> Syscall {
        Syscall {
            name: "openat".into(),
            nr: Some(257),
            args: vec![
                ("int".into(), "dfd".into()),
                ("const char *".into(), "filename".into()),
                ("int".into(), "flags".into()),
                ("umode_t".into(), "mode".into()),
            ],
        }
    }

    #[test]
    fn a_call_gets_its_aliases_and_variables() {
        let text = generate("K", &[openat()], &|_| true, &HashSet::new());
        assert!(text.contains("probe __syscall.openat = kprobe.function(\"__x64_sys_openat\")"));
        assert!(text.contains("\tfilename = user_string_quoted(filename_uaddr)"));
        assert!(text.contains("\tdfd = __int32(__sc_arg(1))"));
        assert!(text.contains("argstr = sprintf(\"%d, %s, %d, %#o\", dfd, filename, flags, mode)"));
        assert!(text.contains("probe nd_syscall.openat.return = syscall.openat.return"));
        assert!(text.contains("case 257: stp_strcpy(STAP_RETVALUE, \"openat\");"));
    }

    #[test]
    fn handwritten_aliases_replace_the_public_ones_only() {
        let hand = handwritten_aliases(["probe syscall.openat = __syscall.openat {"].into_iter());
        let text = generate("K", &[openat()], &|_| true, &hand);
        assert!(text.contains("probe __syscall.openat ="));
        assert!(!text.contains("probe syscall.openat ="));
        assert!(text.contains("probe nd_syscall.openat = syscall.openat"));
    }

    #[test]
    fn numbered_calls_without_an_entry_function_are_seen_on_raw_syscalls() {
        let text = generate("K", &[openat()], &|_| false, &HashSet::new());
        assert!(text.contains(
            "probe __syscall.openat = kernel.trace(\"raw_syscalls:sys_enter\") {\n\tif ($id != 257) next"
        ));
        assert!(text.contains("if ($regs->orig_ax != 257) next"));
        assert!(text.contains("\tretval = __ret\n"));
        assert!(!text.contains("kprobe.function"));
    }

    #[test]
    fn unnumbered_calls_without_an_entry_function_are_left_out() {
        let c = Syscall {
            nr: None,
            ..openat()
        };
        let text = generate("K", &[c], &|_| false, &HashSet::new());
        assert!(!text.contains("openat"));
    }

    #[test]
    fn an_argument_called_name_is_name_str() {
        let c = Syscall {
            name: "sethostname".into(),
            nr: Some(170),
            args: vec![
                ("char *".into(), "name".into()),
                ("int".into(), "len".into()),
            ],
        };
        let text = generate("K", &[c], &|_| true, &HashSet::new());
        assert!(text.contains("name_uaddr = __sc_arg(1)"));
        assert!(text.contains("name = \"sethostname\""));
    }
}

//! The VM tier's uprobe tests: `process("PATH").function("NAME")` and `.return` on a test
//! program built here (tests/vm/proc/uprog.c, a PIE with add() and scale(), which the
//! compiler may neither inline nor specialise) and on the C library it uses, with exact
//! argument and return values.  The entry probes' values are SystemTap 4.8's for the same
//! script and program on 6.1 (recorded by running it in this guest); 4.8 has no return
//! probes there (`process return probes not available`), so the return values are checked
//! against what the program computes.

mod vmlib;

use std::path::PathBuf;
use std::process::Command;
use vmlib::*;

/// The test program, built (a dynamically linked PIE) at a path of its own, which the
/// guest gets too; and the C library it uses.  Built once: the tests run at once and read
/// it while others would be writing it.
fn uprog() -> (PathBuf, String) {
    static BUILT: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uprobe");
            std::fs::create_dir_all(&dir).unwrap();
            let bin = dir.join("uprog");
            cc_program("tests/vm/proc/uprog.c", &bin, &["-O2", "-g"]);
            let ldd = Command::new("ldd").arg(&bin).output().unwrap();
            let libc = String::from_utf8_lossy(&ldd.stdout)
                .split_whitespace()
                .find(|w| w.starts_with('/') && w.contains("/libc.so"))
                .unwrap_or_else(|| panic!("no libc in ldd's output"))
                .to_string();
            (bin, libc)
        })
        .clone()
}

/// Runs `script` with stpd's `args` in a guest that has the program; `then` runs after
/// stpd ends.  Returns stpd's output and what `then` printed.
fn run(module: &str, script: &str, args: &str, then: &str) -> (String, String) {
    let (bin, _) = uprog();
    let sh = format!(
        "stpd {args} \"$1\" > /tmp/out 2>&1\n\
         echo \"rc: $?\"\n\
         echo '--- uprobe output'\n\
         cat /tmp/out\n\
         echo '--- then'\n\
         {then}\n\
         echo '--- uprobe end'\n"
    );
    let bin = bin.display().to_string();
    let log = scenario_env(module, &[], script, &sh, &[], &[("VM_HOSTBIN", &bin)]);
    let part = |from: &str, to: &str| -> String {
        let a = log.find(from).unwrap_or_else(|| panic!("{log}")) + from.len();
        let b = log.find(to).unwrap_or_else(|| panic!("{log}"));
        log[a..b].to_string()
    };
    assert!(log.contains("rc: 0\n"), "{log}");
    (
        part("--- uprobe output\n", "--- then\n"),
        part("--- then\n", "--- uprobe end"),
    )
}

/// stpd's output without the program's own line, which goes out beside the probes' (which
/// stpd streams), checking that it is there once.
fn probe_lines(out: &str) -> String {
    assert_eq!(out.lines().filter(|l| *l == "30 21").count(), 1, "{out}");
    out.lines()
        .filter(|l| *l != "30 21")
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Entry and return probes on the program's functions and on printf in the C library:
/// the arguments (an int, a negative one, a long, a string read from the process), the
/// return values, and the program's own output unchanged; after the session, the program
/// runs again unprobed (no breakpoint left behind).
#[test]
fn uprobes_see_arguments_and_return_values() {
    let (bin, libc) = uprog();
    let p = bin.display();
    let script = format!(
        r#"
probe process("{p}").function("add") {{ printf("add %d %d\n", int_arg(1), int_arg(2)) }}
probe process("{p}").function("add").return {{ printf("add returns %d\n", returnval() & 0xffffffff) }}
probe process("{p}").function("scale") {{ printf("scale %d %s\n", long_arg(1), user_string(pointer_arg(2))) }}
probe process("{p}").function("scale").return {{ printf("scale returns %d\n", returnval()) }}
probe process("{libc}").function("printf") {{ if (pid() == target()) printf("printf %s\n", user_string_n(pointer_arg(1), 5)) }}
"#
    );
    let (out, then) = run("uprobe_fn", &script, &format!("-c {p}"), &format!("{p}"));
    let probes = probe_lines(&out);
    assert_eq!(
        probes,
        "add 0 -1\nadd returns 4294967295\nadd 1 9\nadd returns 10\nadd 2 19\nadd returns 21\n\
         scale 7 abc\nscale returns 21\nprintf %d %l\n"
    );
    assert_eq!(then, "30 21\n");
}

/// `-l` and `-L` name a program's functions as SystemTap 4.8 does (`NAME@FILE:LINE`, and
/// the parameters typed, `char const*`), from a wildcard over its symbol table: with the
/// DWARF in the program, in a separate debug file found by build ID
/// (`objcopy --only-keep-debug`, under `.build-id/` of `$SYSTEMTAP_DEBUGINFO_PATH`), and
/// for a copy without DWARF, the functions alone.
#[test]
fn listings_name_functions_as_systemtap_does() {
    let (bin, _) = uprog();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/proc/uprog.c");
    let src = src.display();
    let p = bin.display().to_string();
    let point = |p: &str| format!("process(\"{p}\").function(\"[as][dc]*\")");
    assert_eq!(
        stap_list(&["-l", &point(&p)], &[]),
        format!(
            "process(\"{p}\").function(\"add@{src}:12\")\n\
             process(\"{p}\").function(\"scale@{src}:17\")\n"
        )
    );
    // A copy whose DWARF is in a debug file of its own, found by build ID.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("uprog-stripped");
    let debug = dir.path().join("uprog.debug");
    let run = |cmd: &str, args: &[&std::ffi::OsStr]| {
        let st = Command::new(cmd).args(args).status().unwrap();
        assert!(st.success(), "{cmd}");
    };
    run(
        "objcopy",
        &[
            "--only-keep-debug".as_ref(),
            bin.as_os_str(),
            debug.as_os_str(),
        ],
    );
    run(
        "objcopy",
        &["--strip-debug".as_ref(), bin.as_os_str(), copy.as_os_str()],
    );
    let notes = Command::new("readelf")
        .arg("-n")
        .arg(&copy)
        .output()
        .unwrap();
    let notes = String::from_utf8_lossy(&notes.stdout);
    let id = notes
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: "))
        .unwrap_or_else(|| panic!("no build ID: {notes}"))
        .to_string();
    let ids = dir.path().join("debug/.build-id").join(&id[..2]);
    std::fs::create_dir_all(&ids).unwrap();
    std::fs::copy(&debug, ids.join(format!("{}.debug", &id[2..]))).unwrap();
    let c = copy.display().to_string();
    let dbg = dir.path().join("debug").display().to_string();
    assert_eq!(
        stap_list(&["-L", &point(&c)], &[("SYSTEMTAP_DEBUGINFO_PATH", &dbg)]),
        format!(
            "process(\"{c}\").function(\"add@{src}:12\") $a:int $b:int\n\
             process(\"{c}\").function(\"scale@{src}:17\") $x:long int $tag:char const*\n"
        )
    );
    // Without the debug file: the symbol table's functions, with no variables.
    assert_eq!(
        stap_list(
            &["-L", &point(&c)],
            &[("SYSTEMTAP_DEBUGINFO_PATH", "/nonexistent")]
        ),
        format!("process(\"{c}\").function(\"add\")\nprocess(\"{c}\").function(\"scale\")\n")
    );
}

/// On two CPUs, two instances of the program run at once, one of them the `-x` target,
/// already running (waiting for /tmp/go) when the session starts: the probes fire in
/// both, as many times as each calls; when the session ends the breakpoints go, and
/// a third run is unprobed.
#[test]
fn uprobes_follow_two_instances_and_a_running_target() {
    let (bin, _) = uprog();
    let p = bin.display();
    let script = format!(
        r#"
global n
probe process("{p}").function("add") {{ n[pid() == target() ? "target" : "other"] <<< int_arg(2) }}
probe end {{ foreach (k+ in n) printf("%s: %d calls, sum %d\n", k, @count(n[k]), @sum(n[k])) }}
"#
    );
    let sh = format!(
        "{p} /tmp/go > /tmp/a.out &\n\
         a=$!\n\
         {p} /tmp/go > /tmp/b.out &\n\
         b=$!\n\
         stpd -x $a \"$1\" > /tmp/out 2>&1 &\n\
         pid=$!\n\
         while ! lsmod | grep -q '^uprobe_two '; do sleep 1; done\n\
         sleep 1\n\
         touch /tmp/go\n\
         wait $a $b\n\
         kill -INT $pid\n\
         wait $pid\n\
         echo \"rc: $?\"\n\
         echo '--- uprobe output'\n\
         cat /tmp/out /tmp/a.out /tmp/b.out\n\
         {p}\n\
         echo '--- uprobe end'\n"
    );
    let bin = bin.display().to_string();
    let log = scenario_env(
        "uprobe_two",
        &[],
        &script,
        &sh,
        &[],
        &[("VM_HOSTBIN", &bin), ("VM_SMP", "2")],
    );
    let a = log
        .find("--- uprobe output\n")
        .unwrap_or_else(|| panic!("{log}"));
    let b = log
        .find("--- uprobe end")
        .unwrap_or_else(|| panic!("{log}"));
    assert!(log[..a].contains("rc: 0\n"), "{log}");
    assert_eq!(
        &log[a + "--- uprobe output\n".len()..b],
        "other: 3 calls, sum 27\ntarget: 3 calls, sum 27\n30 21\n30 21\n30 21\n"
    );
}

/// The program's DWARF gives its functions' parameters by name, typed: `$a` and `$b`
/// (ints, sign-extended in `$$parms` as in SystemTap), `$x` and `$tag` (a long and a
/// pointer the script reads a string through), `$argv[0]` (an element in the process's
/// memory), and a `.return` probe's `$return` as its type (an int: -1, where returnval()
/// has the register's 4294967295).  The entry values are SystemTap 4.8's on 6.1.
#[test]
fn dwarf_parameters_and_return_values() {
    let (bin, _) = uprog();
    let p = bin.display();
    let script = format!(
        r#"
probe process("{p}").function("main") {{ printf("main %d %s\n", $argc, user_string($argv[0])) }}
probe process("{p}").function("add") {{ printf("add %d %d %s\n", $a, $b, $$parms) }}
probe process("{p}").function("add").return {{ printf("add returns %d %d\n", $return, returnval()) }}
probe process("{p}").function("scale") {{ printf("scale %d %s %s\n", $x, user_string($tag), tokenize($$parms, " ")) }}
"#
    );
    let (out, _) = run("uprobe_dwarf", &script, &format!("-c {p}"), "");
    let probes = probe_lines(&out);
    assert_eq!(
        probes,
        format!(
            "main 1 {p}\n\
             add 0 -1 a=0x0 b=0xffffffffffffffff\nadd returns -1 4294967295\n\
             add 1 9 a=0x1 b=0x9\nadd returns 10 10\n\
             add 2 19 a=0x2 b=0x13\nadd returns 21 21\n\
             scale 7 abc x=0x7\n"
        )
    );
}

/// A program's inlined copies, a GCC clone and a line, from its DWARF
/// (tests/vm/proc/inlprog.c, -O2): `square` is inlined twice, `scaled` is only its clone
/// `scaled.constprop.0` (its `$k` a constant of the DWARF), and line 30 has the loop's
/// locals.  The values are SystemTap 4.8's for the same script and program on 6.1; 4.8
/// names both inlined copies `square@/PATH/inlprog.c:9` (the declaration), stap-rs by their
/// call sites as it names a module's (`square@inlprog.c:28` in main, `:18` in scaled), and
/// runs the copy at :28 first where 4.8 runs the line first.
#[test]
fn inlined_copies_clones_and_lines() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uprobe-inl");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("inlprog");
    cc_program("tests/vm/proc/inlprog.c", &bin, &["-O2", "-g"]);
    let p = bin.display().to_string();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/proc/inlprog.c");
    let src = src.display();
    assert_eq!(
        stap_list(&["-l", &format!("process(\"{p}\").function(\"s*\")")], &[]),
        format!(
            "process(\"{p}\").function(\"scaled@{src}:16\")\n\
             process(\"{p}\").function(\"square@inlprog.c:18\").inline\n\
             process(\"{p}\").function(\"square@inlprog.c:28\").inline\n"
        )
    );
    let script = format!(
        r#"
probe process("{p}").function("square").inline {{ printf("square %s\n", pp()) }}
probe process("{p}").function("scaled") {{ printf("scaled %d %d\n", $x, $k) }}
probe process("{p}").statement("main@inlprog.c:30") {{ printf("line30 i=%d acc=%d\n", $i, $acc) }}
"#
    );
    let sh = format!("stpd -c '{p} a' \"$1\" > /tmp/out 2>&1\necho \"rc: $?\"\ncat /tmp/out\n");
    let log = scenario_env("uprobe_inl", &[], &script, &sh, &[], &[("VM_HOSTBIN", &p)]);
    assert!(log.contains("rc: 0\n"), "{log}");
    assert!(log.contains("acc 95\n"), "{log}");
    let kind = |k: &str| -> String {
        log.lines()
            .filter(|l| l.starts_with(k))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(
        kind("line30 "),
        "line30 i=1 acc=0\nline30 i=2 acc=13\nline30 i=3 acc=42\n"
    );
    assert_eq!(kind("scaled "), "scaled 1 3\nscaled 2 3\nscaled 3 3\n");
    let copy = |line: u32| {
        format!("square process(\"{p}\").function(\"square@inlprog.c:{line}\").inline\n")
    };
    assert_eq!(kind("square "), [copy(28), copy(18)].concat().repeat(3));
}

/// A function of the C library found by its symbol (`printf`, an alias of `__printf`) is
/// named by its DWARF, from libc6-dbg's debug file (found by build ID, its sections
/// compressed), with its parameters, as SystemTap 4.8 lists it.
#[test]
fn library_aliases_are_named_by_their_dwarf() {
    let (_, libc) = uprog();
    let canonical = std::fs::canonicalize(&libc).unwrap();
    let canonical = canonical.display();
    assert_eq!(
        stap_list(
            &["-L", &format!("process(\"{libc}\").function(\"printf\")")],
            &[]
        ),
        format!(
            "process(\"{canonical}\").function(\"__printf@./stdio-common/printf.c:27\") \
             $format:char const* $arg:va_list\n"
        )
    );
}

/// The same program built without optimization (-O0): its parameters live in frame slots
/// that its prologue fills, so an entry probe goes past the prologue (SystemTap's "auto"
/// prologue searching, at the same address as 4.8's), where `$a`, `$b`, `$$parms` and a
/// string parameter read their values through the frame pointer.  The lines are SystemTap
/// 4.8's for the same script and program on 6.1.
#[test]
fn unoptimized_programs_are_probed_past_their_prologue() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uprobe-o0");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("uprog0");
    cc_program("tests/vm/proc/uprog.c", &bin, &["-O0", "-g"]);
    let p = bin.display().to_string();
    let script = format!(
        r#"
probe process("{p}").function("add") {{ printf("add %d %d [%s]\n", $a, $b, $$parms) }}
probe process("{p}").function("scale") {{ printf("scale %d %s\n", $x, user_string($tag)) }}
probe process("{p}").function("main") {{ printf("main %d\n", $argc) }}
"#
    );
    let sh = format!("stpd -c '{p}' \"$1\" > /tmp/out 2>&1\necho \"rc: $?\"\ncat /tmp/out\n");
    let log = scenario_env("uprobe_o0", &[], &script, &sh, &[], &[("VM_HOSTBIN", &p)]);
    assert!(log.contains("rc: 0\n"), "{log}");
    let got: String = log
        .lines()
        .filter(|l| ["main ", "add ", "scale "].iter().any(|k| l.starts_with(k)))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        got,
        "main 1\n\
         add 0 -1 [a=0x0 b=0xffffffffffffffff]\n\
         add 1 9 [a=0x1 b=0x9]\n\
         add 2 19 [a=0x2 b=0x13]\n\
         scale 7 abc\n",
        "{log}"
    );
}

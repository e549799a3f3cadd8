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
/// guest gets too; and the C library it uses.
fn uprog() -> (PathBuf, String) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("uprobe");
    std::fs::create_dir_all(&dir).unwrap();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/proc/uprog.c");
    let bin = dir.join("uprog");
    let cc = Command::new("cc")
        .args(["-O2", "-g", "-Wall", "-Werror", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    let libc = String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .find(|w| w.starts_with('/') && w.contains("/libc.so"))
        .unwrap_or_else(|| panic!("no libc in ldd's output"))
        .to_string();
    (bin, libc)
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
    // The program's own line goes out beside the probes' (which stpd streams).
    let probes: String = out
        .lines()
        .filter(|l| *l != "30 21")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        probes,
        "add 0 -1\nadd returns 4294967295\nadd 1 9\nadd returns 10\nadd 2 19\nadd returns 21\n\
         scale 7 abc\nscale returns 21\nprintf %d %l\n"
    );
    assert_eq!(out.lines().filter(|l| *l == "30 21").count(), 1, "{out}");
    assert_eq!(then, "30 21\n");
}

/// A wildcard takes every function that matches, from the symbol table.
#[test]
fn function_wildcards_match_the_symbol_table() {
    let (bin, _) = uprog();
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-l"])
        .arg(format!(
            "process(\"{}\").function(\"[as][dc]*\")",
            bin.display()
        ))
        .output()
        .unwrap();
    let p = bin.display();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("process(\"{p}\").function(\"add\")\nprocess(\"{p}\").function(\"scale\")\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
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
    let a = log.find("--- uprobe output\n").unwrap_or_else(|| panic!("{log}"));
    let b = log.find("--- uprobe end").unwrap_or_else(|| panic!("{log}"));
    assert!(log[..a].contains("rc: 0\n"), "{log}");
    assert_eq!(
        &log[a + "--- uprobe output\n".len()..b],
        "other: 3 calls, sum 27\ntarget: 3 calls, sum 27\n30 21\n30 21\n30 21\n"
    );
}

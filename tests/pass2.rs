//! End-to-end tests of pass 2 through the `stap` binary: the `-p2` listing (snapshots),
//! tapset auto-inclusion and probe aliases, SystemTap's semantic errors (text and JSON),
//! the optimiser's elision and its warnings, and the listings built on pass 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/p2")
}

fn stap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .current_dir(corpus())
        .args(args)
        .output()
        .expect("run stap")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn p2_ok(args: &[&str]) -> String {
    let out = stap(args);
    assert!(
        out.status.success(),
        "stap {:?} failed:\n{}",
        args,
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn p2_err(script: &str) -> String {
    let out = stap(&["-p2", "-e", script]);
    assert_eq!(out.status.code(), Some(1), "expected failure for {script}");
    text(&out.stderr)
}

#[test]
fn p2_program_listing() {
    let out = p2_ok(&["-p2", "program.stp"]);
    insta::assert_snapshot!("p2_program", out);
    assert!(out.contains("names:string [long, string]"), "{out}");
    assert!(out.contains("lat:stats"), "{out}");
    assert!(
        !out.contains("unused"),
        "unused functions are elided:\n{out}"
    );
    // Each point of a multi-point probe is its own derived probe.
    assert!(out.contains("timer.ms(100) /* <- begin,timer.ms(100),timer.s(1).randomize(0) */"));
}

#[test]
fn p2_unoptimized_keeps_unused_code() {
    let out = p2_ok(&["-u", "-p2", "program.stp"]);
    assert!(out.contains("unused:long (x:long)"), "{out}");
}

#[test]
fn p2_aliases_from_a_tapset_directory() {
    let out = p2_ok(&["-p2", "-I", "tapsets", "aliases.stp"]);
    insta::assert_snapshot!("p2_aliases", out);
    // work.* matched both two-component aliases; the explicit name matched the third.
    assert!(out.contains("timer.ms(10) /* <- work.* */"), "{out}");
    assert!(out.contains("timer.ms(20) /* <- work.* */"), "{out}");
    assert!(
        out.contains("timer.us(100) /* <- work.tick.fast */"),
        "{out}"
    );
    // The tapset's function and global were pulled in; its unused function was not kept.
    assert!(out.contains("work_note:long (n:long)"), "{out}");
    assert!(out.contains("work_seen:long"), "{out}");
    assert!(!out.contains("never_used"), "{out}");
}

#[test]
fn p2_defined_picks_branches_at_compile_time() {
    let out = p2_ok(&["-w", "-p2", "defined.stp"]);
    insta::assert_snapshot!("p2_defined", out);
}

#[test]
fn tapset_functions_are_auto_included_only_when_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lib1.stp"),
        "function twice:long (x:long) { return 2 * x }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lib2.stp"),
        "function broken() { return nosuch() }\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let out = p2_ok(&["-p2", "-I", d, "-e", "probe begin { println(twice(21)) }"]);
    assert!(out.contains("twice:long (x:long)"), "{out}");
    // lib2 is never needed, so its unresolvable call is never an error.
    assert!(!out.contains("broken"), "{out}");
}

#[test]
fn type_conflicts_name_both_places() {
    let err = p2_err("global g\nprobe begin { g = 1 }\nprobe end { g = \"s\" }");
    assert!(err.starts_with("semantic error: type mismatch"), "{err}");
    assert!(err.contains("<input>:3:"), "{err}");
    assert!(err.contains("type was first inferred here"), "{err}");
    assert!(err.contains("2 | probe begin { g = 1 }"), "{err}");

    let out = stap(&[
        "-p2",
        "--diagnostics=json",
        "-e",
        "global g\nprobe begin { g = 1 }\nprobe end { g = \"s\" }",
    ]);
    let line = text(&out.stderr);
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v["pass"], "semantic");
    assert_eq!(v["code"], "sema.type-mismatch");
    assert_eq!(v["line"], 3);
    let labels = v["labels"].as_array().unwrap();
    assert_eq!(labels[0]["message"], "type was first inferred here");
    assert_eq!(labels[0]["line"], 2);
}

#[test]
fn semantic_errors_follow_systemtap() {
    let cases: &[(&str, &str)] = &[
        ("probe begin { foo(1) }", "unresolved function foo"),
        (
            "function fooo(x) { return x } probe begin { println(foo(1)) }",
            "(similar: fooo",
        ),
        ("probe nosuch { }", "probe point mismatch"),
        (
            "probe begin { print($x) }",
            "unresolved target-symbol expression '$x'",
        ),
        (
            "probe begin { a[1] = 1 }",
            "unresolved arity-1 global array a",
        ),
        (
            "global a probe begin { a[1] = 1; a[1,2] = 3 }",
            "inconsistent arity (1 vs 2)",
        ),
        (
            "probe begin { printf(\"%d %d\\n\", 1) }",
            "Wrong number of args to formatted print",
        ),
        (
            "probe begin { printf(\"%s\\n\", 1) }",
            "type mismatch: expected string but found long",
        ),
        (
            "global s probe begin { s <<< 1; x = s + 1; println(x) }",
            "type mismatch",
        ),
        (
            "probe begin { a <<< 1; println(@count(a)) }",
            "cannot hold statistics",
        ),
        (
            "global a probe begin { a[4] = 1; a = 2 }",
            "used as a scalar",
        ),
        ("probe begin { break }", "'break' statement outside a loop"),
        ("probe begin { 3 = 4 }", "Expecting lvalue for assignment"),
        ("probe timer.ms(0) { println(1) }", "invalid timer interval"),
        (
            "probe timer.ms(10).randomize(11) { println(1) }",
            "randomization value out of range",
        ),
        (
            "probe procfs(\"a/../b\").read { $value = \"x\" }",
            "invalid procfs path",
        ),
        (
            "probe procfs(\"f\").write { $value = \"x\" }",
            "cannot be assigned",
        ),
        (
            "probe process(\"/bin/true\").syscall { println($return) }",
            "not available",
        ),
        ("probe begin { x = 1 }", "no probes found"),
        (
            "global s probe begin { s <<< 1; print(@hist_log(s)); print(@hist_linear(s, 0, 10, 1)) }",
            "a statistic can have only one kind of histogram",
        ),
        (
            "function f(x) { return f(x) + 1 } probe begin { println(f(1)) }",
            "no base case",
        ),
        (
            "probe kernel.function(\"no_such_function_xyz\") { println(1) }",
            "kernel.function(\"no_such_function_xyz\")",
        ),
    ];
    for (script, want) in cases {
        let err = p2_err(script);
        assert!(
            err.contains(want),
            "for {script:?} expected {want:?} in:\n{err}"
        );
        assert!(
            err.contains("semantic error:"),
            "for {script:?} expected a semantic error:\n{err}"
        );
    }
}

#[test]
fn elision_warns_and_w_silences_and_big_w_fails() {
    let script =
        "global unused_g function unused_f() { return 1 } probe begin { x = 1; println(2) }";
    let out = stap(&["-p2", "-e", script]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    for w in [
        "WARNING: Eliding assignment to 'x'",
        "WARNING: Eliding unused function 'unused_f'",
        "WARNING: Eliding unused variable 'unused_g'",
    ] {
        assert!(err.contains(w), "missing {w} in:\n{err}");
    }
    let out = stap(&["-w", "-p2", "-e", script]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let out = stap(&["-W", "-p2", "-e", script]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn user_runtime_rejects_kernel_probes() {
    let out = stap(&[
        "--runtime=user",
        "-p2",
        "-e",
        "probe kprobe.function(\"vfs_read\") { println(1) }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("needs the kernel runtime"));
    let out = stap(&[
        "--runtime=user",
        "-p2",
        "-e",
        "probe timer.s(1) { println(1) }",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn optional_and_sufficient_points() {
    let out = p2_ok(&["-p2", "-e", "probe nosuch?, begin { println(1) }"]);
    assert!(out.contains("begin /* <- nosuch?,begin */"), "{out}");
    let out = p2_ok(&["-p2", "-e", "probe begin!, end { println(1) }"]);
    assert!(out.contains("begin /*"), "{out}");
    assert!(
        !out.contains("\nend /*"),
        "a resolved sufficient point stops the list:\n{out}"
    );
}

#[test]
fn listings_and_dumps() {
    let out = p2_ok(&["-l", "timer.*s(5)"]);
    for p in ["timer.ms(5)", "timer.s(5)"] {
        assert!(out.lines().any(|l| l == p), "missing {p} in:\n{out}");
    }
    // Below the hrtimer minimum of 100 us: not a point to list.
    for p in ["timer.ns(5)", "timer.us(5)"] {
        assert!(!out.lines().any(|l| l == p), "{p} listed in:\n{out}");
    }
    let out = p2_ok(&["-I", "tapsets", "-L", "work.tick"]);
    // An alias is listed by its own name, then the variables its body sets, as SystemTap 4.8
    // prints it (`stap -L work.tick` with the same alias in a tapset directory).
    assert!(out.contains("work.tick what:string n:long"), "{out}");
    let out = p2_ok(&["--dump-probe-types"]);
    assert!(out.contains("timer.ms(number).randomize(number)"), "{out}");
    assert!(
        out.contains("kernel.function(number|string).return"),
        "{out}"
    );
    let out = p2_ok(&["-I", "tapsets", "--dump-functions"]);
    assert!(out.contains("work_note:long (n:long)"), "{out}");
    let out = p2_ok(&["-I", "tapsets", "--dump-probe-aliases"]);
    assert!(out.contains("work.tock"), "{out}");
}

#[test]
fn verbose_prints_pass_2_statistics() {
    let out = stap(&["-v", "-p2", "program.stp"]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("Pass 2: analyzed script: 4 probes, 2 functions, 0 embeds, 4 globals"),
        "{err}"
    );
}

/// SystemTap's probe tree matches the longest alias: `dd.x.randomize(1)` through
/// `dd.x = dd.x.tp !, dd.x.kp` is `dd.x.tp` with `.randomize(1)`, not `dd.x` again with
/// `.tp.randomize(1)` (which expanded without end: SystemTap's ioscheduler layout).
#[test]
fn an_alias_naming_longer_aliases_of_its_own_name_resolves() {
    let out = p2_ok(&[
        "-p2",
        "-e",
        "probe dd.x.tp = timer.ms(10) {} probe dd.x.kp = timer.ms(20) {} \
         probe dd.x = dd.x.tp !, dd.x.kp {} probe dd.x.randomize(1) { println(1) }",
    ]);
    assert!(
        out.contains("timer.ms(10).randomize(1) /* <- dd.x.randomize(1) */"),
        "{out}"
    );
}

/// A recursive alias is refused even when every branch is optional (each level tried
/// every branch again: 2^32 expansions, a hang).
#[test]
fn a_recursive_alias_with_optional_branches_is_refused() {
    let err = p2_err("probe aa = aa.b ?, aa.c ? {} probe aa { println(1) }");
    assert!(err.contains("probe alias expansion too deep"), "{err}");
}

/// Under `-u` a tapset's global that nothing refers to is not taken (SystemTap takes a
/// tapset's global only when code names it), so it needs no type.
#[test]
fn unoptimized_leaves_out_unreferenced_tapset_globals() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("zz.stp"),
        "global A, B\nprobe zz.a = begin { A[1] += 1 }\nprobe zz.b = begin { B[1] += 1 }\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let out = p2_ok(&["-u", "-p2", "-I", d, "-e", "probe zz.a {}"]);
    assert!(out.contains("A:long [long]"), "{out}");
    assert!(!out.contains("B:"), "{out}");
    // The script's own unused globals stay under -u.
    let out = p2_ok(&["-u", "-p2", "-I", d, "-e", "global mine = 1 probe zz.a {}"]);
    assert!(out.contains("mine:long"), "{out}");
}

//! End-to-end tests of pass 1 through the `stap` binary: `-p1` output (snapshots),
//! the round trip `stap -p1 f | stap -p1 -`, diagnostics in text and JSON, the
//! preprocessor against a target kernel given with `-r`, and the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn stap() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stap"));
    c.env_remove("SYSTEMTAP_TAPSET");
    c
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/p1")
}

fn run(args: &[&str]) -> Output {
    stap().args(args).output().expect("run stap")
}

fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = stap()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stap");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fake kernel build tree for `-r DIR`: release `9.9.9-test`, a small .config.
fn fake_kernel() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("include/config")).unwrap();
    std::fs::write(
        d.path().join("include/config/kernel.release"),
        "9.9.9-test\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join(".config"),
        "CONFIG_TEST_ON=y\nCONFIG_TEST_NUM=64\nCONFIG_TEST_STR=\"text\"\n# CONFIG_UNSET is not set\n",
    )
    .unwrap();
    d
}

fn p1_file(name: &str, extra: &[&str]) -> String {
    let out = stap()
        .current_dir(corpus())
        .args(["-p1"])
        .args(extra)
        .arg(name)
        .args(if name == "preprocessor.stp" {
            &["first", "2"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "stap -p1 {} failed:\n{}",
        name,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Drops the `# file NAME` header, which names the input.
fn body(p1: &str) -> String {
    p1.lines()
        .filter(|l| !l.starts_with("# file "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn assert_round_trip(p1: &str, guru: bool) {
    let args: &[&str] = if guru {
        &["-g", "-p1", "-"]
    } else {
        &["-p1", "-"]
    };
    let again = run_stdin(args, p1);
    assert!(
        again.status.success(),
        "the -p1 output does not parse again:\n{}\n--- output was:\n{}",
        text(&again.stderr),
        p1
    );
    assert_eq!(
        body(p1),
        body(&text(&again.stdout)),
        "-p1 is not a fixed point"
    );
}

#[test]
fn p1_declarations() {
    let out = p1_file("declarations.stp", &["-g"]);
    insta::assert_snapshot!("p1_declarations", out);
    assert_round_trip(&out, true);
}

#[test]
fn p1_statements() {
    let out = p1_file("statements.stp", &[]);
    insta::assert_snapshot!("p1_statements", out);
    assert_round_trip(&out, false);
}

#[test]
fn p1_expressions() {
    let out = p1_file("expressions.stp", &[]);
    insta::assert_snapshot!("p1_expressions", out);
    assert_round_trip(&out, false);
}

#[test]
fn p1_targets() {
    let out = p1_file("targets.stp", &[]);
    insta::assert_snapshot!("p1_targets", out);
    assert_round_trip(&out, false);
}

#[test]
fn p1_preprocessor_uses_target_kernel_and_arguments() {
    let k = fake_kernel();
    let r = k.path().to_str().unwrap();
    let out = p1_file("preprocessor.stp", &["-r", r, "-a", "x86_64"]);
    insta::assert_snapshot!("p1_preprocessor", out);
    // The conditions that must hold for this kernel and these arguments:
    for g in [
        "global modern",
        "global test_kernel",
        "global x86",
        "global configured",
        "global unset_ok",
        "global kernel_runtime",
        "global new_language",
        "global no_guru",
        "global two_args",
    ] {
        assert!(out.contains(g), "missing {g} in:\n{out}");
    }
    // Another architecture, guru mode and the user runtime flip their conditions.
    let out = p1_file(
        "preprocessor.stp",
        &["-r", r, "-a", "aarch64", "-g", "--runtime=user"],
    );
    for g in ["global not_x86", "global guru", "global user_runtime"] {
        assert!(out.contains(g), "missing {g} in:\n{out}");
    }
}

#[test]
fn p1_round_trips_every_peer_suite_script() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/peer-suite/testsuite");
    assert!(
        suite.is_dir(),
        "the peer suite is missing at {} (the project expects ../shared beside it)",
        suite.display()
    );
    let mut parsed = 0;
    for dir in [
        "parseok", "semok", "semko", "transok", "transko", "buildok", "buildko",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(suite.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "stp"))
            .collect();
        files.sort();
        for f in files {
            let first = std::fs::read_to_string(&f)
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            if !first.contains("stap") {
                continue;
            }
            let guru = first.contains('g');
            let mut args = vec!["-p1"];
            if guru {
                args.push("-g");
            }
            let out = stap().args(&args).arg(&f).output().unwrap();
            if !out.status.success() {
                continue;
            }
            assert_round_trip(&text(&out.stdout), guru);
            parsed += 1;
        }
    }
    assert!(parsed > 300, "only {parsed} peer scripts parsed");
}

#[test]
fn parse_error_has_location_source_line_and_caret() {
    let out = run_stdin(&["-p1", "-"], "probe begin {\n  x = 1 +\n}\n");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("parse error: expected an expression\n"),
        "{err}"
    );
    assert!(err.contains("--> <input>:3:1"), "{err}");
    assert!(err.contains("3 | }"), "{err}");
    assert!(err.contains("^ found operator '}'"), "{err}");
    assert!(err.contains("1 parse error."), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn every_independent_error_is_reported() {
    let out = run_stdin(
        &["-p1", "-"],
        "probe begin { x = }\nprobe end { y = 1 }\nfunction f( { }\nglobal g\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.matches("parse error:").count(), 2, "{err}");
    assert!(err.contains("2 parse errors."), "{err}");
}

#[test]
fn json_diagnostics_have_every_field() {
    let out = run_stdin(
        &["-p1", "--diagnostics=json", "-"],
        "@define bad(x) %( @x ) %)\nprobe begin {\n  y = @bad(1)\n}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let line = err.lines().next().expect("one JSON line");
    let v: serde_json::Value = serde_json::from_str(line).expect("valid JSON");
    for key in [
        "severity",
        "pass",
        "code",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "labels",
        "notes",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {line}");
    }
    assert_eq!(v["severity"], "error");
    assert_eq!(v["pass"], "parse");
    assert_eq!(v["file"], "<input>");
    assert_eq!(v["line"], 1, "the error is in the macro body");
    // The macro expansion is traced back to the invocation and the definition.
    let labels = v["labels"].as_array().unwrap();
    assert!(labels
        .iter()
        .any(|l| l["message"] == "in expansion of macro '@bad'" && l["line"] == 3));
    assert!(labels
        .iter()
        .any(|l| l["message"] == "macro '@bad' defined here" && l["line"] == 1));
}

#[test]
fn macro_errors_name_the_expansion_in_text_mode() {
    let out = run_stdin(
        &["-p1", "-"],
        "@define bad(x) %( @x ) %)\nprobe begin {\n  y = @bad(1)\n}\n",
    );
    let err = text(&out.stderr);
    assert!(err.contains("in expansion of macro '@bad'"), "{err}");
    assert!(err.contains("macro '@bad' defined here"), "{err}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "probe begin {{ x = {}1{} }}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    let out = run_stdin(&["-p1", "-"], &deep);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nesting too deep"));

    let blocks = format!("probe begin {}{}", "{".repeat(100_000), "}".repeat(100_000));
    let out = run_stdin(&["-p1", "-"], &blocks);
    assert_eq!(out.status.code(), Some(1));

    let chain = format!("probe begin {{ x = 1{} }}", " + 1".repeat(50_000));
    let out = run_stdin(&["-p1", "-"], &chain);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("operator chain"));

    let recursive = "@define a %( @a %) probe begin { @a }";
    let out = run_stdin(&["-p1", "-"], recursive);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("expands too deeply"));
}

#[test]
fn arguments_substitute_and_range_check() {
    let out = run(&["-p1", "-e", "$1 { log(@2 . @#) }", "probe begin", "x"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("probe begin {"), "{s}");
    assert!(s.contains("log(\"x\" . \"2\")"), "{s}");

    let out = run(&["-p1", "-e", "probe begin { x = $3 }", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("command line argument index 3 out of range [1-1]"));
}

#[test]
fn embedded_c_needs_guru_mode() {
    let script = "function f() %{ /* C */ %} probe begin { f() }";
    let out = run(&["-p1", "-e", script]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("need stap -g"));
    assert!(run(&["-g", "-p1", "-e", script]).status.success());
}

#[test]
fn tapset_errors_warn_unless_w() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.stp"), "probe foo = .bar {}\n").unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(&["-p1", "-I", d, "-e", "probe begin {}"]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("has errors, and will be skipped"));
    let out = run(&["-p1", "-W", "-I", d, "-e", "probe begin {}"]);
    assert_eq!(out.status.code(), Some(1));
}

/// As in SystemTap 4.8, `SYSTEMTAP_TAPSET` names the standard library's directory: it
/// replaces the built-in library (4.8 then says `unresolved function pid`), and the files
/// there are what a script sees.
#[test]
fn systemtap_tapset_replaces_the_standard_library() {
    let dir = tempfile::tempdir().unwrap();
    let out = stap()
        .env("SYSTEMTAP_TAPSET", dir.path())
        .args(["-p2", "-e", "probe begin { println(pid()) }"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unresolved function pid"));
    std::fs::write(
        dir.path().join("p.stp"),
        "function pid:long () { return 42 }\n",
    )
    .unwrap();
    let out = stap()
        .env("SYSTEMTAP_TAPSET", dir.path())
        .args(["-p2", "-e", "probe begin { println(pid()) }"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn library_macros_are_visible_to_scripts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.stpm"),
        "%( 1 == 1 %? @define seven %( 7 %) %: @define eight %( 8 %) %)\n",
    )
    .unwrap();
    let out = stap()
        .env("SYSTEMTAP_TAPSET", dir.path())
        .args(["-p1", "-e", "probe begin { x = @seven }"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("x = 7;"));
    let out = stap()
        .env("SYSTEMTAP_TAPSET", dir.path())
        .args(["-p1", "-e", "probe begin { x = @eight }"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_missing_kernel_build_tree_is_a_clear_error() {
    let out = run(&[
        "-p4",
        "-r",
        "0.0.0-none",
        "-e",
        "probe begin { println(1) }",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no kernel build tree for kernel 0.0.0-none"),
        "{err}"
    );
    assert!(err.contains("linux-headers"), "{err}");
}

#[test]
fn command_line_errors_exit_1_and_help_exits_0() {
    assert_eq!(run(&["--no-such-option"]).status.code(), Some(1));
    assert_eq!(
        run(&["-p", "9", "-e", "probe begin {}"]).status.code(),
        Some(1)
    );
    assert_eq!(run(&[]).status.code(), Some(1));
    assert_eq!(
        run(&["-c", "ls", "-x", "1", "-e", "probe begin {}"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&["-m", "a-b", "-e", "probe begin {}"]).status.code(),
        Some(1)
    );
    let h = run(&["-h"]);
    assert!(h.status.success());
    assert!(text(&h.stdout).contains("-p <NUM>"));
    let v = run(&["-V"]);
    assert!(v.status.success());
    assert!(text(&v.stdout).starts_with("Systemtap translator/driver"));
}

#[test]
fn verbose_prints_pass_statistics() {
    let out = run(&["-v", "-p1", "-e", "probe begin {}"]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("Pass 1: parsed user script and"), "{err}");
    assert!(err.contains("real ms."), "{err}");
}

#[test]
fn combined_short_options_work() {
    let out = run(&["-gp1", "-e", "probe begin { x = %{ 1 %} }"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// As SystemTap 4.8: a repeated option takes its last value (`-wp2 -p1` stops after pass 1).
#[test]
fn a_repeated_pass_option_takes_the_last_value() {
    let out = stap()
        .args(["-wp2", "-p1", "-e", "probe begin { println(1) }"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("println(1)"),
        "{}",
        text(&out.stdout)
    );
}

/// `--suppress-time-limits` needs guru mode, in SystemTap 4.8's words.
#[test]
fn suppress_time_limits_needs_guru_mode() {
    let out = stap()
        .args([
            "--suppress-time-limits",
            "-p2",
            "-e",
            "probe begin { println(1) }",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ERROR --suppress-time-limits requires guru mode (-g)"));
}

/// But two scripts (`-e` twice) are an error, as in SystemTap 4.8.
#[test]
fn two_dash_e_scripts_are_refused() {
    let out = stap()
        .args([
            "-p1",
            "-e",
            "probe begin { exit() }",
            "-e",
            "probe end { exit() }",
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
}

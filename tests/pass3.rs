//! Pass 3 through the `stap` binary: the generated C (snapshot), its determinism, and
//! the script locations it carries.

use std::path::Path;
use std::process::Command;

fn p3(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/p2"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn p3_program_snapshot() {
    let c = p3(&["--runtime=user", "-p3", "program.stp"]);
    insta::assert_snapshot!("p3_program_user", c);
}

#[test]
fn p3_is_deterministic_and_commented() {
    let a = p3(&["--runtime=user", "-p3", "program.stp"]);
    let b = p3(&["--runtime=user", "-p3", "program.stp"]);
    assert_eq!(a, b);
    // Every probe and statement carries its script location.
    assert!(a.contains("/* probe 0 at program.stp:6:1 */"), "{a}");
    assert!(a.contains("/* program.stp:7:3 */"), "{a}");
    assert!(a.contains("/* function add at program.stp:3:10 */"), "{a}");
}

#[test]
fn p3_kernel_backend_shares_the_code() {
    let user = p3(&["--runtime=user", "-p3", "program.stp"]);
    let kernel = p3(&["-p3", "program.stp"]);
    assert!(kernel.contains("Backend: kernel module."));
    let body = |s: &str| {
        s.split_once("#include")
            .map(|(_, r)| r.to_string())
            .unwrap()
    };
    assert_eq!(
        body(&user),
        body(&kernel),
        "both backends get the same generated code"
    );
}

#[test]
fn p3_defines_come_first() {
    let c = p3(&[
        "--runtime=user",
        "-DMAXACTION=5",
        "-DFOO",
        "-p3",
        "program.stp",
    ]);
    let define = c.find("#define MAXACTION 5").expect("define");
    let include = c.find("#include \"stp_platform.h\"").expect("include");
    assert!(define < include);
    assert!(c.contains("#define FOO \n") || c.contains("#define FOO\n"));
}

#[test]
fn ctrl_c_runs_the_end_probes() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .env("SYSTEMTAP_DIR", std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sigint-cache"))
        .args([
            "--runtime=user",
            "-e",
            "global n probe begin { println(\"started\") } probe timer.ms(5) { n++ } probe end { printf(\"ended %d\\n\", n > 0) }",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "started\n");
    std::thread::sleep(std::time::Duration::from_millis(100));
    // stap has become the program (exec), so the signal reaches it directly.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(rest, "ended 1\n");
    assert_eq!(status.code(), Some(0));
}

/// The newest kernel with both a build tree and an image installed.
fn installed_kernel() -> String {
    std::fs::read_dir("/usr/lib/modules")
        .expect("no /usr/lib/modules: install linux-headers-amd64")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|k| Path::new(&format!("/boot/vmlinuz-{}", k)).is_file())
        .max()
        .expect("no /boot/vmlinuz-*: install linux-image-amd64 (tests/run-all.sh does)")
}

/// Kernel probes (resolved against the installed Debian kernel's BTF): the probe table and
/// the target-variable reads.  Only parameter positions appear, no struct offsets, so the
/// snapshot holds across kernel updates.
#[test]
fn p3_kernel_probes_snapshot() {
    let kver = installed_kernel();
    let c = p3(&[
        "-r",
        &kver,
        "-p3",
        "-e",
        "probe kernel.function(\"vfs_read\") { println($count) }
         probe kernel.function(\"vfs_read\").return { println($return, $$parms) }
         probe kprobe.function(\"ksys_write\") { println(probefunc()) }
         probe kernel.trace(\"sched_process_exec\") { println($old_pid) }",
    ]);
    let c = c.replace(&kver, "KVER");
    insta::assert_snapshot!("p3_kernel_probes", c);
}

/// The C of a statement reads like C: one statement per line over named temporaries, no
/// GCC statement expressions, no line wider than 100 columns (tabs count 8).
#[test]
fn p3_statements_over_temporaries() {
    for script in [
        "global c probe begin { c[execname()] <<< 4; exit() }",
        "global a probe begin { a[1] = 2; x = a[1] / (a[1] - 2) + (a[1] ? sprint(a[1]) : \"n\") . \"\"; }",
        "function f(n) { return n > 0 && f(n - 1) || n } probe begin { for (i = 0; i < f(3); i += f(1)) { if (i) continue } }",
    ] {
        let c = p3(&["--runtime=user", "-p3", "-e", script]);
        assert!(!c.contains("({"), "{c}");
        for l in c.lines() {
            let width = l.replace('\t', "        ").len();
            assert!(width <= 100, "{width} columns: {l}");
        }
    }
}

#[test]
fn p3_folds_constant_operands() {
    // SystemTap's PR18884: a folded literal needs no temporary.
    let c = p3(&[
        "-p3",
        "-e",
        "probe begin { println(\"foo\" . \"bar\", 2 * 3) }",
    ]);
    assert!(c.contains("[0].s = \"foobar\";"), "{c}");
    assert!(c.contains("[1].n = 6LL;"), "{c}");
    assert!(!c.contains("stp_concat"), "{c}");
}

/// Families the kernel runtime cannot run yet are translated by `-p3` (as SystemTap does),
/// but never built into a module whose probes would silently not fire.
#[test]
fn p4_refuses_families_no_runtime_runs() {
    for (script, family) in [("probe process.syscall { printf(\"a\") }", "process.syscall")] {
        let c = p3(&["-p3", "-e", script]);
        assert!(c.contains("STP_PROBE_OTHER"), "{c}");
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .args(["-p4", "-e", script])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("the kernel runtime has no {} probes", family)),
            "{err}"
        );
        assert!(err.contains("Pass 4: compilation failed."), "{err}");
    }
}

/// A netfilter probe's table entry carries the hook, family and priority as numbers; the
/// user runtime has no netfilter and refuses it.  procfs entries carry path, size, umask.
#[test]
fn netfilter_probe_table_and_user_refusal() {
    let script = "probe netfilter.pf(\"NFPROTO_IPV6\").hook(\"NF_IP6_LOCAL_OUT\").priority(\"NF_IP6_PRI_FIRST\") { printf(\"a\") }";
    let c = p3(&["-p3", "-e", script]);
    assert!(c.contains(".kind = STP_PROBE_NETFILTER,"), "{c}");
    assert!(c.contains(".nf_hook = 3,"), "{c}");
    assert!(c.contains(".nf_pf = 10,"), "{c}");
    assert!(c.contains(".nf_priority = -2147483648,"), "{c}");
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["--runtime=user", "-p4", "-e", script])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("needs the kernel runtime"), "{err}");
    let c = p3(&[
        "-p3",
        "-e",
        "probe procfs(\"x\").umask(0040).read.maxsize(99) { $value = \"a\" }",
    ]);
    assert!(c.contains(".kind = STP_PROBE_PROCFS_READ,"), "{c}");
    assert!(c.contains(".symbol = \"x\","), "{c}");
    assert!(c.contains(".procfs_maxsize = 99LL,"), "{c}");
    assert!(c.contains(".procfs_umask = 32,"), "{c}");
    assert!(c.contains("if (stp_procfs_set(&c->rt, "), "{c}");
}

/// The C of one construct: the first probe's handler only.
fn construct_c(script: &str) -> String {
    let c = p3(&["--runtime=user", "-u", "-p3", "-e", script]);
    let start = c.find("static void stp_p_0(").expect("probe 0");
    let end = c[start..].find("\n}\n").expect("end of probe 0") + start + 3;
    c[start..end].to_string()
}

/// Per-construct snapshots of the generated C (bpftrace's tests/codegen style): each
/// names one construct, so a change to how it is written shows where.
#[test]
fn p3_per_construct_snapshots() {
    let cases = [
        ("assign_element", "global a probe begin { a[1, \"x\"] = 2 }"),
        (
            "post_increment_element",
            "global a probe begin { b = a[3]++ }",
        ),
        ("compound_divide", "probe begin { x = 10; x /= 3 }"),
        (
            "short_circuit_with_call",
            "probe begin { if (x && strlen(\"ab\") > 1) println(1) }",
        ),
        (
            "string_ternary",
            "probe begin { s = x ? sprint(x) : \"none\" }",
        ),
        (
            "for_with_continue",
            "probe begin { for (i = 0; i < 3; i++) { if (i == 1) continue } }",
        ),
        (
            "while_with_call_condition",
            "probe begin { while (strlen(s) < 3) s .= \"a\" }",
        ),
        (
            "foreach_sorted_limit",
            "global a probe begin { a[1] = 1; foreach ([k] in a- limit 2) println(k) }",
        ),
        (
            "try_catch",
            "probe begin { try { error(\"e\") } catch (m) { println(m) } }",
        ),
        (
            "concat_assign_element",
            "global a probe begin { a[\"k\"] .= \"v\" }",
        ),
        (
            "printf_in_order",
            "probe begin { printf(\"%d %s %d\\n\", x++, sprint(x), x) }",
        ),
        (
            "stat_extract",
            "global s probe begin { s <<< 1; println(@avg(s), @count(s)) }",
        ),
    ];
    for (name, script) in cases {
        insta::assert_snapshot!(format!("construct_{}", name), construct_c(script));
    }
}

/// `@cast(p, "T", "kernel")[i]->m` is member m of element i of an array of T at p, as in
/// SystemTap (struct iovec: 16 bytes, iov_len at 8, on every x86-64 kernel).
#[test]
fn a_cast_pointer_indexes_an_array_of_its_type() {
    let kver = installed_kernel();
    let c = p3(&[
        "-r",
        &kver,
        "-p3",
        "-e",
        "probe begin { p = 0; println(@cast(p, \"iovec\", \"kernel\")[2]->iov_len) }",
    ]);
    assert!(c.contains("+= (uint64_t)2LL * 16ULL;"), "{c}");
    assert!(c.contains("+= (uint64_t)8LL;"), "{c}");
}

//! `stap --vm`: the kernel backend, end to end, in a throwaway QEMU guest.

use std::process::Command;

fn kver() -> String {
    let mut k: Vec<String> = std::fs::read_dir("/usr/lib/modules")
        .expect("no /usr/lib/modules: install linux-headers-amd64")
        .flatten()
        .filter(|e| e.path().join("build").is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    k.sort();
    k.pop()
        .expect("no kernel build tree: install linux-headers-amd64")
}

/// One VM at a time: TCG guests on a two-core host would starve each other's timers.
fn one_vm() -> std::sync::MutexGuard<'static, ()> {
    static VM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    VM.lock().unwrap_or_else(|e| e.into_inner())
}

fn vm(args: &[&str]) -> std::process::Output {
    vm_env(&[], args)
}

/// [`vm`] with more environment variables for stap.
fn vm_env(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let _one = one_vm();
    Command::new(env!("CARGO_BIN_EXE_stap"))
        .envs(env.iter().copied())
        .env_remove("SYSTEMTAP_TAPSET")
        .env(
            "SYSTEMTAP_DIR",
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"),
        )
        .args(["--vm", "-r", &kver()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn hello_runs_in_a_vm() {
    let out = vm(&["-e", "probe begin { println(\"hello\"); exit() }"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn errors_and_timeouts_in_a_vm() {
    let out = vm(&[
        "-e",
        "probe begin { x = 0; println(1 / x) } probe end { println(\"end\") }",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "end\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR: division by 0 near operator '/' at <input>:1:"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1));

    let out = vm(&[
        "-T",
        "1",
        "-e",
        "global n probe timer.ms(100) { n++ } probe end { println(n > 3) }",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn vm_without_r_picks_an_installed_kernel() {
    // The acceptance command of the kernel backend: no -r, whatever the host runs.
    let _one = one_vm();
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .env(
            "SYSTEMTAP_DIR",
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"),
        )
        .args(["--vm", "-e", "probe begin { println(\"hello\"); exit() }"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn timer_ms_10_fires_about_100_times_a_second() {
    let out = vm(&[
        "-e",
        "global n probe timer.ms(10) { n++ } probe timer.s(1) { println(n); exit() }",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let n: i64 = text.trim().parse().unwrap_or_else(|_| panic!("{text:?}"));
    assert!(
        (90..=110).contains(&n),
        "timer.ms(10) fired {n} times in 1 s"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn dash_t_ends_the_session_after_that_many_seconds() {
    // Measured by the guest's own clock, from the begin probe to the end probe.
    let out = vm(&[
        "-T",
        "2",
        "-e",
        "global t probe begin { t = gettimeofday_ms() } \
         probe end { d = gettimeofday_ms() - t; println(d >= 1900 && d <= 2600 ? \"ok\" : sprint(d)) }",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn ctrl_c_runs_the_end_probes_in_the_vm() {
    use std::io::BufRead;
    let _one = one_vm();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .env(
            "SYSTEMTAP_DIR",
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"),
        )
        .args(["--vm", "-r", &kver(), "-e"])
        .arg("probe begin { println(\"ready\") } probe end { println(\"end probe ran\") }")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(rest, ["end probe ran"]);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Boots a guest that runs the shell script `sh` (given the module built from `script` as
/// `$1`) instead of stpd, and returns its console log.
fn scenario(module: &str, script: &str, sh: &str) -> String {
    scenario_with(module, &[], script, sh, &[])
}

/// [`scenario`] with more stap arguments and files for the guest's /extra.
fn scenario_with(
    module: &str,
    stap_args: &[&str],
    script: &str,
    sh: &str,
    extra: &[&std::path::Path],
) -> String {
    scenario_append(module, stap_args, script, sh, extra, "")
}

/// [`scenario_with`] with more arguments on the guest kernel's command line.
fn scenario_append(
    module: &str,
    stap_args: &[&str],
    script: &str,
    sh: &str,
    extra: &[&std::path::Path],
    append: &str,
) -> String {
    let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache");
    let stage = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .env("SYSTEMTAP_DIR", &cache)
        .args(["-p4", "-r", &kver(), "-m", module])
        .args(stap_args)
        .args(["-e", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ko = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let staged = stage.path().join(format!("{}.ko", module));
    std::fs::copy(&ko, &staged).unwrap();
    std::fs::write(stage.path().join(format!("{}.sh", module)), sh).unwrap();
    let log = stage.path().join("serial.log");
    let _one = one_vm();
    let extra: Vec<String> = extra.iter().map(|p| p.display().to_string()).collect();
    let status = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/boot.sh"))
        .env("STPD", env!("CARGO_BIN_EXE_stpd"))
        .env("VM_EXTRA", extra.join(" "))
        .env("VM_APPEND", append)
        .arg(&log)
        .arg(&staged)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(&log).unwrap().replace('\r', "")
}

/// A guest scenario: stpd is killed with SIGKILL mid-run; the module stops by itself, and
/// the next stpd unloads it and says so.
#[test]
fn a_module_left_by_a_killed_stpd_is_cleaned_up() {
    let log = scenario(
        "stale_test",
        "global n probe timer.ms(50) { n++ } probe end { println(n >= 0 ? \"end\" : \"?\") }",
        "ko=$1\n\
         stpd \"$ko\" > /dev/null 2>&1 &\n\
         sleep 2\n\
         kill -9 $!\n\
         sleep 1\n\
         echo \"ctl: $(cat /proc/stap_stale_test/ctl)\"\n\
         stpd -T 1 \"$ko\" 2>&1\n\
         echo \"rc: $?\"\n",
    );
    assert!(log.contains("ctl: done 0\n"), "{log}");
    assert!(
        log.contains("stpd: unloaded module stale_test, left loaded by an earlier stpd that did not finish\nend\nrc: 0\n"),
        "{log}"
    );
    assert!(!log.contains("STILL-LOADED"), "{log}");
}

/// The workload: busybox dd copies N blocks of SIZE bytes from /dev/zero to /dev/null, one
/// read(2) and one write(2) per block, then writes its summary to stderr.
const N: usize = 5;
const SIZE: usize = 7;

fn dd() -> String {
    format!(
        "dd if=/dev/zero of=/dev/null bs={} count={} 2>/dev/null",
        SIZE, N
    )
}

/// Acceptances 1 and 5 of the kernel-probe issue, with BTF alone: the debug vmlinux is
/// kept off the search path, as on a machine without linux-image-KVER-dbg.
#[test]
fn kernel_function_and_kprobe_see_every_write_with_its_count() {
    let out = vm_env(&[("SYSTEMTAP_DEBUGINFO_PATH", "/nonexistent")], &[
        "-c",
        &dd(),
        "-e",
        "global calls, counts, kcalls, rets, reads
         probe kernel.function(\"ksys_write\") { if (pid() == target()) { calls++; counts[$count]++ } }
         probe kprobe.function(\"ksys_write\") { if (pid() == target()) kcalls++ }
         probe kernel.function(\"ksys_write\").return { if (pid() == target()) rets[$count, $return]++ }
         probe kernel.function(\"vfs_read\") { if (pid() == target()) reads[$count]++ }
         probe end {
             printf(\"calls>=N %d kcalls>=N %d\\n\", calls >= $1, kcalls >= $1)
             printf(\"count %d seen %d times\\n\", $2, counts[$2])
             printf(\"returned %d %d times\\n\", $2, rets[$2, $2])
             printf(\"read count %d seen %d times\\n\", $2, reads[$2])
         }",
        &N.to_string(),
        &SIZE.to_string(),
        "-v",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kernel data: BTF of /boot/vmlinuz-") && !err.contains("kernel DWARF"),
        "{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "calls>=N 1 kcalls>=N 1\ncount {s} seen {n} times\nreturned {s} {n} times\nread count {s} seen {n} times\n",
            s = SIZE,
            n = N
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// `@cast` reads kernel structures through the BTF types, from a target variable and from
/// a tapset function's value, in any probe; autocast follows the types through functions
/// and locals.
#[test]
fn cast_reads_members_through_the_kernels_types() {
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        "global names, tgid_ok, comms, auto_ok
         function file_of(p) { return & @cast(p, \"file\") }
         probe kernel.function(\"vfs_write\") {
             if (pid() == target() && $count == $1) {
                 names[kernel_string(@cast($file, \"file\")->f_path->dentry->d_name->name)]++
                 tgid_ok += @cast(task_current(), \"struct task_struct\")->tgid == pid()
                 comms[@cast(task_current(), \"task_struct\", \"kernel<linux/sched.h>\")->comm]++
                 # autocast: through a tapset function, a local, and a script function
                 t = task_current()
                 mm = t->mm
                 auto_ok += t->pid == tid() && mm->map_count > 0 && task_current()->mm == mm
                     && file_of($file)->f_path->dentry == $file->f_path->dentry
             }
         }
         probe end {
             foreach (n in names) printf(\"file %s %d\\n\", n, names[n])
             foreach (c in comms) printf(\"comm %s %d\\n\", c, comms[c])
             printf(\"tgid %d auto %d\\n\", tgid_ok, auto_ok)
         }",
        &SIZE.to_string(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("file null {n}\ncomm dd {n}\ntgid {n} auto {n}\n", n = N),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tracepoint_and_marker_see_the_workloads_exec() {
    let out = vm(&[
        "-c",
        "exec /bin/busybox true",
        "-e",
        "probe kernel.trace(\"sched_process_exec\") {
             if (pid() == target()) printf(\"trace %s %s\\n\", $p->comm, kernel_string($bprm->filename))
         }
         probe kernel.mark(\"sched_process_exec\") {
             if (pid() == target()) printf(\"mark %s %s\\n\", kernel_string($arg3->filename), probefunc())
         }",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    // stpd execs /bin/sh -c CMD, which execs busybox: two execs of the target process.
    assert_eq!(
        lines,
        [
            "mark /bin/busybox sched_process_exec",
            "mark /bin/sh sched_process_exec",
            "trace busybox /bin/busybox",
            "trace sh /bin/sh"
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("markers are gone"));
}

#[test]
fn print_backtrace_names_the_functions() {
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        "global done
         probe kernel.function(\"ksys_write\") {
             if (pid() == target() && !done++) {
                 print_backtrace()
                 println(\"--\")
                 print_stack(backtrace())
                 printf(\"symname %s symdata %s\\n\", symname(register(\"ip\")),
                        symdata(register(\"ip\")))
             }
         }",
    ]);
    // The probe writes addresses; stpd names them (print_backtrace, print_stack); symname
    // and symdata are strings made in the probe.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (bt, rest) = stdout.split_once("--\n").expect("two stacks");
    for stack in [bt, rest] {
        assert!(stack.contains(" : ksys_write+0x"), "{stdout}");
        assert!(stack.contains(" : do_syscall_64+0x"), "{stdout}");
        assert!(!stack.contains("stp-sym"), "{stdout}");
    }
    assert!(
        rest.contains("symname ksys_write symdata ksys_write+0x"),
        "{stdout}"
    );
}

#[test]
fn a_bad_pointer_is_an_error_not_an_oops() {
    let out = vm(&[
        "-c",
        "echo x > /dev/null",
        "-e",
        "probe kernel.function(\"ksys_write\") { println(kernel_long(16)) }
         probe end { println(\"end\") }",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR: kernel read fault at 0x0000000000000010 (addr)"),
        "{err}"
    );
    assert!(!err.contains("guest kernel"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "end\n");
    assert_eq!(out.status.code(), Some(1));
}

/// `kernel.function("vfs_*")` expands to the vfs_ functions of the kernel's symbol table
/// (read from /proc/kallsyms inside the guest), and to the inlined copies of vfs_ functions.
#[test]
fn vfs_wildcard_matches_the_kernels_symbol_table() {
    let listed = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-l", "kernel.function(\"vfs_*\")"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    // With the kernel's DWARF the inlined copies come too, named by their call sites.
    let stdout = String::from_utf8_lossy(&listed.stdout);
    let (inlined, outline): (Vec<&str>, Vec<&str>) =
        stdout.lines().partition(|l| l.ends_with(".inline"));
    assert!(
        inlined
            .iter()
            .all(|l| l.starts_with("kernel.function(\"vfs_") && l.contains('@')),
        "{inlined:?}"
    );
    assert!(!inlined.is_empty(), "no inlined vfs_ copies: {stdout}");
    let ours: Vec<String> = outline
        .iter()
        .map(|l| {
            l.trim_start_matches("kernel.function(\"")
                .trim_end_matches("\")")
                .to_string()
        })
        .collect();
    let log = scenario(
        "kallsyms_list",
        "probe begin { exit() }",
        "grep -E ' [tT] vfs_' /proc/kallsyms | while read -r a t n m; do echo \"sym $n\"; done\n",
    );
    let kallsyms: std::collections::BTreeSet<&str> =
        log.lines().filter_map(|l| l.strip_prefix("sym ")).collect();
    assert!(kallsyms.len() > 50, "{log}");
    let missing: Vec<&String> = ours
        .iter()
        .filter(|f| !kallsyms.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "expanded to functions not in kallsyms: {missing:?}"
    );
    // BTF leaves out only functions it cannot describe; nearly all must be there.
    assert!(
        ours.len() * 10 >= kallsyms.len() * 8,
        "{} of {} vfs_ functions",
        ours.len(),
        kallsyms.len()
    );
    for f in ["vfs_read", "vfs_write", "vfs_open"] {
        assert!(ours.iter().any(|o| o == f), "{f} missing");
    }
}

#[test]
fn dash_l_lists_parameters_with_types_and_unknown_names_fail() {
    // With BTF alone (no debug vmlinux on the search path): the parameters.
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .env("SYSTEMTAP_DEBUGINFO_PATH", "/nonexistent")
        .args(["-r", &kver(), "-L", "kernel.function(\"vfs_read\")"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kernel.function(\"vfs_read\") $file:struct file * $buf:char * $count:size_t $pos:loff_t *\n"
    );
    // With the kernel's DWARF: its locals too, as SystemTap lists them.
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-L", "kernel.function(\"vfs_read\")"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kernel.function(\"vfs_read\") $file:struct file * $buf:char * $count:size_t $pos:loff_t * $ret:ssize_t\n"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args([
            "-r",
            &kver(),
            "-p2",
            "-e",
            "probe kernel.function(\"vfs_reed\") {}",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no function matches 'vfs_reed'") && err.contains("vfs_read"),
        "{err}"
    );
}

#[test]
fn timer_profile_fires_on_every_cpu() {
    // stap --vm boots two CPUs; each gets its own tick timer.
    let out = vm(&[
        "-T",
        "1",
        "-e",
        "global ticks probe timer.profile { ticks[cpu()]++ }
         probe end { foreach (c+ in ticks) printf(\"cpu %d ticked %d\\n\", c, ticks[c] > 10) }",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cpu 0 ticked 1\ncpu 1 ticked 1\n"
    );
}

#[test]
fn perf_software_counters_fire_on_every_cpu() {
    // cpu_clock every 1 ms of each CPU's clock.  Hardware counters are opened too; QEMU's
    // TCG has no PMU, so the kernel refuses them: a warning while the other probes run.
    let out = vm(&[
        "-T",
        "1",
        "-e",
        "global n probe perf.sw.cpu_clock.sample(1000000) { n[cpu()]++ }
         probe perf.hw.cpu_cycles { m++ } global m
         probe end { foreach (c+ in n) printf(\"cpu %d counted %d\\n\", c, n[c] > 100) }",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        // m is written but never read: SystemTap displays it at the end (never counted).
        "cpu 0 counted 1\ncpu 1 counted 1\nm=0\n"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("WARNING: probe perf.type(0).config(0) registration error (rc -2)"),
        "{err}"
    );
    // The path hardware counters take from NMI context (save the registers, queue an
    // irq_work, run the probe there), forced for a software counter: every overflow still
    // runs the probe, on each CPU, with the registers of the interrupted code.
    let out = vm(&[
        "-D",
        "STP_PERF_DEFER_ALL",
        "-T",
        "1",
        "-e",
        "global n, regs probe perf.sw.cpu_clock.sample(1000000) {
             n[cpu()]++
             regs[cpu()] += register(\"ip\") != 0 && register(\"sp\") != 0
         }
         probe end {
             foreach (c+ in n) printf(\"cpu %d counted %d with registers %d\\n\", c, n[c] > 100, regs[c] == n[c])
         }",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cpu 0 counted 1 with registers 1\ncpu 1 counted 1 with registers 1\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds the DWARF test module (tests/vm/stapmod) with the target kernel's Kbuild, so -g.
fn build_stapmod() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vm/stapmod");
    for f in ["stapmod_test.c", "Kbuild"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let out = Command::new("make")
        .args(["-s", "-C", &format!("/usr/lib/modules/{}/build", kver())])
        .arg(format!("M={}", dir.path().display()))
        .arg("modules")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ko = dir.path().join("stapmod_test.ko");
    (dir, ko)
}

/// Acceptance 4 of the kernel-probe issue: a module built with -g, probed from its own
/// DWARF: module("...").function("...") reads a struct field through $req->field, a
/// line probe (@stapmod_test.c:N) reads a local, and .inline probes an inlined copy.  The function is probed by the symbol
/// DWARF's address falls in (GCC may have renamed it, e.g. stapmod_handle.isra.0).
#[test]
fn module_function_and_line_probes_read_dwarf_variables() {
    let (_dir, ko) = build_stapmod();
    let src = include_str!("vm/stapmod/stapmod_test.c");
    let line = src
        .lines()
        .position(|l| l.contains("STAPMOD_LINE"))
        .unwrap()
        + 1;
    let m = ko.display().to_string();
    let script = format!(
        "probe module(\"{m}\").function(\"stapmod_handle\") {{
             printf(\"handle id=%d len=%d name=%s\\n\", $req->id, $req->len, $req->name)
             println($req$)
             printf(\"cast id=%d\\n\", @cast($req, \"stapmod_req\", \"{m}\")->id)
         }}
         probe module(\"{m}\").statement(\"stapmod_handle@stapmod_test.c:{line}\") {{
             printf(\"line {line} sum=%d\\n\", $sum)
         }}
         probe module(\"{m}\").function(\"stapmod_scale\").inline {{
             printf(\"scale v=%d k=%d\\n\", $v, $k)
         }}
         global plain
         probe module(\"{m}\").function(\"stapmod_scale\") {{ plain[$v, $k]++ }}
         global rets
         probe module(\"{m}\").function(\"stapmod_handle\").return {{
             rets[@entry($req->id), $return]++
         }}
         global writes
         probe kprobe.module(\"stapmod_test\").function(\"stapmod_write\") {{ writes++ }}
         probe end {{
             printf(\"writes %d\\n\", writes)
             foreach ([v, k] in plain) printf(\"plain scale v=%d k=%d %d\\n\", v, k, plain[v, k])
             foreach ([i, r] in rets) printf(\"handle(%d) returned %d\\n\", i, r)
         }}"
    );
    let log = scenario_with(
        "stapmod_probe",
        &[],
        &script,
        "ko=$1\n\
         insmod /extra/stapmod_test.ko || echo 'insmod failed'\n\
         stpd \"$ko\" > /tmp/out 2>&1 &\n\
         pid=$!\n\
         while [ ! -e /proc/stap_stapmod_probe ]; do sleep 1; done\n\
         sleep 1\n\
         echo 42 > /proc/stapmod_test\n\
         echo 7 > /proc/stapmod_test\n\
         kill -INT $pid\n\
         wait $pid\n\
         echo \"rc: $?\"\n\
         cat /tmp/out\n",
        &[&ko],
    );
    // "abc" sums to 294: the checksum is 294 * 1000 + id.
    let want = format!(
        "rc: 0\nhandle id=42 len=3 name=abc\n{{.id=42, .len=3, .name=\"abc\"}}\ncast id=42\nline {line} sum=294042\nscale v=42 k=3\nhandle id=7 len=3 name=abc\n{{.id=7, .len=3, .name=\"abc\"}}\ncast id=7\nline {line} sum=294007\nscale v=7 k=2\nwrites 2\nplain scale v=42 k=3 1\nplain scale v=7 k=2 1\nhandle(42) returned 294042\nhandle(7) returned 294007\n"
    );
    assert!(log.contains(&want), "{log}");
}

/// The kernel's own DWARF (the debug vmlinux of linux-image-KVER-dbg, which the test
/// setup installs): a line probe over every line of ksys_write reads the local `$ret`
/// after vfs_write returned, an always-inlined function (file_ppos) is probed at its
/// inlined copies and sees the same `struct file` as vfs_write, and a function named with
/// its source file shows SystemTap's `func@file:line` as its pp().
#[test]
fn kernel_dwarf_lines_locals_and_inlined_copies() {
    let listed = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-v", "-L"])
        .arg("kernel.statement(\"ksys_write@fs/read_write.c:*\")")
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr),
    );
    assert!(listed.status.success(), "{err}");
    assert!(err.contains("kernel DWARF: "), "{err}");
    assert!(
        out.lines().any(
            |l| l.starts_with("kernel.statement(\"ksys_write@fs/read_write.c:")
                && l.contains(" $ret:ssize_t")
        ),
        "{out}"
    );
    // Debian's own modules, from their debug files (installed beside the vmlinux): a plain
    // function, and one GCC split into a hot and a .cold part (DWARF ranges, no low_pc).
    for (point, var) in [
        (
            "module(\"xfs\").function(\"xfs_file_write_iter\")",
            " $iocb:struct kiocb *",
        ),
        (
            "module(\"nfsv3\").function(\"nfs3_proc_access\")",
            " $entry:struct nfs_access_entry *",
        ),
        // A module pattern: each matching module with DWARF (the nfs* modules without a
        // debug file are passed over).
        (
            "module(\"nfs*\").function(\"nfs3_proc_acc*\")",
            "module(\"nfsv3\").function(\"nfs3_proc_access\") $inode:struct inode *",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .args(["-r", &kver(), "-L", point])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            listed.contains(var),
            "{point}: {listed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // -v says which file served a module's DWARF: the debug file.
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-v", "-p2", "-e"])
        .arg("probe module(\"xfs\").function(\"xfs_file_write_iter\") { println($iocb) }")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Pass 2: module DWARF: xfs (/usr/lib/debug/lib/modules/"),
        "{err}"
    );
    // What the kernel refuses to kprobe (its blacklist, noinstr and entry text) is
    // refused in pass 2 by name, and left out of wildcards.
    for (f, why) in [
        ("do_int3", "the kprobe blacklist"),
        ("exc_int3", "noinstr text"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .args(["-r", &kver(), "-p2", "-e"])
            .arg(format!("probe kernel.function(\"{f}\") {{}}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{f}: {err}");
    }
    let all = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-l", "kprobe.function(\"*\")"])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&all.stdout);
    assert!(all.lines().count() > 10000, "{all}");
    for f in ["do_int3", "exc_int3", "exc_page_fault", "ksys_write"] {
        let listed = all.contains(&format!("kprobe.function(\"{f}\")\n"));
        assert_eq!(listed, f == "ksys_write", "{f}");
    }
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        "global rets, inl, ifile, vfile, fcount, fpp
         probe kernel.statement(\"ksys_write@fs/read_write.c:*\") {
             if (@defined($ret)) { if (pid() == target()) rets[pp(), $ret]++ }
         }
         probe kernel.function(\"file_ppos\") { if (pid() == target()) { inl++; ifile[$file]++ } }
         probe kernel.function(\"vfs_write\") { if (pid() == target() && $count == $1) vfile[$file]++ }
         probe kernel.function(\"ksys_write@fs/read_write.c\") {
             if (pid() == target()) { fcount[$count]++; fpp = pp() }
         }
         # do_sys_open is inlined into the open syscalls (into two callers at one call
         # site, each a probe of its own); there $flags is computed (the register or'ed
         # with O_LARGEFILE) where DWARF records it; user_string reads the path.
         global opens
         probe kernel.function(\"do_sys_open\") {
             if (@defined($flags) && @defined($filename)) {
                 if (pid() == target()) opens[user_string($filename), $flags & 3]++
             }
         }
         probe end {
             printf(\"opens /dev/zero rdonly %d /dev/null wronly %d\\n\",
                    opens[\"/dev/zero\", 0] > 0, opens[\"/dev/null\", 1] > 0)
             ok = 0
             foreach ([p, r] in rets) if (r == $1 && rets[p, r] == $2) ok++
             printf(\"a line sees ret=%d %d times: %d\\n\", $1, $2, ok > 0)
             foreach (f in vfile) printf(\"file_ppos saw vfs_write's file: %d\\n\", ifile[f] == vfile[f])
             printf(\"inline hits >= N: %d\\n\", inl >= $2)
             printf(\"ksys_write@file count %d seen %d times\\n\", $1, fcount[$1])
             printf(\"pp %s\\n\", fpp =~ \"^kernel.function\\\\(\\\"ksys_write@fs/read_write.c:[0-9]+\\\"\\\\)$\" ? \"ok\" : fpp)
         }",
        &SIZE.to_string(),
        &N.to_string(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "opens /dev/zero rdonly 1 /dev/null wronly 1\na line sees ret={s} {n} times: 1\nfile_ppos saw vfs_write's file: 1\ninline hits >= N: 1\nksys_write@file count {s} seen {n} times\npp ok\n",
            s = SIZE,
            n = N
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// The address of `sym` in the target kernel's debug vmlinux (its symbol table, by nm).
fn image_address(sym: &str) -> u64 {
    let image = format!("/usr/lib/debug/boot/vmlinux-{}", kver());
    let out = Command::new("nm").arg(&image).output().unwrap();
    assert!(out.status.success(), "nm {image}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            let (a, _, n) = (it.next()?, it.next()?, it.next()?);
            (n == sym)
                .then(|| u64::from_str_radix(a, 16).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("{sym} not in {image}"))
}

/// `kernel.statement(ADDR)` names an address of the image, probed by symbol and offset
/// whatever KASLR did (the guest boots with KASLR on), and reads `$count` from DWARF
/// there; `.absolute` (guru mode) probes the raw address, in a guest booted with
/// nokaslr, where the image's addresses are the running kernel's.  Without -g,
/// `.absolute` is refused.
#[test]
fn kernel_statement_addresses_relative_and_absolute() {
    let addr = image_address("ksys_write");
    let refused = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-p2", "-e"])
        .arg(format!("probe kernel.statement({addr:#x}).absolute {{}}"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("needs guru mode"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        &format!(
            "global counts
             probe kernel.statement({addr:#x}) {{ if (pid() == target()) counts[$count]++ }}
             probe end {{ printf(\"statement count %d seen %d times\\n\", $1, counts[$1]) }}"
        ),
        &SIZE.to_string(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("statement count {SIZE} seen {N} times\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = scenario_append(
        "stmt_abs",
        &["-g"],
        &format!(
            "global n
             probe kernel.statement({addr:#x}).absolute {{ if (execname() == \"dd\") n++ }}
             probe end {{ printf(\"absolute hits >= {N}: %d\\n\", n >= {N}) }}"
        ),
        &format!(
            "ko=$1\n\
             grep -q ' ksys_write$' /proc/kallsyms && grep ' ksys_write$' /proc/kallsyms | cut -d' ' -f1 | sed 's/^/kallsyms /'\n\
             stpd \"$ko\" > /tmp/out 2>&1 &\n\
             pid=$!\n\
             while [ ! -e /proc/stap_stmt_abs ]; do sleep 1; done\n\
             sleep 1\n\
             {}\n\
             kill -INT $pid\n\
             wait $pid\n\
             echo \"rc: $?\"\n\
             cat /tmp/out\n",
            dd()
        ),
        &[],
        "nokaslr",
    );
    assert!(log.contains(&format!("kallsyms {addr:016x}\n")), "{log}");
    assert!(
        log.contains(&format!("rc: 0\nabsolute hits >= {N}: 1\n")),
        "{log}"
    );
}

/// perfmon.counter("EVENT") opens a counting perf event on every CPU before the begin
/// probes and runs its probe once with `$counter`, which read_counter() reads on the CPU it
/// runs on: cpu-clock's count grows between dd's writes.  "cycles" needs a PMU, which QEMU's
/// TCG does not emulate: its probe is a registration WARNING, its body does not run, and
/// reading its handle is an ERROR; the session goes on.  An unknown event is a pass-2 error.
#[test]
fn perfmon_counters_count_and_read_counter_reads_them() {
    let bad = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args([
            "-r",
            &kver(),
            "-p2",
            "-e",
            "probe perfmon.counter(\"cylces\") {}",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("no such event (known: cycles, instructions"),
        "{err}"
    );
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        "global h = -1, hc = -1, last, up, n
         probe perfmon.counter(\"cpu-clock\") { h = $counter }
         probe perfmon.counter(\"cycles\") { hc = $counter }
         probe begin { printf(\"begin sees handle %d\\n\", h >= 0) }
         probe kernel.function(\"ksys_write\") {
             if (pid() == target()) {
                 v = read_counter(h)
                 if (v > last[cpu()]) up++
                 last[cpu()] = v
                 n++
             }
         }
         probe end {
             printf(\"cycles handle %d, grew at %d of %d writes\\n\", hc, up, n)
             println(read_counter(0))
         }",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        stdout,
        format!(
            "begin sees handle 1\ncycles handle -1, grew at {n} of {n} writes\n",
            n = N + 1
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARNING: probe perfmon.counter(\"cycles\") registration error"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ERROR: read_counter(0): no such counter"),
        "{stderr}"
    );
}

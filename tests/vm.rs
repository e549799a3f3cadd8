//! `stap --vm`: the kernel backend, end to end, in a throwaway QEMU guest.

mod vmlib;

use std::process::Command;
use vmlib::*;

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
        "probe begin { x = 0; println(1 / x) } probe end { println(\"end\") }
         probe error { println(\"error\") }",
    ]);
    // As SystemTap 4.8 (tests/e2e/errors.stpt): after an error, the error probes run
    // instead of the end probes.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "error\n");
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
    let out = output_within(
        Command::new(env!("CARGO_BIN_EXE_stap"))
            .env_remove("SYSTEMTAP_TAPSET")
            .env(
                "SYSTEMTAP_DIR",
                std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"),
            )
            .args(["--vm", "-e", "probe begin { println(\"hello\"); exit() }"]),
        VM_RUN_LIMIT,
    );
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
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let stdout = child.stdout.take().unwrap();
    let errors = read_in_background(child.stderr.take().unwrap());
    // The reader interrupts stap once the begin probe has printed, and collects the rest.
    let reader = std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        if first.as_deref() == Some("ready") {
            nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        }
        (first, lines.map_while(Result::ok).collect::<Vec<String>>())
    });
    let Some(status) = wait_or_kill(&mut child, VM_RUN_LIMIT) else {
        panic!(
            "stap --vm did not finish within {} s; stderr:\n{}",
            VM_RUN_LIMIT.as_secs(),
            String::from_utf8_lossy(&errors.join().unwrap())
        );
    };
    let (first, rest) = reader.join().unwrap();
    let errors = String::from_utf8_lossy(&errors.join().unwrap()).into_owned();
    assert_eq!(first.as_deref(), Some("ready"), "{errors}");
    assert_eq!(rest, ["end probe ran"], "{errors}");
    assert_eq!(status.code(), Some(0), "{errors}");
}

/// stpd turns kprobe jump optimization off before it loads a module, as SystemTap 4.8's
/// staprun does (run in the same guest: 1 before, 0 during and after).
#[test]
fn stpd_turns_kprobe_jump_optimization_off_as_staprun_does() {
    let log = scenario(
        "kopt_test",
        "probe kprobe.function(\"ksys_write\") { } probe timer.ms(100) { exit() }",
        "echo \"before: $(cat /proc/sys/debug/kprobes-optimization)\"\n\
         stpd \"$1\" > /dev/null 2>&1\n\
         echo \"after: $(cat /proc/sys/debug/kprobes-optimization)\"\n",
    );
    assert!(log.contains("before: 1\n"), "{log}");
    assert!(log.contains("after: 0\n"), "{log}");
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
                 comms[kernel_string(@cast(task_current(), \"task_struct\", \"kernel<linux/sched.h>\")->comm)]++
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
        "/bin/busybox true",
        "-e",
        "probe kernel.trace(\"sched_process_exec\") {
             if (pid() == target()) printf(\"trace %s %s\\n\", kernel_string($p->comm), kernel_string($bprm->filename))
         }
         probe kernel.mark(\"sched_process_exec\") {
             if (pid() == target()) printf(\"mark %s %s\\n\", kernel_string($arg3->filename), probefunc())
         }",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    // stpd execs the command itself, as staprun does: one exec of the target process.
    assert_eq!(
        lines,
        [
            "mark /bin/busybox sched_process_exec",
            "trace busybox /bin/busybox",
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
         probe end { println(\"end\") } probe error { println(\"error\") }",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR: kernel read fault at 0x0000000000000010 (addr)"),
        "{err}"
    );
    assert!(!err.contains("guest kernel"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "error\n");
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
        "kernel.function(\"vfs_read\") $file:struct file* $buf:char* $count:size_t $pos:loff_t*\n"
    );
    // With the kernel's DWARF: its locals too where they are located at the entry, as
    // SystemTap lists them (vfs_read's $ret is not set yet, and 4.8 leaves it out).
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-L", "kernel.function(\"vfs_read\")"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "kernel.function(\"vfs_read\") $file:struct file* $buf:char* $count:size_t $pos:loff_t*\n"
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

/// `kernel.trace("SYSTEM:EVENT")` filters on the event's subsystem (from the build tree's
/// trace headers), as SystemTap: "sched:*" is the scheduler's events only.
#[test]
fn kernel_trace_matches_the_subsystem_too() {
    let list = |p: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .args(["-r", &kver(), "-l", p])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sched = list("kernel.trace(\"sched:*\")");
    assert!(
        sched.contains("kernel.trace(\"sched_switch\")\n"),
        "{sched}"
    );
    assert!(!sched.contains("net_dev_queue"), "{sched}");
    let net = list("kernel.trace(\"net:*\")");
    assert!(net.contains("kernel.trace(\"net_dev_queue\")\n"), "{net}");
    assert!(!net.contains("sched_switch"), "{net}");
    assert_eq!(list("kernel.trace(\"sched:net_dev_queue\")"), "");
    assert_eq!(
        list("kernel.trace(\"raw_syscalls:sys_enter\")"),
        "kernel.trace(\"sys_enter\")\n"
    );
}

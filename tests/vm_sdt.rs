//! The VM tier's SDT marker tests: `process("PATH").mark("NAME")` and
//! `.provider("P").mark("NAME")` on a test program built here with `sys/sdt.h`
//! (tests/vm/proc/sdtprog.c) and on its own shared library (tests/vm/proc/uwork.c):
//! arguments in registers, in memory (`counter(%rip)`), as constants and as a pointer to
//! a string; `$$name`, `$$provider`, `$$parms`; `pp()`; a semaphore that the program
//! sees set only while its marker is probed; and `.plt("NAME")` and
//! `.library("LIB").function/.mark` on the program's own library.  The expected lines are SystemTap 4.8's for
//! the same script and programs (recorded by running it in this guest on 6.1).

mod vmlib;

use std::path::PathBuf;
use std::process::Command;
use vmlib::*;

/// The directory holding the test program and its library (built once: the tests run at
/// once).  The program finds the library there (its run path), in the guest too.
fn built() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sdt");
            std::fs::create_dir_all(&dir).unwrap();
            let lib = dir.join("libuwork.so");
            cc_program(
                "tests/vm/proc/uwork.c",
                &lib,
                &["-O2", "-g", "-shared", "-fPIC"],
            );
            let rpath = format!("-Wl,-rpath,{}", dir.display());
            let libdir = format!("-L{}", dir.display());
            cc_program(
                "tests/vm/proc/sdtprog.c",
                &dir.join("sdtprog"),
                &[
                    "-O2",
                    "-g",
                    "-Wl,--no-as-needed",
                    &libdir,
                    "-luwork",
                    &rpath,
                ],
            );
            // A second program of the same bytes (another file), which loads the library too.
            std::fs::copy(dir.join("sdtprog"), dir.join("sdtprog2")).unwrap();
            dir
        })
        .clone()
}

/// The address of the PLT entry calling `func` in `file`, as objdump names it.
fn plt_address(file: &str, func: &str) -> String {
    let out = Command::new("objdump")
        .args(["-d", "-j", ".plt", file])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.ends_with(&format!("<{func}@plt>:")))
        .unwrap_or_else(|| panic!("no {func}@plt in {text}"));
    let hex = line.split_whitespace().next().unwrap();
    format!("{:#x}", u64::from_str_radix(hex, 16).unwrap())
}

/// The address of each marker of `file`, by name, as `readelf -n` shows its notes.
fn marker_address(file: &str, name: &str) -> String {
    let out = Command::new("readelf").args(["-n", file]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let at = text
        .find(&format!("Name: {name}\n"))
        .unwrap_or_else(|| panic!("no marker {name} in {text}"));
    let loc = &text[at..];
    let loc = &loc[loc.find("Location: 0x").unwrap() + "Location: ".len()..];
    let hex = loc.split(',').next().unwrap();
    format!("{:#x}", u64::from_str_radix(&hex[2..], 16).unwrap())
}

/// `-L POINT`'s output.
fn list_vars(point: &str) -> String {
    stap_list(&["-L", point], &[])
}

/// `-L` lists the markers of the program and of its library with their arguments, the
/// program's PLT entries, and a function of its library found by a pattern, as SystemTap
/// 4.8 does.
#[test]
fn listings_name_markers_as_systemtap_does() {
    let dir = built();
    let p = dir.join("sdtprog").display().to_string();
    let l = dir.join("libuwork.so").display().to_string();
    assert_eq!(
        list_vars(&format!("process(\"{p}\").mark(\"*\")")),
        format!(
            "process(\"{p}\").mark(\"counted\") $arg1:long\n\
             process(\"{p}\").mark(\"konst\") $arg1:long $arg2:long $arg3:long\n\
             process(\"{p}\").mark(\"memory\") $arg1:long $arg2:long\n\
             process(\"{p}\").mark(\"tick\") $arg1:long $arg2:long\n"
        )
    );
    assert_eq!(
        list_vars(&format!(
            "process(\"{p}\").provider(\"sdtprog\").mark(\"t*\")"
        )),
        format!("process(\"{p}\").provider(\"sdtprog\").mark(\"tick\") $arg1:long $arg2:long\n")
    );
    assert_eq!(
        list_vars(&format!("process(\"{l}\").mark(\"*\")")),
        format!("process(\"{l}\").mark(\"mixed\") $arg1:long $arg2:long\n")
    );
    let plt: String = ["access", "printf", "snprintf", "usleep", "uwork_mix"]
        .iter()
        .map(|f| format!("process(\"{p}\").plt(\"{f}\")\n"))
        .collect();
    assert_eq!(list_vars(&format!("process(\"{p}\").plt")), plt);
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/proc/uwork.c");
    assert_eq!(
        list_vars(&format!(
            "process(\"{p}\").library(\"libuw*\").function(\"uwork_mix\")"
        )),
        format!(
            "process(\"{p}\").library(\"{l}\").function(\"uwork_mix@{}:8\") $a:int $b:long int\n",
            src.display()
        )
    );
}

/// Every marker of the program and its library fires with its exact arguments while the
/// program runs twice; the semaphore of `counted` is set only during the session (the
/// program runs once before and once after it: `counted 0`).
#[test]
fn markers_see_their_arguments_and_semaphores() {
    let dir = built();
    let p = dir.join("sdtprog").display().to_string();
    let l = dir.join("libuwork.so").display().to_string();
    let script = format!(
        r#"
probe process("{p}").mark("*") {{ if ($$name != "konst") printf("%s %s [%s] [%s]\n", $$provider, $$name, $$parms, $$vars) }}
probe process("{p}").mark("tick") {{ printf("tick %d %d\n", $arg1, $arg2) }}
probe process("{p}").provider("sdtprog").mark("memory") {{ printf("memory %d %d\n", $arg1, $arg2) }}
probe process("{p}").mark("counted") {{ printf("counted %d\n", $arg1) }}
probe process("{p}").mark("konst") {{ printf("konst %d %d %s %s\n", $arg1, $arg2, user_string($arg3), pp()) }}
probe process("{l}").mark("mixed") {{ printf("mixed %d %d %s\n", $arg1, $arg2, pp()) }}
"#
    );
    let sh = format!(
        "{p} > /tmp/before\n\
         stpd \"$1\" > /tmp/out 2>&1 &\n\
         pid=$!\n\
         while ! lsmod | grep -q '^sdt_marks '; do kill -0 $pid || break; sleep 1; done\n\
         sleep 2\n\
         {p} / xyz > /tmp/during\n\
         {p} >> /tmp/during\n\
         sleep 1\n\
         kill -INT $pid\n\
         wait $pid\n\
         echo \"rc: $?\"\n\
         {p} > /tmp/after\n\
         echo '--- before'; cat /tmp/before\n\
         echo '--- during'; cat /tmp/during\n\
         echo '--- after'; cat /tmp/after\n\
         echo '--- probes'; cat /tmp/out\n\
         echo '--- end'\n"
    );
    let hostbin = format!("{p} {l}");
    let log = scenario_env(
        "sdt_marks",
        &[],
        &script,
        &sh,
        &[],
        &[("VM_HOSTBIN", &hostbin)],
    );
    let part = |from: &str, to: &str| -> String {
        let a = log.find(from).unwrap_or_else(|| panic!("{log}")) + from.len();
        let b = log.find(to).unwrap_or_else(|| panic!("{log}"));
        log[a..b].to_string()
    };
    assert!(log.contains("rc: 0\n"), "{log}");
    assert_eq!(part("--- before\n", "--- during"), "total 4000 counted 0\n");
    assert_eq!(
        part("--- during\n", "--- after"),
        "total 4000 counted 3\ntotal 4000 counted 3\n"
    );
    assert_eq!(part("--- after\n", "--- probes"), "total 4000 counted 0\n");
    let mixed = marker_address(&l, "mixed");
    let konst = marker_address(&p, "konst");
    let one_run = |tag: &str| {
        let mut s = String::new();
        for (i, counted) in [(0i64, 7), (1, 8), (2, 11)] {
            let total = [0, 1000, 3000][i as usize];
            let counter = [1, 3, 6][i as usize];
            let t2 = format!("{:#x}", (i * -100) as u64);
            s += &format!("tick {i} {}\n", i * -100);
            s += &format!("sdtprog tick [$arg1={i:#x} $arg2={t2}] [$arg1={i:#x} $arg2={t2}]\n");
            s += &format!("memory {counter} -5000000000\n");
            s += &format!(
                "sdtprog memory [$arg1={counter:#x} $arg2=0xfffffffed5fa0e00] [$arg1={counter:#x} $arg2=0xfffffffed5fa0e00]\n"
            );
            s += &format!("counted {counted}\n");
            s += &format!("sdtprog counted [$arg1={counted:#x}] [$arg1={counted:#x}]\n");
            s += &format!("mixed {i} {total} process(\"{l}\").statement({mixed})\n");
        }
        s + &format!("konst 5 -1 {tag} process(\"{p}\").statement({konst})\n")
    };
    assert_eq!(
        part("--- probes\n", "--- end"),
        one_run("xyz") + &one_run("sdt")
    );
}

/// `.plt("uwork_mix")` fires where the program calls into its library, and
/// `.library("libuwork.so")`'s function and marker fire in the library, with their
/// arguments and `pp()` as SystemTap 4.8 prints them: a library probe fires in every
/// process that maps the library (sdtprog2 too, as in 4.8), a PLT probe in the program's.
#[test]
fn plt_and_library_probes() {
    let dir = built();
    let p = dir.join("sdtprog").display().to_string();
    let p2 = dir.join("sdtprog2").display().to_string();
    let l = dir.join("libuwork.so").display().to_string();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vm/proc/uwork.c");
    let src = src.display();
    let script = format!(
        r#"
probe process("{p}").plt("uwork_mix") {{ printf("plt %s %d %d %s\n", pp(), int_arg(1), long_arg(2), execname()) }}
probe process("{p}").library("libuwork.so").function("uwork_mix") {{ printf("lib %s %d %d %s\n", pp(), $a, $b, execname()) }}
probe process("{p}").library("libuwork.so").mark("mixed") {{ printf("libmark %s %d %d %s\n", pp(), $arg1, $arg2, execname()) }}
"#
    );
    let sh = format!(
        "stpd \"$1\" > /tmp/out 2>&1 &\n\
         pid=$!\n\
         while ! lsmod | grep -q '^sdt_lib '; do kill -0 $pid || break; sleep 1; done\n\
         sleep 2\n\
         {p2} / two > /dev/null\n\
         {p} / one > /dev/null\n\
         sleep 1\n\
         kill -INT $pid\n\
         wait $pid\n\
         echo \"rc: $?\"\n\
         echo '--- probes'; cat /tmp/out\n\
         echo '--- end'\n"
    );
    let hostbin = format!("{p} {p2} {l}");
    let log = scenario_env(
        "sdt_lib",
        &[],
        &script,
        &sh,
        &[],
        &[("VM_HOSTBIN", &hostbin)],
    );
    assert!(log.contains("rc: 0\n"), "{log}");
    let a = log.find("--- probes\n").unwrap_or_else(|| panic!("{log}")) + 11;
    let b = log.find("--- end").unwrap_or_else(|| panic!("{log}"));
    let mixed = marker_address(&l, "mixed");
    let plt = plt_address(&p, "uwork_mix");
    let mut want = String::new();
    for exe in ["sdtprog2", "sdtprog"] {
        for (i, b, r) in [(0, 0, 0), (1, 0, 1000), (2, 1000, 3000)] {
            if exe == "sdtprog" {
                want += &format!("plt process(\"{p}\").statement({plt}) {i} {b} {exe}\n");
            }
            want +=
                &format!("lib process(\"{l}\").function(\"uwork_mix@{src}:8\") {i} {b} {exe}\n");
            want += &format!("libmark process(\"{l}\").statement({mixed}) {i} {r} {exe}\n");
        }
    }
    assert_eq!(&log[a..b], want);
}

/// Without a program named, `process.mark(..)`, `process.function(..)` and `process.plt(..)`
/// probe the target's: `-c CMD`'s program (its first word), or `-x PID`'s executable; and
/// `process(PID).mark(..)` that process's executable.
#[test]
fn points_without_a_program_probe_the_targets() {
    let dir = built();
    let p = dir.join("sdtprog").display().to_string();
    // -x: a running copy of the program, waiting for a file that never comes.
    let mut waiting = Command::new(&p).arg(dir.join("never")).spawn().unwrap();
    let listed = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-L", "process.mark(\"t*\")", "-x"])
        .arg(waiting.id().to_string())
        .output()
        .unwrap();
    // process(PID): that process's executable, as SystemTap 4.8 takes it.
    let by_pid = stap_list(
        &["-L", &format!("process({}).mark(\"t*\")", waiting.id())],
        &[],
    );
    waiting.kill().unwrap();
    waiting.wait().unwrap();
    assert_eq!(
        by_pid,
        format!("process(\"{p}\").mark(\"tick\") $arg1:long $arg2:long\n")
    );
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout),
        format!("process(\"{p}\").mark(\"tick\") $arg1:long $arg2:long\n"),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    // -c, in the VM.
    let script = r#"
probe process.mark("tick") { printf("tick %d %d\n", $arg1, $arg2) }
probe process.function("main") { printf("main %d\n", int_arg(1)) }
probe process.plt("uwork_mix") { printf("plt %s %d\n", $$name, int_arg(1)) }
"#;
    let cmd = format!("{p} / one");
    let sh = format!("stpd -c '{cmd}' \"$1\" > /tmp/out 2>&1\necho \"rc: $?\"\ncat /tmp/out\n");
    let hostbin = format!("{p} {}", dir.join("libuwork.so").display());
    let log = scenario_env(
        "sdt_target",
        &["-c", &cmd],
        script,
        &sh,
        &[],
        &[("VM_HOSTBIN", &hostbin)],
    );
    assert!(log.contains("rc: 0\n"), "{log}");
    let mut want = "main 3\n".to_string();
    for i in 0..3 {
        want += &format!("tick {i} {}\nplt uwork_mix {i}\n", -100 * i);
    }
    let got: String = log
        .lines()
        .filter(|l| ["tick ", "main ", "plt "].iter().any(|s| l.starts_with(s)))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(got, want, "{log}");
    assert!(log.contains("total 4000 counted 0\n"), "{log}");
}

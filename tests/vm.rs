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

fn vm(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stap"))
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

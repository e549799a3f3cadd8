//! stpd on this machine: its checks before it touches the kernel.  Loading, streaming and
//! unloading are tested in the VM tier (tests/vm.rs, tests/e2e.rs).

use std::process::Command;

fn stpd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stpd"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_missing_module_file_is_an_error() {
    let out = stpd(&["/nonexistent/stap_x.ko"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "stpd: no such module file: /nonexistent/stap_x.ko\n"
    );
}

#[test]
fn c_and_x_together_are_a_usage_error() {
    let out = stpd(&["-c", "true", "-x", "1", "m.ko"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn not_root_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let ko = dir.path().join("stap_x.ko");
    std::fs::write(&ko, b"not really a module").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Not root, but able to read and search everything (CAP_DAC_READ_SEARCH, kept across
    // exec as an ambient capability): the build tree may be in a private home, and a fresh
    // root made by mktemp (tests in check.sh's chroot) has a 0700 "/".
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search",
        ])
        .arg(env!("CARGO_BIN_EXE_stpd"))
        .arg(&ko)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("stpd: loading a kernel module needs root"),
        "{err}"
    );
}

//! The integer IEEE 754 arithmetic of the floating-point tapset
//! (`runtime-c/common/stp_softfloat.h`) against the host's own: tests/softfloat/check.c
//! runs two million random and edge operands through every operation and compares each
//! result bit for bit with what the SSE unit gives.

use std::process::Command;

#[test]
fn softfloat_matches_the_hosts_ieee_arithmetic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("check");
    let cc = Command::new("cc")
        .args(["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root.join("runtime-c/common"))
        .arg(root.join("tests/softfloat/check.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-lm")
        .output()
        .expect("run cc");
    assert!(
        cc.status.success(),
        "check.c did not build:\n{}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(", 0 mismatches"), "{text}");
}

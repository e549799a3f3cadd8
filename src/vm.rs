//! `stap --vm`: pass 5 of the kernel backend in a throwaway QEMU guest of the target kernel.
//!
//! The guest is the target kernel's image booted (TCG when KVM is not usable) with a
//! busybox initramfs holding the module and `vm-guest-init.sh`, which loads it and streams
//! its output to the serial console.  The host follows the console and forwards the
//! script's output and error lines as they arrive.  A buggy script can only crash the guest.

use crate::session::Kernel;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GUEST_INIT: &str = include_str!("vm-guest-init.sh");

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {} >/dev/null", cmd))
        .status()
        .is_ok_and(|s| s.success())
}

fn installed_kernels() -> Vec<String> {
    let mut k: Vec<String> = std::fs::read_dir("/usr/lib/modules")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("build").is_dir())
        .filter(|e| {
            Path::new(&format!(
                "/boot/vmlinuz-{}",
                e.file_name().to_string_lossy()
            ))
            .is_file()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    k.sort_by(|a, b| stap_syntax::preprocess::version_cmp(a, b));
    k
}

/// The kernel `--vm` targets without `-r`: the newest one installed with its headers and
/// image, installing Debian's (linux-headers-amd64, linux-image-amd64) the first time.
pub fn default_kernel() -> Result<String, String> {
    if let Some(k) = installed_kernels().pop() {
        return Ok(k);
    }
    eprintln!("stap --vm: first-time set-up: installing linux-headers-amd64 linux-image-amd64");
    let ok = Command::new("sh")
        .arg("-c")
        .arg(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
              linux-headers-amd64 linux-image-amd64 >&2",
        )
        .status()
        .is_ok_and(|s| s.success());
    match installed_kernels().pop() {
        Some(k) if ok => Ok(k),
        _ => Err(
            "stap --vm: no kernel to boot: install linux-headers-amd64 and linux-image-amd64 \
                  (as root on Debian), or name one with -r"
                .to_string(),
        ),
    }
}

/// Installs what the guest needs, the first time (Debian packages, as root).
fn set_up(kernel: &Kernel) -> Result<PathBuf, String> {
    let image = PathBuf::from(format!("/boot/vmlinuz-{}", kernel.release));
    let mut need = Vec::new();
    if !image.is_file() {
        need.push(format!("linux-image-{}", kernel.release));
    }
    if !have("qemu-system-x86_64") {
        need.push("qemu-system-x86".to_string());
    }
    if !Path::new("/bin/busybox").is_file() {
        need.push("busybox-static".to_string());
    }
    if !have("cpio") {
        need.push("cpio".to_string());
    }
    if !need.is_empty() {
        eprintln!(
            "stap --vm: first-time set-up: installing {}",
            need.join(" ")
        );
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {} >&2",
                need.join(" ")
            ))
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !image.is_file() {
            return Err(format!(
                "stap --vm needs {} (apt-get install failed; run as root on Debian, or install them)",
                need.join(", ")
            ));
        }
    }
    Ok(image)
}

/// Runs the module in a VM; returns the exit status (1 when the script had errors).
pub fn run(ko: &Path, kernel: &Kernel, timeout: Option<f64>, verbose: u8) -> i32 {
    let image = match set_up(kernel) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}", e);
            return 1;
        }
    };
    let work = match tempfile::tempdir() {
        Ok(w) => w,
        Err(e) => {
            eprintln!("stap --vm: cannot make a work directory: {}", e);
            return 1;
        }
    };
    let root = work.path().join("root");
    let name = ko
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let secs = timeout.map(|t| (t.ceil() as i64).max(1)).unwrap_or(86_400);
    let staged = (|| -> std::io::Result<()> {
        for d in ["bin", "modules", "proc", "sys", "dev", "tmp"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))?;
        std::fs::write(root.join("init"), GUEST_INIT)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("init"), std::fs::Permissions::from_mode(0o755))?;
        std::fs::copy(ko, root.join(format!("modules/{}.ko", name)))?;
        std::fs::write(
            root.join(format!("modules/{}.seconds", name)),
            secs.to_string(),
        )?;
        Ok(())
    })();
    if let Err(e) = staged {
        eprintln!("stap --vm: cannot stage the guest: {}", e);
        return 1;
    }
    let initrd = work.path().join("initramfs.gz");
    let packed = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd '{}' && find . | cpio -o -H newc --quiet | gzip -1 > '{}'",
            root.display(),
            initrd.display()
        ))
        .status()
        .is_ok_and(|s| s.success());
    if !packed {
        eprintln!("stap --vm: cannot pack the guest's initramfs (cpio, gzip)");
        return 1;
    }
    let log = work.path().join("console.log");
    let _ = std::fs::File::create(&log);
    // KVM may be present but unusable (nested or restricted hosts): TCG unless asked.
    let kvm = std::env::var("STAP_VM_KVM").is_ok_and(|v| v == "1");
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-machine", if kvm { "accel=kvm" } else { "accel=tcg" }])
        .args(["-m", "512", "-smp", "2"])
        .arg("-kernel")
        .arg(&image)
        .arg("-initrd")
        .arg(&initrd)
        .args([
            "-append",
            "console=ttyS0 panic=-1 oops=panic quiet loglevel=1",
        ])
        .args([
            "-nographic",
            "-no-reboot",
            "-monitor",
            "none",
            "-display",
            "none",
        ])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if verbose >= 1 {
        eprintln!(
            "Pass 5: starting {} in a VM ({})",
            name,
            if kvm { "KVM" } else { "TCG" }
        );
    }
    let mut child = match qemu.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stap --vm: cannot start qemu: {}", e);
            return 1;
        }
    };
    follow(&mut child, &log, secs)
}

/// Follows the guest console, forwarding the script's output; returns the exit status.
fn follow(child: &mut std::process::Child, log: &Path, secs: i64) -> i32 {
    let mut pos = 0u64;
    let mut pending = String::new();
    let mut section = 0;
    let mut errors = false;
    let mut finished = false;
    let mut loaded = true;
    let deadline = Instant::now() + Duration::from_secs(secs as u64 + 120);
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    loop {
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        if let Ok(mut f) = std::fs::File::open(log) {
            let _ = f.seek(SeekFrom::Start(pos));
            let mut buf = Vec::new();
            if f.read_to_end(&mut buf).is_ok() {
                pos += buf.len() as u64;
                pending.push_str(&String::from_utf8_lossy(&buf).replace('\r', ""));
            }
        }
        while let Some(nl) = pending.find('\n') {
            let line: String = pending.drain(..=nl).collect();
            let text = line.trim_end_matches('\n');
            if text.starts_with("=== STDOUT ") {
                section = 1;
            } else if text.starts_with("=== STDERR ") {
                section = 2;
            } else if text.starts_with("=== END ") {
                section = 0;
            } else if text.starts_with("=== INSMOD-FAILED ") {
                loaded = false;
            } else if text.starts_with("=== STAP-VM-END") {
                finished = true;
            } else if section == 1 {
                let _ = writeln!(out, "{}", text);
                let _ = out.flush();
            } else if section == 2 {
                errors |= text.starts_with("ERROR:");
                let _ = writeln!(err, "{}", text);
            } else if text.contains("BUG:")
                || text.contains("Oops")
                || text.contains("Kernel panic")
            {
                let _ = writeln!(err, "stap --vm: guest kernel: {}", text);
                errors = true;
            }
        }
        if finished || exited || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    if !loaded {
        eprintln!("stap --vm: the module did not load in the guest");
        return 1;
    }
    if !finished {
        eprintln!("stap --vm: the guest stopped before the script finished");
        return 1;
    }
    i32::from(errors)
}

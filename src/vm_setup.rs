//! What `stap --vm` needs on the host, found by what it needs (a kernel image and its build
//! tree, QEMU, a *static* busybox for the initramfs, cpio) and installed the first time from
//! Debian's packages, without their recommendations, saying what and why.

use crate::session::Kernel;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A package to install and why the guest needs it.
struct Need {
    package: String,
    why: &'static str,
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {} >/dev/null", cmd))
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `path` is an ELF program that needs no dynamic loader (no `PT_INTERP`): only
/// such a busybox runs in an initramfs that has no libraries.
pub fn is_static_elf(path: &Path) -> bool {
    use object::read::elf::{FileHeader, ProgramHeader};
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    let Ok(header) = object::elf::FileHeader64::<object::Endianness>::parse(&*data) else {
        return false;
    };
    let Ok(endian) = header.endian() else {
        return false;
    };
    let Ok(phdrs) = header.program_headers(endian, &*data) else {
        return false;
    };
    !phdrs.is_empty()
        && !phdrs
            .iter()
            .any(|p| p.p_type(endian) == object::elf::PT_INTERP)
}

/// Installs `needs` with apt-get (as root on Debian); true when it succeeded.
fn install(needs: &[Need]) -> bool {
    let list: Vec<String> = needs
        .iter()
        .map(|n| format!("{} ({})", n.package, n.why))
        .collect();
    eprintln!(
        "stap --vm: first-time set-up: installing {}",
        list.join(", ")
    );
    let packages: Vec<&str> = needs.iter().map(|n| n.package.as_str()).collect();
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -qq --no-install-recommends {} >&2",
            packages.join(" ")
        ))
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
    let ok = install(&[
        Need {
            package: "linux-headers-amd64".into(),
            why: "the kernel's build tree, to build the module",
        },
        Need {
            package: "linux-image-amd64".into(),
            why: "the kernel the guest boots",
        },
    ]);
    match installed_kernels().pop() {
        Some(k) if ok => Ok(k),
        _ => Err(
            "stap --vm: no kernel to boot: install linux-headers-amd64 and linux-image-amd64 \
                  (as root on Debian), or name one with -r"
                .to_string(),
        ),
    }
}

/// Installs what the guest needs, the first time; returns the kernel image to boot.
pub fn set_up(kernel: &Kernel) -> Result<PathBuf, String> {
    let image = PathBuf::from(format!("/boot/vmlinuz-{}", kernel.release));
    let mut need = Vec::new();
    if !image.is_file() {
        need.push(Need {
            package: format!("linux-image-{}", kernel.release),
            why: "the kernel the guest boots",
        });
    }
    if !have("qemu-system-x86_64") {
        need.push(Need {
            package: "qemu-system-x86".into(),
            why: "the virtual machine",
        });
    }
    if !is_static_elf(Path::new("/bin/busybox")) {
        need.push(Need {
            package: "busybox-static".into(),
            why: if Path::new("/bin/busybox").exists() {
                "the guest's shell; /bin/busybox is dynamically linked and cannot run there"
            } else {
                "the guest's shell and tools"
            },
        });
    }
    if !have("cpio") {
        need.push(Need {
            package: "cpio".into(),
            why: "to pack the guest's initramfs",
        });
    }
    if need.is_empty() {
        return Ok(image);
    }
    let ok = install(&need);
    if ok && image.is_file() && is_static_elf(Path::new("/bin/busybox")) {
        return Ok(image);
    }
    let names: Vec<&str> = need.iter().map(|n| n.package.as_str()).collect();
    Err(format!(
        "stap --vm needs {} (apt-get install failed; run as root on Debian, or install them)",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::is_static_elf;
    use std::path::Path;

    #[test]
    fn dynamic_programs_are_not_static() {
        // The test binary itself is dynamically linked (glibc); /bin/sh too.
        assert!(!is_static_elf(&std::env::current_exe().unwrap()));
        assert!(!is_static_elf(Path::new("/bin/sh")));
        assert!(!is_static_elf(Path::new("/nonexistent")));
        assert!(!is_static_elf(Path::new("/etc/passwd")));
    }

    #[test]
    fn a_static_program_is_static() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let bin = dir.path().join("s");
        let built = std::process::Command::new("cc")
            .arg("-static")
            .arg("-o")
            .arg(&bin)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        assert!(built, "cc -static (libc6-dev has libc.a)");
        assert!(is_static_elf(&bin));
    }
}

//! The session: what one `stap` run knows about its target kernel and options.
//!
//! The target kernel comes from `-r KVER|DIR` (default: the running kernel); its release
//! string, architecture and configuration feed the preprocessor's `kernel_v`,
//! `kernel_vr`, `arch` and `CONFIG_*` conditions.

use crate::cli::{Cli, Runtime};
use stap_syntax::preprocess::PpEnv;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// stpd, the module loader: the `stpd` binary beside this stap (as installed or built by
/// `cargo build`), else this very binary, which is stpd when called by that name (so
/// `cargo run`, which builds only `stap`, still has one).
pub fn stpd_path() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_else(|_| "stap".into());
    me.parent()
        .map(|d| d.join("stpd"))
        .filter(|p| p.is_file())
        .unwrap_or(me)
}

/// A command that runs stpd (see [`stpd_path`]).
pub fn stpd_command() -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut c = std::process::Command::new(stpd_path());
    c.arg0("stpd");
    c
}

/// Whether this process was started as stpd (`argv[0]`'s file name is `stpd`).
pub fn called_as_stpd() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == "stpd"))
        .unwrap_or(false)
}

/// The SystemTap language version this translator implements (`systemtap_v`).
pub const LANGUAGE_VERSION: &str = "5.3";

/// The target kernel.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// Release string (`6.1.0-28-amd64`).
    pub release: String,
    /// Its build tree, if one was found.
    pub build_dir: Option<PathBuf>,
    /// Where the configuration came from, if found.
    pub config_path: Option<PathBuf>,
    /// `CONFIG_*` values.
    pub config: HashMap<String, String>,
}

fn running_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Reads a kernel `.config` file into a map (`CONFIG_X` -> value, quotes removed).
pub fn read_kconfig(path: &Path) -> Option<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut map = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            if k.starts_with("CONFIG_") {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                map.insert(k.to_string(), v.to_string());
            }
        }
    }
    Some(map)
}

impl Kernel {
    /// Finds the kernel `-r` names (or the running one); reads its configuration when
    /// `with_config`.
    pub fn locate(release: Option<&str>, with_config: bool) -> Kernel {
        let (release, build_dir) = match release {
            Some(r) if r.contains('/') => {
                let dir = PathBuf::from(r);
                let rel = std::fs::read_to_string(dir.join("include/config/kernel.release"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| {
                        dir.file_name()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default()
                    });
                (rel, Some(dir))
            }
            Some(r) => (r.to_string(), None),
            None => (running_release(), None),
        };
        let build_dir = build_dir.or_else(|| {
            let d = PathBuf::from(format!("/lib/modules/{}/build", release));
            d.is_dir().then_some(d)
        });
        let candidates = [
            build_dir.as_ref().map(|d| d.join(".config")),
            Some(PathBuf::from(format!("/boot/config-{}", release))),
        ];
        let mut config_path = None;
        let mut config = HashMap::new();
        for c in candidates.into_iter().flatten().filter(|_| with_config) {
            if let Some(map) = read_kconfig(&c) {
                config = map;
                config_path = Some(c);
                break;
            }
        }
        Kernel {
            release,
            build_dir,
            config_path,
            config,
        }
    }

    /// `kernel_v`: the leading `N.N.N` of the release.
    pub fn version(&self) -> String {
        let end = self
            .release
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(self.release.len());
        self.release[..end].trim_end_matches('.').to_string()
    }
}

/// SystemTap's name for an architecture (`uname -m` or Rust's name).
pub fn stap_arch(machine: &str) -> String {
    match machine {
        "x86_64" | "amd64" => "x86_64",
        "i386" | "i486" | "i586" | "i686" | "x86" => "i386",
        "aarch64" | "arm64" => "arm64",
        m if m.starts_with("arm") => "arm",
        "powerpc64" | "powerpc64le" | "ppc64" | "ppc64le" | "powerpc" => "powerpc",
        "s390x" | "s390" => "s390",
        "riscv64" => "riscv",
        m => m,
    }
    .to_string()
}

/// Builds the preprocessor's view of the session.
pub fn pp_env(cli: &Cli, kernel: &Kernel, args: Vec<String>) -> PpEnv {
    let privilege = if cli.unprivileged {
        "stapusr".to_string()
    } else {
        cli.privilege
            .clone()
            .unwrap_or_else(|| "stapdev".to_string())
    };
    PpEnv {
        args,
        kernel_v: kernel.version(),
        kernel_vr: kernel.release.clone(),
        arch: stap_arch(cli.arch.as_deref().unwrap_or(std::env::consts::ARCH)),
        runtime: match cli.runtime {
            Runtime::Kernel => "kernel",
            Runtime::User => "user",
        }
        .to_string(),
        guru: cli.guru,
        privilege,
        compatible: cli
            .compatible
            .clone()
            .unwrap_or_else(|| LANGUAGE_VERSION.to_string()),
        kconfig: kernel.config.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_version_strips_local_suffix() {
        let k = Kernel {
            release: "6.1.0-28-amd64".into(),
            build_dir: None,
            config_path: None,
            config: HashMap::new(),
        };
        assert_eq!(k.version(), "6.1.0");
    }

    #[test]
    fn arch_names_follow_systemtap() {
        assert_eq!(stap_arch("aarch64"), "arm64");
        assert_eq!(stap_arch("i686"), "i386");
        assert_eq!(stap_arch("x86_64"), "x86_64");
    }
}

/// The target process's program: `-c CMD`'s first word, found in `$PATH` as SystemTap
/// finds it, or `-x PID`'s executable (`/proc/PID/exe`); `None` without a target.
pub fn target_program(cli: &Cli) -> Option<String> {
    if let Some(cmd) = &cli.command {
        let first = cmd.split_whitespace().next()?;
        let first = first.trim_matches(|c| c == '\'' || c == '"');
        return Some(stap_kdata::user::find_executable(first));
    }
    stap_kdata::user::executable_of(cli.target_pid?)
}

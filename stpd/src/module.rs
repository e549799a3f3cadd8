//! The module's life: loading it with `finit_module`, its control file, unloading it, and
//! cleaning up modules that an earlier stpd left loaded when it died.
//!
//! A stap-rs module publishes `/proc/stap_<module>/{out,err,ctl}` (the protocol is
//! `runtime-c/linux/stp_protocol.h`, read into [`crate::protocol`]).  Reading `ctl` gives `<state> <readers>`; writing
//! `exit` to it ends the session (end probes, then the streams reach end of file).

use nix::errno::Errno;
use nix::kmod::{delete_module, finit_module, DeleteModuleFlags, ModuleInitFlags};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::protocol::{self, text};

/// The procfs directory of a loaded module.
pub fn proc_dir(module: &str) -> PathBuf {
    PathBuf::from(format!(
        "/proc/{}{}",
        text(protocol::STP_PROC_PREFIX),
        module
    ))
}

/// What `ctl` says: the session state and how many readers have `out` open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// One of the protocol's `STP_STATE_*` words ("running", "stopping", "done").
    pub state: String,
    /// Open readers of the output file.
    pub readers: u32,
}

/// Reads a module's control file.
pub fn read_control(module: &str) -> Option<Control> {
    let ctl = std::fs::read_to_string(proc_dir(module).join(text(protocol::STP_PROC_CTL))).ok()?;
    let mut words = ctl.split_whitespace();
    let state = words.next()?.to_string();
    let readers = words.next().and_then(|r| r.parse().ok()).unwrap_or(0);
    Some(Control { state, readers })
}

/// Asks the module to end its session (runs the end probes).
pub fn request_exit(module: &str) {
    let _ = std::fs::write(
        proc_dir(module).join(text(protocol::STP_PROC_CTL)),
        protocol::STP_CTL_EXIT,
    );
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// The kernel's switch for kprobe jump optimization.
const KPROBES_OPTIMIZATION: &str = "/proc/sys/debug/kprobes-optimization";

/// Turns kprobe jump optimization off before a module is loaded, as SystemTap's staprun
/// does (seen in a guest: 1 before staprun, 0 during and after; it is not turned back
/// on).  Optimizing replaces a probe's int3 with a jump by live-patching text that other
/// CPUs are running; a `vfs_*` wildcard's 156 kprobes, armed under load, oopsed a guest
/// there once in twelve boots.  Probes stay int3 breakpoints.  Returns whether it changed
/// the setting (a kernel without the switch, or one that refuses, is left as it is).
pub fn disable_kprobe_optimization() -> bool {
    match std::fs::read_to_string(KPROBES_OPTIMIZATION) {
        Ok(v) if v.trim() != "0" => std::fs::write(KPROBES_OPTIMIZATION, "0").is_ok(),
        _ => false,
    }
}

/// Loads `ko` with the given parameter string.
pub fn load(ko: &Path, module: &str, params: &str) -> Result<(), String> {
    let file =
        std::fs::File::open(ko).map_err(|e| format!("cannot open {}: {}", ko.display(), e))?;
    let params =
        CString::new(params).map_err(|_| "a module parameter contains a NUL byte".to_string())?;
    finit_module(&file, &params, ModuleInitFlags::empty()).map_err(|e| match e {
        Errno::EPERM => "loading a kernel module needs root (CAP_SYS_MODULE), and the kernel must \
                         allow module loading; run as root, or run the script in a disposable VM \
                         with `stap --vm`"
            .to_string(),
        Errno::ENOSYS => "this system does not let programs load kernel modules (finit_module is \
                          not available: a container or sandbox?); run the script in a disposable \
                          VM with `stap --vm`"
            .to_string(),
        Errno::EEXIST => format!(
            "module {} is already loaded (is another stpd running this script?)",
            module
        ),
        Errno::ENOEXEC | Errno::EINVAL => format!(
            "the kernel refused {} ({}): was it built for this kernel ({})? Rebuild with `stap -r {}`",
            ko.display(),
            e.desc(),
            kernel_release(),
            kernel_release()
        ),
        Errno::ENOMEM => format!("module {} could not allocate its memory at start-up", module),
        _ => format!("cannot load {}: {}", ko.display(), e.desc()),
    })
}

/// Unloads the module, waiting briefly for its files to be released.
pub fn unload(module: &str) -> Result<(), String> {
    let name = CString::new(module).map_err(|_| "bad module name".to_string())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match delete_module(&name, DeleteModuleFlags::O_NONBLOCK) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EAGAIN | Errno::EBUSY) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => return Err(format!("cannot unload module {}: {}", module, e.desc())),
        }
    }
}

/// Unloads stap-rs modules whose stpd died: nobody reads their output any more.  Our own
/// module name (same script, same build) is cleaned up in any state; another module only
/// once its session is done, so a concurrent stpd still starting up is left alone.
pub fn clean_up_stale(ours: &str) -> Vec<String> {
    let mut cleaned = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return cleaned;
    };
    for entry in dir.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(module) = file_name.strip_prefix(text(protocol::STP_PROC_PREFIX)) else {
            continue;
        };
        let Some(ctl) = read_control(module) else {
            continue;
        };
        if ctl.readers != 0 || (ctl.state != text(protocol::STP_STATE_DONE) && module != ours) {
            continue;
        }
        if ctl.state != text(protocol::STP_STATE_DONE) {
            request_exit(module);
            let deadline = Instant::now() + Duration::from_secs(5);
            while read_control(module).is_some_and(|c| c.state != text(protocol::STP_STATE_DONE))
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if unload(module).is_ok() {
            cleaned.push(module.to_string());
        }
    }
    cleaned
}

//! `stap --vm`: pass 5 of the kernel backend in a throwaway QEMU guest of the target kernel.
//!
//! The guest is the target kernel's image booted (TCG when KVM is not usable) with a
//! busybox initramfs holding the module and `vm-guest-init.sh`, which loads it and streams
//! its output to the serial console.  The host follows the console and forwards the
//! script's output and error lines as they arrive.  A buggy script can only crash the guest.

use crate::session::Kernel;
use crate::vm_setup::set_up;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GUEST_INIT: &str = include_str!("vm-guest-init.sh");

/// What `stap --vm` runs.
pub struct Session<'a> {
    /// The module.
    pub ko: &'a Path,
    /// The kernel to boot.
    pub kernel: &'a Kernel,
    /// `-T SECS`.
    pub timeout: Option<f64>,
    /// `-c CMD`, run inside the guest.
    pub command: Option<&'a str>,
    /// `-o FILE`, written on this machine.
    pub output: Option<&'a Path>,
    /// `-v` level.
    pub verbose: u8,
}

/// Quotes a word for the guest's shell.
fn shell_quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\\''"))
}

/// Copies a dynamically linked program into the guest's root with the libraries `ldd`
/// names, at the same paths (the guest has only busybox otherwise).
pub fn stage_program(bin: &Path, root: &Path, dest: &str) -> std::io::Result<()> {
    std::fs::copy(bin, root.join(dest))?;
    let ldd = Command::new("ldd").arg(bin).output()?;
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let lib = match line.split_once("=>") {
            Some((_, r)) => r.trim().split_whitespace().next().unwrap_or(""),
            None => line.trim().split_whitespace().next().unwrap_or(""),
        };
        if lib.starts_with('/') {
            let to = root.join(lib.trim_start_matches('/'));
            if let Some(d) = to.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::copy(lib, &to)?;
        }
    }
    Ok(())
}

/// Ctrl-C presses not yet passed to the guest.
static INTERRUPTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Runs the module in a VM; returns stpd's exit status in the guest.
pub fn run(s: &Session) -> i32 {
    let image = match set_up(s.kernel) {
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
    let name =
        s.ko.file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
    let mut args = Vec::new();
    if let Some(t) = s.timeout {
        args.push("-T".to_string());
        args.push(t.to_string());
    }
    if let Some(c) = s.command {
        args.push("-c".to_string());
        args.push(c.to_string());
    }
    let stpd = crate::session::stpd_path();
    let staged = (|| -> std::io::Result<()> {
        for d in ["bin", "modules", "proc", "sys", "dev", "tmp"] {
            std::fs::create_dir_all(root.join(d))?;
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))?;
        stage_program(&stpd, &root, "bin/stpd")?;
        std::fs::write(root.join("init"), GUEST_INIT)?;
        std::fs::write(root.join("ctl-on-ttyS1"), "")?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("init"), std::fs::Permissions::from_mode(0o755))?;
        std::fs::copy(s.ko, root.join(format!("modules/{}.ko", name)))?;
        let words: Vec<String> = args.iter().map(|a| shell_quote(a)).collect();
        std::fs::write(root.join(format!("modules/{}.args", name)), words.join(" "))?;
        Ok(())
    })();
    if let Err(e) = staged {
        eprintln!(
            "stap --vm: cannot stage the guest (busybox, {}, the module): {}",
            stpd.display(),
            e
        );
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
    let out: Box<dyn Write> = match s.output {
        // As stpd opens it: 0600, and never through a link others could have planted.
        Some(p) => match stpd::open_output(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("stap --vm: {}", e);
                return 1;
            }
        },
        None => Box::new(std::io::stdout()),
    };
    let log = work.path().join("console.log");
    let _ = std::fs::File::create(&log);
    // The second serial port carries Ctrl-C to the guest: QEMU reads ctl.in.
    let ctl = work.path().join("ctl");
    for end in ["ctl.in", "ctl.out"] {
        let _ = nix::unistd::mkfifo(
            &work.path().join(end),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        );
    }
    // KVM may be present but unusable (nested or restricted hosts): TCG unless asked.
    let kvm = std::env::var("STAP_VM_KVM").is_ok_and(|v| v == "1");
    let mut qemu = Command::new("qemu-system-x86_64");
    // Under TCG both vCPUs share one host thread: with a thread each, QEMU can run a
    // stale translation of kernel text that a probe's registration has just patched (a
    // guest that locks up or oopses at a probed function's entry; tests/hostile.rs).
    qemu.args(["-accel", if kvm { "kvm" } else { "tcg,thread=single" }])
        .args(["-m", "512", "-smp", "2"])
        .arg("-kernel")
        .arg(&image)
        .arg("-initrd")
        .arg(&initrd)
        // tsc=reliable: no clocksource watchdog, which marks an emulated TSC unstable
        // when the host deschedules a vCPU and then live-patches the kernel's text
        // (tests/vm/boot.sh says more).
        .args([
            "-append",
            "console=ttyS0 panic=-1 oops=panic quiet loglevel=1 tsc=reliable",
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
        .arg("-serial")
        .arg(format!("pipe:{}", ctl.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if s.verbose >= 1 {
        eprintln!(
            "Pass 5: starting {} in a VM ({})",
            name,
            if kvm { "KVM" } else { "TCG" }
        );
    }
    // SAFETY: the handler only increments an atomic counter.
    unsafe {
        let h = nix::sys::signal::SigHandler::Handler(on_interrupt);
        for sig in [
            nix::sys::signal::Signal::SIGINT,
            nix::sys::signal::Signal::SIGTERM,
        ] {
            let _ = nix::sys::signal::signal(sig, h);
        }
    }
    let mut child = match qemu.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stap --vm: cannot start qemu: {}", e);
            return 1;
        }
    };
    let secs = s.timeout.map(|t| t.ceil() as u64).unwrap_or(0);
    follow(&mut child, &log, &work.path().join("ctl.in"), out, secs)
}

/// How long the guest may take to reach its init (TCG on a busy host is slow to boot).
const BOOT_LIMIT: Duration = Duration::from_secs(180);
/// After Ctrl-C the interrupt is passed on again this often until the session ends (a
/// line the guest missed is not lost)...
const INTERRUPT_REPEAT: Duration = Duration::from_secs(5);
/// ...and the VM is stopped if the session has not ended this long after it.
const INTERRUPT_LIMIT: Duration = Duration::from_secs(60);
/// Console lines kept to show when the VM is stopped for not finishing.
const TAIL_LINES: usize = 20;

/// What the host reads off the guest console: the script's output and error lines are
/// forwarded as they arrive; the guest's markers and kernel messages are noted.
struct Console {
    out: Box<dyn Write>,
    in_case: bool,
    no_newline: bool,
    booted: bool,
    status: Option<i32>,
    finished: bool,
    crashed: bool,
    /// The last lines that were not the script's output, for a report.
    tail: std::collections::VecDeque<String>,
}

impl Console {
    fn line(&mut self, text: &str) {
        let mut err = std::io::stderr();
        if !self.in_case || text.starts_with("=== ") {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(text.to_string());
        }
        if text.starts_with("=== STAP-VM-BEGIN") {
            self.booted = true;
        } else if text.starts_with("=== STDOUT ") {
            self.in_case = true;
        } else if text == "=== NONL" {
            self.no_newline = true;
        } else if let Some(rest) = text.strip_prefix("=== STATUS ") {
            self.status = rest.rsplit(' ').next().and_then(|c| c.parse().ok());
            self.in_case = false;
        } else if text.starts_with("=== STAP-VM-END") {
            self.finished = true;
        } else if text.starts_with("=== STILL-LOADED") {
            let _ = writeln!(
                err,
                "stap --vm: the module is still loaded after stpd ended"
            );
            self.crashed = true;
        } else if text.starts_with("=== ") {
        } else if let Some(e) = text.strip_prefix("=E= ").filter(|_| self.in_case) {
            let _ = writeln!(err, "{}", e);
        } else if self.in_case {
            let _ = self.out.write_all(text.as_bytes());
            if !std::mem::take(&mut self.no_newline) {
                let _ = self.out.write_all(b"\n");
            }
            let _ = self.out.flush();
        } else if text.contains("BUG:") || text.contains("Oops") || text.contains("Kernel panic") {
            let _ = writeln!(err, "stap --vm: guest kernel: {}", text);
            self.crashed = true;
        }
    }

    /// Why the VM is being stopped, with the console's last lines.
    fn report(&self, why: &str) {
        eprintln!("stap --vm: {}: stopping the VM", why);
        if !self.tail.is_empty() {
            eprintln!("stap --vm: the guest console's last lines:");
            for l in &self.tail {
                eprintln!("  {}", l);
            }
        }
    }
}

/// Passes an interrupt to the guest's second serial port.  Opened without blocking: if
/// QEMU is gone there is no reader, and the write is simply not made.
fn send_interrupt(ctl_in: &Path) {
    use std::os::unix::fs::OpenOptionsExt;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(ctl_in)
    {
        let _ = f.write_all(b"INT\n");
    }
}

/// Follows the guest console, forwarding the script's output and error lines and passing
/// Ctrl-C on; returns stpd's exit status.  The guest is bounded even without -T: it must
/// boot within [`BOOT_LIMIT`] and end the session within [`INTERRUPT_LIMIT`] of Ctrl-C.
fn follow(
    child: &mut std::process::Child,
    log: &Path,
    ctl_in: &Path,
    out: Box<dyn Write>,
    secs: u64,
) -> i32 {
    use std::sync::atomic::Ordering;
    let mut con = Console {
        out,
        in_case: false,
        no_newline: false,
        booted: false,
        status: None,
        finished: false,
        crashed: false,
        tail: Default::default(),
    };
    let mut pos = 0u64;
    let mut pending = String::new();
    let mut passed_on = 0;
    let started = Instant::now();
    let mut interrupted: Option<(Instant, Instant)> = None;
    // With -T, boot and shutdown get slack beyond it.
    let deadline = (secs > 0).then(|| started + Duration::from_secs(secs + 120));
    let stopped = loop {
        let exited = matches!(child.try_wait(), Ok(Some(_)));
        let pressed = INTERRUPTS.load(Ordering::SeqCst);
        let now = Instant::now();
        if pressed > passed_on {
            passed_on = pressed;
            if pressed >= 3 {
                break Some("interrupted three times");
            }
            send_interrupt(ctl_in);
            let first = interrupted.map_or(now, |(first, _)| first);
            interrupted = Some((first, now));
        } else if let Some((first, last)) = interrupted {
            if now.duration_since(first) > INTERRUPT_LIMIT {
                break Some("the guest did not end the session within 60 s of the interrupt");
            }
            if now.duration_since(last) > INTERRUPT_REPEAT {
                send_interrupt(ctl_in);
                interrupted = Some((first, now));
            }
        }
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
            con.line(line.trim_end_matches('\n'));
        }
        if con.finished || exited {
            break None;
        }
        if deadline.is_some_and(|d| now > d) {
            break Some("the session outlived -T by 120 s");
        }
        if !con.booted && now.duration_since(started) > BOOT_LIMIT {
            break Some("the guest did not reach its init within 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = con.out.flush();
    let _ = child.kill();
    let _ = child.wait();
    if let Some(why) = stopped {
        con.report(why);
        return 1;
    }
    match con.status {
        _ if con.crashed => 1,
        Some(code) if con.finished => code,
        _ => {
            eprintln!("stap --vm: the guest stopped before the script finished");
            1
        }
    }
}

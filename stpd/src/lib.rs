//! stpd: runs a stap-rs kernel module (SystemTap's staprun).
//!
//! `stpd [-o FILE] [-T SECS] [-c CMD | -x PID] MODULE.ko [PARAM=VALUE...]` loads the module
//! with `finit_module`, streams its output to stdout (or `-o FILE`) and its `WARNING:` and
//! `ERROR:` lines to stderr, and on `exit()` in the script, SIGINT, SIGTERM, SIGHUP, the
//! end of `-T SECS` or the end of `-c CMD` asks the module to stop, drains everything it
//! still has buffered and unloads it.  `stap` runs it as pass 5 of the kernel backend.
//!
//! The exit status is 0, or 1 when the script reported errors or the module could not run.

mod module;
pub mod protocol;
mod stream;
pub use stream::open_output;
mod symbols;

use clap::Parser;
use nix::sys::signal::{SigSet, Signal};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// Command-line options of stpd.
#[derive(Parser, Debug)]
#[command(
    name = "stpd",
    version,
    about = "Load a stap-rs kernel module, stream its output, unload it at the end (kprobe jump optimization is turned off first, as staprun does)",
    override_usage = "stpd [OPTIONS] MODULE.ko [PARAM=VALUE...]"
)]
pub struct Args {
    /// Write the script's output to FILE instead of stdout.
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// End the session after SECS seconds.
    #[arg(short = 'T', value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Run CMD (split into words as the shell would, or with /bin/sh -c when it has shell
    /// syntax); target() is its PID and its end ends the session.
    #[arg(short = 'c', value_name = "CMD", conflicts_with = "target_pid")]
    pub command: Option<String>,
    /// target() is PID.
    #[arg(short = 'x', value_name = "PID")]
    pub target_pid: Option<i64>,
    /// Say what stpd does.
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// One stream for a serial console: error lines go to stdout, each prefixed with
    /// PREFIX, and output lines are never split by them (used inside `stap --vm`).
    #[arg(long, value_name = "PREFIX", hide = true)]
    pub merge_stderr: Option<String>,
    /// The module to run.
    pub module: PathBuf,
    /// Module parameters, passed to the kernel as they are.
    pub params: Vec<String>,
}

/// A random 64-bit secret for the session's symbol markers (see `symbols.rs`).
fn session_key() -> u64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if random.is_err() {
        // No /dev/urandom: the clock and the pid, still unknown to the script.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b = (t ^ ((std::process::id() as u64) << 40)).to_le_bytes();
    }
    u64::from_le_bytes(b) | 1
}

/// What ends the session, or tells the main thread a stream ended.
enum Event {
    Signal(Signal),
    Timeout,
    CommandEnded,
    StreamEnded,
}

/// Runs stpd with the given command line; returns the exit status.
pub fn main<I: IntoIterator<Item = OsString>>(argv: I) -> i32 {
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    match run(&args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("stpd: {}", msg);
            1
        }
    }
}

fn module_name(ko: &std::path::Path) -> Result<String, String> {
    let stem = ko
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem.is_empty()
        || !stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!("{} is not a module file (NAME.ko)", ko.display()));
    }
    Ok(stem.replace('-', "_"))
}

fn run(args: &Args) -> Result<i32, String> {
    let name = module_name(&args.module)?;
    if !args.module.is_file() {
        return Err(format!("no such module file: {}", args.module.display()));
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(
            "loading a kernel module needs root (CAP_SYS_MODULE): run as root, or run \
                    the script in a disposable VM with `stap --vm`"
                .into(),
        );
    }
    // Signals are taken synchronously by one thread; every thread inherits the mask.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(s);
    }
    signals
        .thread_block()
        .map_err(|e| format!("cannot block signals: {}", e))?;
    // A shell starts background jobs with SIGINT ignored, and an ignored signal never
    // reaches sigwait: take them back (they stay blocked, so this cannot kill stpd).
    for sig in signals.iter() {
        // SAFETY: restoring the default disposition installs no handler.
        let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
    }

    for m in module::clean_up_stale(&name) {
        eprintln!(
            "stpd: unloaded module {}, left loaded by an earlier stpd that did not finish",
            m
        );
    }

    let mut child = match &args.command {
        Some(cmd) => Some(stream::Command::fork(cmd, args.merge_stderr.is_some())?),
        None => None,
    };
    let target = child
        .as_ref()
        .map(|c| c.pid.as_raw() as i64)
        .or(args.target_pid)
        .unwrap_or(0);
    let sym_key = session_key();
    let mut params = format!("stp_target={}", target);
    for p in &args.params {
        params.push(' ');
        params.push_str(p);
    }
    if args.verbose > 0 {
        eprintln!("stpd: loading {} ({})", args.module.display(), params);
    }
    let params = format!(
        "{} {}=0x{:x}",
        params,
        protocol::text(protocol::STP_SYM_KEY_PARAM),
        sym_key
    );
    if module::disable_kprobe_optimization() && args.verbose > 0 {
        eprintln!("stpd: kprobe jump optimization turned off (as staprun does)");
    }
    if let Err(e) = module::load(&args.module, &name, &params) {
        if let Some(c) = child.take() {
            c.kill();
        }
        return Err(e);
    }
    let result = supervise(args, &name, signals, &mut child, sym_key);
    if let Some(c) = child.take() {
        c.kill();
    }
    let unloaded = module::unload(&name);
    if args.verbose > 0 {
        eprintln!("stpd: unloaded {}", name);
    }
    let errors = result?;
    unloaded?;
    Ok(i32::from(errors))
}

/// Streams the module's output until its session is done; returns whether it had errors.
fn supervise(
    args: &Args,
    name: &str,
    signals: SigSet,
    child: &mut Option<stream::Command>,
    sym_key: u64,
) -> Result<bool, String> {
    let dir = module::proc_dir(name);
    let open = |f: &str| {
        std::fs::File::open(dir.join(f))
            .map_err(|e| format!("cannot open {}/{}: {}", dir.display(), f, e))
    };
    let (out, err) = match (
        open(protocol::text(protocol::STP_PROC_OUT)),
        open(protocol::text(protocol::STP_PROC_ERR)),
    ) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            module::request_exit(name);
            return Err(e);
        }
    };
    let sink = stream::Sink::new(args.output.as_deref(), args.merge_stderr.clone())?;
    let (tx, rx) = mpsc::channel();
    if let Some((o, e)) = child.as_mut().and_then(|c| c.streams.take()) {
        stream::forward(o, sink.clone(), false);
        stream::forward(e, sink.clone(), true);
    }

    let streams = [
        stream::pump(out, sink.clone(), stream::Kind::Output, tx.clone(), sym_key),
        stream::pump(err, sink.clone(), stream::Kind::Errors, tx.clone(), sym_key),
    ];
    stream::feed_stdin(name);
    {
        let tx = tx.clone();
        std::thread::spawn(move || loop {
            match signals.wait() {
                Ok(sig) => {
                    if tx.send(Event::Signal(sig)).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        });
    }
    if let Some(t) = args.timeout.filter(|t| *t > 0.0) {
        let tx = tx.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(t));
            let _ = tx.send(Event::Timeout);
        });
    }
    if let Some(c) = child.as_mut() {
        c.release();
        let pid = c.pid;
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = nix::sys::wait::waitpid(pid, None);
            let _ = tx.send(Event::CommandEnded);
        });
    }
    drop(tx);

    let mut ended = 0;
    let mut stopping = false;
    while ended < streams.len() {
        let Ok(ev) = rx.recv() else { break };
        let why = match ev {
            Event::StreamEnded => {
                ended += 1;
                continue;
            }
            Event::Signal(s) => format!("{}", s),
            Event::Timeout => "-T".to_string(),
            Event::CommandEnded => {
                if let Some(c) = child.as_mut() {
                    c.reaped();
                }
                "the end of -c".to_string()
            }
        };
        if !stopping {
            if args.verbose > 0 {
                eprintln!("stpd: stopping the session ({})", why);
            }
            module::request_exit(name);
            stopping = true;
        }
    }
    let mut errors = false;
    for s in streams {
        errors |= s.join().unwrap_or(true);
    }
    sink.finish();
    Ok(errors || sink.failed())
}

//! The moving parts of a session: the `-c` command, and the threads that copy the module's
//! output and error streams to where they go.

use crate::Event;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::{fork, ForkResult, Pid};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

/// The `-c` command: forked before the module loads (so `target()` is its PID in the begin
/// probes), held on a pipe, and let go to exec once the module runs.
pub struct Command {
    /// Its process.
    pub pid: Pid,
    /// In merged mode, the read ends of its standard output and error.
    pub streams: Option<(File, File)>,
    release: Option<OwnedFd>,
    running: bool,
}

impl Command {
    /// Forks the command, waiting for [`Command::release`] to exec it.  Call before any
    /// thread starts.  As SystemTap's staprun, the command is split into words as the shell
    /// would (quotes, variables; no command substitution) and run itself, not under a
    /// shell, so the first exec the probes see is the command's.  With `capture` (merged
    /// mode), its standard output and error are pipes, so what it writes goes through the
    /// merged stream as output and as error lines, not around it.
    pub fn fork(cmd: &str, capture: bool) -> Result<Command, String> {
        let argv = words(cmd)?;
        if argv.is_empty() {
            return Err("the -c command is empty".into());
        }
        // Close-on-exec, all of them: the command gets no descriptor of stpd's.
        let pipe = || {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| format!("cannot make a pipe: {}", e))
        };
        let (wait_end, release_end) = pipe()?;
        let pipes = if capture {
            Some((pipe()?, pipe()?))
        } else {
            None
        };
        // SAFETY: stpd has one thread here, so the child may run ordinary code until exec.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                drop(release_end);
                if let Some(((o_read, o_write), (e_read, e_write))) = pipes {
                    drop(o_read);
                    drop(e_read);
                    // SAFETY: dup2 on descriptors this process owns, before exec.
                    unsafe {
                        nix::libc::dup2(o_write.as_raw_fd(), 1);
                        nix::libc::dup2(e_write.as_raw_fd(), 2);
                    }
                }
                let mut held = File::from(wait_end);
                let mut b = [0u8; 1];
                while let Err(e) = held.read(&mut b) {
                    if e.kind() != std::io::ErrorKind::Interrupted {
                        break;
                    }
                }
                let _ = SigSet::empty().thread_set_mask();
                let _ = nix::unistd::execvp(&argv[0], &argv);
                // SAFETY: _exit is always safe; it skips the parent's atexit handlers.
                unsafe { nix::libc::_exit(127) }
            }
            Ok(ForkResult::Parent { child }) => {
                drop(wait_end);
                let streams = pipes
                    .map(|((o_read, _), (e_read, _))| (File::from(o_read), File::from(e_read)));
                Ok(Command {
                    pid: child,
                    streams,
                    release: Some(release_end),
                    running: true,
                })
            }
            Err(e) => Err(format!("cannot start the -c command: {}", e)),
        }
    }

    /// Lets the command exec.
    pub fn release(&mut self) {
        self.release.take();
    }

    /// Notes that the command has ended and been reaped.
    pub fn reaped(&mut self) {
        self.running = false;
    }

    /// Ends the command if it still runs (the session ended first), as SystemTap does.
    pub fn kill(mut self) {
        self.release.take();
        if self.running {
            let _ = kill(self.pid, Signal::SIGTERM);
            let _ = nix::sys::wait::waitpid(self.pid, None);
        }
    }
}

/// Which of the module's streams a thread copies.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The script's output.
    Output,
    /// `WARNING:` and `ERROR:` lines.
    Errors,
}

struct SinkInner {
    out: Box<dyn Write + Send>,
    /// Where output goes, for the message of a failed write.
    name: String,
    merge: Option<String>,
    /// In merged mode: output not yet ending in a newline, held so error lines never split it.
    partial: Vec<u8>,
    /// The first write that failed: reported once, and stpd's exit status is then 1.
    failed: Option<String>,
    /// The warnings shown so far.
    warned: std::collections::HashSet<Vec<u8>>,
}

impl SinkInner {
    fn write(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.out.write_all(bytes).and_then(|_| self.out.flush()) {
            let msg = format!("stpd: cannot write the output to {}: {}", self.name, e);
            eprintln!("{}", msg);
            self.failed = Some(msg);
        }
    }
}

/// Opens `-o FILE` for writing as root can safely: created 0600 if new, and never through
/// a symbolic link that someone else could have planted: a link is followed only when the
/// directory holding it is writable by its owner alone, and that owner is root or this
/// user (`/dev/stdout` is followed; a link in `/tmp` is refused, since it could make root
/// truncate any file).
pub fn open_output(p: &Path) -> Result<File, String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let open = |nofollow: bool| {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_CLOEXEC | if nofollow { nix::libc::O_NOFOLLOW } else { 0 })
            .open(p)
    };
    let fail = |why: String| format!("cannot open output file {}: {}", p.display(), why);
    match open(true) {
        Ok(f) => Ok(f),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let trusted = std::fs::metadata(dir).is_ok_and(|m| {
                (m.uid() == 0 || m.uid() == nix::unistd::geteuid().as_raw())
                    && m.mode() & 0o022 == 0
            });
            if !trusted {
                return Err(fail(format!(
                    "it is a symbolic link in {}, which others can write",
                    dir.display()
                )));
            }
            open(false).map_err(|e| fail(e.to_string()))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Where the streams go: stdout or `-o FILE` for output, stderr for errors, or in merged
/// mode (`--merge-stderr PREFIX`) one stream of whole lines.
#[derive(Clone)]
pub struct Sink(Arc<Mutex<SinkInner>>);

impl Sink {
    /// Opens the output.
    pub fn new(output: Option<&Path>, merge: Option<String>) -> Result<Sink, String> {
        let (out, name): (Box<dyn Write + Send>, String) = match output {
            Some(p) => (Box::new(open_output(p)?), p.display().to_string()),
            None => (Box::new(std::io::stdout()), "standard output".into()),
        };
        Ok(Sink(Arc::new(Mutex::new(SinkInner {
            out,
            name,
            merge,
            partial: Vec::new(),
            failed: None,
            warned: std::collections::HashSet::new(),
        }))))
    }

    /// Whether a write of the output failed (it was reported on stderr).
    pub fn failed(&self) -> bool {
        self.0.lock().map(|s| s.failed.is_some()).unwrap_or(true)
    }

    fn output(&self, bytes: &[u8]) {
        let Ok(mut s) = self.0.lock() else { return };
        if s.merge.is_none() {
            s.write(bytes);
            return;
        }
        s.partial.extend_from_slice(bytes);
        if let Some(last) = s.partial.iter().rposition(|b| *b == b'\n') {
            let rest = s.partial.split_off(last + 1);
            let whole = std::mem::replace(&mut s.partial, rest);
            s.write(&whole);
        }
    }

    fn error_line(&self, line: &[u8]) {
        let Ok(mut s) = self.0.lock() else { return };
        // A warning is shown once, however often the script gives it, as staprun does.
        if line.starts_with(b"WARNING: ") && !s.warned.insert(line.to_vec()) {
            return;
        }
        match s.merge.clone() {
            Some(prefix) => {
                let mut l = prefix.into_bytes();
                l.extend_from_slice(line);
                s.write(&l);
            }
            None => {
                let mut e = std::io::stderr();
                let _ = e.write_all(line);
                let _ = e.flush();
            }
        }
    }

    /// Writes what is still held (merged mode: a last line without a newline, announced
    /// to the console reader by a `=== NONL` line before it).
    pub fn finish(&self) {
        let Ok(mut s) = self.0.lock() else { return };
        if !s.partial.is_empty() {
            let mut rest = b"=== NONL\n".to_vec();
            rest.append(&mut s.partial);
            rest.push(b'\n');
            s.write(&rest);
        }
        s.write(b"");
    }
}

/// glibc's word expansion (`wordexp(3)`), which the libc crate does not declare.
#[repr(C)]
struct WordExp {
    wordc: usize,
    wordv: *mut *mut std::ffi::c_char,
    offs: usize,
}

extern "C" {
    fn wordexp(
        words: *const std::ffi::c_char,
        we: *mut WordExp,
        flags: std::ffi::c_int,
    ) -> std::ffi::c_int;
    fn wordfree(we: *mut WordExp);
}

/// The words of a command as the shell splits them (`WRDE_NOCMD | WRDE_UNDEF`: no command
/// substitution, undefined variables are errors), as staprun does; a command with shell
/// syntax wordexp refuses (`|`, `>`, `;`...) is run by `/bin/sh -c`.
fn words(cmd: &str) -> Result<Vec<CString>, String> {
    const WRDE_NOCMD: std::ffi::c_int = 4;
    const WRDE_UNDEF: std::ffi::c_int = 32;
    const WRDE_BADCHAR: std::ffi::c_int = 2;
    let c = CString::new(cmd).map_err(|_| "the -c command contains a NUL byte".to_string())?;
    let mut we = WordExp {
        wordc: 0,
        wordv: std::ptr::null_mut(),
        offs: 0,
    };
    // SAFETY: a NUL-terminated string and a zeroed wordexp_t, as wordexp(3) wants; the
    // words are copied out before wordfree.
    let rc = unsafe { wordexp(c.as_ptr(), &mut we, WRDE_NOCMD | WRDE_UNDEF) };
    if rc == WRDE_BADCHAR {
        return Ok(vec![
            CString::new("/bin/sh").unwrap_or_default(),
            CString::new("-c").unwrap_or_default(),
            c,
        ]);
    }
    if rc != 0 {
        return Err(format!(
            "cannot parse the -c command '{}' (wordexp error {})",
            cmd, rc
        ));
    }
    let mut out = Vec::with_capacity(we.wordc);
    for i in 0..we.wordc {
        // SAFETY: wordexp filled wordc NUL-terminated strings.
        let w = unsafe { std::ffi::CStr::from_ptr(*we.wordv.add(i)) };
        out.push(w.to_owned());
    }
    // SAFETY: we was filled by a successful wordexp.
    unsafe { wordfree(&mut we) };
    Ok(out)
}

/// The next bytes of a stream (retrying an interrupted read), or `None` at its end or on
/// an error.
fn read_some(from: &mut File, buf: &mut [u8]) -> Option<usize> {
    loop {
        match from.read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// Starts a thread copying the `-c` command's output (or, with `errors`, its standard error
/// as error lines) into the sink until the command closes it.
pub fn forward(mut from: File, sink: Sink, errors: bool) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 << 10];
        let mut line = Vec::new();
        loop {
            let Some(n) = read_some(&mut from, &mut buf) else {
                break;
            };
            if !errors {
                sink.output(&buf[..n]);
                continue;
            }
            for &b in &buf[..n] {
                line.push(b);
                if b == b'\n' {
                    sink.error_line(&line);
                    line.clear();
                }
            }
        }
        if !line.is_empty() {
            line.push(b'\n');
            sink.error_line(&line);
        }
    })
}

/// Feeds stpd's standard input to the module's input probes, one character per write to
/// its `/proc/systemtap/MODULE/__stdin`, when the script has them; a thread reads until
/// the end of the input or until the file goes (the session ended).
pub fn feed_stdin(module: &str) {
    use std::io::{Read, Write};
    let path = std::path::Path::new("/proc")
        .join(crate::protocol::text(crate::protocol::STP_PROCFS_ROOT))
        .join(module)
        .join(crate::protocol::text(crate::protocol::STP_STDIN_FILE));
    let Ok(mut file) = std::fs::OpenOptions::new().write(true).open(&path) else {
        return;
    };
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for b in &buf[..n] {
                if file.write_all(std::slice::from_ref(b)).is_err() {
                    return;
                }
            }
        }
    });
}

/// Runs a script's `system()` command with `/bin/sh -c` in the background; a thread waits
/// for it so it leaves no zombie.  A command that cannot start is a warning.
fn run_command(cmd: &str) {
    match std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprintln!("WARNING: system() could not run /bin/sh: {}", e),
    }
}

/// Starts a thread copying one stream until the module's session is done; it returns
/// whether an `ERROR:` line went through it.
pub fn pump(
    mut from: File,
    sink: Sink,
    kind: Kind,
    done: mpsc::Sender<Event>,
    sym_key: u64,
) -> JoinHandle<bool> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        let mut line = Vec::new();
        let mut errors = false;
        let mut symbols = crate::symbols::Symbolizer::new(sym_key);
        loop {
            let Some(n) = read_some(&mut from, &mut buf) else {
                break;
            };
            if kind == Kind::Output {
                sink.output(&symbols.process(&buf[..n]));
                for cmd in symbols.take_commands() {
                    run_command(&cmd);
                }
                continue;
            }
            for &b in &buf[..n] {
                line.push(b);
                if b == b'\n' {
                    errors |= line.starts_with(b"ERROR:");
                    sink.error_line(&line);
                    line.clear();
                }
            }
        }
        let held = symbols.finish();
        if !held.is_empty() {
            sink.output(&held);
        }
        if !line.is_empty() {
            errors |= line.starts_with(b"ERROR:");
            line.push(b'\n');
            sink.error_line(&line);
        }
        let _ = done.send(Event::StreamEnded);
        errors
    })
}

#[cfg(test)]
mod tests {
    use super::open_output;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn output_files_are_private_and_never_reached_through_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        drop(open_output(&out).unwrap());
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A link in a directory others can write (as /tmp): refused, its target untouched.
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = shared.join("link.txt");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = open_output(&link).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // A link in a directory only its owner writes (as /dev/stdout): followed.
        let own = dir.path().join("own");
        std::fs::create_dir(&own).unwrap();
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, own.join("l")).unwrap();
        drop(open_output(&own.join("l")).unwrap());
        assert!(target.is_file());
    }
}

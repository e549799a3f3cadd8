//! The hostile-script tier (`tests/hostile/*.stph`, see tests/hostile/README.md): scripts
//! without `-g` that try to crash, hang or take over the kernel.  Each is refused at
//! translation or runs in a guest (2 CPUs, a busy loop on each) and must end cleanly with
//! nothing in the kernel's log.

mod vmlib;

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Default, Clone)]
struct Case {
    name: String,
    why: String,
    args: Vec<String>,
    refuse: Option<String>,
    /// `exit`, `time N` or `int N`.
    stop: String,
    within: u64,
    /// A guest shell command run a second into the session (`$M` is the module's name,
    /// `$p` stpd's pid).
    during: Option<String>,
    script: String,
    stdout: Option<String>,
    /// Lines the output must have (`--- stdout contains`).
    stdout_contains: Vec<String>,
}

fn parse(file: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut cases: Vec<Case> = Vec::new();
    let mut section: Option<String> = None;
    let mut buf = String::new();
    let flush = |c: &mut Case, section: &Option<String>, buf: &mut String| {
        let body = std::mem::take(buf);
        match section.as_deref() {
            Some("script") => c.script = body,
            Some("stdout") => c.stdout = Some(body),
            Some("stdout contains") => {
                c.stdout_contains = body
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            }
            Some(other) => panic!("{}: unknown section '--- {}'", file.display(), other),
            None => {}
        }
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== case ") {
            if let Some(c) = cases.last_mut() {
                if buf.ends_with("\n\n") {
                    buf.pop();
                }
                flush(c, &section, &mut buf);
            }
            cases.push(Case {
                name: name.trim().to_string(),
                stop: "exit".into(),
                within: 20,
                ..Default::default()
            });
            section = None;
            continue;
        }
        let Some(c) = cases.last_mut() else { continue };
        if let Some(sec) = line.strip_prefix("--- ") {
            flush(c, &section, &mut buf);
            section = Some(sec.trim().to_string());
            continue;
        }
        if section.is_none() {
            if let Some((k, v)) = line.split_once(':') {
                let v = v.trim().to_string();
                match k.trim() {
                    "why" => c.why = v,
                    "args" => c.args = v.split_whitespace().map(String::from).collect(),
                    "refuse" => c.refuse = Some(v),
                    "stop" => c.stop = v,
                    "within" => c.within = v.parse().expect("within: seconds"),
                    "during" => c.during = Some(v),
                    other => panic!("{}: unknown field '{}'", file.display(), other),
                }
            }
            continue;
        }
        buf.push_str(line);
        buf.push('\n');
    }
    if let Some(c) = cases.last_mut() {
        if buf.ends_with("\n\n") {
            buf.pop();
        }
        flush(c, &section, &mut buf);
    }
    cases
}

fn all_cases() -> Vec<Case> {
    let files = vmlib::table_files("hostile", "stph");
    let only = std::env::var("STAP_HOSTILE_ONLY").ok();
    files
        .iter()
        .flat_map(|f| parse(f))
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
        .collect()
}

fn stap_bin() -> String {
    std::env::var("STAP_HOSTILE_STAP").unwrap_or_else(|_| env!("CARGO_BIN_EXE_stap").into())
}

fn stpd_bin() -> String {
    std::env::var("STAP_HOSTILE_STPD").unwrap_or_else(|_| env!("CARGO_BIN_EXE_stpd").into())
}

/// The guest's scenario for one case: a clean kernel log, stpd bounded in time (SIGINT
/// after N seconds for `stop: int N`), then what the kernel logged that a clean run never
/// does.
fn scenario(c: &Case) -> String {
    let (t, int) = match c.stop.split_whitespace().collect::<Vec<_>>()[..] {
        ["time", n] => (n.parse::<u64>().expect("time N"), None),
        // -T only as a backstop, well after SIGINT should have ended it.
        ["int", n] => {
            let n = n.parse::<u64>().expect("int N");
            (n + c.within + 30, Some(n))
        }
        _ => (c.within, None),
    };
    let tenths = c.within * 10;
    let during = c
        .during
        .as_ref()
        .map(|d| format!("(sleep 1; M=$(basename \"$1\" .ko); {d}) &\n"))
        .unwrap_or_default();
    let signal = int
        .map(|n| format!("sleep {n}; kill -INT $p 2>/dev/null; echo '=== H-SIGINT'\n"))
        .unwrap_or_default();
    format!(
        "dmesg -c > /dev/null\n\
         stpd --merge-stderr '=E= ' -T {t} \"$1\" &\n\
         p=$!\n\
         {during}\
         {signal}\
         i=0\n\
         while kill -0 $p 2>/dev/null && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done\n\
         if kill -0 $p 2>/dev/null; then echo '=== H-HUNG'; kill -KILL $p; fi\n\
         wait $p\n\
         echo \"=== H-RC $?\"\n\
         sleep 0.2\n\
         dmesg | grep -E 'BUG|WARNING: CPU|Oops|lockup|rcu.*stall|blocked for more than|general protection|Call Trace|UBSAN|KASAN|refcount' | sed 's/^/=== H-KMSG /'\n\
         true\n"
    )
}

/// What one case did in the guest.
#[derive(Default, Debug)]
struct Outcome {
    stdout: String,
    kmsg: Vec<String>,
    hung: bool,
    still_loaded: bool,
    rc: Option<i32>,
}

/// The finished cases of a console log, and the one that was running when it ended.
fn outcomes(log: &str) -> (Vec<(String, Outcome)>, Option<String>) {
    let mut done = Vec::new();
    let mut cur: Option<(String, Outcome)> = None;
    for line in log.replace('\r', "").lines() {
        if let Some(n) = line.strip_prefix("=== CASE ") {
            cur = Some((n.to_string(), Outcome::default()));
        } else if let Some((_, o)) = cur.as_mut() {
            if line.starts_with("=== END ") {
                done.push(cur.take().unwrap());
            } else if let Some(k) = line.strip_prefix("=== H-KMSG ") {
                o.kmsg.push(k.to_string());
            } else if line == "=== H-HUNG" {
                o.hung = true;
            } else if let Some(rc) = line.strip_prefix("=== H-RC ") {
                o.rc = rc.trim().parse().ok();
            } else if line.starts_with("=== STILL-LOADED") {
                o.still_loaded = true;
            } else if line.starts_with("=== ") || line.starts_with("=E= ") {
            } else {
                o.stdout.push_str(line);
                o.stdout.push('\n');
            }
        }
    }
    (done, cur.map(|(n, _)| n))
}

/// Builds a case's module (or checks its refusal); returns the module's path.
fn build(c: &Case, id: &str, kver: &str, cache: &Path) -> Result<Option<PathBuf>, String> {
    let out = Command::new(stap_bin())
        .env_remove("SYSTEMTAP_TAPSET")
        .env("SYSTEMTAP_DIR", cache)
        .args(["-p4", "-r", kver, "-m", id])
        .args(&c.args)
        .arg("-e")
        .arg(&c.script)
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    match &c.refuse {
        Some(want) if out.status.success() => Err(format!("built, but should be refused ({want})")),
        Some(want) if !err.contains(want.as_str()) => {
            Err(format!("refused, but not with '{want}':\n{err}"))
        }
        Some(_) if err.contains("panicked") => Err(format!("the translator panicked:\n{err}")),
        Some(_) => Ok(None),
        None if !out.status.success() => Err(format!("did not build:\n{err}")),
        None => Ok(Some(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim(),
        ))),
    }
}

/// Boots a guest with `kos` and follows its console: a case still running 40 s past its
/// time (a hung guest) or the whole boot past `budget` seconds stops it.
fn watch_guest(
    kos: &[PathBuf],
    log: &Path,
    budget: u64,
    limits: &std::collections::HashMap<String, u64>,
) {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    let _ = std::fs::write(log, "");
    let mut child = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/boot.sh"))
        .env("STPD", stpd_bin())
        .env("VM_SMP", "2")
        .env("VM_WORKLOAD", "1")
        // QEMU's multi-threaded TCG can run a stale translation of code the kernel has
        // just patched back: a CPU then takes an int3 that is no longer in memory, forever
        // (a soft lockup at vfs_write+0, whose bytes read as a nop) or, where a kprobe on
        // ftrace now sits, jumps to its NULL single-step slot.  Measured with the
        // many-probes-wildcard case under the workload: 2 of 26 sessions crashed that way
        // with a thread per vCPU, none of 29 with one thread for both.
        .env("VM_TCG_THREAD", "single")
        // A lockup ends the boot at once, with the stuck CPU's stack in the report.
        .env("VM_APPEND", "softlockup_panic=1")
        .env("VM_TIMEOUT", budget.to_string())
        .arg(log)
        .args(kos)
        .process_group(0)
        .stdin(std::process::Stdio::null())
        .stderr(std::fs::File::create(log.with_extension("err")).expect("boot.sh's stderr"))
        .spawn()
        .expect("run tests/vm/boot.sh");
    let start = Instant::now();
    let mut current: Option<(String, Instant)> = None;
    loop {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let text = String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned();
        let last = text
            .lines()
            .rev()
            .find_map(|l| l.trim_end_matches('\r').strip_prefix("=== CASE "))
            .map(str::to_string);
        if last != current.as_ref().map(|c| c.0.clone()) {
            current = last.map(|n| (n, Instant::now()));
        }
        let stuck = current.as_ref().is_some_and(|(n, since)| {
            since.elapsed() > Duration::from_secs(limits.get(n).copied().unwrap_or(20) + 40)
        });
        if stuck || start.elapsed() > Duration::from_secs(budget + 60) {
            // SAFETY: signals the process group this test started.
            unsafe { nix::libc::kill(-(child.id() as i32), nix::libc::SIGKILL) };
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Boots guests until every case ran; a case that crashed or hung its guest is a failure
/// and the next guest starts after it.
fn run_in_guests(
    cases: &[(String, &Case)],
    stage: &Path,
) -> Vec<(String, Result<Outcome, String>)> {
    let mut results = Vec::new();
    let mut left: Vec<&(String, &Case)> = cases.iter().collect();
    while !left.is_empty() {
        let dir = stage.join(format!("boot{}", results.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut kos = Vec::new();
        for (id, _) in &left {
            let ko = dir.join(format!("{id}.ko"));
            std::fs::copy(stage.join(format!("{id}.ko")), &ko).unwrap();
            std::fs::copy(stage.join(format!("{id}.sh")), dir.join(format!("{id}.sh"))).unwrap();
            kos.push(ko);
        }
        let budget: u64 = left.iter().map(|(_, c)| c.within + 5).sum::<u64>() + 60;
        let log = dir.join("serial.log");
        let _one = vmlib::one_vm();
        let limits: std::collections::HashMap<String, u64> =
            left.iter().map(|(id, c)| (id.clone(), c.within)).collect();
        watch_guest(&kos, &log, budget, &limits);
        // Cases print any bytes: the console log need not be UTF-8.
        let text = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
        let (done, running) = outcomes(&text);
        let finished: Vec<String> = done.iter().map(|(n, _)| n.clone()).collect();
        for (n, o) in done {
            results.push((n, Ok(o)));
        }
        let ended = text.contains("=== STAP-VM-END");
        if let Some(n) = running.filter(|_| !ended) {
            results.push((
                n.clone(),
                Err(format!(
                    "crashed or hung the guest:\n{}",
                    crash_report(&text, &n)
                )),
            ));
            left.retain(|(id, _)| !finished.contains(id) && *id != n);
        } else if ended {
            left.retain(|(id, _)| !finished.contains(id));
            for (id, _) in left.drain(..) {
                results.push((id.clone(), Err("never ran".into())));
            }
        } else {
            // The guest did not even start a case: nothing to attribute it to.
            let err = std::fs::read_to_string(dir.join("serial.err")).unwrap_or_default();
            let why = format!("the guest failed before its first case:\n{}\n{}", err, text);
            for (id, _) in left.drain(..) {
                results.push((id.clone(), Err(why.clone())));
            }
        }
    }
    results
}

/// The kernel's report of a crash in case `id`'s part of the log: from the first line
/// that looks like one, 60 lines.
fn crash_report(log: &str, id: &str) -> String {
    // The serial console ends lines with \r\n.
    let log = log.replace("\r\n", "\n");
    let log = log.as_str();
    let part = log.split(&format!("=== CASE {id}\n")).nth(1).unwrap_or(log);
    let lines: Vec<&str> = part.lines().collect();
    let start = lines
        .iter()
        .position(|l| {
            [
                "BUG",
                "Oops",
                "general protection",
                "panic",
                "watchdog",
                "rcu",
                "WARNING",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .unwrap_or(lines.len().saturating_sub(40));
    lines[start..lines.len().min(start + 60)].join("\n")
}

fn judge(c: &Case, o: &Outcome) -> Result<(), String> {
    let mut problems = Vec::new();
    if o.hung {
        problems.push(format!("did not end within {} s", c.within));
    }
    if o.still_loaded {
        problems.push("the module is still loaded".to_string());
    }
    if !o.kmsg.is_empty() {
        problems.push(format!("the kernel logged:\n  {}", o.kmsg.join("\n  ")));
    }
    if o.rc.is_none() {
        problems.push("stpd's exit status is missing".to_string());
    }
    if let Some(want) = &c.stdout {
        if &o.stdout != want {
            problems.push(format!("stdout:\n{}\nexpected:\n{}", o.stdout, want));
        }
    }
    for want in &c.stdout_contains {
        if !o.stdout.lines().any(|l| l == want) {
            problems.push(format!("no line '{}' in stdout:\n{}", want, o.stdout));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn hostile_scripts_are_refused_or_end_cleanly() {
    let kver = vmlib::kver();
    let cases = all_cases();
    assert!(!cases.is_empty());
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-cache");
    let stage = tempfile::tempdir().unwrap();
    // Two builds at a time (the machine's two cores).
    let built: Vec<Result<Option<PathBuf>, String>> = {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<std::sync::Mutex<Option<Result<Option<PathBuf>, String>>>> =
            cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(c) = cases.get(i) else { break };
                    *slots[i].lock().unwrap() =
                        Some(build(c, &format!("h{:03}", i), &kver, &cache));
                });
            }
        });
        slots
            .into_iter()
            .map(|m| m.into_inner().unwrap().unwrap())
            .collect()
    };
    let mut failures = Vec::new();
    let mut runnable = Vec::new();
    for (i, (c, b)) in cases.iter().zip(built).enumerate() {
        let id = format!("h{:03}", i);
        match b {
            Err(e) => failures.push(format!("[{}] {}\n  ({})", c.name, e, c.why)),
            Ok(None) => {}
            Ok(Some(ko)) => {
                std::fs::copy(&ko, stage.path().join(format!("{id}.ko"))).unwrap();
                std::fs::write(stage.path().join(format!("{id}.sh")), scenario(c)).unwrap();
                runnable.push((id, c));
            }
        }
    }
    let refused = cases.len() - runnable.len();
    for (id, r) in run_in_guests(&runnable, stage.path()) {
        let c = runnable
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| *c)
            .unwrap();
        if let Err(e) = r.and_then(|o| judge(c, &o)) {
            failures.push(format!("[{}] {}\n  ({})", c.name, e, c.why));
        }
    }
    // STAP_HOSTILE_KEEP=dir keeps each boot's console log for a look after a failure.
    if let Ok(keep) = std::env::var("STAP_HOSTILE_KEEP") {
        for boot in std::fs::read_dir(stage.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let log = boot.path().join("serial.log");
            if log.exists() {
                let name = format!("{}.log", boot.file_name().to_string_lossy());
                let _ = std::fs::create_dir_all(&keep);
                let _ = std::fs::copy(&log, Path::new(&keep).join(name));
            }
        }
    }
    eprintln!(
        "hostile tier: {} cases, {} refused at translation, {} run in the guest, {} failed",
        cases.len(),
        refused,
        runnable.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The crash report is the crashed case's part of the console log (which ends lines with
/// \r\n), not an earlier case's output.
#[test]
fn crash_report_shows_the_cases_own_part() {
    let log = "=== CASE h001\r\nrcu_preempt\r\n=== STATUS h001 0\r\n=== CASE h005\r\nBUG: soft lockup\r\n";
    let r = crash_report(log, "h005");
    assert!(r.starts_with("BUG: soft lockup"), "{r}");
    assert!(!r.contains("rcu_preempt"), "{r}");
}

//! `stap-scriptgen`: generates scripts (lib.rs) and checks that every one pass 2 accepts
//! builds in both backends with `-Werror` and runs on the user runtime without crashing
//! or hanging.
//!
//! ```text
//! stap-scriptgen [--minutes M | --count N] [--seed S] [--kernel KVER] [--stap PATH] [--out DIR]
//! stap-scriptgen --print SEED        # the script of one seed
//! ```
//!
//! Each script goes through `stap -p2`; one it accepts is run with `--runtime=user` (built
//! and run: a compile failure, a signal or a hang is a failure), and its kernel C
//! (`stap -p3 -r KVER`) is built with the kernel's Kbuild, sixteen modules to one `make`
//! so the build tree's fixed cost is paid once per batch, on a thread of its own.  A
//! failing script and what went wrong are kept in the output directory.  The exit status
//! is 1 when anything failed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// Modules per Kbuild run.
const BATCH: usize = 16;

#[derive(Clone)]
struct Options {
    stap: PathBuf,
    kernel: Option<String>,
    out: PathBuf,
    seed: u64,
    count: Option<u64>,
    minutes: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: stap-scriptgen [--minutes M | --count N] [--seed S] [--kernel KVER] [--stap PATH] [--out DIR]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut o = Options {
        stap: root.join("target/release/stap"),
        kernel: None,
        out: root.join("target/scriptgen"),
        seed: 1,
        count: None,
        minutes: 1.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--stap" => o.stap = PathBuf::from(value()),
            "--kernel" => o.kernel = Some(value()),
            "--out" => o.out = PathBuf::from(value()),
            "--seed" => o.seed = value().parse().unwrap_or_else(|_| usage()),
            "--count" => o.count = Some(value().parse().unwrap_or_else(|_| usage())),
            "--minutes" => o.minutes = value().parse().unwrap_or_else(|_| usage()),
            "--print" => {
                let seed = value().parse().unwrap_or_else(|_| usage());
                print!("{}", stap_scriptgen::script(seed));
                std::process::exit(0)
            }
            _ => usage(),
        }
    }
    o
}

#[derive(Default)]
struct Counts {
    generated: u64,
    refused: u64,
    parse_errors: u64,
    user_built: u64,
    kernel_built: u64,
    failures: u64,
}

/// Runs `cmd` for at most `limit`: (exit code, or None if killed by a signal; stdout,
/// stderr), or Err on a hang.
fn run(cmd: &mut Command, limit: Duration) -> Result<(Option<i32>, String, String), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {}", cmd, e))?;
    // Drain both pipes while waiting, so a chatty child never blocks.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut s);
        s
    });
    let status = match child.wait_timeout(limit).map_err(|e| e.to_string())? {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {} s", limit.as_secs()));
        }
    };
    let out = String::from_utf8_lossy(&t1.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&t2.join().unwrap()).into_owned();
    Ok((status.code(), out, err))
}

fn record(o: &Options, seed: u64, script: &str, what: &str) {
    let _ = std::fs::create_dir_all(&o.out);
    let _ = std::fs::write(o.out.join(format!("fail-{}.stp", seed)), script);
    let _ = std::fs::write(o.out.join(format!("fail-{}.txt", seed)), what);
    eprintln!(
        "scriptgen: seed {}: {}",
        seed,
        what.lines().next().unwrap_or("")
    );
}

/// What the user tier made of one script: Some(kernel C) when it goes on to the kernel.
fn check_user(o: &Options, seed: u64, script: &str, file: &Path, c: &mut Counts) -> bool {
    let stap = |args: &[&str]| {
        let mut cmd = Command::new(&o.stap);
        cmd.args(args).arg(file).env_remove("SYSTEMTAP_TAPSET");
        cmd
    };
    let p2 = match run(&mut stap(&["-p2"]), Duration::from_secs(30)) {
        Ok(r) => r,
        Err(e) => {
            record(o, seed, script, &format!("pass 2 hung: {}", e));
            c.failures += 1;
            return false;
        }
    };
    if p2.0 == Some(101) || p2.2.contains("panicked") {
        record(
            o,
            seed,
            script,
            &format!("the translator panicked:\n{}", p2.2),
        );
        c.failures += 1;
        return false;
    }
    if p2.0 != Some(0) {
        if p2.2.contains("parse error") {
            c.parse_errors += 1;
            record(
                o,
                seed,
                script,
                &format!("parse error (a generator bug):\n{}", p2.2),
            );
        } else {
            c.refused += 1;
        }
        return false;
    }
    match run(&mut stap(&["--runtime=user"]), Duration::from_secs(30)) {
        Err(e) => {
            record(o, seed, script, &format!("the user runtime hung: {}", e));
            c.failures += 1;
            false
        }
        Ok((code, _, err)) if err.contains("Pass 4: compilation failed") || code.is_none() => {
            let what = if code.is_none() {
                "the user-runtime program was killed by a signal"
            } else {
                "the user-runtime C did not compile"
            };
            record(o, seed, script, &format!("{}:\n{}", what, err));
            c.failures += 1;
            false
        }
        Ok(_) => {
            c.user_built += 1;
            true
        }
    }
}

/// Builds a batch of (seed, script, C) in one Kbuild run; returns (built, failures).
fn build_batch(o: &Options, kver: &str, batch: &[(u64, String, String)]) -> (u64, u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runtime-c");
    let dir = match tempfile_dir(&o.out) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("scriptgen: {}", e);
            return (0, batch.len() as u64);
        }
    };
    for sub in ["common", "linux"] {
        let _ = Command::new("cp")
            .arg("-r")
            .arg(root.join(sub))
            .arg(&dir)
            .status();
    }
    let mut objs = String::new();
    for (seed, _, c) in batch {
        let _ = std::fs::write(dir.join(format!("sg_{}.c", seed)), c);
        objs.push_str(&format!(" sg_{}.o", seed));
    }
    let kbuild = format!(
        "obj-m :={}\nccflags-y := -I$(src)/linux -I$(src)/common -Werror\n",
        objs
    );
    let _ = std::fs::write(dir.join("Kbuild"), kbuild);
    let out = Command::new("make")
        .arg("-k")
        .arg("-j2")
        .arg("-C")
        .arg(format!("/usr/lib/modules/{}/build", kver))
        .arg(format!("M={}", dir.display()))
        .arg("modules")
        .output();
    let log = match out {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => e.to_string(),
    };
    let (mut built, mut failed) = (0, 0);
    for (seed, script, _) in batch {
        let name = format!("sg_{}", seed);
        if dir.join(format!("{}.o", name)).is_file() {
            built += 1;
            continue;
        }
        failed += 1;
        let mine: String = log
            .lines()
            .filter(|l| l.contains(&format!("{}.c", name)))
            .collect::<Vec<_>>()
            .join("\n");
        record(
            o,
            *seed,
            script,
            &format!("the kernel C did not compile:\n{}", mine),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    (built, failed)
}

fn tempfile_dir(base: &Path) -> Result<PathBuf, String> {
    let d = base.join(format!("kbuild-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&d).map_err(|e| format!("cannot create {}: {}", d.display(), e))?;
    Ok(d)
}

fn rand_suffix() -> u64 {
    fastrand::u64(..)
}

fn main() {
    let o = options();
    let _ = std::fs::create_dir_all(&o.out);
    let deadline = Instant::now() + Duration::from_secs_f64(o.minutes * 60.0);
    let mut c = Counts::default();
    let (tx, rx) = mpsc::channel::<(u64, String, String)>();
    let kernel = o.kernel.clone();
    let opts = o.clone();
    let builder = std::thread::spawn(move || {
        let (mut built, mut failed) = (0, 0);
        let Some(kver) = kernel else {
            return (0, 0);
        };
        let mut batch = Vec::new();
        for item in rx {
            batch.push(item);
            if batch.len() == BATCH {
                let (b, f) = build_batch(&opts, &kver, &batch);
                built += b;
                failed += f;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            let (b, f) = build_batch(&opts, &kver, &batch);
            built += b;
            failed += f;
        }
        (built, failed)
    });
    let file = o.out.join("current.stp");
    let mut seed = o.seed;
    loop {
        let done = match o.count {
            Some(n) => c.generated >= n,
            None => Instant::now() >= deadline,
        };
        if done {
            break;
        }
        let script = stap_scriptgen::script(seed);
        c.generated += 1;
        if std::fs::write(&file, &script).is_err() {
            eprintln!("scriptgen: cannot write {}", file.display());
            std::process::exit(1);
        }
        if check_user(&o, seed, &script, &file, &mut c) {
            if let Some(kver) = &o.kernel {
                let p3 = Command::new(&o.stap)
                    .args(["-p3", "-r", kver, "-m", &format!("sg_{}", seed)])
                    .arg(&file)
                    .output();
                match p3 {
                    Ok(out) if out.status.success() => {
                        let csrc = String::from_utf8_lossy(&out.stdout).into_owned();
                        let _ = tx.send((seed, script.clone(), csrc));
                    }
                    Ok(out) => {
                        record(
                            &o,
                            seed,
                            &script,
                            &format!(
                                "pass 3 for the kernel failed where the user runtime passed:\n{}",
                                String::from_utf8_lossy(&out.stderr)
                            ),
                        );
                        c.failures += 1;
                    }
                    Err(e) => {
                        eprintln!("scriptgen: cannot run {}: {}", o.stap.display(), e);
                        std::process::exit(1);
                    }
                }
            }
        }
        seed += 1;
        if c.generated % 50 == 0 {
            eprint!(".");
            let _ = std::io::stderr().flush();
        }
    }
    drop(tx);
    let (kbuilt, kfailed) = builder.join().unwrap();
    c.kernel_built = kbuilt;
    c.failures += kfailed;
    eprintln!();
    println!(
        "scriptgen: {} scripts generated (seeds {}..{}): {} accepted by pass 2, {} refused there, {} parse errors; \
         {} built and ran on the user runtime, {} built as kernel modules ({}); {} failures{}",
        c.generated,
        o.seed,
        seed,
        c.generated - c.refused - c.parse_errors,
        c.refused,
        c.parse_errors,
        c.user_built,
        c.kernel_built,
        o.kernel.as_deref().unwrap_or("no kernel"),
        c.failures,
        if c.failures > 0 {
            format!(" (kept in {})", o.out.display())
        } else {
            String::new()
        }
    );
    std::process::exit(if c.failures > 0 { 1 } else { 0 });
}

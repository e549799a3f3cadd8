//! The end-to-end table (`tests/e2e/*.stpt`): every case runs through the real `stap`
//! binary on the user-space runtime, and every case meant for the kernel too is built into
//! a kernel module against the installed kernel headers.  See tests/e2e/README.md.

mod vmlib;

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Default, Clone)]
struct Case {
    file: String,
    name: String,
    runtimes: Vec<String>,
    args: Vec<String>,
    exit: i32,
    script: String,
    stdout: Option<String>,
    stderr: Option<String>,
    stderr_contains: Vec<String>,
    /// Stderr lines starting with one of these are allowed anywhere (`tolerate:` lines).
    tolerate: Vec<String>,
}

/// Stderr without the lines a case tolerates.
fn strip_tolerated(c: &Case, stderr: &str) -> String {
    stderr
        .split_inclusive('\n')
        .filter(|l| !c.tolerate.iter().any(|t| l.starts_with(t.as_str())))
        .collect()
}

fn parse(file: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(file).unwrap();
    let fname = file.file_name().unwrap().to_string_lossy().into_owned();
    let mut cases = Vec::new();
    let mut cur: Option<Case> = None;
    let mut section: Option<String> = None;
    let mut buf = String::new();
    let flush = |c: &mut Case, section: &Option<String>, buf: &mut String| match section.as_deref()
    {
        Some("script") => c.script = std::mem::take(buf),
        Some("stdout") => c.stdout = Some(std::mem::take(buf)),
        Some("stderr") => c.stderr = Some(std::mem::take(buf)),
        Some("stderr contains") => {
            c.stderr_contains = buf
                .lines()
                .map(String::from)
                .filter(|l| !l.is_empty())
                .collect();
            buf.clear();
        }
        Some(other) => panic!("{}: unknown section '--- {}'", fname, other),
        None => buf.clear(),
    };
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            // The blank line before a case header separates cases; it is not output.
            if buf.ends_with("\n\n") || buf == "\n" {
                buf.pop();
            }
            if let Some(mut c) = cur.take() {
                flush(&mut c, &section, &mut buf);
                cases.push(c);
            }
            cur = Some(Case {
                file: fname.clone(),
                name: name.trim().to_string(),
                runtimes: vec!["user".into(), "kernel".into()],
                ..Default::default()
            });
            section = None;
            continue;
        }
        let Some(c) = cur.as_mut() else { continue };
        if let Some(sec) = line.strip_prefix("--- ") {
            flush(c, &section, &mut buf);
            section = Some(sec.trim().to_string());
            continue;
        }
        if section.is_none() {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim() {
                    "runtimes" => c.runtimes = v.split_whitespace().map(String::from).collect(),
                    "args" => c.args = v.split_whitespace().map(String::from).collect(),
                    "exit" => c.exit = v.trim().parse().expect("exit status"),
                    "tolerate" => c.tolerate.push(v.trim().to_string()),
                    _ => {}
                }
            }
            continue;
        }
        buf.push_str(line);
        buf.push('\n');
    }
    if let Some(mut c) = cur.take() {
        flush(&mut c, &section, &mut buf);
        cases.push(c);
    }
    cases
}

fn run_case(c: &Case, cache: &Path, sanitize: bool) -> Result<(), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stap"));
    cmd.env_remove("SYSTEMTAP_TAPSET")
        .env("SYSTEMTAP_DIR", cache)
        .arg("--runtime=user")
        .args(&c.args)
        .arg("-e")
        .arg(&c.script);
    if sanitize {
        cmd.env(
            "STAP_USER_CFLAGS",
            "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g",
        );
    }
    let out = cmd.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = strip_tolerated(c, &String::from_utf8_lossy(&out.stderr));
    let mut problems = Vec::new();
    if out.status.code() != Some(c.exit) {
        problems.push(format!(
            "exit status {:?}, expected {}",
            out.status.code(),
            c.exit
        ));
    }
    if let Some(want) = &c.stdout {
        if stdout != *want {
            problems.push(format!(
                "stdout differs:\n--- expected\n{}--- got\n{}",
                want, stdout
            ));
        }
    }
    match &c.stderr {
        Some(want) if stderr != *want => problems.push(format!(
            "stderr differs:\n--- expected\n{}--- got\n{}",
            want, stderr
        )),
        None if c.stderr_contains.is_empty() && !stderr.is_empty() => {
            problems.push(format!("unexpected stderr:\n{}", stderr))
        }
        _ => {}
    }
    for want in &c.stderr_contains {
        if !stderr.contains(want.as_str()) {
            problems.push(format!("stderr lacks {:?}; stderr was:\n{}", want, stderr));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn all_cases() -> Vec<Case> {
    let files = vmlib::table_files("e2e", "stpt");
    let only = std::env::var("STAP_E2E_ONLY").ok();
    files
        .iter()
        .flat_map(|f| parse(f))
        .filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str())))
        .collect()
}

/// Runs `f` on every case, two at a time; returns the failures.
fn run_all(cases: &[Case], f: &(dyn Fn(&Case) -> Result<(), String> + Sync)) -> Vec<String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(c) = cases.get(i) else { break };
                if let Err(e) = f(c) {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("[{}] {}: {}", c.file, c.name, e));
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// The release of an installed kernel with a build tree (what `-r` names).
#[test]
fn e2e_table_builds_as_kernel_modules() {
    let kver = vmlib::kver();
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| c.runtimes.iter().any(|r| r == "kernel"))
        .collect();
    assert!(!cases.is_empty());
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-kmod-cache");
    let failures = run_all(&cases, &|c: &Case| {
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .env_remove("SYSTEMTAP_TAPSET")
            .env("SYSTEMTAP_DIR", &cache)
            .args(["-p4", "-r", &kver])
            .args(c.args.iter().filter(|a| a.starts_with("-D")))
            .arg("-e")
            .arg(&c.script)
            .output()
            .map_err(|e| e.to_string())?;
        // Cases that fail at translation (pass 2) fail the same way here.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || stderr.contains("semantic error") {
            Ok(())
        } else {
            Err(format!("module build failed:\n{}", stderr))
        }
    });
    println!(
        "e2e kernel build: {} cases, {} failed",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn e2e_table_user_runtime() {
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| c.runtimes.iter().any(|r| r == "user"))
        .collect();
    assert!(!cases.is_empty(), "no cases in tests/e2e");
    let sanitize = std::env::var("STAP_E2E_SANITIZE").is_ok_and(|v| v == "1");
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(if sanitize {
        "e2e-cache-sanitize"
    } else {
        "e2e-cache"
    });
    let failures = run_all(&cases, &|c: &Case| run_case(c, &cache, sanitize));
    println!("e2e: {} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// One case's result in the VM log: stdout, stderr, stpd's exit status, and notes.
struct VmResult {
    stdout: String,
    stderr: String,
    status: Option<i32>,
    notes: Vec<String>,
}

/// Splits the VM's serial log into each case's result (by the guest's markers: stpd writes
/// error lines prefixed with `=E= `, and `=== NONL` before a last line without a newline).
fn vm_results(log: &str) -> std::collections::HashMap<String, VmResult> {
    let mut out = std::collections::HashMap::new();
    let mut cur: Option<VmResult> = None;
    let mut name = String::new();
    let mut in_case = false;
    let mut no_newline = false;
    for line in log.replace('\r', "").lines() {
        if let Some(n) = line.strip_prefix("=== CASE ") {
            name = n.to_string();
            in_case = false;
            cur = Some(VmResult {
                stdout: String::new(),
                stderr: String::new(),
                status: None,
                notes: Vec::new(),
            });
        } else if line.starts_with("=== STDOUT ") {
            in_case = true;
        } else if line == "=== NONL" {
            no_newline = true;
        } else if let Some(rest) = line.strip_prefix("=== STATUS ") {
            in_case = false;
            if let Some(r) = cur.as_mut() {
                r.status = rest.rsplit(' ').next().and_then(|c| c.parse().ok());
            }
        } else if line.starts_with("=== END ") {
            if let Some(r) = cur.take() {
                out.insert(std::mem::take(&mut name), r);
            }
        } else if let Some(r) = cur.as_mut() {
            if let Some(note) = line.strip_prefix("=== ") {
                r.notes.push(note.to_string());
            } else if let Some(e) = line.strip_prefix("=E= ").filter(|_| in_case) {
                r.stderr.push_str(e);
                r.stderr.push('\n');
            } else if in_case {
                r.stdout.push_str(line);
                if !std::mem::take(&mut no_newline) {
                    r.stdout.push('\n');
                }
            } else if line.contains("BUG:") || line.contains("Oops") || line.contains("Call Trace")
            {
                r.notes.push(format!("kernel: {}", line));
            }
        }
    }
    out
}

#[test]
fn e2e_table_in_kernel_vm() {
    table_in_vm(&|_| true, 1, false);
}

/// The map, statistics and timer cases again, on two CPUs with a busy workload beside them.
#[test]
fn e2e_maps_and_stats_in_smp2_vm_under_load() {
    let files = ["maps.stpt", "stats.stpt", "timers.stpt"];
    table_in_vm(&|c: &Case| files.contains(&c.file.as_str()), 2, true);
}

/// Builds the kernel cases that `select` picks, runs them in one boot of a VM with `smp`
/// CPUs (and, with `workload`, a CPU-bound shell loop per CPU), and checks each one.
fn table_in_vm(select: &dyn Fn(&Case) -> bool, smp: u32, workload: bool) {
    let kver = vmlib::kver();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-vm-cache");
    // One VM at a time: two TCG guests on two host cores would starve each other.
    static VM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = VM.lock().unwrap_or_else(|e| e.into_inner());
    let stage = tempfile::tempdir().unwrap();
    let mut runnable = Vec::new();
    for (i, c) in all_cases().into_iter().enumerate() {
        if !c.runtimes.iter().any(|r| r == "kernel") || !select(&c) {
            continue;
        }
        // Translation errors are the user tier's business; they never reach a module.
        if c.stderr_contains
            .iter()
            .any(|l| l.contains("semantic error"))
        {
            continue;
        }
        runnable.push((format!("e2e_{}", i), c));
    }
    let failures = run_all(
        &runnable.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>(),
        &|c: &Case| {
            let (name, _) = runnable
                .iter()
                .find(|(_, x)| x.name == c.name && x.file == c.file)
                .unwrap();
            let out = Command::new(env!("CARGO_BIN_EXE_stap"))
                .env_remove("SYSTEMTAP_TAPSET")
                .env("SYSTEMTAP_DIR", &cache)
                .args(["-p4", "-r", &kver, "-m", name])
                .args(c.args.iter().filter(|a| a.starts_with("-D")))
                .arg("-e")
                .arg(&c.script)
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "build failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            let ko = String::from_utf8_lossy(&out.stdout).trim().to_string();
            std::fs::copy(&ko, stage.path().join(format!("{}.ko", name)))
                .map_err(|e| e.to_string())?;
            // stpd in the guest takes the run-time options; -T bounds every case.
            let mut words = Vec::new();
            let mut it = c.args.iter();
            while let Some(a) = it.next() {
                if matches!(a.as_str(), "-T" | "-c" | "-x" | "-o") {
                    let v = it.next().cloned().unwrap_or_default();
                    words.push(a.clone());
                    words.push(format!("'{}'", v.replace('\'', "'\\''")));
                }
            }
            if !c.args.iter().any(|a| a == "-T") {
                words.push("-T 10".into());
            }
            std::fs::write(stage.path().join(format!("{}.args", name)), words.join(" "))
                .map_err(|e| e.to_string())
        },
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
    let mut kos: Vec<PathBuf> = std::fs::read_dir(stage.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "ko"))
        .collect();
    kos.sort();
    let log = stage.path().join("serial.log");
    let status = Command::new(root.join("tests/vm/boot.sh"))
        .env("STPD", env!("CARGO_BIN_EXE_stpd"))
        .env("VM_SMP", smp.to_string())
        .env("VM_WORKLOAD", if workload { "1" } else { "" })
        .arg(&log)
        .args(&kos)
        .status()
        .expect("run tests/vm/boot.sh");
    assert!(status.success(), "the VM did not run to the end");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("=== STAP-VM-END"),
        "the VM did not finish:\n{}",
        log
    );
    let results = vm_results(&log);
    let mut problems = Vec::new();
    for (name, c) in &runnable {
        let Some(VmResult {
            stdout: so,
            stderr: se,
            status,
            notes,
        }) = results.get(name)
        else {
            problems.push(format!("[{}] {}: no result in the VM log", c.file, c.name));
            continue;
        };
        let se = &strip_tolerated(c, se);
        let mut p = Vec::new();
        if !notes.is_empty() {
            p.push(format!("notes: {:?}", notes));
        }
        if *status != Some(c.exit) {
            p.push(format!(
                "stpd's exit status {:?}, expected {}",
                status, c.exit
            ));
        }
        if let Some(want) = &c.stdout {
            if so != want {
                p.push(format!(
                    "stdout differs:\n--- expected\n{}--- got\n{}",
                    want, so
                ));
            }
        }
        match &c.stderr {
            Some(want) if se != want => p.push(format!(
                "stderr differs:\n--- expected\n{}--- got\n{}",
                want, se
            )),
            None if c.stderr_contains.is_empty() && !se.is_empty() => {
                p.push(format!("unexpected stderr:\n{}", se))
            }
            _ => {}
        }
        for want in &c.stderr_contains {
            if !se.contains(want.as_str()) {
                p.push(format!("stderr lacks {:?}; stderr was:\n{}", want, se));
            }
        }
        if !p.is_empty() {
            problems.push(format!(
                "[{}] {} ({}): {}",
                c.file,
                c.name,
                name,
                p.join("\n")
            ));
        }
    }
    println!(
        "e2e in the VM: {} cases run, {} failed",
        runnable.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

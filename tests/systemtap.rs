//! The table against SystemTap itself: Debian's SystemTap 4.8 (`/usr/bin/stap`, with a
//! copy of its runtime patched for today's `task_work_cancel`) builds the table's kernel
//! cases, and the VM runs its modules with its own `staprun`.
//!
//! - `STAP_SYSTEMTAP_RECORD=1` (tests/record-systemtap.sh) records: every kernel case
//!   whose `systemtap:` line is missing or stale is built and run by SystemTap, and its
//!   stdout and exit status become the case's expectations, with `systemtap: HASH ok` (or
//!   `HASH refused` when SystemTap refuses the script too).  `=all` records every case;
//!   `STAP_SYSTEMTAP_CASES=TEXT` only those whose `FILE::NAME` contains TEXT.
//! - Otherwise (CI) a sample of the recorded cases (`STAP_SYSTEMTAP_SAMPLE`, 24 by
//!   default, chosen by `STAP_SYSTEMTAP_SEED`, the day by default) is built and run by
//!   SystemTap live, and each must still print what the table says: the record is true.
//!
//! The e2e tiers check our translator against the same expectations, on both runtimes.

mod vmlib;

use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex, OnceLock};
use vmlib::table::{self, Case, Provenance, RawFile, VmResult};

/// What SystemTap 4.8's pass 4 made of a case.
enum Built {
    Module(PathBuf),
    /// Refused at pass 1 or 2 (the first error line).
    Refused(String),
    /// Failed otherwise (its stderr).
    Failed(String),
}

/// SystemTap 4.8's runtime, copied and patched once: Debian's 6.1 kernels renamed the
/// `task_work_cancel` its runtime takes the type of (as benches/p4-build.sh does).
fn runtime() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("systemtap-4.8-runtime");
        if !dir.join("stp_task_work.c").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            let ok = Command::new("cp")
                .args(["-r", "/usr/share/systemtap/runtime"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "copy /usr/share/systemtap/runtime (install systemtap)");
            let f = dir.join("stp_task_work.c");
            let text = std::fs::read_to_string(&f).unwrap().replace(
                "typedef typeof(&task_work_cancel) task_work_cancel_fn;",
                "typedef typeof(&task_work_cancel_func) task_work_cancel_fn;",
            );
            std::fs::write(&f, text).unwrap();
        }
        dir
    })
}

/// The stap options a case's module is built with, and the staprun options it runs with
/// (its `-G VAR=VALUE` settings become module parameters after the module, as stap
/// passes them to staprun).
fn split_args(c: &Case) -> (Vec<String>, Vec<String>) {
    let (mut build, mut run, mut params) = (Vec::new(), Vec::new(), Vec::new());
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        if matches!(a.as_str(), "-c" | "-x" | "-o") {
            run.push(a.clone());
            run.push(it.next().cloned().unwrap_or_default());
        } else if a == "-G" {
            params.push(it.next().cloned().unwrap_or_default());
        } else if a == "-T" {
            build.push(a.clone());
            build.push(it.next().cloned().unwrap_or_default());
        } else {
            build.push(a.clone());
        }
    }
    if !c.args.iter().any(|a| a == "-T") {
        build.extend(["-T".to_string(), "10".to_string()]);
    }
    // The module's path goes between the options and the parameters.
    run.push("$1".to_string());
    run.extend(params);
    (build, run)
}

/// Builds case `c` as module `name` with SystemTap 4.8.
fn build(name: &str, c: &Case, kver: &str) -> Built {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("systemtap-4.8-cache");
    let (build_args, _) = split_args(c);
    let out = Command::new("/usr/bin/stap")
        .env("SYSTEMTAP_DIR", &cache)
        .arg("-R")
        .arg(runtime())
        .args(["-r", kver, "-p4", "-m", name])
        .args(&build_args)
        .arg("-e")
        .arg(&c.script)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Built::Failed(format!("run /usr/bin/stap: {e} (install systemtap)")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        let ko = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.ko", name));
        return Built::Module(ko);
    }
    let refusal = stderr
        .lines()
        .find(|l| l.contains("semantic error") || l.contains("parse error"));
    match refusal {
        Some(l) if !stderr.contains("error: ") || !stderr.contains(".c:") => {
            Built::Refused(l.to_string())
        }
        _ => Built::Failed(stderr),
    }
}

/// Builds every case (two at a time).
fn build_all(cases: &[(String, Case)], kver: &str) -> HashMap<String, Built> {
    let built = Mutex::new(HashMap::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some((name, c)) = cases.get(i) else { break };
                let r = build(name, c, kver);
                built.lock().unwrap().insert(name.clone(), r);
            });
        }
    });
    built.into_inner().unwrap()
}

/// The guest scenario that runs a SystemTap module with staprun: its stdout as hex bytes
/// (byte for byte, a last line without a newline too), its stderr as `=E= ` lines, and
/// staprun's exit status.  A run is stopped after 60 s.
fn scenario(run_args: &[String]) -> String {
    let words: Vec<String> = run_args
        .iter()
        .map(|a| match a.as_str() {
            "$1" => "\"$1\"".to_string(),
            _ => format!("'{}'", a.replace('\'', "'\\''")),
        })
        .collect();
    format!(
        "mount -t debugfs none /sys/kernel/debug 2>/dev/null\n\
         in=\"${{1%.ko}}.stdin\"; [ -e \"$in\" ] || in=/dev/null\n\
         timeout -s INT 60 /usr/bin/staprun {} < \"$in\" > /tmp/st.out 2> /tmp/st.err\n\
         rc=$?\n\
         echo '=== HEX'\n\
         od -An -tx1 -v /tmp/st.out\n\
         echo '=== HEX-END'\n\
         sed 's/^/=E= /' /tmp/st.err\n\
         exit $rc\n",
        words.join(" ")
    )
}

/// Runs every built module in one boot with staprun; each module's result by name.
fn run_all(
    built: &HashMap<String, Built>,
    cases: &[(String, Case)],
) -> Result<HashMap<String, VmResult>, String> {
    let stage = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut kos = Vec::new();
    for (name, c) in cases {
        if let Some(Built::Module(ko)) = built.get(name) {
            let staged = stage.path().join(format!("{}.ko", name));
            std::fs::copy(ko, &staged).map_err(|e| format!("{}: {e}", ko.display()))?;
            std::fs::write(
                stage.path().join(format!("{}.sh", name)),
                scenario(&split_args(c).1),
            )
            .map_err(|e| e.to_string())?;
            if let Some(i) = &c.stdin {
                std::fs::write(stage.path().join(format!("{}.stdin", name)), i)
                    .map_err(|e| e.to_string())?;
            }
            kos.push(staged);
        }
    }
    if kos.is_empty() {
        return Ok(HashMap::new());
    }
    kos.sort();
    let log = stage.path().join("serial.log");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _one = vmlib::one_vm();
    let status = Command::new(root.join("tests/vm/boot.sh"))
        .env("STPD", env!("CARGO_BIN_EXE_stpd"))
        .env("VM_HOSTBIN", "/usr/bin/staprun /usr/lib/systemtap/stapio")
        .env("VM_TIMEOUT", (300 + 30 * kos.len()).to_string())
        .arg(&log)
        .args(&kos)
        .status()
        .map_err(|e| format!("run tests/vm/boot.sh: {e}"))?;
    let log = String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
    if !status.success() || !log.contains("=== STAP-VM-END") {
        eprintln!("the VM did not run to the end; its console:\n{}", log);
        return Err("the VM did not run to the end (its console is printed above)".into());
    }
    Ok(table::vm_results(&log))
}

/// A SystemTap run's result as the table writes it (stdout, exit status), or why it is not
/// one to record.
fn recordable(r: &VmResult) -> Result<(String, i32), String> {
    if !r.notes.is_empty() {
        return Err(format!("notes: {:?}\nstderr:\n{}", r.notes, r.stderr));
    }
    let Some(status) = r.status else {
        return Err("no exit status".into());
    };
    Ok((r.stdout.clone(), status))
}

/// The cases to record (kernel cases without a current record; all with `=all`).
fn to_record(all: bool) -> Vec<Case> {
    table::all_cases()
        .into_iter()
        .filter(|c| c.runs_in("kernel"))
        .filter(|c| {
            std::env::var("STAP_SYSTEMTAP_CASES").map_or(true, |only| {
                format!("{}::{}", c.file, c.name).contains(&only)
            })
        })
        .filter(|c| match c.provenance() {
            Provenance::Differs(_) | Provenance::NotApplicable(_) => false,
            Provenance::Recorded(h) | Provenance::Refused(h) => all || h != c.hash(),
            Provenance::Missing => true,
        })
        .collect()
}

/// Records SystemTap 4.8's outputs into the table files; returns what it did.
fn record(all: bool) -> Result<String, String> {
    let kver = vmlib::kver();
    let cases: Vec<(String, Case)> = to_record(all)
        .into_iter()
        .enumerate()
        .map(|(i, c)| (format!("st_{}", i), c))
        .collect();
    let built = build_all(&cases, &kver);
    let results = run_all(&built, &cases)?;
    let mut report = Vec::new();
    let mut updates: HashMap<(String, String), (Option<Recorded>, String)> = HashMap::new();
    for (name, c) in &cases {
        let key = (c.file.clone(), c.name.clone());
        match &built[name] {
            Built::Refused(line) => {
                updates.insert(key, (None, format!("{} refused", c.hash())));
                if !c.expects_refusal() {
                    report.push(format!(
                        "{}::{}: SystemTap refuses it: {}",
                        c.file, c.name, line
                    ));
                }
            }
            Built::Failed(e) => report.push(format!(
                "{}::{}: SystemTap's build failed, not recorded:\n{}",
                c.file,
                c.name,
                e.lines()
                    .rev()
                    .take(8)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            Built::Module(_) => match results.get(name).map(recordable) {
                Some(Ok((stdout, status))) => {
                    let stderr = &results[name].stderr;
                    if c.stdout.as_deref() != Some(stdout.as_str()) || c.exit != status {
                        report.push(format!(
                            "{}::{}: SystemTap's output differs from the table's:\n--- table (exit {})\n{}--- SystemTap 4.8 (exit {})\n{}--- its stderr\n{}",
                            c.file, c.name, c.exit, c.stdout.clone().unwrap_or_default(), status, stdout, stderr
                        ));
                    } else if std::env::var_os("STAP_SYSTEMTAP_VERBOSE").is_some() {
                        report.push(format!(
                            "{}::{}: as the table says; its stderr:\n{}",
                            c.file, c.name, stderr
                        ));
                    }
                    updates.insert(
                        key,
                        (
                            Some(Recorded {
                                stdout,
                                status,
                                stderr: stderr_lines(stderr),
                            }),
                            format!("{} ok", c.hash()),
                        ),
                    );
                }
                Some(Err(e)) => report.push(format!("{}::{}: not recorded: {}", c.file, c.name, e)),
                None => report.push(format!("{}::{}: no result in the VM log", c.file, c.name)),
            },
        }
    }
    write_updates(&updates)?;
    report.push(format!(
        "recorded {} of {} cases",
        updates.len(),
        cases.len()
    ));
    Ok(report.join("\n"))
}

/// What SystemTap printed for a case.
struct Recorded {
    stdout: String,
    status: i32,
    /// Its error and warning lines, as [`stderr_lines`] keeps them.
    stderr: Vec<String>,
}

/// The table section holding SystemTap's stderr lines (each must appear in ours too).
const SYSTEMTAP_STDERR: &str = table::SYSTEMTAP_STDERR;

/// SystemTap's `ERROR:` lines up to the location (`near ...`), and its `WARNING:` lines.
fn stderr_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with("ERROR: ") || l.starts_with("WARNING: "))
        .map(|l| match l.find(" near ") {
            Some(i) if l.starts_with("ERROR: ") => l[..i].to_string(),
            // Its overload message gives the cycles it measured: not the same twice.
            _ if l.starts_with("ERROR: probe overhead") => "ERROR: probe overhead".to_string(),
            _ => l.to_string(),
        })
        .collect()
}

/// Writes recorded expectations into the table files.
fn write_updates(
    updates: &HashMap<(String, String), (Option<Recorded>, String)>,
) -> Result<(), String> {
    for f in vmlib::table_files("e2e", "stpt") {
        let fname = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).map_err(|e| e.to_string())?;
        let mut raw = RawFile::parse(&text);
        for rc in &mut raw.cases {
            let c = RawFile::case(&fname, rc);
            let Some((out, line)) = updates.get(&(fname.clone(), c.name.clone())) else {
                continue;
            };
            RawFile::set_header(rc, "systemtap", line);
            if let Some(r) = out {
                if r.status == 0 {
                    RawFile::remove_header(rc, "exit");
                } else {
                    RawFile::set_header(rc, "exit", &r.status.to_string());
                }
                RawFile::set_section(rc, "stdout", &r.stdout);
                rc.sections.retain(|(n, _)| n != SYSTEMTAP_STDERR);
                if !r.stderr.is_empty() {
                    let text: String = r.stderr.iter().map(|l| format!("{}\n", l)).collect();
                    RawFile::set_section(rc, SYSTEMTAP_STDERR, &text);
                }
            }
        }
        let new = raw.render();
        if new != text {
            std::fs::write(&f, new).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// A sample of `n` recorded cases, chosen by `seed` (the same seed, the same sample).
fn sample(n: usize, seed: u64) -> Vec<Case> {
    let mut cases: Vec<(u64, Case)> = table::all_cases()
        .into_iter()
        .filter(|c| c.runs_in("kernel"))
        .filter(|c| matches!(c.provenance(), Provenance::Recorded(h) if h == c.hash()))
        .map(|c| {
            let h = u64::from_str_radix(&c.hash(), 16).unwrap_or(0)
                ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (h.wrapping_mul(0xff51_afd7_ed55_8ccd), c)
        })
        .collect();
    cases.sort_by_key(|(k, _)| *k);
    cases.into_iter().take(n).map(|(_, c)| c).collect()
}

/// Builds and runs the sample with SystemTap; each case's result by test name.
fn live(cases: &[(String, Case)]) -> Result<HashMap<String, Result<(), String>>, String> {
    let kver = vmlib::kver();
    let built = build_all(cases, &kver);
    let results = run_all(&built, cases)?;
    let mut out = HashMap::new();
    for (name, c) in cases {
        let r = match &built[name] {
            Built::Refused(l) => Err(format!("SystemTap refuses it now: {}", l)),
            Built::Failed(e) => Err(format!("SystemTap's build failed:\n{}", e)),
            Built::Module(_) => match results.get(name).map(recordable) {
                Some(Ok((stdout, status))) if c.stdout.as_deref() == Some(stdout.as_str()) && status == c.exit => Ok(()),
                Some(Ok((stdout, status))) => Err(format!(
                    "SystemTap 4.8 no longer prints what was recorded:\n--- recorded (exit {})\n{}--- now (exit {})\n{}",
                    c.exit, c.stdout.clone().unwrap_or_default(), status, stdout
                )),
                Some(Err(e)) => Err(e),
                None => Err("no result in the VM log".into()),
            },
        };
        out.insert(name.clone(), r);
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    match std::env::var("STAP_SYSTEMTAP_RECORD").ok().as_deref() {
        Some(mode @ ("1" | "all")) => {
            let all = mode == "all";
            trials.push(Trial::test("systemtap_4_8_record", move || {
                let report = record(all).map_err(Failed::from)?;
                eprintln!("{}", report);
                Ok(())
            }));
        }
        _ => {
            let n: usize = std::env::var("STAP_SYSTEMTAP_SAMPLE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(24);
            let seed: u64 = std::env::var("STAP_SYSTEMTAP_SEED")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() / 86400)
                });
            let cases: Vec<(String, Case)> = sample(n, seed)
                .into_iter()
                .enumerate()
                .map(|(i, c)| (format!("st_{}", i), c))
                .collect();
            eprintln!(
                "systemtap: a sample of {} recorded cases (STAP_SYSTEMTAP_SEED={})",
                cases.len(),
                seed
            );
            let results = Arc::new(OnceLock::new());
            let all = Arc::new(cases.clone());
            for (name, c) in cases {
                let (results, all) = (results.clone(), all.clone());
                let test = format!(
                    "systemtap_4_8_live::{}::{}",
                    c.file.trim_end_matches(".stpt"),
                    c.name
                );
                trials.push(Trial::test(test, move || {
                    let r: &Result<HashMap<String, Result<(), String>>, String> =
                        results.get_or_init(|| live(&all));
                    match r {
                        Err(e) => Err(Failed::from(e.clone())),
                        Ok(m) => m
                            .get(&name)
                            .cloned()
                            .unwrap_or_else(|| Err("no result".into()))
                            .map_err(Failed::from),
                    }
                }));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

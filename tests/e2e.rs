//! The end-to-end table (`tests/e2e/*.stpt`): every case runs through the real `stap`
//! binary on the user-space runtime, and every case meant for the kernel too is built into
//! a kernel module against the installed kernel headers, and run in the VM.  Each case is
//! a named test of each tier it runs in (`TIER::FILE::CASE`, libtest-mimic), so a failure
//! names its case and `cargo test --test e2e -- NAME` runs one.  See tests/e2e/README.md.

mod vmlib;

use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::{Arc, OnceLock};
use vmlib::table::{all_cases, expected, vm_results, Case, VmResult};

/// How long one case may take on the user runtime: its build (under the sanitizers too)
/// and its run.
const USER_CASE_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

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
    // A case that never ends (no exit(), no -T) fails here instead of hanging the tier.
    let out = vmlib::output_within(&mut cmd, USER_CASE_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = format!("exit status {:?}", out.status.code());
    expected(
        c,
        out.status.code(),
        &status,
        &String::from_utf8_lossy(&out.stdout),
        &stderr,
    )
}

/// The target kernel, read once (only tiers that need one ask).
fn kver() -> &'static str {
    static KVER: OnceLock<String> = OnceLock::new();
    KVER.get_or_init(vmlib::kver)
}

/// A case's test name in a tier: `TIER::FILE::CASE`.
fn trial_name(tier: &str, c: &Case) -> String {
    format!("{}::{}::{}", tier, c.file.trim_end_matches(".stpt"), c.name)
}

/// Whether the command line's filter and skips select test `name` (as libtest's do).
fn selected(args: &Arguments, name: &str) -> bool {
    let hit = |p: &str| {
        if args.exact {
            name == p
        } else {
            name.contains(p)
        }
    };
    args.filter.as_deref().is_none_or(hit) && !args.skip.iter().any(|p| hit(p))
}

fn runs_in(c: &Case, runtime: &str) -> bool {
    c.runs_in(runtime)
}

/// Every kernel case built once into a module (pass 4, `-m e2e_N`), shared by the build
/// tier and both VM tiers: the first test to ask builds them all, two at a time.
struct Builds {
    /// (module name, case)
    cases: Vec<(String, Case)>,
    results: OnceLock<HashMap<String, Built>>,
}

/// What pass 4 made of a case.
#[derive(Clone)]
enum Built {
    /// The module.
    Module(PathBuf),
    /// Refused at translation with a semantic error (the user tier checks the message).
    Refused,
    /// Pass 4 failed otherwise: its stderr.
    Failed(String),
}

impl Builds {
    fn get(&self, module: &str) -> Built {
        let all = self.results.get_or_init(|| self.build_all());
        all.get(module)
            .cloned()
            .unwrap_or_else(|| Built::Failed("not built (not selected)".into()))
    }

    fn build_all(&self) -> HashMap<String, Built> {
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-kmod-cache");
        let built = std::sync::Mutex::new(HashMap::new());
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some((name, c)) = self.cases.get(i) else {
                        break;
                    };
                    let r = build_case(name, c, &cache);
                    built.lock().unwrap().insert(name.clone(), r);
                });
            }
        });
        built.into_inner().unwrap()
    }
}

/// The translator's options of a case: all but the ones stpd takes in the guest
/// (`-T`, `-c`, `-x`, `-o` and their values, see [`stage_case`]).
fn build_args(c: &Case) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        if matches!(a.as_str(), "-T" | "-c" | "-x" | "-o") {
            it.next();
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Builds case `c` as module `name`; a case that fails at translation fails the same way
/// here.
fn build_case(name: &str, c: &Case, cache: &Path) -> Built {
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .env("SYSTEMTAP_DIR", cache)
        .args(["-p4", "-r", kver(), "-m", name])
        .args(build_args(c))
        .arg("-e")
        .arg(&c.script)
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Built::Failed(e.to_string()),
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Built::Module(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    } else if stderr.contains("semantic error") || stderr.contains("parse error") {
        Built::Refused
    } else {
        Built::Failed(format!("module build failed:\n{}", stderr))
    }
}

/// Whether the target kernel's DWARF is installed (where stap-rs looks for it first).
fn kernel_has_dwarf() -> bool {
    let k = kver();
    [
        format!("/usr/lib/debug/boot/vmlinux-{k}"),
        format!("/usr/lib/debug/lib/modules/{k}/vmlinux"),
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut cases = all_cases();
    // A case that needs the kernel's DWARF waits, ignored, on a kernel without it (6.12-rt
    // has no -dbg package).
    let dwarf = kernel_has_dwarf();
    for c in cases.iter_mut().filter(|c| c.needs_dwarf && !dwarf) {
        c.pending
            .get_or_insert_with(|| format!("needs the DWARF of {}, not installed", kver()));
    }
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mut trials = vec![Trial::test("e2e_table_has_cases", {
        let n = cases.len();
        move || {
            (n > 0)
                .then_some(())
                .ok_or_else(|| "no cases in tests/e2e".into())
        }
    })];
    trials.push(Trial::test("e2e_table_files_read_back_as_written", || {
        // The SystemTap recorder rewrites the files through RawFile: it must lose nothing.
        for f in vmlib::table_files("e2e", "stpt") {
            let text = std::fs::read_to_string(&f).unwrap();
            if vmlib::table::RawFile::parse(&text).render() != text {
                return Err(format!("{} does not read back as written", f.display()).into());
            }
        }
        Ok(())
    }));
    trials.push(Trial::test(
        "e2e_table_expectations_come_from_systemtap",
        || provenance_is_current().map_err(Failed::from),
    ));
    let sanitize = std::env::var("STAP_E2E_SANITIZE").is_ok_and(|v| v == "1");
    let user_cache = target.join(if sanitize {
        "e2e-cache-sanitize"
    } else {
        "e2e-cache"
    });
    for c in cases.iter().filter(|c| runs_in(c, "user")) {
        let (c, cache) = (c.clone(), user_cache.clone());
        let pending = c.pending.is_some();
        trials.push(
            Trial::test(trial_name("e2e_table_user_runtime", &c), move || {
                run_case(&c, &cache, sanitize).map_err(Failed::from)
            })
            .with_ignored_flag(pending),
        );
    }
    // The map, statistics and timer cases run again on two CPUs with a busy workload.
    let smp2_files = ["maps.stpt", "stats.stpt", "timers.stpt"];
    let vm_tiers = [
        ("e2e_table_in_kernel_vm", 1, false),
        ("e2e_maps_and_stats_in_smp2_vm_under_load", 2, true),
    ];
    let build_tier = "e2e_table_builds_as_kernel_modules";
    let in_vm_tier = |c: &Case, smp: u32| {
        // Cases that fail at translation are the user tier's business.
        (smp == 1 || smp2_files.contains(&c.file.as_str())) && !c.expects_refusal()
    };
    // Each kernel case is built once, if a selected test of some tier needs it.
    let kernel_cases: Vec<(String, Case)> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| runs_in(c, "kernel"))
        // A pending case is built and booted only when ignored tests are asked for.
        .filter(|(_, c)| c.pending.is_none() || args.ignored || args.include_ignored)
        .map(|(i, c)| (format!("e2e_{}", i), c.clone()))
        .filter(|(_, c)| {
            selected(&args, &trial_name(build_tier, c))
                || vm_tiers.iter().any(|(tier, smp, _)| {
                    in_vm_tier(c, *smp) && selected(&args, &trial_name(tier, c))
                })
        })
        .collect();
    let builds = Arc::new(Builds {
        cases: kernel_cases.clone(),
        results: OnceLock::new(),
    });
    for (module, c) in &kernel_cases {
        let (builds, module) = (builds.clone(), module.clone());
        let pending = c.pending.is_some();
        trials.push(
            Trial::test(trial_name(build_tier, c), move || {
                match builds.get(&module) {
                    Built::Failed(e) => Err(Failed::from(e)),
                    Built::Module(_) | Built::Refused => Ok(()),
                }
            })
            .with_ignored_flag(pending),
        );
    }
    for (tier, smp, workload) in vm_tiers {
        let runnable: Vec<(String, Case)> = kernel_cases
            .iter()
            .filter(|(_, c)| in_vm_tier(c, smp) && selected(&args, &trial_name(tier, c)))
            .cloned()
            .collect();
        let run = Arc::new(VmRun {
            cases: runnable.clone(),
            builds: builds.clone(),
            smp,
            workload,
            results: OnceLock::new(),
        });
        for (module, c) in runnable {
            let run = run.clone();
            let pending = c.pending.is_some();
            trials.push(
                Trial::test(trial_name(tier, &c), move || {
                    run.result(&module).map_err(Failed::from)
                })
                .with_ignored_flag(pending),
            );
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// One boot of the VM running a tier's cases, shared by their tests: the first test to
/// ask builds every case's module and boots the guest; each test then reads its own result.
struct VmRun {
    /// (module name, case)
    cases: Vec<(String, Case)>,
    builds: Arc<Builds>,
    smp: u32,
    workload: bool,
    results: OnceLock<Result<HashMap<String, Result<(), String>>, String>>,
}

impl VmRun {
    fn result(&self, module: &str) -> Result<(), String> {
        let all = self.results.get_or_init(|| self.run());
        match all {
            Err(e) => Err(e.clone()),
            Ok(r) => r
                .get(module)
                .cloned()
                .unwrap_or_else(|| Err("no result in the VM log".into())),
        }
    }

    /// Stages every case that built, runs them in one boot, and checks each one.
    fn run(&self) -> Result<HashMap<String, Result<(), String>>, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut results: HashMap<String, Result<(), String>> = HashMap::new();
        let stage = tempfile::tempdir().map_err(|e| e.to_string())?;
        for (name, c) in &self.cases {
            let staged = match self.builds.get(name) {
                Built::Module(ko) => stage_case(name, c, &ko, stage.path()),
                Built::Refused => Err("refused at translation".into()),
                Built::Failed(e) => Err(format!("build failed: {}", e)),
            };
            if let Err(e) = staged {
                results.insert(name.clone(), Err(e));
            }
        }
        // One VM at a time: two TCG guests on two host cores would starve each other.
        static VM: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = VM.lock().unwrap_or_else(|e| e.into_inner());
        let mut kos: Vec<PathBuf> = std::fs::read_dir(stage.path())
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "ko"))
            .collect();
        if kos.is_empty() {
            return Ok(results);
        }
        kos.sort();
        // Boots of at most 120 modules: a guest of 512 MB cannot unpack an initramfs of
        // every case at once (the kernel panics: no root).
        let mut in_log = HashMap::new();
        for (i, chunk) in kos.chunks(120).enumerate() {
            let log = stage.path().join(format!("serial-{}.log", i));
            let status = Command::new(root.join("tests/vm/boot.sh"))
                .env("STPD", env!("CARGO_BIN_EXE_stpd"))
                .env("VM_SMP", self.smp.to_string())
                .env("VM_WORKLOAD", if self.workload { "1" } else { "" })
                // Several vCPUs on one host thread (QEMU's multi-threaded TCG can run
                // stale kernel text after a probe's registration; tests/hostile.rs).
                .env("VM_TCG_THREAD", if self.smp > 1 { "single" } else { "" })
                .arg(&log)
                .args(chunk)
                .status()
                .map_err(|e| format!("run tests/vm/boot.sh: {e}"))?;
            let log =
                String::from_utf8_lossy(&std::fs::read(&log).unwrap_or_default()).into_owned();
            if !status.success() || !log.contains("=== STAP-VM-END") {
                // Once, not in each of the tier's failures.
                eprintln!("the VM did not run to the end; its console:\n{}", log);
                return Err("the VM did not run to the end (its console is printed above)".into());
            }
            in_log.extend(vm_results(&log));
        }
        for (name, c) in &self.cases {
            if results.contains_key(name) {
                continue;
            }
            let r = match in_log.get(name) {
                Some(r) => check_vm_result(c, r),
                None => Err("no result in the VM log".into()),
            };
            results.insert(name.clone(), r);
        }
        Ok(results)
    }
}

/// Stages module `ko` of case `c` as `name` into `stage`, with the stpd options the guest
/// runs it with (-T bounds every case).
fn stage_case(name: &str, c: &Case, ko: &Path, stage: &Path) -> Result<(), String> {
    std::fs::copy(ko, stage.join(format!("{}.ko", name))).map_err(|e| e.to_string())?;
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
    if let Some(i) = &c.stdin {
        std::fs::write(stage.join(format!("{}.stdin", name)), i).map_err(|e| e.to_string())?;
    }
    std::fs::write(stage.join(format!("{}.args", name)), words.join(" ")).map_err(|e| e.to_string())
}

/// A case's result in the guest against its expectations (and no kernel notes).
fn check_vm_result(c: &Case, r: &VmResult) -> Result<(), String> {
    let status = format!("stpd's exit status {:?}", r.status);
    let checked = expected(c, r.status, &status, &r.stdout, &r.stderr);
    match (r.notes.is_empty(), checked) {
        (true, checked) => checked,
        (false, Ok(())) => Err(format!("notes: {:?}", r.notes)),
        (false, Err(e)) => Err(format!("notes: {:?}\n{}", r.notes, e)),
    }
}

/// Every kernel case says where its expectations came from: recorded from SystemTap 4.8
/// for its current script and arguments (`tests/systemtap.rs` records them), or by hand
/// with the reason SystemTap 4.8 cannot be the reference.
fn provenance_is_current() -> Result<(), String> {
    use vmlib::table::Provenance;
    let mut stale = Vec::new();
    for c in all_cases().iter().filter(|c| c.runs_in("kernel")) {
        let why = match c.provenance() {
            Provenance::Refused(h)
                if h == c.hash() && !c.expects_refusal() && c.pending.is_none() =>
            {
                "is refused by SystemTap 4.8, but expects to run (make it expect the refusal, or say n/a: why)"
            }
            Provenance::Recorded(h) | Provenance::Refused(h) if h == c.hash() => continue,
            Provenance::Differs(r) | Provenance::NotApplicable(r) if !r.is_empty() => continue,
            Provenance::Recorded(_) | Provenance::Refused(_) => "changed since it was recorded",
            Provenance::Differs(_) | Provenance::NotApplicable(_) => "gives no reason",
            Provenance::Missing => "has no systemtap: line",
        };
        stale.push(format!("{}::{} {}", c.file, c.name, why));
    }
    if stale.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} cases need SystemTap 4.8's outputs recorded (tests/record-systemtap.sh):\n{}",
        stale.len(),
        stale.join("\n")
    ))
}

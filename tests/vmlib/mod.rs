//! What the VM-tier tests share: the target kernel, one guest at a time, `stap --vm`,
//! guest scenarios run by tests/vm/boot.sh, the dd workload and the DWARF test module.
#![allow(dead_code)]

pub mod table;

use std::process::Command;

/// The target kernel: `target_kernel` of tests/lib.sh, the one rule every script and test
/// shares ($STAP_TEST_KVER, else the newest kernel with a build tree and an image).
pub fn kver() -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(concat!(
            ". '",
            env!("CARGO_MANIFEST_DIR"),
            "/tests/lib.sh' && target_kernel"
        ))
        .output()
        .expect("bash runs tests/lib.sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The table files `tests/DIR/*.EXT`, sorted.
pub fn table_files(dir: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(dir);
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// One VM at a time: TCG guests on a two-core host would starve each other's timers.
pub fn one_vm() -> std::sync::MutexGuard<'static, ()> {
    static VM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    VM.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long one `stap --vm` run of a test may take: a build, a boot and the script, with
/// room for a busy host.  A guest that hangs fails its test instead of the whole tier.
pub const VM_RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Reads all of `r` on a thread of its own (a child's stdout or stderr while it runs).
pub fn read_in_background(
    mut r: impl std::io::Read + Send + 'static,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// Waits for `child` up to `limit`; after that kills it and returns `None`.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    use wait_timeout::ChildExt;
    let status = child.wait_timeout(limit).unwrap();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// Runs `cmd` as [`Command::output`] does, but kills it after `limit` and panics with
/// what it printed so far.
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = read_in_background(child.stdout.take().unwrap());
    let err = read_in_background(child.stderr.take().unwrap());
    let Some(status) = wait_or_kill(&mut child, limit) else {
        panic!(
            "{:?} did not finish within {} s\n--- stdout\n{}--- stderr\n{}",
            cmd,
            limit.as_secs(),
            String::from_utf8_lossy(&out.join().unwrap()),
            String::from_utf8_lossy(&err.join().unwrap())
        );
    };
    std::process::Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

pub fn vm(args: &[&str]) -> std::process::Output {
    vm_env(&[], args)
}

/// [`vm`] with more environment variables for stap.
pub fn vm_env(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let _one = one_vm();
    output_within(
        Command::new(env!("CARGO_BIN_EXE_stap"))
            .envs(env.iter().copied())
            .env_remove("SYSTEMTAP_TAPSET")
            .env(
                "SYSTEMTAP_DIR",
                std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache"),
            )
            .args(["--vm", "-r", &kver()])
            .args(args),
        VM_RUN_LIMIT,
    )
}

/// Boots a guest that runs the shell script `sh` (given the module built from `script` as
/// `$1`) instead of stpd, and returns its console log.
pub fn scenario(module: &str, script: &str, sh: &str) -> String {
    scenario_with(module, &[], script, sh, &[])
}

/// [`scenario`] with more stap arguments and files for the guest's /extra.
pub fn scenario_with(
    module: &str,
    stap_args: &[&str],
    script: &str,
    sh: &str,
    extra: &[&std::path::Path],
) -> String {
    scenario_append(module, stap_args, script, sh, extra, "")
}

/// [`scenario_with`] with more arguments on the guest kernel's command line.
pub fn scenario_append(
    module: &str,
    stap_args: &[&str],
    script: &str,
    sh: &str,
    extra: &[&std::path::Path],
    append: &str,
) -> String {
    scenario_env(
        module,
        stap_args,
        script,
        sh,
        extra,
        &[("VM_APPEND", append)],
    )
}

/// [`scenario_with`] with more of boot.sh's settings: `VM_HOSTBIN` (host programs copied
/// into the guest at the same paths, with their libraries: a probe point names a program
/// by its path on both), `VM_SMP`, `VM_APPEND` ...
pub fn scenario_env(
    module: &str,
    stap_args: &[&str],
    script: &str,
    sh: &str,
    extra: &[&std::path::Path],
    env: &[(&str, &str)],
) -> String {
    let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("vm-cache");
    let stage = tempfile::tempdir().unwrap();
    let ko = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_stap"))
            .env_remove("SYSTEMTAP_TAPSET")
            .env("SYSTEMTAP_DIR", &cache)
            .args(["-p4", "-r", &kver(), "-m", module])
            .args(stap_args)
            .args(["-e", script]),
    )
    .trim()
    .to_string();
    let staged = stage.path().join(format!("{}.ko", module));
    std::fs::copy(&ko, &staged).unwrap();
    std::fs::write(stage.path().join(format!("{}.sh", module)), sh).unwrap();
    let log = stage.path().join("serial.log");
    let _one = one_vm();
    let extra: Vec<String> = extra.iter().map(|p| p.display().to_string()).collect();

    let status = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/boot.sh"))
        .env("STPD", env!("CARGO_BIN_EXE_stpd"))
        .env("VM_EXTRA", extra.join(" "))
        .envs(env.iter().copied())
        .arg(&log)
        .arg(&staged)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read_to_string(&log).unwrap().replace('\r', "")
}

/// The workload: busybox dd copies N blocks of SIZE bytes from /dev/zero to /dev/null, one
/// read(2) and one write(2) per block, then writes its summary to stderr.
pub const N: usize = 5;

pub const SIZE: usize = 7;

pub fn dd() -> String {
    format!(
        "dd if=/dev/zero of=/dev/null bs={} count={} 2>/dev/null",
        SIZE, N
    )
}

/// Builds the DWARF test module (tests/vm/stapmod) with the target kernel's Kbuild, so -g.
pub fn build_stapmod() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vm/stapmod");
    for f in ["stapmod_test.c", "Kbuild"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let out = Command::new("make")
        .args(["-s", "-C", &format!("/usr/lib/modules/{}/build", kver())])
        .arg(format!("M={}", dir.path().display()))
        .arg("modules")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ko = dir.path().join("stapmod_test.ko");
    (dir, ko)
}

/// The address of `sym` in the target kernel's debug vmlinux (its symbol table, by nm).
pub fn image_address(sym: &str) -> u64 {
    let image = format!("/usr/lib/debug/boot/vmlinux-{}", kver());
    let out = Command::new("nm").arg(&image).output().unwrap();
    assert!(out.status.success(), "nm {image}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let mut it = l.split_whitespace();
            let (a, _, n) = (it.next()?, it.next()?, it.next()?);
            (n == sym)
                .then(|| u64::from_str_radix(a, 16).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("{sym} not in {image}"))
}

/// Builds the test program `src` (relative to the project) into `out` with `cc` and
/// `flags`, failing the test with the compiler's errors.
pub fn cc_program(src: &str, out: &std::path::Path, flags: &[&str]) {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let cc = Command::new("cc")
        .args(flags)
        .args(["-Wall", "-Werror", "-o"])
        .arg(out)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "{}: {}",
        src.display(),
        String::from_utf8_lossy(&cc.stderr)
    );
}

/// stap's output for a listing (`-l`/`-L` and the points, with more environment for
/// stap), which must succeed.
pub fn stap_list(args: &[&str], env: &[(&str, &str)]) -> String {
    stdout_of(
        Command::new(env!("CARGO_BIN_EXE_stap"))
            .envs(env.iter().copied())
            .args(["-r", &kver()])
            .args(args),
    )
}

/// What a command that must succeed printed (its stderr shown when it fails).
fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

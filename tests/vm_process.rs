//! The VM tier's process lifecycle tests: `process.begin`, `.end`, `.thread.begin` and
//! `.thread.end`, unfiltered (restricted by `-x`/`-c` to the target and its descendants),
//! by executable and by pid, on a threaded test program built here
//! (tests/vm/proc/threads.c: two threads, then a child that exits with 3).  The expected
//! events are SystemTap 4.8's for the same script and scenario on 6.1 (recorded by running
//! it in this guest); the scripts sort what they saw, because 4.8 runs the probes of one
//! event in an order of its own.

mod vmlib;

use std::path::{Path, PathBuf};
use vmlib::*;

/// The test program, built static (the guest has no C library of its own) into `dir`.
fn threads_program(dir: &Path) -> PathBuf {
    let bin = dir.join("threads");
    cc_program(
        "tests/vm/proc/threads.c",
        &bin,
        &["-O2", "-static", "-pthread"],
    );
    bin
}

/// What the script saw, event by event, sorted: each probe adds `what` lines, and an end
/// probe prints them with their counts.
const SCRIPT: &str = r#"
global ev, seq, first
function who() { return pid() == target() ? "target" : ppid() == target() ? "child" : "other" }
function saw(what) { ev[what]++; if (!(what in first)) first[what] = ++seq }
probe process.begin { saw(sprintf("begin %s %s", execname(), who())) }
probe process.end { saw(sprintf("end %s %s", execname(), who())) }
probe process.thread.begin { saw(sprintf("thread.begin %s %s %d", execname(), who(), tid() != pid())) }
probe process.thread.end { saw(sprintf("thread.end %s %s %d", execname(), who(), tid() != pid())) }
probe process("/extra/threads").thread.begin { saw(sprintf("path thread.begin %s", who())) }
probe process("/extra/threads").end { saw(sprintf("path end %s", who())) }
probe end {
	foreach (k+ in ev)
		printf("%s: %d\n", k, ev[k])
	printf("target begins before it ends: %d\n", first["begin threads target"] < first["end threads target"])
	printf("threads begin before they end: %d\n", first["thread.begin threads target 1"] < first["thread.end threads target 1"])
}
"#;

/// Runs SCRIPT in a guest where the test program runs; `stpd_args` are stpd's (`-x $prog`
/// or `-c /extra/threads`), `start` what the guest does first.
fn run(module: &str, start: &str, stpd_args: &str, go: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let prog = threads_program(dir.path());
    // With -c the session ends with the command: stpd runs in the foreground.
    let run = if go.is_empty() {
        format!("stpd {stpd_args} \"$1\" > /tmp/out 2>&1\n")
    } else {
        format!(
            "stpd {stpd_args} \"$1\" > /tmp/out 2>&1 &\n\
             pid=$!\n\
             while ! lsmod | grep -q '^{module} '; do sleep 1; done\n\
             sleep 1\n\
             {go}\n\
             wait $pid\n"
        )
    };
    let sh = format!(
        "{start}\n{run}\
         echo \"rc: $?\"\n\
         echo '--- proc output'\n\
         cat /tmp/out\n\
         echo '--- proc end'\n"
    );
    let log = scenario_with(module, &[], SCRIPT, &sh, &[prog.as_path()]);
    let start = log
        .find("--- proc output\n")
        .unwrap_or_else(|| panic!("{log}"));
    let end = log.find("--- proc end").unwrap_or_else(|| panic!("{log}"));
    assert!(log[..start].contains("rc: 0\n"), "{log}");
    log[start + "--- proc output\n".len()..end].to_string()
}

/// What 4.8 saw of the program, as the script prints it (with `-x`: the target's begin is
/// the start's, for a process already running).
const WANT: &str = "\
begin threads child: 1
begin threads target: 1
end threads child: 1
end threads target: 1
path end child: 1
path end target: 1
path thread.begin target: 2
thread.begin threads target 1: 2
thread.end threads target 1: 2
target begins before it ends: 1
threads begin before they end: 1
";

/// `-x PID` on a program already running (it waits for /tmp/go): its begin fires when the
/// session starts, then its threads', its child's and their ends.
#[test]
fn lifecycle_probes_follow_a_running_x_target() {
    let out = run(
        "proc_x",
        "/extra/threads /tmp/go &\nprog=$!",
        "-x $prog",
        "touch /tmp/go\nwait $prog\nsleep 1\nkill -INT $pid",
    );
    assert_eq!(out, WANT, "{out}");
}

/// `-c`: the command's process exists (as stpd's child) when the session starts, so its
/// begin is stpd's; its exec ends stpd's image and begins the program's, and its exit ends
/// that.  SystemTap 4.8 sees the same begins, but at the end of a `-c` session it reports
/// the target's end twice more and loses a thread's end (`end threads target: 3`, `path
/// end target: 2`, `thread.end threads target 1: 1`); these are the events that happen.
#[test]
fn lifecycle_probes_follow_a_c_command() {
    let out = run("proc_c", "", "-c /extra/threads", "");
    let want = format!(
        "child exited with 3\nbegin stpd target: 1\n{}",
        WANT.replace("end threads target: 1\n", "end threads target: 2\n")
            .replace(
                "target begins before it ends: 1",
                "target begins before it ends: 0"
            )
    );
    assert_eq!(out, want, "{out}");
}

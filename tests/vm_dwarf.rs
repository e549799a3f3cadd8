//! The VM tier's DWARF tests: a test module's DWARF, the kernel's own (the debug vmlinux
//! tests/install-debuginfo.sh installs), kernel.statement addresses, and perfmon counters.

mod vmlib;

use std::process::Command;
use vmlib::*;

/// Acceptance 4 of the kernel-probe issue: a module built with -g, probed from its own
/// DWARF: module("...").function("...") reads a struct field through $req->field, a
/// line probe (@stapmod_test.c:N) reads a local, and .inline probes an inlined copy.  The function is probed by the symbol
/// DWARF's address falls in (GCC may have renamed it, e.g. stapmod_handle.isra.0).
#[test]
fn module_function_and_line_probes_read_dwarf_variables() {
    let (_dir, ko) = build_stapmod();
    let src = include_str!("vm/stapmod/stapmod_test.c");
    let line = src
        .lines()
        .position(|l| l.contains("STAPMOD_LINE"))
        .unwrap()
        + 1;
    let m = ko.display().to_string();
    let script = format!(
        "probe module(\"{m}\").function(\"stapmod_handle\") {{
             printf(\"handle id=%d len=%d name=%s\\n\", $req->id, $req->len, kernel_string($req->name))
             println($req$)
             printf(\"cast id=%d\\n\", @cast($req, \"stapmod_req\", \"{m}\")->id)
         }}
         probe module(\"{m}\").statement(\"stapmod_handle@stapmod_test.c:{line}\") {{
             printf(\"line {line} sum=%d\\n\", $sum)
         }}
         probe module(\"{m}\").function(\"stapmod_scale\").inline {{
             printf(\"scale v=%d k=%d\\n\", $v, $k)
         }}
         global plain
         probe module(\"{m}\").function(\"stapmod_scale\") {{ plain[$v, $k]++ }}
         global rets
         probe module(\"{m}\").function(\"stapmod_handle\").return {{
             rets[@entry($req->id), $return]++
         }}
         global writes
         probe kprobe.module(\"stapmod_test\").function(\"stapmod_write\") {{ writes++ }}
         probe end {{
             printf(\"writes %d\\n\", writes)
             foreach ([v, k] in plain) printf(\"plain scale v=%d k=%d %d\\n\", v, k, plain[v, k])
             foreach ([i, r] in rets) printf(\"handle(%d) returned %d\\n\", i, r)
         }}"
    );
    let log = scenario_with(
        "stapmod_probe",
        &[],
        &script,
        "ko=$1\n\
         insmod /extra/stapmod_test.ko || echo 'insmod failed'\n\
         stpd \"$ko\" > /tmp/out 2>&1 &\n\
         pid=$!\n\
         while [ ! -e /proc/stap_stapmod_probe ]; do sleep 1; done\n\
         sleep 1\n\
         echo 42 > /proc/stapmod_test\n\
         echo 7 > /proc/stapmod_test\n\
         kill -INT $pid\n\
         wait $pid\n\
         echo \"rc: $?\"\n\
         cat /tmp/out\n",
        &[&ko],
    );
    // "abc" sums to 294: the checksum is 294 * 1000 + id.
    let want = format!(
        "rc: 0\nhandle id=42 len=3 name=abc\n{{.id=42, .len=3, .name=\"abc\"}}\ncast id=42\nline {line} sum=294042\nscale v=42 k=3\nhandle id=7 len=3 name=abc\n{{.id=7, .len=3, .name=\"abc\"}}\ncast id=7\nline {line} sum=294007\nscale v=7 k=2\nwrites 2\nplain scale v=42 k=3 1\nplain scale v=7 k=2 1\nhandle(42) returned 294042\nhandle(7) returned 294007\n"
    );
    assert!(log.contains(&want), "{log}");
}

/// The kernel's own DWARF (the debug vmlinux of linux-image-KVER-dbg, which the test
/// setup installs): a line probe over every line of ksys_write reads the local `$ret`
/// after vfs_write returned, an always-inlined function (file_ppos) is probed at its
/// inlined copies and sees the same `struct file` as vfs_write, and a function named with
/// its source file shows SystemTap's `func@file:line` as its pp().
#[test]
fn kernel_dwarf_lines_locals_and_inlined_copies() {
    let listed = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-v", "-L"])
        .arg("kernel.statement(\"ksys_write@fs/read_write.c:*\")")
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr),
    );
    assert!(listed.status.success(), "{err}");
    assert!(err.contains("kernel DWARF: "), "{err}");
    assert!(
        out.lines().any(
            |l| l.starts_with("kernel.statement(\"ksys_write@fs/read_write.c:")
                && l.contains(" $ret:ssize_t")
        ),
        "{out}"
    );
    // Debian's own modules, from their debug files (installed beside the vmlinux): a plain
    // function, and one GCC split into a hot and a .cold part (DWARF ranges, no low_pc).
    for (point, var) in [
        (
            "module(\"xfs\").function(\"xfs_file_write_iter\")",
            " $iocb:struct kiocb*",
        ),
        (
            "module(\"nfsv3\").function(\"nfs3_proc_access\")",
            " $entry:struct nfs_access_entry*",
        ),
        // A module pattern: each matching module with DWARF (the nfs* modules without a
        // debug file are passed over).
        (
            "module(\"nfs*\").function(\"nfs3_proc_acc*\")",
            "module(\"nfsv3\").function(\"nfs3_proc_access\") $inode:struct inode*",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .args(["-r", &kver(), "-L", point])
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(
            listed.contains(var),
            "{point}: {listed}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // -v says which file served a module's DWARF: the debug file.
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-v", "-p2", "-e"])
        .arg("probe module(\"xfs\").function(\"xfs_file_write_iter\") { println($iocb) }")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Pass 2: module DWARF: xfs (/usr/lib/debug/lib/modules/"),
        "{err}"
    );
    // What the kernel refuses to kprobe (its blacklist, noinstr and entry text) is
    // refused in pass 2 by name, and left out of wildcards.
    for (f, why) in [
        ("do_int3", "the kprobe blacklist"),
        ("exc_int3", "noinstr text"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .args(["-r", &kver(), "-p2", "-e"])
            .arg(format!("probe kernel.function(\"{f}\") {{}}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{f}: {err}");
    }
    let all = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-l", "kprobe.function(\"*\")"])
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&all.stdout);
    assert!(all.lines().count() > 10000, "{all}");
    for f in ["do_int3", "exc_int3", "exc_page_fault", "ksys_write"] {
        let listed = all.contains(&format!("kprobe.function(\"{f}\")\n"));
        assert_eq!(listed, f == "ksys_write", "{f}");
    }
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        "global rets, inl, ifile, vfile, fcount, fpp
         probe kernel.statement(\"ksys_write@fs/read_write.c:*\") {
             if (@defined($ret)) { if (pid() == target()) rets[pp(), $ret]++ }
         }
         probe kernel.function(\"file_ppos\") {
             if (pid() == target()) { inl++; ifile[$file]++; ifunc = probefunc() }
         }
         global ifunc
         probe kernel.function(\"vfs_write\") { if (pid() == target() && $count == $1) vfile[$file]++ }
         probe kernel.function(\"ksys_write@fs/read_write.c\") {
             if (pid() == target()) { fcount[$count]++; fpp = pp() }
         }
         # do_sys_open is inlined into the open syscalls (into two callers at one call
         # site, each a probe of its own); there $flags is computed (the register or'ed
         # with O_LARGEFILE) where DWARF records it; user_string reads the path.
         global opens
         probe kernel.function(\"do_sys_open\") {
             if (@defined($flags) && @defined($filename)) {
                 if (pid() == target()) opens[user_string($filename), $flags & 3]++
             }
         }
         probe end {
             printf(\"opens /dev/zero rdonly %d /dev/null wronly %d\\n\",
                    opens[\"/dev/zero\", 0] > 0, opens[\"/dev/null\", 1] > 0)
             ok = 0
             foreach ([p, r] in rets) if (r == $1 && rets[p, r] == $2) ok++
             printf(\"a line sees ret=%d %d times: %d\\n\", $1, $2, ok > 0)
             foreach (f in vfile) printf(\"file_ppos saw vfs_write's file: %d\\n\", ifile[f] == vfile[f])
             printf(\"inline hits >= N: %d, probefunc %s\\n\", inl >= $2, ifunc)
             printf(\"ksys_write@file count %d seen %d times\\n\", $1, fcount[$1])
             printf(\"pp %s\\n\", fpp =~ \"^kernel.function\\\\(\\\"ksys_write@fs/read_write.c:[0-9]+\\\"\\\\)$\" ? \"ok\" : fpp)
         }",
        &SIZE.to_string(),
        &N.to_string(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "opens /dev/zero rdonly 1 /dev/null wronly 1\na line sees ret={s} {n} times: 1\nfile_ppos saw vfs_write's file: 1\ninline hits >= N: 1, probefunc file_ppos\nksys_write@file count {s} seen {n} times\npp ok\n",
            s = SIZE,
            n = N
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

/// The lock functions the runtime takes itself stay out of wildcards, and so do the lock
/// helpers DWARF shows inlined into them: `__raw_spin_lock_irq` inlined into
/// `_raw_spin_lock_irq` is an int3 on the kernel's spinlock path (it oopsed a 6.12 guest
/// while the kprobe optimizer took that lock).  Pass 2 only, from the kernel's DWARF.
#[test]
fn wildcards_leave_lock_functions_and_their_inlined_helpers_out() {
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-p2", "-e"])
        .arg(
            "global n probe kernel.function(\"*spin_lock*\") ?, kernel.function(\"*spin_unlock*\") ?, \
             kernel.function(\"*read_lock*\") ?, kernel.function(\"*write_lock*\") ?, \
             kernel.function(\"vfs_read\") { n++ }",
        )
        .output()
        .unwrap();
    let (listing, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{err}");
    let points: Vec<&str> = listing
        .lines()
        .filter(|l| l.starts_with("kernel."))
        .collect();
    assert!(points.iter().any(|p| p.contains("\"vfs_read")), "{listing}");
    // The kernel's DWARF served (its inlined copies are listed), not BTF alone.
    assert!(points.iter().any(|p| p.contains(").inline")), "{listing}");
    for p in &points {
        assert!(
            !p.contains("(\"__raw_")
                && !p.contains("(\"_raw_")
                && !p.contains("locking/spinlock.c"),
            "a lock function or a helper inlined into one is offered: {p}\n{listing}"
        );
    }
    // An address inside a lock function is refused too.
    let addr = image_address("_raw_spin_lock") + 4;
    let out = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-p2", "-e"])
        .arg(format!("probe kernel.statement({addr:#x}) {{ }}"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(1) && err.contains("is in _raw_spin_lock: "),
        "{err}"
    );
}

/// `FUNCTION@FILE` reads only the units of the kernel's DWARF that hold functions declared
/// in a matching file (from the index, before reading any unit): a file nothing is
/// declared in reads none (SystemTap's PR5049 case: `*@ket.c` must not match
/// `af_packet.c`), `vfs_read@fs/read_write.c` reads one, and a pattern that also names a
/// header (`mm/slab*` matches `mm/slab.h`) finds its inline functions in the units that
/// include it (`mm/slub.c`), not only in the units named like it.
#[test]
fn function_at_file_reads_only_the_units_that_declare_it() {
    let p2 = |point: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_stap"))
            .args(["-v", "-r", &kver(), "-p2", "-e"])
            .arg(format!("probe {point} {{ println(1) }}"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let read = err
            .lines()
            .find_map(|l| {
                let (n, rest) = l
                    .strip_prefix("Pass 2: kernel DWARF: ")?
                    .split_once(" of ")?;
                rest.ends_with(" units read")
                    .then(|| n.parse::<usize>().ok())?
            })
            .unwrap_or_else(|| panic!("no count of units read:\n{err}"));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
            read,
        )
    };
    let (code, _, err, read) = p2("kernel.function(\"*@ket.c\")");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("nothing in the kernel's DWARF matches '*@ket.c'"),
        "{err}"
    );
    assert_eq!(read, 0, "{err}");
    let (code, listing, err, read) = p2("kernel.function(\"vfs_read@fs/read_write.c\")");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        listing.contains("kernel.function(\"vfs_read@fs/read_write.c:"),
        "{listing}"
    );
    assert_eq!(read, 1, "{err}");
    let (code, listing, err, _) = p2("kernel.function(\"*@mm/slab*\").inline");
    assert_eq!(code, Some(0), "{err}");
    assert!(listing.contains("@mm/slub.c:"), "{listing}");
}

/// `kernel.statement(ADDR)` names an address of the image, probed by symbol and offset
/// whatever KASLR did (the guest boots with KASLR on), and reads `$count` from DWARF
/// there; `.absolute` (guru mode) probes the raw address, in a guest booted with
/// nokaslr, where the image's addresses are the running kernel's.  Without -g,
/// `.absolute` is refused.
#[test]
fn kernel_statement_addresses_relative_and_absolute() {
    let addr = image_address("ksys_write");
    let refused = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args(["-r", &kver(), "-p2", "-e"])
        .arg(format!("probe kernel.statement({addr:#x}).absolute {{}}"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("needs guru mode"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        &format!(
            "global counts
             probe kernel.statement({addr:#x}) {{ if (pid() == target()) counts[$count]++ }}
             probe end {{ printf(\"statement count %d seen %d times\\n\", $1, counts[$1]) }}"
        ),
        &SIZE.to_string(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("statement count {SIZE} seen {N} times\n"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = scenario_append(
        "stmt_abs",
        &["-g"],
        &format!(
            "global n
             probe kernel.statement({addr:#x}).absolute {{ if (execname() == \"dd\") n++ }}
             probe end {{ printf(\"absolute hits >= {N}: %d\\n\", n >= {N}) }}"
        ),
        &format!(
            "ko=$1\n\
             grep -q ' ksys_write$' /proc/kallsyms && grep ' ksys_write$' /proc/kallsyms | cut -d' ' -f1 | sed 's/^/kallsyms /'\n\
             stpd \"$ko\" > /tmp/out 2>&1 &\n\
             pid=$!\n\
             while [ ! -e /proc/stap_stmt_abs ]; do sleep 1; done\n\
             sleep 1\n\
             {}\n\
             kill -INT $pid\n\
             wait $pid\n\
             echo \"rc: $?\"\n\
             cat /tmp/out\n",
            dd()
        ),
        &[],
        "nokaslr",
    );
    assert!(log.contains(&format!("kallsyms {addr:016x}\n")), "{log}");
    assert!(
        log.contains(&format!("rc: 0\nabsolute hits >= {N}: 1\n")),
        "{log}"
    );
}

/// perfmon.counter("EVENT") opens a counting perf event on every CPU before the begin
/// probes and runs its probe once with `$counter`, which read_counter() reads on the CPU it
/// runs on: cpu-clock's count grows between dd's writes.  "cycles" needs a PMU, which QEMU's
/// TCG does not emulate: its probe is a registration WARNING, its body does not run, and
/// reading its handle is an ERROR; the session goes on.  An unknown event is a pass-2 error.
#[test]
fn perfmon_counters_count_and_read_counter_reads_them() {
    let bad = Command::new(env!("CARGO_BIN_EXE_stap"))
        .args([
            "-r",
            &kver(),
            "-p2",
            "-e",
            "probe perfmon.counter(\"cylces\") {}",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && err.contains("no such event (known: cycles, instructions"),
        "{err}"
    );
    let out = vm(&[
        "-c",
        &dd(),
        "-e",
        "global h = -1, hc = -1, last, up, n
         probe perfmon.counter(\"cpu-clock\") { h = $counter }
         probe perfmon.counter(\"cycles\") { hc = $counter }
         probe begin { printf(\"begin sees handle %d\\n\", h >= 0) }
         probe kernel.function(\"ksys_write\") {
             if (pid() == target()) {
                 v = read_counter(h)
                 if (v > last[cpu()]) up++
                 last[cpu()] = v
                 n++
             }
         }
         probe end {
             printf(\"cycles handle %d, grew at %d of %d writes\\n\", hc, up, n)
             println(read_counter(0))
         }",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        stdout,
        format!(
            "begin sees handle 1\ncycles handle -1, grew at {n} of {n} writes\n",
            n = N + 1
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARNING: probe perfmon.counter(\"cycles\") registration error"),
        "{stderr}"
    );
    assert!(
        stderr.contains("ERROR: read_counter(0): no such counter"),
        "{stderr}"
    );
}

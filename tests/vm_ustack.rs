//! The VM tier's user-stack tests: `print_ubacktrace()` and its kin in a probe on the
//! innermost of five functions of a test program built here without frame pointers
//! (tests/vm/proc/ustack.c, `-O2 -fomit-frame-pointer`), so only its `.eh_frame` unwinds
//! it; through the C library with `--ldd`, and ending at the library with a warning
//! without it; and from a kernel probe in the same process (its `write(2)`).
//!
//! The expected frames are computed from the program itself: each caller's return address
//! is the instruction after its `call` (objdump), a symbol's size reaches to the next
//! symbol (nm), as SystemTap 4.8 sizes them; the C library's frames are checked by name
//! (its offsets are its build's).  SystemTap 4.8 printed the same lines for the same
//! script and program in this guest on 6.1 (`stap -d .../libc.so.6`, and without it).

mod vmlib;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use vmlib::*;

/// The test program (built once: the tests run at once).
fn ustack() -> String {
    static BUILT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ustack");
            std::fs::create_dir_all(&dir).unwrap();
            let bin = dir.join("ustack");
            cc_program(
                "tests/vm/proc/ustack.c",
                &bin,
                &["-O2", "-g", "-fomit-frame-pointer"],
            );
            bin.display().to_string()
        })
        .clone()
}

fn run_tool(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(out.status.success(), "{tool} {args:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The program's function symbols: name to (address, size to the next symbol).
fn symbols(bin: &str) -> BTreeMap<String, (u64, u64)> {
    let mut list: Vec<(u64, String)> = run_tool("nm", &["-n", bin])
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 3 && matches!(w[1], "T" | "t"))
                .then(|| (u64::from_str_radix(w[0], 16).unwrap(), w[2].to_string()))
        })
        .collect();
    list.dedup_by_key(|(a, _)| *a);
    (0..list.len())
        .filter(|&i| i + 1 < list.len())
        .map(|i| (list[i].1.clone(), (list[i].0, list[i + 1].0 - list[i].0)))
        .collect()
}

/// The address of the instruction after the first call in `func` whose operand mentions
/// `callee`: the return address that call leaves.
fn return_address(bin: &str, func: &str, callee: &str) -> u64 {
    let text = run_tool("objdump", &["-d", "--no-show-raw-insn", bin]);
    let body = &text[text.find(&format!("<{func}>:\n")).unwrap()..];
    let lines: Vec<&str> = body.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    let at = lines
        .iter()
        .position(|l| l.contains("call") && l.contains(callee))
        .unwrap_or_else(|| panic!("no call of {callee} in {func}"));
    let next = lines[at + 1].trim_start();
    u64::from_str_radix(&next[..next.find(':').unwrap()], 16).unwrap()
}

/// The print_ubacktrace() line of a program frame at `addr` (in the file's numbering),
/// with the address itself left out (" ADDR : ...": where the program is loaded varies).
fn frame(bin: &str, syms: &BTreeMap<String, (u64, u64)>, name: &str, addr: u64) -> String {
    let (start, size) = syms[name];
    format!(" ADDR : {name}+{:#x}/{:#x} [{bin}]", addr - start, size)
}

/// A line with its address (" 0x... : " or " 0x... [") left out, and the offsets of the
/// C library's frames (its build's) too.
fn masked(line: &str) -> String {
    let mut l = line.to_string();
    if let Some(rest) = l.strip_prefix(" 0x") {
        let end = rest.find(' ').unwrap_or(rest.len());
        l = format!(" ADDR{}", &rest[end..]);
    }
    if l.contains("/libc.so.6") {
        if let Some(plus) = l.find('+') {
            let end = l[plus..].find(' ').map_or(l.len(), |e| plus + e);
            l.replace_range(plus..end, "+OFF");
        }
    }
    l
}

/// The lines between `--- NAME` and `--- end NAME` of a guest's log.
fn section<'a>(log: &'a str, name: &str) -> Vec<&'a str> {
    let from = format!("--- {name}\n");
    let a = log
        .find(&from)
        .unwrap_or_else(|| panic!("no {name} in {log}"))
        + from.len();
    let b = a + log[a..]
        .find(&format!("--- end {name}\n"))
        .unwrap_or_else(|| panic!("{log}"));
    log[a..b].lines().collect()
}

/// The guest's part: `pre`, then stpd with the module while the program runs once
/// (`ustack 2`), then stpd's status and output.
fn guest_sh(module: &str, bin: &str, pre: &str) -> String {
    format!(
        "{pre}\n\
         stpd \"$1\" > /tmp/out 2>&1 &\n\
         pid=$!\n\
         while ! lsmod | grep -q '^{module} '; do kill -0 $pid 2>/dev/null || break; sleep 1; done\n\
         sleep 1\n\
         {bin} 2\n\
         sleep 1\n\
         kill -INT $pid\n\
         wait $pid\n\
         echo \"rc: $?\"\n\
         cat /tmp/out\n\
         echo '--- done'\n"
    )
}

/// Runs `script` with stap's `args` while the program runs once, after the guest command
/// `pre`; stpd must end well.
fn run_after(module: &str, args: &[&str], script: &str, pre: &str) -> String {
    let bin = ustack();
    let sh = guest_sh(module, &bin, pre);
    let log = scenario_env(module, args, script, &sh, &[], &[("VM_HOSTBIN", &bin)]);
    assert!(log.contains("rc: 0\n"), "{log}");
    log
}

/// Runs `script` with stap's `args` while the program runs once.
fn run(module: &str, args: &[&str], script: &str) -> String {
    run_after(module, args, script, "")
}

/// With --ldd: the five program frames, main, the C library's two and _start, named and
/// sized; the same stack as addresses (ubacktrace(), ucallers(), ustack()), briefly, as a string;
/// the probed address's symbol, data and module; and the stack of the program's write(2)
/// from a kernel probe, through the C library's stdio.
#[test]
fn user_backtraces_name_every_frame_without_frame_pointers() {
    let bin = ustack();
    let syms = symbols(&bin);
    let script = format!(
        r#"
probe process("{bin}").function("leaf") {{
  println("--- full"); print_ubacktrace(); println("--- end full")
  printf("--- words\n%s\n%s\n%s\n0x%x %d\n%s\n--- end words\n", ubacktrace(), ucallers(2),
         ucallers(0), ustack(1), ustack(0) == uaddr(), sprint_usyms(ucallers(1)))
  println("--- brief"); print_ubacktrace_brief(); println("--- end brief")
  printf("--- short\n%s--- end short\n", sprint_ubacktrace())
  printf("--- here\n%s\n%s\n%s\n%s\n--- end here\n", usymname(uaddr()), usymdata(uaddr()),
         umodname(uaddr()), usymdata(12345))
}}
probe kernel.function("ksys_write") {{
  if (pid() == target() || execname() == "ustack") {{
    println("--- kernel"); print_ubacktrace(); println("--- end kernel")
  }}
}}
"#
    );
    let log = run("ustack_ldd", &["--ldd"], &script);
    let ret = |f: &str, callee: &str| return_address(&bin, f, callee);
    let program = [
        frame(&bin, &syms, "leaf", syms["leaf"].0),
        frame(&bin, &syms, "level4", ret("level4", "<leaf>")),
        frame(&bin, &syms, "level3", ret("level3", "<level4>")),
        frame(&bin, &syms, "level2", ret("level2", "<level3>")),
        frame(&bin, &syms, "level1", ret("level1", "<level2>")),
        frame(&bin, &syms, "main", ret("main", "<level1>")),
    ];
    let libc = |name: &str| {
        let path = std::fs::canonicalize("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        format!(" ADDR : {name}+OFF [{}]", path.display())
    };
    let start = frame(&bin, &syms, "_start", ret("_start", "call"));
    let mut full: Vec<String> = program.to_vec();
    full.push(libc("__libc_start_call_main"));
    full.push(libc("__libc_start_main@GLIBC_2.2.5"));
    full.push(start.clone());
    let got: Vec<String> = section(&log, "full").iter().map(|l| masked(l)).collect();
    assert_eq!(got, full, "{log}");

    // The same addresses as the printed frames, each followed by a space.
    let addrs: Vec<&str> = section(&log, "full")
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let words = section(&log, "words");
    assert_eq!(words[0], format!("{} ", addrs.join(" ")), "{log}");
    assert_eq!(words[1], addrs[..3].join(" "), "{log}");
    assert_eq!(words[2], addrs[0], "{log}");
    assert_eq!(words[3], format!("{} 1", addrs[1]), "{log}");
    // sprint_usyms(): whole lines, each ending in a newline.
    assert_eq!(words.len(), 7, "{log}");
    assert_eq!(
        words[4..6].iter().map(|l| masked(l)).collect::<Vec<_>>(),
        program[..2],
        "{log}"
    );

    // Brief: "symbol+0xOFF"; short: "symbol+0xOFF [file]".
    let want: Vec<String> = full
        .iter()
        .map(|l| l[" ADDR : ".len()..].split(" [").next().unwrap())
        .map(|s| s.split('/').next().unwrap().to_string())
        .collect();
    let got: Vec<String> = section(&log, "brief")
        .iter()
        .zip(&full)
        .map(|(l, f)| match f.contains("/libc.so.6") {
            true => format!("{}+OFF", l.split('+').next().unwrap()),
            false => l.to_string(),
        })
        .collect();
    assert_eq!(got, want, "{log}");
    let short = section(&log, "short");
    assert_eq!(short.len(), full.len(), "{log}");
    assert_eq!(short[0], "leaf+0x0 [ustack]", "{log}");
    assert!(short[6].starts_with("__libc_start_call_main+0x"), "{log}");
    assert!(short[6].ends_with(" [libc.so.6]"), "{log}");

    let here = section(&log, "here");
    let leaf = syms["leaf"];
    assert_eq!(
        here,
        [
            "leaf".to_string(),
            format!("leaf+0x0/{:#x} [{bin}]", leaf.1),
            bin.clone(),
            "0x3039".to_string()
        ],
        "{log}"
    );

    // write(2) from printf: the C library's stdio frames, then main after its printf call.
    let kernel: Vec<String> = section(&log, "kernel").iter().map(|l| masked(l)).collect();
    let main_at = kernel
        .iter()
        .position(|l| l.contains(" : main+"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(main_at >= 2, "{log}");
    assert_eq!(kernel[0], libc("write"), "{log}");
    assert!(
        kernel[1..main_at]
            .iter()
            .all(|l| l.ends_with("/libc.so.6]")),
        "{log}"
    );
    assert_eq!(
        kernel[main_at..],
        [
            frame(&bin, &syms, "main", ret("main", "<printf@plt>")),
            libc("__libc_start_call_main"),
            libc("__libc_start_main@GLIBC_2.2.5"),
            start
        ],
        "{log}"
    );
}

/// Without the C library's unwind data the stack ends at its first frame there, named by
/// the library's path, the offset from where it is mapped and the size of its image (its
/// program headers'); the session warns once, naming the -d option that would go on; and
/// ustack() of a level past its end is an error.
#[test]
fn a_stack_ends_where_unwind_data_ends_with_a_warning() {
    let bin = ustack();
    let syms = symbols(&bin);
    let script = format!(
        r#"probe process("{bin}").function("level3") {{ println("--- full"); print_ubacktrace(); println("--- end full") }}
probe process("{bin}").function("leaf") {{
  print_ubacktrace()
  try {{ println(ustack(30)) }} catch (m) {{ printf("--- err\n%s\n--- end err\n", m) }}
}}"#
    );
    let log = run("ustack_bare", &[], &script);
    let libc = std::fs::canonicalize("/lib/x86_64-linux-gnu/libc.so.6").unwrap();
    let libc = libc.display().to_string();
    let headers = run_tool("readelf", &["-lW", &libc]);
    let image = headers
        .lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
            (hex(w[2]) + hex(w[5]) + 0xfff) & !0xfff
        })
        .max()
        .unwrap();
    let ret = |f: &str, callee: &str| return_address(&bin, f, callee);
    let full = section(&log, "full");
    let want = [
        frame(&bin, &syms, "level3", syms["level3"].0),
        frame(&bin, &syms, "level2", ret("level2", "<level3>")),
        frame(&bin, &syms, "level1", ret("level1", "<level2>")),
        frame(&bin, &syms, "main", ret("main", "<level1>")),
    ];
    assert_eq!(
        full[..4].iter().map(|l| masked(l)).collect::<Vec<_>>(),
        want,
        "{log}"
    );
    assert_eq!(full.len(), 5, "{log}");
    let last = full[4];
    let (addr, rest) = last.trim_start().split_once(" [").unwrap();
    let addr = u64::from_str_radix(&addr[2..], 16).unwrap();
    let rest = rest
        .strip_prefix(&format!("{libc}+0x"))
        .unwrap_or_else(|| panic!("{log}"));
    let (off, size) = rest.trim_end_matches(']').split_once("/0x").unwrap();
    let off = u64::from_str_radix(off, 16).unwrap();
    assert_eq!(u64::from_str_radix(size, 16).unwrap(), image, "{log}");
    assert!(off < image && (addr - off) & 0xfff == 0, "{log}");
    let warning = format!("WARNING: Missing unwind data for a module, rerun with 'stap -d {libc}'");
    assert_eq!(log.matches(&warning).count(), 1, "{log}");
    let err = section(&log, "err");
    assert!(
        err[0].starts_with("reached end of stack before unwinding to level 30"),
        "{log}"
    );
}

/// A file that is not the one the translator read (here: longer) names no frame: the
/// session says so at load, and its frames are printed as a file without tables.
#[test]
fn a_file_changed_since_translation_names_no_frame() {
    let bin = ustack();
    let script =
        format!(r#"probe process("{bin}").function("leaf") {{ print(sprint_ubacktrace()) }}"#);
    let log = run_after("ustack_changed", &[], &script, &format!("echo >> {bin}"));
    let warning = format!("WARNING: {bin} changed since translation: its frames are not named");
    assert_eq!(log.matches(&warning).count(), 1, "{log}");
    let name = bin.rsplit('/').next().unwrap();
    let frame = log
        .lines()
        .find(|l| l.contains(&format!(" [{name}+0x")))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(frame.starts_with("0x"), "{log}");
    assert!(!log.contains("leaf+0x"), "{log}");
}

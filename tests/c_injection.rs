//! Script text reaches generated C only inside escaped string literals: strings built to
//! break out of a C comment, a string literal or a line (`*/`, `"`, `\`, newlines, `??/`,
//! digraphs, NUL, non-UTF-8 bytes) go through every place a string can appear in a script
//! (regex, printf format and delimiter, literals, global initialisers, `@define` bodies,
//! `$1`/`@1` arguments, file names, `-D`), and the generated C must (1) define nothing
//! outside its literals and comments that the payload names, (2) compile, without the
//! payload's symbols in the program, and (3) print the payload intact.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

/// Every payload names `stp_pwned`: a C identifier that must never be code.
const PAYLOADS: &[&[u8]] = &[
    b"*/ int stp_pwned_a; /*",
    b"\"; int stp_pwned_b; \"",
    b"\\\"); int stp_pwned_c; (\\\"",
    b"??/\nint stp_pwned_d;",
    b"%> int stp_pwned_e; <% <: :> %:",
    b"\n#define stp_pwned_f 1\n",
    b"a\0int stp_pwned_g;",
    b"\xff\xfe int stp_pwned_h; \x80",
    b"x\\",
    b"*/\nint stp_pwned_i; /*",
    b"\\\nint stp_pwned_j;",
];

/// A payload as the body of a SystemTap string literal.
fn stp_literal(p: &[u8]) -> String {
    let mut s = String::new();
    for &b in p {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\{:03o}", b)),
        }
    }
    s
}

/// The C text outside string and character literals and comments.
fn code_only(c: &str) -> String {
    let b = c.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
                out.push(' ');
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push_str("\"\"");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

fn stap(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stap"))
        .env_remove("SYSTEMTAP_TAPSET")
        .env(
            "SYSTEMTAP_DIR",
            std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-injection-cache"),
        )
        .args(args)
        .output()
        .expect("run stap")
}

/// A script with the payload in one place: (what, script, extra argument).  Every one
/// prints the payload, but for the regex (most payloads are not valid patterns, an error
/// at start-up) and an argument that the command line cannot carry as it is.
fn places(p: &[u8]) -> Vec<(&'static str, String, Option<Vec<u8>>)> {
    let l = stp_literal(p);
    // As a pattern, with the regex operators quoted (an invalid pattern is a pass-2 error):
    // `*/` stays `\*/`, which still ends a C comment.
    let mut quoted = Vec::new();
    for &b in p {
        if b"\\*+?()[]{}|^$.".contains(&b) {
            quoted.push(b'\\');
        }
        quoted.push(b);
    }
    let re = stp_literal(&quoted);
    vec![
        ("regex", format!("probe begin {{ if (execname() =~ \"{re}\") println(0); exit() }}"), None),
        ("printf format", format!("probe begin {{ printf(\"{}\"); println(\"\"); exit() }}", l.replace('%', "%%")), None),
        ("printd delimiter", format!("probe begin {{ printd(\"{l}\", \"\", \"\"); println(\"\"); exit() }}"), None),
        ("string literal", format!("probe begin {{ println(\"{l}\"); exit() }}"), None),
        ("sprintf", format!("probe begin {{ s = sprintf(\"%s\", \"{l}\"); println(s); exit() }}"), None),
        ("global initialiser", format!("global g = \"{l}\" probe begin {{ println(g); exit() }}"), None),
        ("@define body", format!("@define X %( \"{l}\" %) probe begin {{ println(@X); exit() }}"), None),
        ("error message", format!("probe begin {{ try {{ error(\"{l}\") }} catch (m) {{ }} println(\"{l}\"); exit() }}"), None),
        ("@1 argument", "probe begin { println(@1); exit() }".to_string(), Some(p.to_vec())),
        ("comparison with pp()", format!("probe begin {{ if (pp() == \"{l}\") println(0); println(\"{l}\"); exit() }}"), None),
    ]
}

/// What the program prints for the payload: SystemTap strings end at a NUL.
fn printed(p: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = p.iter().copied().take_while(|b| *b != 0).collect();
    v.push(b'\n');
    v
}

fn check_c(what: &str, c: &str) -> Result<(), String> {
    if code_only(c).contains("stp_pwned") {
        return Err(format!("{what}: the payload is code in the generated C"));
    }
    Ok(())
}

#[test]
fn hostile_strings_stay_inside_c_literals_everywhere() {
    let mut failures = Vec::new();
    let mut built = 0;
    for p in PAYLOADS {
        for (what, script, arg) in places(p) {
            if arg.is_some() && p.contains(&0) {
                continue; // no NUL in argv
            }
            let mut args: Vec<&std::ffi::OsStr> =
                vec!["-p3".as_ref(), "-e".as_ref(), script.as_ref()];
            if let Some(a) = &arg {
                args.push(std::ffi::OsStr::from_bytes(a));
            }
            let out = stap(&args);
            let c = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() {
                failures.push(format!(
                    "{what} {:?}: pass 3 failed:\n{}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
            if let Err(e) = check_c(what, &c) {
                failures.push(format!("{e} ({:?})", String::from_utf8_lossy(p)));
            }
            // Build it (user runtime, -Werror) and run it: the payload comes out intact.
            let mut args: Vec<&std::ffi::OsStr> =
                vec!["--runtime=user".as_ref(), "-e".as_ref(), script.as_ref()];
            if let Some(a) = &arg {
                args.push(std::ffi::OsStr::from_bytes(a));
            }
            let runs = what != "regex"
                && !(arg.is_some() && (p.contains(&0) || std::str::from_utf8(p).is_err()));
            if !runs {
                args.insert(1, "-p4".as_ref());
            }
            let run = stap(&args);
            built += 1;
            if !runs {
                if !run.status.success() {
                    failures.push(format!(
                        "{what} {:?}: did not build:\n{}",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(&run.stderr)
                    ));
                }
                continue;
            }
            if !run.status.success() || run.stdout != printed(p) {
                failures.push(format!(
                    "{what} {:?}: printed {:?} (status {:?}), expected {:?}\n{}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(&run.stdout),
                    run.status.code(),
                    String::from_utf8_lossy(&printed(p)),
                    String::from_utf8_lossy(&run.stderr)
                ));
            }
        }
    }
    assert!(built >= PAYLOADS.len() * 9);
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn hostile_file_names_stay_out_of_the_code() {
    let dir = tempfile::tempdir().unwrap();
    // A path whose components spell a comment's end, code, and a comment's start.
    let script = dir
        .path()
        .join("x*")
        .join(" int stp_pwned_file; ")
        .join("*.stp");
    std::fs::create_dir_all(script.parent().unwrap()).unwrap();
    std::fs::write(&script, "probe begin { println(\"ok\"); exit() }\n").unwrap();
    let out = stap(&["-p3".as_ref(), script.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_c("file name", &String::from_utf8_lossy(&out.stdout)).unwrap();
    let run = stap(&["--runtime=user".as_ref(), script.as_os_str()]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The program defines nothing the path named.
    let kept = stap(&[
        "--runtime=user".as_ref(),
        "-p4".as_ref(),
        script.as_os_str(),
    ]);
    let bin = String::from_utf8_lossy(&kept.stdout).trim().to_string();
    assert!(
        Path::new(&bin).is_file(),
        "{}",
        String::from_utf8_lossy(&kept.stderr)
    );
    let nm = Command::new("nm").arg(&bin).output().unwrap();
    assert!(!String::from_utf8_lossy(&nm.stdout).contains("pwned"));
}

#[test]
fn dash_d_cannot_open_a_line_or_a_comment() {
    for bad in [
        "X=1\n#define stp_pwned 1",
        "X=1 /* comment",
        "X=1 // rest",
        "X=a\\",
        "1X=1",
        "X-Y=1",
    ] {
        let out = stap(&[
            "-p3".as_ref(),
            "-D".as_ref(),
            bad.as_ref(),
            "-e".as_ref(),
            "probe begin { exit() }".as_ref(),
        ]);
        assert_eq!(out.status.code(), Some(1), "-D {bad:?} was accepted");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Invalid -D"),
            "{bad:?}"
        );
    }
    // A value that is only a macro's text: defined, never used, nothing in the program.
    let ok = "X=*/ int stp_pwned_d; ";
    let out = stap(&[
        "--runtime=user".as_ref(),
        "-p4".as_ref(),
        "-D".as_ref(),
        ok.as_ref(),
        "-e".as_ref(),
        "probe begin { exit() }".as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let nm = Command::new("nm").arg(&bin).output().unwrap();
    assert!(!String::from_utf8_lossy(&nm.stdout).contains("pwned"));
}

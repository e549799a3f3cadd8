//! Printing diagnostics and per-pass statistics to stderr.

use crate::cli::DiagFormat;
use stap_syntax::diag::{Diagnostic, Pass, Severity};
use stap_syntax::source::SourceMap;
use std::io::Write;
use std::time::Instant;

/// Prints diagnostics in the chosen format and counts the errors.
pub struct Reporter {
    format: DiagFormat,
    /// Errors printed so far, by pass.
    pub parse_errors: usize,
    /// Other errors printed so far.
    pub other_errors: usize,
}

impl Reporter {
    /// A reporter printing in `format`.
    pub fn new(format: DiagFormat) -> Reporter {
        Reporter {
            format,
            parse_errors: 0,
            other_errors: 0,
        }
    }

    /// Prints one diagnostic.
    pub fn emit(&mut self, sm: &SourceMap, d: &Diagnostic) {
        if d.severity == Severity::Error {
            if d.pass == Pass::Parse {
                self.parse_errors += 1;
            } else {
                self.other_errors += 1;
            }
        }
        let mut err = std::io::stderr().lock();
        let _ = match self.format {
            DiagFormat::Text => write!(err, "{}", d.render_text(sm)),
            DiagFormat::Json => writeln!(err, "{}", d.render_json(sm)),
        };
    }

    /// Prints a `WARNING:` line with no source location.
    pub fn warning(&mut self, msg: &str) {
        let mut err = std::io::stderr().lock();
        let _ = match self.format {
            DiagFormat::Text => writeln!(err, "WARNING: {}", msg),
            DiagFormat::Json => writeln!(
                err,
                "{}",
                serde_json::json!({"severity": "warning", "pass": "session", "code": "session.warning",
                    "message": msg, "file": null, "line": null, "column": null, "end_line": null,
                    "end_column": null, "labels": [], "notes": []})
            ),
        };
    }

    /// SystemTap's closing count, e.g. `1 parse error.` (text mode only).
    pub fn summary(&self) {
        if self.format == DiagFormat::Text && self.parse_errors > 0 {
            let s = if self.parse_errors == 1 { "" } else { "s" };
            eprintln!("{} parse error{}.", self.parse_errors, s);
        }
    }
}

/// Time and memory use of one pass, printed as SystemTap's `-v` lines.
pub struct PassTimer {
    start: Instant,
    usr: f64,
    sys: f64,
}

fn rusage() -> (f64, f64) {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| {
                tv.tv_sec() as f64 * 1000.0 + tv.tv_usec() as f64 / 1000.0
            };
            (t(u.user_time()), t(u.system_time()))
        }
        Err(_) => (0.0, 0.0),
    }
}

fn memory() -> String {
    // statm: size resident shared text lib data dt, in pages.
    let page = 4;
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let f: Vec<u64> = s
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() < 6 {
        return "?virt/?res/?shr/?data kb".to_string();
    }
    format!(
        "{}virt/{}res/{}shr/{}data kb",
        f[0] * page,
        f[1] * page,
        f[2] * page,
        f[5] * page
    )
}

impl PassTimer {
    /// Starts timing.
    pub fn start() -> PassTimer {
        let (usr, sys) = rusage();
        PassTimer {
            start: Instant::now(),
            usr,
            sys,
        }
    }

    /// `using ... kb, in Nusr/Nsys/Nreal ms.`
    pub fn finish(&self) -> String {
        let (usr, sys) = rusage();
        format!(
            "using {}, in {}usr/{}sys/{}real ms.",
            memory(),
            (usr - self.usr).round() as i64,
            (sys - self.sys).round() as i64,
            self.start.elapsed().as_millis()
        )
    }
}

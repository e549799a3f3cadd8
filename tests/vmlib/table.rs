//! The end-to-end table's files (`tests/e2e/*.stpt`, format in tests/e2e/README.md): the
//! cases, their expectations against a run, what SystemTap 4.8 made of each (the
//! `systemtap:` line the recorder in tests/systemtap.rs writes), and the VM console's
//! per-case results.

use std::path::Path;

/// One case of the table.
#[derive(Debug, Default, Clone)]
pub struct Case {
    pub file: String,
    pub name: String,
    pub runtimes: Vec<String>,
    pub args: Vec<String>,
    pub exit: i32,
    pub script: String,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub stderr_contains: Vec<String>,
    /// Stderr lines starting with one of these are allowed anywhere (`tolerate:` lines).
    pub tolerate: Vec<String>,
    /// The `systemtap:` line: where the expectations came from.
    pub systemtap: Option<String>,
    /// The `pending:` line: why this translator does not yet do what SystemTap does (the
    /// case's tests are ignored: `cargo test -- --ignored` runs them).
    pub pending: Option<String>,
    /// `needs: dwarf`: the case reads what only the kernel's DWARF says (a function BTF
    /// leaves out); on a target kernel without it installed the case is ignored.
    pub needs_dwarf: bool,
    /// `--- stdin`: what the runner's standard input reads (kernel tier; else /dev/null).
    pub stdin: Option<String>,
}

/// What the `systemtap:` line of a case says.
#[derive(Debug, PartialEq, Eq)]
pub enum Provenance {
    /// `systemtap: HASH ok`: stdout and exit status are SystemTap 4.8's, recorded for the
    /// script and arguments whose hash is HASH.
    Recorded(String),
    /// `systemtap: HASH refused`: SystemTap 4.8 refuses the script too (at pass 1 or 2).
    Refused(String),
    /// `systemtap: differs: REASON`: SystemTap 4.8 prints something else and is wrong
    /// (REASON says why, and which newer SystemTap fixed it); the expectation is by hand.
    Differs(String),
    /// `systemtap: n/a: REASON`: not something SystemTap 4.8 can run (REASON says why).
    NotApplicable(String),
    /// No `systemtap:` line, or one this does not read.
    Missing,
}

impl Case {
    /// What the case's `systemtap:` line says.
    pub fn provenance(&self) -> Provenance {
        let Some(line) = self.systemtap.as_deref() else {
            return Provenance::Missing;
        };
        if let Some(r) = line.strip_prefix("differs:") {
            return Provenance::Differs(r.trim().to_string());
        }
        if let Some(r) = line.strip_prefix("n/a:") {
            return Provenance::NotApplicable(r.trim().to_string());
        }
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            [h, "ok"] => Provenance::Recorded(h.to_string()),
            [h, "refused"] => Provenance::Refused(h.to_string()),
            _ => Provenance::Missing,
        }
    }

    /// The hash a recording is made for: the script and the arguments (FNV-1a, 64 bits).
    pub fn hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut text = format!("{}\0{}", self.script, self.args.join(" "));
        if let Some(i) = &self.stdin {
            text.push_str(&format!("\0{}", i));
        }
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{:016x}", h)
    }

    /// Whether the case runs on `runtime` ("user" or "kernel").
    pub fn runs_in(&self, runtime: &str) -> bool {
        self.runtimes.iter().any(|r| r == runtime)
    }

    /// Whether the case expects a refusal at translation.
    pub fn expects_refusal(&self) -> bool {
        self.stderr_contains
            .iter()
            .any(|l| l.contains("semantic error") || l.contains("parse error"))
    }
}

/// The section of SystemTap's own stderr lines, written by the recorder: each must appear
/// in ours, as a `--- stderr contains` line must.
pub const SYSTEMTAP_STDERR: &str = "stderr from systemtap";

/// Stderr without the lines a case tolerates.
pub fn strip_tolerated(c: &Case, stderr: &str) -> String {
    stderr
        .split_inclusive('\n')
        .filter(|l| !c.tolerate.iter().any(|t| l.starts_with(t.as_str())))
        .collect()
}

/// One case as written: its header lines (the `=== NAME` line first) and its sections
/// (`--- NAME` and the block's text), so that a file can be rewritten line for line.
#[derive(Debug, Clone)]
pub struct RawCase {
    pub header: Vec<String>,
    pub sections: Vec<(String, String)>,
}

/// A table file as written: the text before the first case, and the cases.
#[derive(Debug, Clone)]
pub struct RawFile {
    pub preamble: String,
    pub cases: Vec<RawCase>,
}

impl RawFile {
    /// Splits `text` into cases.  The blank line before a case header separates cases and
    /// belongs to no block.
    pub fn parse(text: &str) -> RawFile {
        let mut file = RawFile {
            preamble: String::new(),
            cases: Vec::new(),
        };
        let mut buf = String::new();
        let mut in_section = false;
        let close = |file: &mut RawFile, buf: &mut String, in_section: bool| {
            if let Some(c) = file.cases.last_mut() {
                if in_section {
                    c.sections.last_mut().unwrap().1 = std::mem::take(buf);
                }
            } else {
                file.preamble = std::mem::take(buf);
            }
        };
        for line in text.lines() {
            if let Some(sec) = line.strip_prefix("--- ").filter(|_| !file.cases.is_empty()) {
                close(&mut file, &mut buf, in_section);
                let c = file.cases.last_mut().unwrap();
                c.sections.push((sec.trim().to_string(), String::new()));
                in_section = true;
                continue;
            }
            if line.starts_with("=== ") {
                if buf.ends_with("\n\n") || buf == "\n" {
                    buf.pop();
                }
                close(&mut file, &mut buf, in_section);
                file.cases.push(RawCase {
                    header: vec![line.to_string()],
                    sections: Vec::new(),
                });
                in_section = false;
                continue;
            }
            match file.cases.last_mut() {
                Some(c) if !in_section => c.header.push(line.to_string()),
                _ => {
                    buf.push_str(line);
                    buf.push('\n');
                }
            }
        }
        if buf.ends_with("\n\n") || buf == "\n" {
            buf.pop();
        }
        close(&mut file, &mut buf, in_section);
        file
    }

    /// The file's text: [`RawFile::parse`] of it gives `self` back.
    pub fn render(&self) -> String {
        let mut out = self.preamble.clone();
        for (i, c) in self.cases.iter().enumerate() {
            if i > 0 || !out.is_empty() {
                out.push('\n');
            }
            for h in &c.header {
                out.push_str(h);
                out.push('\n');
            }
            for (name, text) in &c.sections {
                out.push_str("--- ");
                out.push_str(name);
                out.push('\n');
                out.push_str(text);
            }
        }
        out
    }

    /// Case `c` read from its raw form (in file `file`).
    pub fn case(file: &str, raw: &RawCase) -> Case {
        let name = raw.header[0].trim_start_matches("=== ").trim().to_string();
        let mut c = Case {
            file: file.to_string(),
            name,
            runtimes: vec!["user".into(), "kernel".into()],
            ..Default::default()
        };
        for line in &raw.header[1..] {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k.trim() {
                "runtimes" => c.runtimes = v.split_whitespace().map(String::from).collect(),
                "args" => c.args = split_words(v),
                "exit" => c.exit = v.trim().parse().expect("exit status"),
                "tolerate" => c.tolerate.push(v.trim().to_string()),
                "systemtap" => c.systemtap = Some(v.trim().to_string()),
                "pending" => c.pending = Some(v.trim().to_string()),
                "needs" => c.needs_dwarf = v.split_whitespace().any(|w| w == "dwarf"),
                _ => {}
            }
        }
        for (sec, text) in &raw.sections {
            match sec.as_str() {
                "script" => c.script = text.clone(),
                "stdout" => c.stdout = Some(text.clone()),
                "stdin" => c.stdin = Some(text.clone()),
                "stderr" => c.stderr = Some(text.clone()),
                "stderr contains" | SYSTEMTAP_STDERR => c
                    .stderr_contains
                    .extend(text.lines().map(String::from).filter(|l| !l.is_empty())),
                other => panic!("{}: unknown section '--- {}'", file, other),
            }
        }
        c
    }

    /// Sets header key `key` of `raw` to `value` (replacing its line, or adding one after
    /// the last header line that is not a comment).
    pub fn set_header(raw: &mut RawCase, key: &str, value: &str) {
        let line = format!("{}: {}", key, value);
        let is_key = |h: &String| h.split_once(':').is_some_and(|(k, _)| k.trim() == key);
        if let Some(h) = raw.header.iter_mut().find(|h| is_key(h)) {
            *h = line;
        } else {
            let at = raw
                .header
                .iter()
                .rposition(|h| !h.trim().is_empty())
                .map_or(1, |i| i + 1);
            raw.header.insert(at, line);
        }
    }

    /// Removes header key `key` of `raw`.
    pub fn remove_header(raw: &mut RawCase, key: &str) {
        raw.header.retain(|h| {
            !h.split_once(':').is_some_and(|(k, _)| k.trim() == key) || h.starts_with("===")
        });
    }

    /// Sets the text of section `name` of `raw` (adding the section after the script).
    pub fn set_section(raw: &mut RawCase, name: &str, text: &str) {
        if let Some(s) = raw.sections.iter_mut().find(|(n, _)| n == name) {
            s.1 = text.to_string();
        } else {
            let at = raw
                .sections
                .iter()
                .position(|(n, _)| n == "script")
                .map_or(0, |i| i + 1);
            raw.sections
                .insert(at, (name.to_string(), text.to_string()));
        }
    }
}

/// The cases of table file `file`.
pub fn parse(file: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(file).unwrap();
    let fname = file.file_name().unwrap().to_string_lossy().into_owned();
    RawFile::parse(&text)
        .cases
        .iter()
        .map(|raw| RawFile::case(&fname, raw))
        .collect()
}

/// Every case of the table (`tests/e2e/*.stpt`).
pub fn all_cases() -> Vec<Case> {
    super::table_files("e2e", "stpt")
        .iter()
        .flat_map(|f| parse(f))
        .collect()
}

/// A run's exit status (`status` says whose), stdout and stderr against the case's
/// expectations.
pub fn expected(
    c: &Case,
    code: Option<i32>,
    status: &str,
    stdout: &str,
    stderr: &str,
) -> Result<(), String> {
    let stderr = &strip_tolerated(c, stderr);
    let mut problems = Vec::new();
    if code != Some(c.exit) {
        problems.push(format!("{}, expected {}", status, c.exit));
    }
    if let Some(want) = &c.stdout {
        if stdout != want {
            problems.push(format!(
                "stdout differs:\n--- expected\n{}--- got\n{}",
                want, stdout
            ));
        }
    }
    match &c.stderr {
        Some(want) if stderr != want => problems.push(format!(
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

/// One case's result in the VM log: stdout, stderr, the exit status, and notes.
#[derive(Debug, Default, Clone)]
pub struct VmResult {
    pub stdout: String,
    pub stderr: String,
    pub status: Option<i32>,
    pub notes: Vec<String>,
}

/// Splits the VM's serial log into each case's result (by the guest's markers: stpd writes
/// error lines prefixed with `=E= `, and `=== NONL` before a last line without a newline;
/// a scenario may print its stdout as hex bytes after `=== HEX`, one line of them per
/// line of `od -An -tx1 -v`).
pub fn vm_results(log: &str) -> std::collections::HashMap<String, VmResult> {
    let mut out = std::collections::HashMap::new();
    let mut cur: Option<VmResult> = None;
    let mut name = String::new();
    let mut in_case = false;
    let mut no_newline = false;
    let mut hex: Option<Vec<u8>> = None;
    for line in log.replace('\r', "").lines() {
        if let Some(n) = line.strip_prefix("=== CASE ") {
            name = n.to_string();
            in_case = false;
            cur = Some(VmResult::default());
        } else if line.starts_with("=== STDOUT ") {
            in_case = true;
        } else if line == "=== NONL" {
            no_newline = true;
        } else if line == "=== HEX" {
            hex = Some(Vec::new());
        } else if line == "=== HEX-END" {
            if let (Some(r), Some(bytes)) = (cur.as_mut(), hex.take()) {
                r.stdout.push_str(&String::from_utf8_lossy(&bytes));
            }
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
            let hex_bytes = hex.as_mut().and_then(|h| {
                let bytes: Option<Vec<u8>> = line
                    .split_whitespace()
                    .map(|b| u8::from_str_radix(b, 16).ok())
                    .collect();
                bytes.map(|b| (h, b))
            });
            if let Some((h, bytes)) = hex_bytes {
                h.extend(bytes);
            } else if let Some(note) = line.strip_prefix("=== ") {
                r.notes.push(note.to_string());
            } else if let Some(e) = line.strip_prefix("=E= ").filter(|_| in_case) {
                r.stderr.push_str(e);
                r.stderr.push('\n');
            } else if in_case && hex.is_none() {
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

/// The words of an `args:` line: blanks separate them, and single quotes keep a word's
/// blanks (`-c 'dd bs=4096 count=8'` is two words).
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                cur.get_or_insert_with(String::new);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    words
}

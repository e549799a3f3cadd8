//! The command line: SystemTap's option letters and meanings (`man stap`).

use clap::{ArgAction, Parser, ValueEnum};

/// Which backend runs the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Runtime {
    /// A kernel module (the default).
    Kernel,
    /// A native user-space executable (begin/end/error/never and timer probes).
    User,
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiagFormat {
    /// SystemTap's text, with the source line and a caret.
    Text,
    /// One JSON object per diagnostic per line.
    Json,
}

/// When function probes skip the prologue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrologueSearching {
    /// Always.
    Always,
    /// Never.
    Never,
    /// When the code was compiled with optimization.
    Auto,
}

/// `stap [OPTIONS] FILE [ARGS]`, `stap [OPTIONS] - [ARGS]`, `stap [OPTIONS] -e SCRIPT [ARGS]`.
#[derive(Debug, Parser)]
#[command(
    name = "stap",
    about = "SystemTap translator/driver (stap-rs)",
    override_usage = "stap [OPTIONS] FILE [ARGUMENTS]\n       stap [OPTIONS] - [ARGUMENTS]\n       stap [OPTIONS] -e SCRIPT [ARGUMENTS]\n       stap [OPTIONS] -l PROBE [ARGUMENTS]\n       stap [OPTIONS] -L PROBE [ARGUMENTS]",
    disable_version_flag = true,
    after_help = "Passes: 1 parse, 2 elaborate, 3 translate to C, 4 build, 5 run.\n\
                  --runtime=user builds a native program and runs it (begin/end/error/never/timer\n\
                  probes).  The kernel backend builds a module with the kernel's Kbuild (-r KVER)\n\
                  and runs it with stpd (as root); --vm runs it with stpd in a throwaway QEMU\n\
                  guest of that kernel.  Kernel probe points (kernel.function, kprobe.function,\n\
                  kernel.trace, timer.profile, perf.sw) and their target variables resolve against\n\
                  the target kernel's BTF, @cast too; module(\"M\").function/statement(F@FILE:LINE)\n\
                  probes, their locals and @cast(p, \"T\", \"M\") against the module's own DWARF\n\
                  (a .ko built with -g).  With the kernel's DWARF (linux-image-KVER-dbg's vmlinux,\n\
                  or under $SYSTEMTAP_DEBUGINFO_PATH): kernel.function(\"F@FILE[:LINE]\"), .inline,\n\
                  kernel.statement(\"F@FILE:LINE\" | ADDR) and locals; without it, those say so.\n\
                  perfmon.counter(\"cycles\"...) and read_counter() count perf events."
)]
pub struct Cli {
    /// Print version information and exit.
    #[arg(short = 'V', long = "version", action = ArgAction::SetTrue)]
    pub version: bool,

    /// Stop after pass NUM (1-5); the last -p given counts, as in SystemTap.
    #[arg(short = 'p', value_name = "NUM", value_parser = clap::value_parser!(u8).range(1..=5),
          overrides_with = "pass")]
    pub pass: Option<u8>,

    /// Add verbosity to all passes (repeatable).
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,

    /// Add per-pass verbosity, e.g. --vp 00102 (one digit per pass).
    #[arg(long = "vp", value_name = "DIGITS")]
    pub vp: Option<String>,

    /// Keep the temporary directory.
    #[arg(short = 'k')]
    pub keep: bool,

    /// Unoptimized translation (no elision of unused code).
    #[arg(short = 'u')]
    pub unoptimized: bool,

    /// Suppress warnings.
    #[arg(short = 'w')]
    pub no_warnings: bool,

    /// Turn warnings into errors.
    #[arg(short = 'W')]
    pub warnings_are_errors: bool,

    /// Guru mode: allow embedded C and writes to kernel memory.
    #[arg(short = 'g')]
    pub guru: bool,

    /// Prologue-searching for function probes.
    #[arg(short = 'P')]
    pub prologue: bool,

    /// Bulk (per-CPU file) output mode.
    #[arg(short = 'b')]
    pub bulk: bool,

    /// Quiet: less output from stpd.
    #[arg(short = 'q')]
    pub quiet: bool,

    /// Collect probe timing information.
    #[arg(short = 't')]
    pub timing: bool,

    /// Flight-recorder mode.
    #[arg(short = 'F')]
    pub flight_recorder: bool,

    /// Buffer size in megabytes.
    #[arg(short = 's', value_name = "NUM")]
    pub buffer_mb: Option<u32>,

    /// Look in DIR for additional tapset scripts (repeatable).
    #[arg(short = 'I', value_name = "DIR", action = ArgAction::Append)]
    pub include: Vec<String>,

    /// Define a C macro NAME[=VALUE] in the generated code (repeatable); NAME a C
    /// identifier, VALUE one line, the runtime's limits (MAXNESTING, MAXMAPENTRIES, ...)
    /// within what it can serve.
    #[arg(short = 'D', value_name = "NAME[=VALUE]", action = ArgAction::Append)]
    pub defines: Vec<String>,

    /// Pass NAME=VALUE to kbuild make (repeatable).
    #[arg(short = 'B', value_name = "NAME=VALUE", action = ArgAction::Append)]
    pub make_vars: Vec<String>,

    /// Set a global variable: VAR=VALUE, a number or a string by its type, over its initializer (repeatable).
    #[arg(short = 'G', value_name = "VAR=VALUE", action = ArgAction::Append)]
    pub set_globals: Vec<String>,

    /// Look in DIR for the runtime.
    #[arg(short = 'R', value_name = "DIR")]
    pub runtime_dir: Option<String>,

    /// Target kernel: a release (KVER) or a build tree directory.
    #[arg(short = 'r', value_name = "KVER|DIR")]
    pub release: Option<String>,

    /// Target architecture.
    #[arg(short = 'a', value_name = "ARCH")]
    pub arch: Option<String>,

    /// Name of the probe module.
    #[arg(short = 'm', value_name = "MODULE")]
    pub module: Option<String>,

    /// Send the script's output to FILE (created 0600; a symbolic link only in a
    /// directory no one else can write).
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<String>,

    /// Start the probes, run CMD, and exit when it finishes.
    #[arg(short = 'c', value_name = "CMD")]
    pub command: Option<String>,

    /// Set target() to PID.
    #[arg(short = 'x', value_name = "PID")]
    pub target_pid: Option<i64>,

    /// Run the given script instead of a file.
    #[arg(short = 'e', value_name = "SCRIPT")]
    pub script: Option<String>,

    /// Run the given script in addition to the main one (repeatable).
    #[arg(short = 'E', value_name = "SCRIPT", action = ArgAction::Append)]
    pub extra_scripts: Vec<String>,

    /// Add symbol and unwind data for OBJECT (repeatable).
    #[arg(short = 'd', value_name = "OBJECT", action = ArgAction::Append)]
    pub debug_objects: Vec<String>,

    /// Terminate the script after TIME seconds.
    #[arg(short = 'T', value_name = "TIME")]
    pub timeout: Option<f64>,

    /// Flight-recorder file size in megabytes, and number of files: SIZE[,N].
    #[arg(short = 'S', value_name = "SIZE[,N]")]
    pub file_size: Option<String>,

    /// List the probe points matching PROBE.
    #[arg(short = 'l', value_name = "PROBE")]
    pub list: Option<String>,

    /// List the probe points matching PROBE, with their variables.
    #[arg(short = 'L', value_name = "PROBE")]
    pub list_vars: Option<String>,

    /// Language version to follow (scripts written for an older SystemTap).
    #[arg(long = "compatible", value_name = "VERSION")]
    pub compatible: Option<String>,

    /// Function-probe prologue searching.
    #[arg(long = "prologue-searching", value_name = "WHEN", num_args = 0..=1,
          require_equals = true, default_missing_value = "auto")]
    pub prologue_searching: Option<PrologueSearching>,

    /// Backend: a kernel module, or a user-space executable.
    #[arg(long = "runtime", value_name = "MODE", default_value = "kernel")]
    pub runtime: Runtime,

    /// How diagnostics are printed.
    #[arg(long = "diagnostics", value_name = "FORMAT", default_value = "text")]
    pub diagnostics: DiagFormat,

    /// Privilege level: stapdev, stapsys or stapusr.
    #[arg(long = "privilege", value_name = "LEVEL")]
    pub privilege: Option<String>,

    /// Same as --privilege=stapusr.
    #[arg(long = "unprivileged")]
    pub unprivileged: bool,

    /// Run pass 5 in a disposable QEMU guest of the target kernel (Ctrl-C reaches the
    /// guest; a guest that has not booted in 180 s, or not ended the session 60 s after
    /// Ctrl-C, is stopped)
    #[arg(long = "vm")]
    pub vm: bool,

    /// List the probe-point families the translator knows.
    #[arg(long = "dump-probe-types")]
    pub dump_probe_types: bool,

    /// List the probe aliases the tapsets define.
    #[arg(long = "dump-probe-aliases")]
    pub dump_probe_aliases: bool,

    /// List the functions the tapsets define.
    #[arg(long = "dump-functions")]
    pub dump_functions: bool,

    /// Turn off the statement budget (MAXACTION) and the overload check (guru mode
    /// only).
    #[arg(long = "suppress-time-limits")]
    pub suppress_time_limits: bool,

    /// Ignore errors in probe handlers.
    #[arg(long = "suppress-handler-errors")]
    pub suppress_handler_errors: bool,

    /// Replace unresolvable target variables with 0.
    #[arg(long = "skip-badvars")]
    pub skip_badvars: bool,

    /// Colour diagnostics (accepted; output is plain).
    #[arg(long = "color", alias = "colour", value_name = "WHEN", num_args = 0..=1,
          require_equals = true, default_missing_value = "auto")]
    pub color: Option<String>,

    /// Directory for temporary files.
    #[arg(long = "tmpdir", value_name = "DIR")]
    pub tmpdir: Option<String>,

    /// Do not use the module cache.
    #[arg(long = "disable-cache")]
    pub disable_cache: bool,

    /// Add symbol and unwind data for the shared libraries of -c/-d objects.
    #[arg(long = "ldd")]
    pub ldd: bool,

    /// Add symbol and unwind data for all loaded kernel modules.
    #[arg(long = "all-modules")]
    pub all_modules: bool,

    /// Interactive mode (not supported by stap-rs: says so).
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,

    /// Limit the translator's address space to N bytes.
    #[arg(long = "rlimit-as", value_name = "N")]
    pub rlimit_as: Option<u64>,

    /// Limit the translator's CPU time to N seconds.
    #[arg(long = "rlimit-cpu", value_name = "N")]
    pub rlimit_cpu: Option<u64>,

    /// Limit the size of files the translator writes to N bytes.
    #[arg(long = "rlimit-fsize", value_name = "N")]
    pub rlimit_fsize: Option<u64>,

    /// Limit the translator's processes to N.
    #[arg(long = "rlimit-nproc", value_name = "N")]
    pub rlimit_nproc: Option<u64>,

    /// Limit the translator's stack to N bytes.
    #[arg(long = "rlimit-stack", value_name = "N")]
    pub rlimit_stack: Option<u64>,

    /// The script (FILE or `-` for stdin), then its arguments; with -e, -l or -L only arguments.
    #[arg(value_name = "FILE|ARGUMENTS", allow_hyphen_values = false)]
    pub positional: Vec<String>,
}

impl Cli {
    /// Applies the `--rlimit-*` limits to this process, as SystemTap does.
    pub fn apply_rlimits(&self) -> Result<(), String> {
        use nix::sys::resource::{setrlimit, Resource};
        let limits = [
            (self.rlimit_as, Resource::RLIMIT_AS, "as"),
            (self.rlimit_cpu, Resource::RLIMIT_CPU, "cpu"),
            (self.rlimit_fsize, Resource::RLIMIT_FSIZE, "fsize"),
            (self.rlimit_nproc, Resource::RLIMIT_NPROC, "nproc"),
            (self.rlimit_stack, Resource::RLIMIT_STACK, "stack"),
        ];
        for (value, resource, name) in limits {
            if let Some(v) = value {
                setrlimit(resource, v, v)
                    .map_err(|e| format!("Unable to set resource limit rlimit-{}: {}", name, e))?;
            }
        }
        Ok(())
    }

    /// Checks what clap cannot: value ranges and option combinations, as SystemTap does.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(s) = self.buffer_mb {
            if !(1..=4095).contains(&s) {
                return Err(format!("Invalid buffer size '{}' (should be 1-4095).", s));
            }
        }
        if let Some(m) = &self.module {
            if m.is_empty() {
                return Err("Module name cannot be empty.".into());
            }
            if !m.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "Invalid module name '{}': use only the characters [_a-zA-Z0-9].",
                    m
                ));
            }
            if m.len() > 55 {
                return Err(format!(
                    "Module name '{}' is too long (at most 55 characters).",
                    m
                ));
            }
        }
        if self.interactive {
            return Err("Interactive mode (-i) is not supported by stap-rs.".into());
        }
        if self.suppress_time_limits && !self.guru {
            return Err("ERROR --suppress-time-limits requires guru mode (-g)".into());
        }
        for d in &self.defines {
            check_define(d)?;
        }
        check_lock_spin(&self.defines)?;
        if self.command.is_some() && self.target_pid.is_some() {
            return Err("You can't specify -c and -x options together.".into());
        }
        if let Some(t) = self.timeout {
            if !(t > 0.0) {
                return Err(format!("Invalid timeout '{}': it must be positive.", t));
            }
        }
        if let Some(p) = &self.privilege {
            if !matches!(p.as_str(), "stapdev" | "stapsys" | "stapusr") {
                return Err(format!(
                    "Invalid privilege level '{}': use stapdev, stapsys or stapusr.",
                    p
                ));
            }
        }
        // The build runs make in a temporary directory: it must exist and be safe for make.
        let tmp = self
            .tmpdir
            .clone()
            .or_else(|| std::env::var("TMPDIR").ok())
            .filter(|t| !t.is_empty());
        if let Some(t) = tmp {
            let ok_chars = t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-+,@%".contains(c));
            if !ok_chars {
                return Err(format!(
                    "Temporary directory '{}' contains characters that the kernel build cannot handle.",
                    t
                ));
            }
            if !std::path::Path::new(&t).is_dir() {
                return Err(format!(
                    "Temporary directory '{}' does not exist or is not a directory.",
                    t
                ));
            }
        }
        Ok(())
    }
}

/// The version banner (`stap -V`).
pub fn version_text() -> String {
    format!(
        "Systemtap translator/driver (version {}/stap-rs {})\n\
         Copyright (C) 2026 stap-rs contributors\n\
         This is free software; see the source for copying conditions.\n\
         tested kernel versions: 6.1 (Debian bookworm)\n\
         enabled features: PASS1 PASS2 PASS3 USER_RUNTIME KERNEL_MODULE KERNEL_PROBES_BTF KERNEL_DWARF MODULE_DWARF PERFMON STPD VM LANGUAGE({})\n",
        crate::session::LANGUAGE_VERSION,
        env!("CARGO_PKG_VERSION"),
        crate::session::LANGUAGE_VERSION,
    )
}

/// The runtime's limits that `-D` may set, with the values the runtime can serve: each
/// bounds memory preallocated per CPU, the kernel stack, or time spent in probe context.
const DEFINE_LIMITS: &[(&str, i64, i64)] = &[
    ("MAXSTRINGLEN", 2, 65_536),
    ("MAXMAPENTRIES", 1, 1 << 24),
    ("MAXNESTING", 1, 100),
    ("MAXACTION", 1, 1_000_000_000),
    ("MAXACTION_INTERRUPTIBLE", 1, 1_000_000_000),
    ("MAXTRYLOCK", 1, 1_000_000),
    ("TRYLOCKDELAY", 0, 1_000),
    ("MAXSKIPPED", 0, i64::MAX),
    ("MAXERRORS", 0, i64::MAX),
    ("STP_RING_SIZE", 4096, 1 << 30),
    ("STP_PRINT_BUFSIZE", 256, 1 << 20),
    ("STP_OVERLOAD_INTERVAL", 1_000_000, 60_000_000_000),
    ("STP_OVERLOAD_THRESHOLD", 1, 60_000_000_000),
    ("STP_SERVICE_MS", 1, 1_000),
];

/// The most time a probe may spin for a global's lock (MAXTRYLOCK tries, TRYLOCKDELAY us
/// apart) before it is skipped: one second, well under the kernel's lockup watchdogs.
fn check_lock_spin(defines: &[String]) -> Result<(), String> {
    let value = |name: &str, default: i64| {
        defines
            .iter()
            .rev()
            .find_map(|d| {
                d.strip_prefix(name)?
                    .strip_prefix('=')?
                    .trim()
                    .parse::<i64>()
                    .ok()
            })
            .unwrap_or(default)
    };
    let (tries, delay) = (value("MAXTRYLOCK", 100), value("TRYLOCKDELAY", 10));
    if tries.saturating_mul(delay) > 1_000_000 {
        return Err(format!(
            "Invalid -D MAXTRYLOCK={} with TRYLOCKDELAY={}: a probe would spin up to {} us for a lock (at most 1000000).",
            tries,
            delay,
            tries.saturating_mul(delay)
        ));
    }
    Ok(())
}

/// Checks one `-D NAME[=VALUE]`: NAME a C identifier, VALUE one line, and a runtime limit
/// an integer in the range the runtime can serve.
pub fn check_define(d: &str) -> Result<(), String> {
    let (name, value) = d.split_once('=').unwrap_or((d, ""));
    let ident = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ident {
        return Err(format!(
            "Invalid -D '{}': the name must be a C identifier.",
            d
        ));
    }
    // One line, and no comment opener: `/*` would swallow the generated code after it.
    if value.chars().any(|c| c.is_control() || c == '\\')
        || value.contains("/*")
        || value.contains("//")
    {
        return Err(format!(
            "Invalid -D '{}': the value must be one line without backslashes or comments.",
            d.escape_debug()
        ));
    }
    if let Some((_, lo, hi)) = DEFINE_LIMITS.iter().find(|(n, _, _)| *n == name) {
        let v = value.trim().trim_end_matches(['L', 'l', 'U', 'u']);
        let n = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            i64::from_str_radix(h, 16).ok()
        } else {
            v.parse::<i64>().ok()
        };
        match n {
            Some(n) if (*lo..=*hi).contains(&n) => {}
            _ => {
                return Err(format!(
                    "Invalid -D {}={}: it must be an integer from {} to {}.",
                    name, value, lo, hi
                ))
            }
        }
    }
    Ok(())
}

//! Pass 3 of stap-rs: the elaborated program as C over the stap-rs runtime.
//!
//! The output is one translation unit: the platform layer (`stp_platform.h`, user or
//! kernel), the common runtime (`stp_runtime.h`), the generated code, then the platform's
//! `stp_backend.h`.  The generated code defines the globals, one locals frame per probe and
//! function (kept in the preallocated per-CPU context, never on the stack), a C function
//! per probe and function, per-probe lock functions, and the probe table the backend runs.
//! It is deterministic, indented, and comments each probe and statement with its script
//! location.

#![warn(missing_docs)]

mod body;
mod expr;
mod foreach_slots;
mod names;
mod target;

use stap_sema::ir::*;
use stap_syntax::diag::{Diagnostic, Pass};
use stap_syntax::lexer::escape_bytes;
use stap_syntax::source::{SourceMap, Span};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Which backend the C is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A kernel module (`runtime-c/linux/`).
    Kernel,
    /// A native executable (`runtime-c/user/`).
    User,
}

/// Code-generation options.
#[derive(Clone, Debug)]
pub struct Options {
    /// The backend.
    pub backend: Backend,
    /// `-D NAME[=VALUE]` definitions, emitted before the runtime is included.
    pub defines: Vec<String>,
    /// Name of the script, for the header comment.
    pub script_name: String,
}

/// A C string literal for arbitrary text.
pub(crate) fn c_str(s: &str) -> String {
    c_lit(&escape_bytes(s.as_bytes()))
}

/// The C string literal of a script string in its canonical escaped form (what the parser
/// keeps: quotes, backslashes and unprintable bytes already escaped; see
/// `stap_syntax::lexer::escape_bytes`).  The one way script text becomes C: `??` is
/// broken up, so no trigraph can form (GCC warns about them even where they are off).
pub(crate) fn c_lit(canonical: &str) -> String {
    format!("\"{}\"", canonical.replace("??", "?\\?"))
}

/// `file:line:col` of a span.
pub(crate) fn loc(sm: &SourceMap, span: Span) -> String {
    sm.location(span)
}

/// Text for a C comment: printable ASCII but `*` (which could end the comment) and `\\`;
/// anything else becomes `_`.  Comments carry locations and identifiers, never script
/// text, but file names are the user's too.
pub(crate) fn c_comment(text: &str) -> String {
    text.chars()
        .map(|c| {
            if (' '..='~').contains(&c) && c != '*' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `file:line:col` of a span, for a C comment (see [`c_comment`]).
pub(crate) fn cloc(sm: &SourceMap, span: Span) -> String {
    c_comment(&sm.location(span))
}

/// SystemTap's description of the token a span starts with: `operator '/' at f:1:2`.
pub(crate) fn near(sm: &SourceMap, span: Span) -> String {
    let text = sm.text(span);
    let first: String = {
        let mut it = text.chars().peekable();
        let mut t = String::new();
        if let Some(&c) = it.peek() {
            if c.is_alphanumeric() || c == '_' || c == '$' || c == '@' {
                while let Some(&c) = it.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '$' || c == '@' {
                        t.push(c);
                        it.next();
                    } else {
                        break;
                    }
                }
            } else if c == '"' {
                t = text.chars().take(40).collect();
                if let Some(end) = t[1..].find('"') {
                    t.truncate(end + 2);
                }
            } else {
                let ops = [
                    "<<<", "<<=", ">>=", "<=", ">=", "==", "!=", "=~", "!~", "&&", "||", "++",
                    "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", ".=", "->", "<<", ">>",
                ];
                t = ops
                    .iter()
                    .find(|o| text.starts_with(*o))
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| c.to_string());
            }
        }
        t
    };
    let kind = match first.chars().next() {
        Some(c) if c.is_ascii_digit() => "number",
        Some('"') => "string",
        Some(c) if c.is_alphanumeric() || c == '_' || c == '$' || c == '@' => {
            const KW: &[&str] = &[
                "if", "else", "for", "foreach", "while", "return", "delete", "break", "continue",
                "next", "try", "catch", "in", "limit", "probe", "function", "global",
            ];
            if KW.contains(&first.as_str()) {
                "keyword"
            } else {
                "identifier"
            }
        }
        _ => "operator",
    };
    format!("{} '{}' at {}", kind, first, loc(sm, span))
}

/// The span of the operator that follows `lhs` (skipping blanks, comments and closing
/// parentheses), for "near operator '/'" in runtime errors.
pub(crate) fn operator_after(sm: &SourceMap, lhs: Span) -> Span {
    let text = &sm.file(lhs.file).text;
    let b = text.as_bytes();
    let mut i = lhs.end as usize;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b')') {
            i += 1;
        }
        if text[i..].starts_with("/*") {
            i = text[i..].find("*/").map(|k| i + k + 2).unwrap_or(b.len());
        } else if text[i..].starts_with("//") || text[i..].starts_with('#') {
            i = text[i..].find('\n').map(|k| i + k).unwrap_or(b.len());
        } else {
            break;
        }
    }
    Span {
        file: lhs.file,
        start: i as u32,
        end: (i + 1).min(b.len()) as u32,
    }
}

pub(crate) fn cg_error(msg: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::error(Pass::Semantic, "codegen.unsupported", msg, span)
}

/// A field declaration (`int64_t x;` or `char s[MAXSTRINGLEN];`).
pub(crate) fn field(t: Type, name: &str) -> String {
    match t {
        Type::String => format!("char {}[MAXSTRINGLEN];", name),
        _ => format!("int64_t {};", name),
    }
}

fn stp_type(t: Type) -> &'static str {
    match t {
        Type::String => "STP_STRING",
        Type::Stats => "STP_STATS",
        _ => "STP_LONG",
    }
}

/// Histogram configuration of each statistics global (SystemTap allows one per global).
fn hist_configs(prog: &Program) -> Result<BTreeMap<GlobalId, HistKind>, Diagnostic> {
    let mut out: BTreeMap<GlobalId, (HistKind, Span)> = BTreeMap::new();
    let mut err = None;
    let mut note = |x: &Expr| {
        if let ExprKind::Hist(kind, operand) = &x.kind {
            let g = match &operand.kind {
                ExprKind::Var(Var::Global(g)) => *g,
                ExprKind::Index(b, _) => match b.kind {
                    ExprKind::Array(Var::Global(g)) => g,
                    _ => return,
                },
                _ => return,
            };
            match out.get(&g) {
                Some((k, first)) if k != kind && err.is_none() => {
                    err = Some(
                        cg_error("a statistic can have only one kind of histogram", x.span)
                            .with_label(*first, "the other histogram"),
                    );
                }
                Some(_) => {}
                None => {
                    out.insert(g, (*kind, x.span));
                }
            }
        }
    };
    body::for_each_expr(prog, &mut note);
    match err {
        Some(e) => Err(e),
        None => Ok(out.into_iter().map(|(g, (k, _))| (g, k)).collect()),
    }
}

/// Generates the C for a program.
pub fn generate(prog: &Program, sm: &SourceMap, opts: &Options) -> Result<String, Diagnostic> {
    let names = names::Names::new(prog);
    let hists = hist_configs(prog)?;
    let slots = foreach_slots::ForeachSlots::new(prog);
    // Every =~ / !~ pattern, compiled once at start-up: (pattern, where).
    let mut regexes: Vec<(String, Span)> = Vec::new();
    body::for_each_expr(prog, &mut |x| {
        if let ExprKind::Binary(
            stap_syntax::ast::BinOp::Match | stap_syntax::ast::BinOp::NotMatch,
            _,
            r,
        ) = &x.kind
        {
            if let ExprKind::Literal(stap_syntax::ast::Literal::String(p)) = &r.kind {
                if !regexes.iter().any(|(_, s)| *s == r.span) {
                    regexes.push((p.clone(), r.span));
                }
            }
        }
    });
    let mut o = String::new();
    let _ = writeln!(
        o,
        "/*\n * Generated by stap-rs {} from {}.",
        env!("CARGO_PKG_VERSION"),
        c_comment(&opts.script_name)
    );
    let _ = writeln!(
        o,
        " * Backend: {}.\n */\n",
        match opts.backend {
            Backend::Kernel => "kernel module",
            Backend::User => "user space",
        }
    );
    for d in &opts.defines {
        let (n, v) = d.split_once('=').unwrap_or((d, ""));
        let _ = writeln!(o, "#define {} {}", n, v);
    }
    o.push_str("#include \"stp_platform.h\"\n#include \"stp_runtime.h\"\n\n");
    o.push_str(
        "/* Statement prologue: where we are (for ERROR lines) and the MAXACTION budget. */\n\
         #define STP_STMT(near, label) do { c->rt.last_stmt = (near); \\\n\
         \tif (unlikely(stp_count_action(&c->rt))) goto label; } while (0)\n\
         /* Unwind to label if the last runtime call failed. */\n\
         #define STP_CHECK(label) do { if (unlikely(c->rt.last_error)) goto label; } while (0)\n\n",
    );

    // File-level embedded C of the script and the tapsets it uses.
    for e in &prog.embeds {
        let _ = writeln!(
            o,
            "/* embedded C from {} */\n{}\n",
            cloc(sm, e.span),
            e.code.trim_matches('\n')
        );
    }

    // Histogram configurations.
    for (g, k) in &hists {
        let name = &names.globals[*g];
        let _ = match k {
            HistKind::Log => writeln!(
                o,
                "static const struct stp_hist_cfg stp_hist_{} = {{ STP_HIST_LOG, 0, 0, 0, HIST_LOG_BUCKETS }};",
                name
            ),
            HistKind::Linear { lo, hi, step } => writeln!(
                o,
                "static const struct stp_hist_cfg stp_hist_{} = {{ STP_HIST_LINEAR, {}LL, {}LL, {}LL, {} }};",
                name,
                lo,
                hi,
                step,
                k.runtime_buckets()
            ),
        };
    }
    if !hists.is_empty() {
        o.push('\n');
    }
    for (i, (_, span)) in regexes.iter().enumerate() {
        let _ = writeln!(
            o,
            "static struct stp_regex stp_re_{}; /* {} */",
            i,
            cloc(sm, *span)
        );
    }
    if !regexes.is_empty() {
        o.push('\n');
    }

    // Globals.
    o.push_str("/* Global variables. */\nstatic struct {\n");
    if prog.globals.is_empty() {
        o.push_str("\tint unused;\n");
    }
    for (i, g) in prog.globals.iter().enumerate() {
        let n = &names.globals[i];
        let decl = if g.is_array {
            format!("struct stp_map {};", n)
        } else if g.ty == Type::Stats {
            format!("struct stp_stat_set {};", n)
        } else {
            field(g.ty, n)
        };
        let _ = writeln!(
            o,
            "\t{:<40} /* {} at {} */",
            decl,
            c_comment(&g.name),
            cloc(sm, g.span)
        );
    }
    o.push_str("} stp_g __attribute__((unused));\n");
    let _ = writeln!(
        o,
        "static struct stp_glock stp_glock[{}];\n",
        prog.globals.len().max(1)
    );

    // Frames and bodies.
    let tables = body::Tables {
        prog,
        sm,
        names: &names,
        hists: &hists,
        regexes: &regexes,
        slots: &slots,
    };
    let mut funcs = Vec::new();
    for (i, f) in prog.functions.iter().enumerate() {
        funcs.push(body::gen_function(&tables, i, f)?);
    }
    let mut probes = Vec::new();
    for (i, p) in prog.probes.iter().enumerate() {
        probes.push(body::gen_probe(&tables, i, p)?);
    }
    for f in &funcs {
        o.push_str(&f.frame);
    }
    for p in &probes {
        o.push_str(&p.frame);
    }
    o.push_str(
        "/* The per-CPU context: runtime state, the running probe's locals, call frames. */\n",
    );
    o.push_str("struct context {\n\tstruct stp_ctx rt;\n\tunion {\n\t\tint unused;\n");
    for (i, _) in prog.probes.iter().enumerate() {
        let _ = writeln!(o, "\t\tstruct stp_locals_probe_{} p{};", i, i);
    }
    o.push_str("\t} probe;\n\tunion {\n\t\tint unused;\n");
    for (i, _) in prog.functions.iter().enumerate() {
        let _ = writeln!(o, "\t\tstruct stp_locals_{} f{};", names.functions[i], i);
    }
    o.push_str("\t} frames[MAXNESTING];\n};\n\n");
    o.push_str(
        "static struct context *stp_contexts;\n\n\
         static struct stp_ctx *stp_context_of(int cpu)\n{\n\treturn &stp_contexts[cpu].rt;\n}\n\n",
    );
    for (i, f) in prog.functions.iter().enumerate() {
        let _ = writeln!(
            o,
            "static void stp_f_{}(struct context *c);",
            names.functions[i]
        );
        let _ = f;
    }
    if !prog.functions.is_empty() {
        o.push('\n');
    }
    for f in &funcs {
        o.push_str(&f.code);
    }
    for (i, p) in probes.iter().enumerate() {
        o.push_str(&p.code);
        o.push_str(&lock_functions(prog, i, &probe_globals(p, &funcs)));
    }

    // Init and cleanup.
    o.push_str("static int stp_init(void)\n{\n\tint i;\n\n");
    o.push_str("\tstp_contexts = stp_alloc(sizeof(*stp_contexts) * (size_t)stp_ncpus());\n\tif (!stp_contexts)\n\t\treturn -1;\n");
    let _ = writeln!(
        o,
        "\tfor (i = 0; i < {}; i++)\n\t\tstp_glock_init(&stp_glock[i], 0);",
        prog.globals.len().max(1)
    );
    for (i, g) in prog.globals.iter().enumerate() {
        if is_stats_array(g) {
            let _ = writeln!(
                o,
                "\tif (stp_glock_init(&stp_glock[{}], 1)) /* per-CPU <<< */\n\t\treturn -1;",
                i
            );
        }
    }
    for (i, (p, span)) in regexes.iter().enumerate() {
        let _ = writeln!(
            o,
            "\tif (stp_re_compile(&stp_re_{}, {})) {{\n\t\tstp_error_line(\"ERROR: \", \"invalid regular expression\", {});\n\t\treturn -1;\n\t}}",
            i,
            c_lit(p),
            c_str(&format!("string '{}' at {}", p, loc(sm, *span)))
        );
    }
    for (i, g) in prog.globals.iter().enumerate() {
        let n = &names.globals[i];
        let cfg = if hists.contains_key(&i) {
            format!("&stp_hist_{}", n)
        } else {
            "NULL".to_string()
        };
        if g.is_array {
            let keys: Vec<&str> = g.keys.iter().map(|k| stp_type(*k)).collect();
            let keys_arr = if keys.is_empty() {
                "NULL".to_string()
            } else {
                format!("(const enum stp_type[]){{ {} }}", keys.join(", "))
            };
            let _ = writeln!(
                o,
                "\tif (stp_map_init(&stp_g.{}, {}, {}, {}, {}, {}, {}, {}, {}))\n\t\treturn -1;",
                n,
                c_str(&g.name),
                g.keys.len(),
                keys_arr,
                stp_type(g.ty),
                g.size.map(|s| s.to_string()).unwrap_or_else(|| "0".into()),
                g.wrap as i32,
                cfg,
                slots.count(i)
            );
        } else if g.ty == Type::Stats {
            let _ = writeln!(
                o,
                "\tif (stp_stat_set_init(&stp_g.{}, {}))\n\t\treturn -1;",
                n, cfg
            );
        } else if let Some(init) = &g.init {
            let _ = match init {
                stap_syntax::ast::Literal::Number(v) => {
                    writeln!(o, "\tstp_g.{} = {};", n, body::c_long(*v))
                }
                stap_syntax::ast::Literal::String(s) => {
                    writeln!(o, "\tstp_strcpy(stp_g.{}, {});", n, c_lit(s))
                }
            };
        }
    }
    o.push_str("\treturn 0;\n}\n\nstatic void stp_cleanup(void)\n{\n\tint i;\n\n");
    for (i, g) in prog.globals.iter().enumerate() {
        let n = &names.globals[i];
        if g.is_array {
            let _ = writeln!(o, "\tstp_map_free(&stp_g.{});", n);
        } else if g.ty == Type::Stats {
            let _ = writeln!(o, "\tstp_stat_set_free(&stp_g.{});", n);
        }
    }
    let _ = writeln!(
        o,
        "\tfor (i = 0; i < {}; i++)\n\t\tstp_glock_free(&stp_glock[i]);",
        prog.globals.len().max(1)
    );
    o.push_str("\tstp_free(stp_contexts);\n}\n\n");

    // The probe table.
    let _ = writeln!(o, "#define STP_NPROBES {}\n", prog.probes.len());
    let _ = writeln!(
        o,
        "static const struct stp_probe stp_probes[STP_NPROBES] = {{"
    );
    for (i, p) in prog.probes.iter().enumerate() {
        let _ = writeln!(o, "\t{{ /* {} */", cloc(sm, p.span));
        let _ = writeln!(o, "{}", probe_kind(&p.kind));
        let _ = writeln!(
            o,
            "\t\t.handler = stp_p_{i},\n\t\t.lock = stp_lock_{i},\n\t\t.unlock = stp_unlock_{i},\n\t\t.pp = {},\n\t\t.location = {},\n\t}},",
            c_str(&p.point.to_string()),
            c_str(&loc(sm, p.span)),
        );
    }
    o.push_str("};\n\n#include \"stp_backend.h\"\n");
    Ok(o)
}

/// The globals a probe touches, through the functions it calls too (true: exclusively).
fn probe_globals(p: &body::Generated, funcs: &[body::Generated]) -> BTreeMap<GlobalId, bool> {
    let mut out = p.globals.clone();
    let mut seen = std::collections::BTreeSet::new();
    let mut work: Vec<FuncId> = p.calls.iter().copied().collect();
    while let Some(f) = work.pop() {
        if !seen.insert(f) {
            continue;
        }
        for (g, w) in &funcs[f].globals {
            *out.entry(*g).or_insert(false) |= *w;
        }
        work.extend(funcs[f].calls.iter().copied());
    }
    out
}

/// A statistics array: `<<<` into it takes only this CPU's flag of its lock.
fn is_stats_array(g: &Global) -> bool {
    g.ty == Type::Stats && g.is_array
}

/// Lock and unlock functions for a probe: every global it uses, in index order (so two
/// probes can never deadlock), each with a bounded try.  `true` means the exclusive side;
/// the shared side of a statistics array is its per-CPU `<<<` mode.
fn lock_functions(prog: &Program, id: usize, globals: &BTreeMap<GlobalId, bool>) -> String {
    let mode = |g: GlobalId, w: bool| match (w, is_stats_array(&prog.globals[g])) {
        (true, _) => "STP_LOCK_WRITE",
        (false, true) => "STP_LOCK_ADD",
        (false, false) => "STP_LOCK_READ",
    };
    let mut o = format!(
        "static int stp_lock_{}(struct stp_ctx *rt)\n{{\n\t(void)rt;\n",
        id
    );
    for (k, (g, w)) in globals.iter().enumerate() {
        let _ = writeln!(
            o,
            "\tif (!stp_lock_acquire(&stp_glock[{}], {}, rt->cpu))\n\t\tgoto unlock_{};",
            g,
            mode(*g, *w),
            k
        );
    }
    o.push_str("\treturn 1;\n");
    // Failing to take lock k jumps to unlock_k, which releases locks k-1 down to 0.
    let held: Vec<(&GlobalId, &bool)> = globals.iter().collect();
    for k in (1..held.len()).rev() {
        let (g, w) = held[k - 1];
        let _ = writeln!(o, "unlock_{}:", k);
        let _ = writeln!(
            o,
            "\tstp_lock_release(&stp_glock[{}], {}, rt->cpu);",
            g,
            mode(*g, *w)
        );
    }
    if !held.is_empty() {
        o.push_str("unlock_0:\n\treturn 0;\n");
    }
    o.push_str("}\n\n");
    let _ = writeln!(
        o,
        "static void stp_unlock_{}(struct stp_ctx *rt)\n{{\n\t(void)rt;",
        id
    );
    for (g, w) in globals.iter().rev() {
        let _ = writeln!(
            o,
            "\tstp_lock_release(&stp_glock[{}], {}, rt->cpu);",
            g,
            mode(*g, *w)
        );
    }
    o.push_str("}\n\n");
    o
}

/// The table fields describing when a probe fires.
fn probe_kind(k: &ProbeKind) -> String {
    match k {
        ProbeKind::Begin { seq } => format!("\t\t.kind = STP_PROBE_BEGIN, .seq = {}LL,", seq),
        ProbeKind::End { seq } => format!("\t\t.kind = STP_PROBE_END, .seq = {}LL,", seq),
        ProbeKind::Error { seq } => format!("\t\t.kind = STP_PROBE_ERROR, .seq = {}LL,", seq),
        ProbeKind::Never => "\t\t.kind = STP_PROBE_NEVER,".to_string(),
        ProbeKind::Timer {
            period,
            randomize,
            per_cpu,
        } => {
            let mut f = match period {
                TimerPeriod::Ns(ns) => format!("\t\t.kind = STP_PROBE_TIMER, .period_ns = {}LL,", ns),
                TimerPeriod::Jiffies(j) => format!("\t\t.kind = STP_PROBE_TIMER, .jiffies = {}LL,", j),
            };
            match period {
                _ if *randomize == 0 => {}
                TimerPeriod::Ns(_) => f.push_str(&format!(" .randomize_ns = {}LL,", randomize)),
                TimerPeriod::Jiffies(_) => {
                    f.push_str(&format!(" .randomize_ns = {}LL * STP_JIFFY_NS,", randomize))
                }
            }
            if *per_cpu {
                f.push_str(" .percpu = 1,");
            }
            f
        }
        // type -1 makes the runtime refuse the forms it does not build, with a WARNING.
        ProbeKind::Perf {
            ty,
            config,
            sample,
            unsupported,
        } => format!(
            "\t\t.kind = STP_PROBE_PERF, .perf_type = {}LL, .perf_config = {}LL, .perf_sample = {}LL,",
            if *unsupported { -1 } else { *ty },
            config,
            sample
        ),
        ProbeKind::Perfmon { handle, ty, config } => format!(
            "\t\t.kind = STP_PROBE_PERFMON, .perf_type = {}LL, .perf_config = {}LL, .perfmon = {},",
            ty, config, handle
        ),
        ProbeKind::Kprobe {
            addr: Some(addr), ..
        } => format!(
            "\t\t.kind = STP_PROBE_KPROBE, .symbol = \"\", .addr = {:#x}UL,",
            addr
        ),
        ProbeKind::Kprobe {
            symbol,
            offset,
            ret,
            maxactive,
            addr: None,
        } => format!(
            "\t\t.kind = {}, .symbol = {}, .offset = {}, .maxactive = {}LL,",
            if *ret {
                "STP_PROBE_KRETPROBE"
            } else {
                "STP_PROBE_KPROBE"
            },
            c_str(symbol),
            offset,
            maxactive
        ),
        ProbeKind::Tracepoint { name } => format!(
            "\t\t.kind = STP_PROBE_TRACEPOINT, .symbol = {},",
            c_str(name)
        ),
        // Families no runtime runs yet: sema refuses them before translation
        // (`stap_sema::unsupported`); -p3 still shows their table entry.
        ProbeKind::Process { .. } | ProbeKind::Procfs { .. } | ProbeKind::Netfilter { .. } => {
            "\t\t.kind = STP_PROBE_OTHER,".to_string()
        }
    }
}

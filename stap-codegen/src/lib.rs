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
mod locks;
mod names;
mod table;
mod target;
mod user_frames;
mod writer;

use stap_sema::ir::*;
use stap_syntax::diag::{Diagnostic, Pass};
use stap_syntax::lexer::escape_bytes;
use stap_syntax::locate::Locate;
use stap_syntax::source::Span;

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
    /// The user-space files user backtraces know (kernel backend, when the program uses
    /// a user-stack function).
    pub user_modules: Vec<stap_sema::user_frames::UserModule>,
}

/// Whether the program uses a function that needs the user-space files' tables (its
/// embedded C says `/* pragma:ustack */`).
pub fn needs_user_frames(prog: &Program) -> bool {
    prog.functions.iter().any(|f| {
        matches!(&f.body, Body::Embedded { pragmas, .. } if pragmas.iter().any(|p| p == "pragma:ustack"))
    })
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
pub(crate) fn loc(sm: &dyn Locate, span: Span) -> String {
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
pub(crate) fn cloc(sm: &dyn Locate, span: Span) -> String {
    c_comment(&sm.location(span))
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

pub(crate) fn stp_type(t: Type) -> &'static str {
    match t {
        Type::String => "STP_STRING",
        Type::Stats => "STP_STATS",
        _ => "STP_LONG",
    }
}

/// Generates the C for a program; `sm` places spans (locations for comments and runtime
/// `ERROR` lines), codegen reads no source text.
pub fn generate(prog: &Program, sm: &dyn Locate, opts: &Options) -> Result<String, Diagnostic> {
    writer::Writer::new(prog, sm, opts)?.write()
}

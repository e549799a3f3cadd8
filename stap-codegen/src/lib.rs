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
mod writer;

use stap_sema::ir::*;
use stap_syntax::diag::{Diagnostic, Pass};
use stap_syntax::lexer::escape_bytes;
use stap_syntax::source::{SourceMap, Span};

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

pub(crate) fn stp_type(t: Type) -> &'static str {
    match t {
        Type::String => "STP_STRING",
        Type::Stats => "STP_STATS",
        _ => "STP_LONG",
    }
}

/// Generates the C for a program.
pub fn generate(prog: &Program, sm: &SourceMap, opts: &Options) -> Result<String, Diagnostic> {
    writer::Writer::new(prog, sm, opts)?.write()
}

//! Diagnostics: SystemTap's wording, codespan-reporting's layout, and a JSON form for editors.
//!
//! A [`Diagnostic`] is produced by every pass; the driver renders it either as text
//! (`parse error: expected ...` with `file:line:col`, the source line and a caret) or,
//! with `--diagnostics=json`, as one JSON object per line.

use crate::source::{SourceMap, Span};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::term;
use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Stops the run.
    Error,
    /// Reported, the run goes on (an error with `-W`).
    Warning,
    /// Extra information.
    Note,
}

/// The pass a diagnostic comes from; it names the error (`parse error`, `semantic error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pass {
    /// Command line and session set-up.
    Session,
    /// Pass 1: lexing, preprocessing, parsing.
    Parse,
    /// Pass 2: elaboration.
    Semantic,
}

impl Pass {
    fn word(self) -> &'static str {
        match self {
            Pass::Session => "",
            Pass::Parse => "parse ",
            Pass::Semantic => "semantic ",
        }
    }
}

/// A labelled span inside a diagnostic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What about it (may be empty).
    pub message: String,
}

/// One message for the user, with the places it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// The pass that found it.
    pub pass: Pass,
    /// A stable machine-readable code, e.g. `parse.expected`.
    pub code: &'static str,
    /// The message, in SystemTap's wording where it has one.
    pub message: String,
    /// The main place (the caret), if any.
    pub primary: Option<Label>,
    /// Further places (e.g. "type was first inferred here", macro expansion sites).
    pub labels: Vec<Label>,
    /// Free-form notes printed after the snippet.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error of `pass` at `span`.
    pub fn error(
        pass: Pass,
        code: &'static str,
        message: impl Into<String>,
        span: Span,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            pass,
            code,
            message: message.into(),
            primary: Some(Label {
                span,
                message: String::new(),
            }),
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A parse error at `span`.
    pub fn parse(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic::error(Pass::Parse, code, message, span)
    }

    /// An error with no source location (command line, missing files).
    pub fn plain(pass: Pass, code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            pass,
            code,
            message: message.into(),
            primary: None,
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Turns the diagnostic into a warning.
    pub fn into_warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }

    /// Sets the caret label's text.
    pub fn with_primary_message(mut self, msg: impl Into<String>) -> Diagnostic {
        if let Some(p) = &mut self.primary {
            p.message = msg.into();
        }
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, msg: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: msg.into(),
        });
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The header word SystemTap uses: `parse error`, `semantic error`, `WARNING`.
    pub fn header(&self) -> String {
        match self.severity {
            Severity::Error => format!("{}error", self.pass.word()),
            Severity::Warning => "WARNING".to_string(),
            Severity::Note => "note".to_string(),
        }
    }

    /// Renders the diagnostic as text: SystemTap's header, then codespan's snippet.
    pub fn render_text(&self, sm: &SourceMap) -> String {
        if let Some(p) = &self.primary {
            let f = sm.file(p.span.file);
            let line = f.line_index(p.span.start as usize);
            if f.line_range(line).is_some_and(|r| r.len() > LONG_LINE) {
                return self.render_long_line(sm);
            }
        }
        let mut out = String::new();
        let severity = match self.severity {
            Severity::Error => cs::Severity::Error,
            Severity::Warning => cs::Severity::Warning,
            Severity::Note => cs::Severity::Note,
        };
        let mut labels = Vec::new();
        if let Some(p) = &self.primary {
            labels.push(cs::Label::primary(p.span.file, p.span.range()).with_message(&p.message));
        }
        for l in &self.labels {
            labels.push(cs::Label::secondary(l.span.file, l.span.range()).with_message(&l.message));
        }
        let d = cs::Diagnostic::new(severity)
            .with_message(&self.message)
            .with_labels(labels)
            .with_notes(self.notes.clone());
        let config = term::Config {
            chars: term::Chars::ascii(),
            ..term::Config::default()
        };
        let Ok(text) = term::emit_into_string(&config, sm, &d) else {
            out.push_str(&format!("{}: {}\n", self.header(), self.message));
            return out;
        };
        // codespan writes "error: msg"; SystemTap says "parse error: msg".
        let rest = text
            .split_once(": ")
            .map(|(_, r)| r.to_string())
            .unwrap_or(text.clone());
        out.push_str(&self.header());
        out.push_str(": ");
        out.push_str(&rest);
        out
    }

    /// A snippet for a line too long to show whole: a window around the caret.
    fn render_long_line(&self, sm: &SourceMap) -> String {
        let mut out = format!("{}: {}\n", self.header(), self.message);
        if let Some(p) = &self.primary {
            let f = sm.file(p.span.file);
            let pos = p.span.start as usize;
            let (line, col) = f.line_col(pos);
            let range = f.line_range(line - 1).unwrap_or(pos..pos);
            let text = &f.text[range.clone()];
            let at = pos - range.start;
            let mut lo = at.saturating_sub(WINDOW);
            while !text.is_char_boundary(lo) {
                lo -= 1;
            }
            let mut hi = (at + WINDOW).min(text.len());
            while !text.is_char_boundary(hi) {
                hi += 1;
            }
            let pre = if lo > 0 { "..." } else { "" };
            let post = if hi < text.len() { "..." } else { "" };
            let caret_col = pre.len() + text[lo..at].chars().count();
            out.push_str(&format!("  --> {}:{}:{}\n", f.name, line, col));
            out.push_str(&format!("   | {}{}{}\n", pre, &text[lo..hi], post));
            out.push_str(&format!("   | {}^ {}\n", " ".repeat(caret_col), p.message));
        }
        for l in &self.labels {
            out.push_str(&format!("  = {}: {}\n", sm.location(l.span), l.message));
        }
        for n in &self.notes {
            out.push_str(&format!("  = note: {}\n", n));
        }
        out
    }

    /// Renders the diagnostic as one JSON object (no trailing newline).
    pub fn render_json(&self, sm: &SourceMap) -> String {
        #[derive(Serialize)]
        struct JLabel<'a> {
            file: &'a str,
            line: usize,
            column: usize,
            end_line: usize,
            end_column: usize,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct J<'a> {
            severity: Severity,
            pass: Pass,
            code: &'a str,
            message: &'a str,
            file: Option<&'a str>,
            line: Option<usize>,
            column: Option<usize>,
            end_line: Option<usize>,
            end_column: Option<usize>,
            labels: Vec<JLabel<'a>>,
            notes: &'a [String],
        }
        fn jl<'a>(sm: &'a SourceMap, l: &'a Label) -> JLabel<'a> {
            let f = sm.file(l.span.file);
            let (line, column) = f.line_col(l.span.start as usize);
            let (end_line, end_column) = f.line_col(l.span.end as usize);
            JLabel {
                file: &f.name,
                line,
                column,
                end_line,
                end_column,
                message: &l.message,
            }
        }
        let p = self.primary.as_ref().map(|l| jl(sm, l));
        let j = J {
            severity: self.severity,
            pass: self.pass,
            code: self.code,
            message: &self.message,
            file: p.as_ref().map(|p| p.file),
            line: p.as_ref().map(|p| p.line),
            column: p.as_ref().map(|p| p.column),
            end_line: p.as_ref().map(|p| p.end_line),
            end_column: p.as_ref().map(|p| p.end_column),
            labels: self.labels.iter().map(|l| jl(sm, l)).collect(),
            notes: &self.notes,
        };
        serde_json::to_string(&j).unwrap_or_default()
    }
}

/// Lines longer than this are shown as a window around the caret.
const LONG_LINE: usize = 200;
/// Characters shown on each side of the caret in a long line.
const WINDOW: usize = 60;

/// A list of diagnostics, in the order they were found.
pub type Diagnostics = Vec<Diagnostic>;

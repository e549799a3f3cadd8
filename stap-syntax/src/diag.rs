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

/// A list of diagnostics, in the order they were found.
pub type Diagnostics = Vec<Diagnostic>;

//! Where a span is, described for runtime messages: `file:line:col`, and SystemTap's
//! "near" form of the token a span starts with (`identifier 'x' at f.stp:1:2`).
//!
//! The token is found by the lexer itself, so the description always agrees with how the
//! script was read; later passes get positions only through [`Locate`] and never read
//! source text.

use crate::lexer::Tok;
use crate::source::{SourceMap, Span};
use logos::Logos;

/// Describes source positions.
pub trait Locate {
    /// `file:line:col` of the start of `span`.
    fn location(&self, span: Span) -> String;
    /// SystemTap's description of the token `span` starts with: `operator '/' at f:1:2`.
    fn near(&self, span: Span) -> String;
    /// The span of the operator that follows `lhs` (past blanks, comments and closing
    /// parentheses), for "near operator '/'" in runtime errors.
    fn operator_after(&self, lhs: Span) -> Span;
}

/// The longest string literal text a description quotes.
const MAX_STRING_CHARS: usize = 40;

impl Locate for SourceMap {
    fn location(&self, span: Span) -> String {
        SourceMap::location(self, span)
    }

    fn near(&self, span: Span) -> String {
        let text = &self.file(span.file).text;
        let rest = text.get(span.start as usize..).unwrap_or("");
        let mut lexer = Tok::lexer(rest);
        let (kind, token) = loop {
            match lexer.next() {
                Some(Ok(Tok::BlockComment)) => continue,
                Some(Ok(k)) => break (Some(k), lexer.slice()),
                // An unterminated literal or a stray character: its first character.
                Some(Err(())) => {
                    break (
                        None,
                        rest.get(..rest.chars().next().map_or(0, char::len_utf8))
                            .unwrap_or(""),
                    )
                }
                None => break (None, ""),
            }
        };
        let what = match kind {
            Some(Tok::Str) => "string",
            // As the translator has always described them (`string(42)` calls a function).
            Some(Tok::ArgRef | Tok::ArgCount | Tok::KwString | Tok::KwLong | Tok::KwPrivate) => {
                "identifier"
            }
            Some(k) => k.describe(),
            None => "operator",
        };
        let shown: String = match kind {
            Some(Tok::Str) => token.chars().take(MAX_STRING_CHARS).collect(),
            _ => token.to_string(),
        };
        format!(
            "{} '{}' at {}",
            what,
            shown,
            SourceMap::location(self, span)
        )
    }

    fn operator_after(&self, lhs: Span) -> Span {
        let text = &self.file(lhs.file).text;
        let from = (lhs.end as usize).min(text.len());
        let mut lexer = Tok::lexer(&text[from..]);
        loop {
            match lexer.next() {
                Some(Ok(Tok::BlockComment | Tok::RParen)) => continue,
                Some(_) => {
                    let r = lexer.span();
                    return Span::new(lhs.file, from + r.start..from + r.start + 1);
                }
                None => return Span::new(lhs.file, text.len()..text.len()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileKind;

    fn at(text: &str, needle: &str) -> (SourceMap, Span) {
        let mut sm = SourceMap::new();
        let f = sm.add("t.stp", text, FileKind::User);
        let i = text.find(needle).unwrap();
        (sm, Span::new(f, i..i + needle.len()))
    }

    #[test]
    fn describes_the_token_a_span_starts_with() {
        let text = "probe begin { x = a[1] /* c */ / (b) + \"a long string literal, more than forty characters\" <<< @count(s) }";
        for (needle, want) in [
            ("x =", "identifier 'x'"),
            ("/ (b)", "operator '/'"),
            ("<<<", "operator '<<<'"),
            ("@count", "identifier '@count'"),
            ("1]", "number '1'"),
            (
                "\"a long",
                "string '\"a long string literal, more than forty '",
            ),
            ("probe", "keyword 'probe'"),
        ] {
            let (sm, span) = at(text, needle);
            let col = text.find(needle).unwrap() + 1;
            assert_eq!(sm.near(span), format!("{} at t.stp:1:{}", want, col));
        }
    }

    #[test]
    fn finds_the_operator_after_an_operand() {
        let (sm, lhs) = at("x = (a[1]) /* c */ % 2", "a[1]");
        let op = sm.operator_after(lhs);
        assert_eq!(sm.near(op), "operator '%' at t.stp:1:20");
    }
}

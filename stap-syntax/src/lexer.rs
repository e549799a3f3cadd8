//! The lexer: SystemTap's tokens, built with logos.
//!
//! Identifiers may start with `$` (target variables) or `@` (built-in operators and macro
//! invocations) and contain `$` (`$var$$`, `a$b`).  `$1`/`@1`/`$#`/`@#` are kept as
//! argument-reference tokens; the preprocessor substitutes them in the branches it keeps.
//! `%{ ... %}` embedded C is one token whose text is kept verbatim.

use crate::diag::Diagnostic;
use crate::source::{FileId, Span};
use logos::{Lexer, Logos};

/// The kind of a token.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[logos(skip r"[ \t\r\n\f\x0b]+")]
#[logos(skip(r"#[^\n]*", allow_greedy = true))]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Tok {
    /// `/* ... */`, dropped by [`lex`].
    #[token("/*", block_comment)]
    BlockComment,
    /// An identifier: `name`, `$target`, `@op`, `a$b`.
    #[regex(r"[A-Za-z_$@][A-Za-z0-9_$]*")]
    Ident,
    /// `$N` or `@N`: a command-line argument reference.
    #[regex(r"[$@][0-9][A-Za-z0-9_$]*", priority = 10)]
    ArgRef,
    /// `$#` or `@#`: the number of command-line arguments.
    #[token("$#")]
    #[token("@#")]
    ArgCount,
    /// A number: decimal, `0x` hex or `0` octal (validated by the parser).
    #[regex(r"[0-9][A-Za-z0-9_]*")]
    Number,
    /// A string literal, quotes included.
    #[token("\"", string_lit)]
    Str,
    /// `%{ ... %}` embedded C, delimiters included.
    #[token("%{", embedded)]
    Embedded,

    /// `%(`: start of a preprocessor conditional (or of a macro body).
    #[token("%(")]
    PpOpen,
    /// `%?`
    #[token("%?")]
    PpThen,
    /// `%:`
    #[token("%:")]
    PpElse,
    /// `%)`
    #[token("%)")]
    PpClose,

    /// `probe`
    #[token("probe")]
    KwProbe,
    /// `global`
    #[token("global")]
    KwGlobal,
    /// `private`
    #[token("private")]
    KwPrivate,
    /// `function`
    #[token("function")]
    KwFunction,
    /// `if`
    #[token("if")]
    KwIf,
    /// `else`
    #[token("else")]
    KwElse,
    /// `for`
    #[token("for")]
    KwFor,
    /// `foreach`
    #[token("foreach")]
    KwForeach,
    /// `in`
    #[token("in")]
    KwIn,
    /// `limit`
    #[token("limit")]
    KwLimit,
    /// `return`
    #[token("return")]
    KwReturn,
    /// `delete`
    #[token("delete")]
    KwDelete,
    /// `while`
    #[token("while")]
    KwWhile,
    /// `break`
    #[token("break")]
    KwBreak,
    /// `continue`
    #[token("continue")]
    KwContinue,
    /// `next`
    #[token("next")]
    KwNext,
    /// `string`
    #[token("string")]
    KwString,
    /// `long`
    #[token("long")]
    KwLong,
    /// `try`
    #[token("try")]
    KwTry,
    /// `catch`
    #[token("catch")]
    KwCatch,

    /// `<<<`
    #[token("<<<")]
    Aggregate,
    /// `<<=`
    #[token("<<=")]
    ShlAssign,
    /// `>>=`
    #[token(">>=")]
    ShrAssign,
    /// `<=`
    #[token("<=")]
    Le,
    /// `>=`
    #[token(">=")]
    Ge,
    /// `==`
    #[token("==")]
    EqEq,
    /// `!=`
    #[token("!=")]
    Ne,
    /// `=~`
    #[token("=~")]
    Match,
    /// `!~`
    #[token("!~")]
    NotMatch,
    /// `&&`
    #[token("&&")]
    AndAnd,
    /// `||`
    #[token("||")]
    OrOr,
    /// `++`
    #[token("++")]
    Incr,
    /// `--`
    #[token("--")]
    Decr,
    /// `+=`
    #[token("+=")]
    AddAssign,
    /// `-=`
    #[token("-=")]
    SubAssign,
    /// `*=`
    #[token("*=")]
    MulAssign,
    /// `/=`
    #[token("/=")]
    DivAssign,
    /// `%=`
    #[token("%=")]
    ModAssign,
    /// `&=`
    #[token("&=")]
    AndAssign,
    /// `|=`
    #[token("|=")]
    OrAssign,
    /// `^=`
    #[token("^=")]
    XorAssign,
    /// `.=`
    #[token(".=")]
    ConcatAssign,
    /// `->`
    #[token("->")]
    Arrow,
    /// `<<`
    #[token("<<")]
    Shl,
    /// `>>`
    #[token(">>")]
    Shr,
    /// `+`
    #[token("+")]
    Plus,
    /// `-`
    #[token("-")]
    Minus,
    /// `*`
    #[token("*")]
    Star,
    /// `/`
    #[token("/")]
    Slash,
    /// `%`
    #[token("%")]
    Percent,
    /// `&`
    #[token("&")]
    Amp,
    /// `|`
    #[token("|")]
    Pipe,
    /// `^`
    #[token("^")]
    Caret,
    /// `~`
    #[token("~")]
    Tilde,
    /// `!`
    #[token("!")]
    Bang,
    /// `<`
    #[token("<")]
    Lt,
    /// `>`
    #[token(">")]
    Gt,
    /// `=`
    #[token("=")]
    Assign,
    /// `.`
    #[token(".")]
    Dot,
    /// `,`
    #[token(",")]
    Comma,
    /// `;`
    #[token(";")]
    Semi,
    /// `:`
    #[token(":")]
    Colon,
    /// `?`
    #[token("?")]
    Question,
    /// `(`
    #[token("(")]
    LParen,
    /// `)`
    #[token(")")]
    RParen,
    /// `[`
    #[token("[")]
    LBracket,
    /// `]`
    #[token("]")]
    RBracket,
    /// `{`
    #[token("{")]
    LBrace,
    /// `}`
    #[token("}")]
    RBrace,
    /// End of input (only produced by the parser's token cursor).
    Eof,
}

fn block_comment(lex: &mut Lexer<Tok>) -> bool {
    match lex.remainder().find("*/") {
        Some(i) => {
            lex.bump(i + 2);
            true
        }
        None => {
            lex.bump(lex.remainder().len());
            false
        }
    }
}

fn string_lit(lex: &mut Lexer<Tok>) -> bool {
    let rest = lex.remainder().as_bytes();
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b'"' => {
                lex.bump(i + 1);
                return true;
            }
            _ => i += 1,
        }
    }
    lex.bump(rest.len());
    false
}

fn embedded(lex: &mut Lexer<Tok>) -> bool {
    match lex.remainder().find("%}") {
        Some(i) => {
            lex.bump(i + 2);
            true
        }
        None => {
            lex.bump(lex.remainder().len());
            false
        }
    }
}

impl Tok {
    /// True for keyword tokens (usable as probe-point components and member names).
    pub fn is_keyword(self) -> bool {
        use Tok::*;
        matches!(
            self,
            KwProbe
                | KwGlobal
                | KwPrivate
                | KwFunction
                | KwIf
                | KwElse
                | KwFor
                | KwForeach
                | KwIn
                | KwLimit
                | KwReturn
                | KwDelete
                | KwWhile
                | KwBreak
                | KwContinue
                | KwNext
                | KwString
                | KwLong
                | KwTry
                | KwCatch
        )
    }

    /// How the token kind is described in "expected ..." messages.
    pub fn describe(self) -> &'static str {
        use Tok::*;
        match self {
            Ident => "identifier",
            ArgRef => "argument reference",
            ArgCount => "argument count",
            Number => "number",
            Str => "string",
            Embedded => "embedded code",
            Eof => "end of input",
            BlockComment => "comment",
            k if k.is_keyword() => "keyword",
            _ => "operator",
        }
    }
}

/// One token: its kind, where it is, and which macro expansion produced it (0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    /// The kind.
    pub kind: Tok,
    /// Where its text is.
    pub span: Span,
    /// Index of the macro expansion it came from, in the preprocessor's table (0: none).
    pub expansion: u32,
}

/// Lexes a whole file.  Comments are dropped; the first lexical error stops the file.
pub fn lex(file: FileId, text: &str) -> Result<Vec<Token>, Diagnostic> {
    let mut out = Vec::with_capacity(text.len() / 4);
    let mut lexer = Tok::lexer(text);
    while let Some(r) = lexer.next() {
        let range = lexer.span();
        let span = Span::new(file, range.clone());
        match r {
            Ok(Tok::BlockComment) => {}
            Ok(kind) => out.push(Token {
                kind,
                span,
                expansion: 0,
            }),
            Err(()) => {
                let slice = &text[range.clone()];
                let (code, msg) = if slice.starts_with("/*") {
                    (
                        "parse.unterminated-comment",
                        "unterminated comment".to_string(),
                    )
                } else if slice.starts_with('"') {
                    (
                        "parse.unterminated-string",
                        "unterminated string literal".to_string(),
                    )
                } else if slice.starts_with("%{") {
                    (
                        "parse.unterminated-embedded",
                        "Could not find matching '%}' to close embedded code block".to_string(),
                    )
                } else {
                    let c = slice.chars().next().unwrap_or(' ');
                    (
                        "parse.bad-character",
                        format!("unexpected character {:?}", c),
                    )
                };
                let span = Span::new(
                    file,
                    range.start..(range.start + 2).min(text.len()).max(range.start + 1),
                );
                return Err(Diagnostic::parse(code, msg, span));
            }
        }
    }
    Ok(out)
}

/// Decodes a string literal token's text (quotes included) into SystemTap's canonical
/// escaped form: the body of an equivalent C string literal, where printable ASCII stays
/// as is, `\n \t \r \a \b \f \v \\ \"` keep their names, and every other byte becomes a
/// three-digit octal escape (so joined literals never merge escapes).
pub fn canonical_string(raw: &str) -> Result<String, String> {
    let bytes = decode_string(raw)?;
    Ok(escape_bytes(&bytes))
}

/// Decodes a string literal token's text (quotes included) into its bytes.
pub fn decode_string(raw: &str) -> Result<Vec<u8>, String> {
    let b = raw.as_bytes();
    let body = &b[1..b.len().saturating_sub(1).max(1)];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let Some(&e) = body.get(i) else {
            return Err("trailing backslash in string literal".into());
        };
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v: u32 = (e - b'0') as u32;
                let mut n = 1;
                while n < 3 && i < body.len() && (b'0'..=b'7').contains(&body[i]) {
                    v = v * 8 + (body[i] - b'0') as u32;
                    i += 1;
                    n += 1;
                }
                if v > 255 {
                    return Err(format!("octal escape \\{:o} out of range", v));
                }
                out.push(v as u8);
            }
            b'x' => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 2 && i < body.len() && body[i].is_ascii_hexdigit() {
                    v = v * 16 + (body[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                if n == 0 {
                    return Err("\\x used with no following hex digits".into());
                }
                out.push(v as u8);
            }
            // `\\`, `\"` and any other escaped character stand for themselves.
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Escapes bytes into the canonical C string body (see [`canonical_string`]).
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &c in bytes {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            12 => s.push_str("\\f"),
            11 => s.push_str("\\v"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\{:03o}", c)),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        lex(FileId(0), s).unwrap().iter().map(|t| t.kind).collect()
    }

    #[test]
    fn identifiers_with_dollars_and_at() {
        use Tok::*;
        assert_eq!(
            kinds("$a a$b$ @cast $$vars $1 @2 $# @#"),
            vec![Ident, Ident, Ident, Ident, ArgRef, ArgRef, ArgCount, ArgCount]
        );
    }

    #[test]
    fn operators_longest_match() {
        use Tok::*;
        assert_eq!(
            kinds("<<< <<= << <= < .= . -> -- -"),
            vec![
                Aggregate,
                ShlAssign,
                Shl,
                Le,
                Lt,
                ConcatAssign,
                Dot,
                Arrow,
                Decr,
                Minus
            ]
        );
        assert_eq!(
            kinds("%( %? %: %) %= %"),
            vec![PpOpen, PpThen, PpElse, PpClose, ModAssign, Percent]
        );
    }

    #[test]
    fn comments_and_keywords() {
        use Tok::*;
        assert_eq!(
            kinds("probe # x\n probes /* c */ // y\nif"),
            vec![KwProbe, Ident, KwIf]
        );
    }

    #[test]
    fn embedded_code_is_one_token() {
        let t = lex(FileId(0), "%{ int x; %} probe").unwrap();
        assert_eq!(t[0].kind, Tok::Embedded);
        assert_eq!(t[0].span.range(), 0..12);
    }

    #[test]
    fn errors_are_reported() {
        assert_eq!(
            lex(FileId(0), "\"abc").unwrap_err().code,
            "parse.unterminated-string"
        );
        assert_eq!(
            lex(FileId(0), "/* abc").unwrap_err().code,
            "parse.unterminated-comment"
        );
        assert_eq!(
            lex(FileId(0), "%{ abc").unwrap_err().code,
            "parse.unterminated-embedded"
        );
        assert_eq!(
            lex(FileId(0), "a ` b").unwrap_err().code,
            "parse.bad-character"
        );
    }

    #[test]
    fn string_escapes_are_canonical() {
        assert_eq!(
            canonical_string(r#""a\n\x41\q\"\\""#).unwrap(),
            r#"a\nAq\"\\"#
        );
        assert_eq!(canonical_string(r#""\1""#).unwrap(), r"\001");
        assert!(canonical_string(r#""\x""#).is_err());
    }
}

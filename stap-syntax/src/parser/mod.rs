//! The parser: preprocessed tokens to an [`ast::File`].
//!
//! A hand-written recursive-descent parser that follows SystemTap's own grammar
//! (parse.cxx) rule for rule: statements need no `;` and an expression takes every token
//! that can continue it (`a = 1 -b` is one statement), the dangling `else` binds to the
//! nearest `if`, and probe-point components glue adjacent tokens (`sys_*`, `**`).
//! Those greedy choices are what SystemTap's scripts depend on, and they are not LR(1)
//! without conflicts, which is why this is not a generated (lalrpop) parser.
//!
//! After an error the parser skips to the next top-level keyword and goes on, so one run
//! reports every independent error.  Nesting is bounded, so no input overflows the stack.

mod expr;
mod stmt;

use crate::ast::{self, *};
use crate::diag::Diagnostic;
use crate::lexer::{canonical_string, Tok, Token};
use crate::preprocess::{parse_number, Expansions};
use crate::source::{SourceMap, Span};

/// How deeply statements and expressions may nest.
pub const MAX_NESTING: usize = 1000;
/// How long one chain of binary operators may be (`a || b || ...`).
pub const MAX_CHAIN: usize = 10_000;
/// How many probe points one brace-expanded point may produce.
const MAX_EXPANSION: usize = 10_000;

/// One expansion of a probe point's brace alternatives, with the `?`/`!` written on it.
#[derive(Clone, Default)]
struct Alternative {
    components: Vec<Component>,
    optional: bool,
    sufficient: bool,
}

/// Language options that change what parses.
#[derive(Clone, Copy, Debug)]
pub struct ParseOptions {
    /// Embedded C (`%{ %}`) is allowed: guru mode (`-g`) or a tapset file.
    pub embedded_c: bool,
    /// Autocast (target suffixes and `&` on any value): language version 2.6 and later.
    pub autocast: bool,
    /// Adjacent string literals join across comments too: language version 2.0 and later.
    pub glue_across_comments: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            embedded_c: true,
            autocast: true,
            glue_across_comments: true,
        }
    }
}

/// Parses one file's preprocessed tokens.  Returns the file and every error found.
pub fn parse_file(
    sm: &SourceMap,
    expansions: &Expansions,
    name: &str,
    toks: &[Token],
    opts: ParseOptions,
) -> (ast::File, Vec<Diagnostic>) {
    let mut p = Parser::new(sm, expansions, toks, opts);
    let mut file = ast::File {
        name: name.to_string(),
        ..Default::default()
    };
    let mut errors = Vec::new();
    while p.peek() != Tok::Eof {
        if let Err(e) = p.item(&mut file) {
            errors.push(e);
            p.recover();
        }
    }
    (file, errors)
}

pub(crate) struct Parser<'a> {
    sm: &'a SourceMap,
    expansions: &'a Expansions,
    toks: &'a [Token],
    pos: usize,
    depth: usize,
    eof: Token,
    opts: ParseOptions,
    in_function: bool,
    global_names: std::collections::HashSet<String>,
}

pub(crate) type PResult<T> = Result<T, Diagnostic>;

impl<'a> Parser<'a> {
    fn new(
        sm: &'a SourceMap,
        expansions: &'a Expansions,
        toks: &'a [Token],
        opts: ParseOptions,
    ) -> Parser<'a> {
        let eof_span = toks
            .last()
            .map(|t| Span {
                file: t.span.file,
                start: t.span.end,
                end: t.span.end,
            })
            .unwrap_or_default();
        Parser {
            sm,
            expansions,
            toks,
            pos: 0,
            depth: 0,
            eof: Token {
                kind: Tok::Eof,
                span: eof_span,
                expansion: 0,
            },
            opts,
            in_function: false,
            global_names: Default::default(),
        }
    }

    // ------------------------------------------------------------------ cursor

    fn tok(&self) -> Token {
        self.toks.get(self.pos).copied().unwrap_or(self.eof)
    }

    fn peek(&self) -> Tok {
        self.tok().kind
    }

    fn peek_at(&self, n: usize) -> Tok {
        self.toks
            .get(self.pos + n)
            .map(|t| t.kind)
            .unwrap_or(Tok::Eof)
    }

    fn next(&mut self) -> Token {
        let t = self.tok();
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, kind: Tok) -> bool {
        if self.peek() == kind {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn text(&self, t: Token) -> &'a str {
        self.sm.text(t.span)
    }

    fn peek_text(&self) -> &'a str {
        self.text(self.tok())
    }

    /// The span of the last token consumed.
    fn prev_span(&self) -> Span {
        if self.pos == 0 {
            self.tok().span
        } else {
            self.toks[self.pos - 1].span
        }
    }

    fn expect(&mut self, kind: Tok, what: &str) -> PResult<Token> {
        if self.peek() == kind {
            Ok(self.next())
        } else {
            Err(self.error(format!("expected {}", what)))
        }
    }

    /// A parse error at the current token.
    fn error(&self, msg: impl Into<String>) -> Diagnostic {
        self.error_at(self.tok(), msg)
    }

    fn error_at(&self, t: Token, msg: impl Into<String>) -> Diagnostic {
        let found = if t.kind == Tok::Eof {
            "found end of input".to_string()
        } else {
            let text = self.text(t);
            let short: String = text.chars().take(40).collect();
            format!("found {} '{}'", t.kind.describe(), short)
        };
        let d = Diagnostic::parse("parse.syntax", msg, t.span).with_primary_message(found);
        self.expansions.annotate(d, t.expansion)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.error(format!(
                "nesting too deep (more than {} levels of statements or expressions)",
                MAX_NESTING
            )));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips to the next token that can start a top-level item.
    fn recover(&mut self) {
        self.depth = 0;
        if self.peek() != Tok::Eof {
            self.pos += 1;
        }
        while !matches!(
            self.peek(),
            Tok::Eof | Tok::KwProbe | Tok::KwGlobal | Tok::KwFunction | Tok::KwPrivate
        ) {
            self.pos += 1;
        }
    }

    // ------------------------------------------------------------------ literals

    /// A string literal, joined with any string literals right after it.
    fn string_lit(&mut self) -> PResult<(String, Span)> {
        let first = self.expect(Tok::Str, "string literal")?;
        let mut s = self.decode(first)?;
        let mut span = first.span;
        while self.peek() == Tok::Str {
            let next = self.tok();
            if !self.opts.glue_across_comments {
                let gap = span.file == next.span.file
                    && self
                        .sm
                        .file(span.file)
                        .text
                        .get(span.end as usize..next.span.start as usize)
                        .is_some_and(|g| g.chars().all(char::is_whitespace));
                if !gap {
                    break;
                }
            }
            let t = self.next();
            s.push_str(&self.decode(t)?);
            span = span.to(t.span);
        }
        Ok((s, span))
    }

    fn decode(&self, t: Token) -> PResult<String> {
        canonical_string(self.text(t)).map_err(|m| {
            self.expansions
                .annotate(Diagnostic::parse("parse.string", m, t.span), t.expansion)
        })
    }

    fn number(&mut self, negative: bool) -> PResult<i64> {
        let t = self.expect(Tok::Number, "number")?;
        let text = self.text(t);
        let err = || {
            self.expansions.annotate(
                Diagnostic::parse("parse.number", "number invalid or out of range", t.span),
                t.expansion,
            )
        };
        // Like SystemTap, any value up to 2^64-1 is accepted and wraps to 64-bit signed.
        let v = parse_number(text).ok_or_else(err)?;
        Ok(if negative { v.wrapping_neg() } else { v })
    }

    /// A number (optionally negative) or string literal.
    fn literal(&mut self) -> PResult<Literal> {
        match self.peek() {
            Tok::Minus if self.peek_at(1) == Tok::Number => {
                self.next();
                Ok(Literal::Number(self.number(true)?))
            }
            Tok::Number => Ok(Literal::Number(self.number(false)?)),
            Tok::Str => Ok(Literal::String(self.string_lit()?.0)),
            _ => Err(self.error("expected literal string or number")),
        }
    }

    fn ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.tok();
        let text = self.text(t);
        if t.kind == Tok::Ident && !text.starts_with('@') && !text.starts_with('$') {
            self.next();
            Ok(Ident {
                name: text.to_string(),
                span: t.span,
            })
        } else {
            Err(self.error(format!("expected {}", what)))
        }
    }

    /// A function's name: an identifier, or `string`/`long` (the conversion functions).
    fn function_name(&mut self) -> PResult<Ident> {
        let t = self.tok();
        let text = self.text(t);
        if matches!(t.kind, Tok::KwString | Tok::KwLong) {
            self.next();
            Ok(Ident {
                name: text.to_string(),
                span: t.span,
            })
        } else {
            Err(self.error("expected a function name"))
        }
    }

    // ------------------------------------------------------------------ top level

    fn item(&mut self, file: &mut ast::File) -> PResult<()> {
        let private = self.eat(Tok::KwPrivate);
        match self.peek() {
            Tok::KwProbe => self.probe(file, private),
            Tok::KwGlobal => self.globals(file, private),
            Tok::KwFunction => {
                let f = self.function(private)?;
                file.functions.push(f);
                Ok(())
            }
            Tok::Embedded if !private => {
                let t = self.next();
                self.check_embedded(t)?;
                file.embeds.push(self.embed(t));
                Ok(())
            }
            Tok::Semi if !private => {
                self.next();
                Ok(())
            }
            // `private name` is a private global without the `global` keyword.
            Tok::Ident if private => self.global_list(file, true),
            _ if private => {
                Err(self.error("expected 'global', 'function' or 'probe' after 'private'"))
            }
            _ => Err(self.error("expected 'probe', 'global', 'function', or '%{'")),
        }
    }

    /// Embedded C needs guru mode outside tapsets.
    pub(crate) fn check_embedded(&self, t: Token) -> PResult<()> {
        if self.opts.embedded_c {
            Ok(())
        } else {
            Err(self.error_at(t, "embedded code in unprivileged script; need stap -g"))
        }
    }

    fn embed(&self, t: Token) -> Embed {
        let text = self.text(t);
        let code = text
            .get(2..text.len().saturating_sub(2))
            .unwrap_or("")
            .to_string();
        Embed { code, span: t.span }
    }

    fn globals(&mut self, file: &mut ast::File, private: bool) -> PResult<()> {
        self.expect(Tok::KwGlobal, "'global'")?;
        self.global_list(file, private)
    }

    fn global_list(&mut self, file: &mut ast::File, private: bool) -> PResult<()> {
        loop {
            let name = self.ident("identifier after 'global'")?;
            let start = name.span;
            if !self.global_names.insert(name.name.clone()) {
                return Err(self.error_at(self.toks[self.pos - 1], "duplicate global name"));
            }
            let wrap = self.eat(Tok::Percent);
            let mut size = None;
            if self.eat(Tok::LBracket) {
                let n = self.number(false)?;
                if n <= 0 {
                    return Err(
                        self.error_at(self.toks[self.pos - 1], "array size must be positive")
                    );
                }
                size = Some(n);
                self.expect(Tok::RBracket, "']'")?;
            }
            let mut init = None;
            if self.eat(Tok::Assign) {
                if size.is_some() || wrap {
                    return Err(self.error_at(
                        self.toks[self.pos - 1],
                        "array cannot be initialized with a scalar",
                    ));
                }
                init = Some(self.literal()?);
            }
            file.globals.push(Global {
                name,
                private,
                wrap,
                size,
                init,
                span: start.to(self.prev_span()),
            });
            if !self.eat(Tok::Comma) {
                break;
            }
        }
        self.eat(Tok::Semi);
        Ok(())
    }

    fn type_name(&mut self) -> PResult<TypeName> {
        match self.peek() {
            Tok::KwLong => {
                self.next();
                Ok(TypeName::Long)
            }
            Tok::KwString => {
                self.next();
                Ok(TypeName::String)
            }
            _ => Err(self.error("expected 'long' or 'string'")),
        }
    }

    fn function(&mut self, private: bool) -> PResult<Function> {
        let kw = self.expect(Tok::KwFunction, "'function'")?;
        let name = if matches!(self.peek(), Tok::KwString | Tok::KwLong) {
            self.function_name()?
        } else {
            self.ident("identifier after 'function'")?
        };
        let ret = if self.eat(Tok::Colon) {
            Some(self.type_name()?)
        } else {
            None
        };
        self.expect(Tok::LParen, "'('")?;
        let mut params = Vec::new();
        if !self.eat(Tok::RParen) {
            loop {
                let pname = self.ident("identifier")?;
                if params.iter().any(|p: &Param| p.name.name == pname.name) {
                    return Err(self.error_at(self.toks[self.pos - 1], "duplicate parameter name"));
                }
                let ty = if self.eat(Tok::Colon) {
                    Some(self.type_name()?)
                } else {
                    None
                };
                params.push(Param { name: pname, ty });
                if self.eat(Tok::Comma) {
                    continue;
                }
                self.expect(Tok::RParen, "',' or ')'")?;
                break;
            }
        }
        let priority = if self.eat(Tok::Colon) {
            let n = self.number(false)?;
            if n <= 0 {
                return Err(self.error_at(
                    self.toks[self.pos - 1],
                    "function priority must be positive",
                ));
            }
            Some(n)
        } else {
            None
        };
        let body = match self.peek() {
            Tok::Embedded => {
                let t = self.next();
                self.check_embedded(t)?;
                FunctionBody::Embedded(self.embed(t))
            }
            Tok::LBrace => {
                self.in_function = true;
                let b = self.block();
                self.in_function = false;
                FunctionBody::Block(b?)
            }
            _ => return Err(self.error("expected '{' or '%{'")),
        };
        Ok(Function {
            name,
            private,
            ret,
            params,
            priority,
            body,
            span: kw.span.to(self.prev_span()),
        })
    }

    fn probe(&mut self, file: &mut ast::File, private: bool) -> PResult<()> {
        let kw = self.expect(Tok::KwProbe, "'probe'")?;
        let points = self.probe_points()?;
        let epilogue = match self.peek() {
            Tok::Assign => Some(false),
            Tok::AddAssign => Some(true),
            _ => None,
        };
        if let Some(epilogue) = epilogue {
            self.next();
            for n in &points {
                if n.condition.is_some() || n.optional || n.sufficient {
                    return Err(self.error_at(
                        self.toks[self.pos - 1],
                        "probe alias names cannot be optional or conditional",
                    ));
                }
            }
            let targets = self.probe_points()?;
            let span = kw.span.to(self.prev_span());
            let body = self.block()?;
            let also_epilogue =
                if !epilogue && self.peek() == Tok::Comma && self.peek_at(1) == Tok::LBrace {
                    self.next();
                    Some(self.block()?)
                } else {
                    None
                };
            file.aliases.push(ProbeAlias {
                names: points,
                epilogue,
                private,
                points: targets,
                body,
                also_epilogue,
                span,
            });
        } else {
            let span = kw.span.to(self.prev_span());
            if self.peek() != Tok::LBrace {
                return Err(self.error("expected one of ', { = +='"));
            }
            let body = self.block()?;
            file.probes.push(Probe {
                points,
                private,
                body,
                span,
            });
        }
        Ok(())
    }

    fn probe_points(&mut self) -> PResult<Vec<ProbePoint>> {
        let mut out = Vec::new();
        loop {
            self.probe_point(&mut out)?;
            if !self.eat(Tok::Comma) {
                return Ok(out);
            }
        }
    }

    /// One probe point as written; brace alternatives make it several.
    fn probe_point(&mut self, out: &mut Vec<ProbePoint>) -> PResult<()> {
        let start = self.tok().span;
        let alternatives = self.component_sequence()?;
        let (optional, sufficient) = self.point_marks();
        let mut condition = None;
        if self.eat(Tok::KwIf) {
            self.expect(Tok::LParen, "'('")?;
            condition = Some(self.expr()?);
            self.expect(Tok::RParen, "')'")?;
        }
        let span = start.to(self.prev_span());
        for alt in alternatives {
            out.push(ProbePoint {
                components: alt.components,
                optional: optional || alt.optional,
                sufficient: sufficient || alt.sufficient,
                condition: condition.clone(),
                span,
            });
        }
        Ok(())
    }

    /// The `?` and `!` after a probe point or one of its brace alternatives: (optional,
    /// sufficient).
    fn point_marks(&mut self) -> (bool, bool) {
        let (mut optional, mut sufficient) = (false, false);
        loop {
            match self.peek() {
                Tok::Question => optional = true,
                Tok::Bang => {
                    optional = true;
                    sufficient = true
                }
                _ => return (optional, sufficient),
            }
            self.next();
        }
    }

    /// `a.b(1).{c,d!}.e`: each expansion's components, with the marks its alternatives
    /// carry (`kernel.{trace("x")!, trace("y")}` is `kernel.trace("x")!, kernel.trace("y")`).
    fn component_sequence(&mut self) -> PResult<Vec<Alternative>> {
        self.enter()?;
        let mut acc = vec![Alternative::default()];
        loop {
            if self.peek() == Tok::LBrace {
                let open = self.next();
                let mut alts = Vec::new();
                loop {
                    let mut these = self.component_sequence()?;
                    let (optional, sufficient) = self.point_marks();
                    for a in &mut these {
                        a.optional |= optional;
                        a.sufficient |= sufficient;
                    }
                    alts.extend(these);
                    if self.eat(Tok::Comma) {
                        continue;
                    }
                    self.expect(Tok::RBrace, "',' or '}' in probe point alternatives")?;
                    break;
                }
                if acc.len().saturating_mul(alts.len()) > MAX_EXPANSION {
                    return Err(self.error_at(open, "probe point expands to too many alternatives"));
                }
                acc = acc
                    .iter()
                    .flat_map(|a| {
                        alts.iter().map(move |b| {
                            let mut v = a.clone();
                            v.components.extend(b.components.iter().cloned());
                            v.optional |= b.optional;
                            v.sufficient |= b.sufficient;
                            v
                        })
                    })
                    .collect();
            } else {
                let c = self.component()?;
                for a in &mut acc {
                    a.components.push(c.clone());
                }
            }
            if !self.eat(Tok::Dot) {
                break;
            }
        }
        self.leave();
        Ok(acc)
    }

    fn component_piece(&self, t: Token) -> bool {
        match t.kind {
            Tok::Ident => {
                let s = self.text(t);
                !s.starts_with('@')
            }
            Tok::Star | Tok::Number => true,
            k => k.is_keyword(),
        }
    }

    /// One component: adjacent identifier, keyword, number and `*` tokens glued into one
    /// name (`sys_*`, `*abc*`, `**`), then an optional literal parameter.
    fn component(&mut self) -> PResult<Component> {
        let first = self.tok();
        if !self.component_piece(first)
            || first.kind == Tok::Number
            || self.text(first).starts_with('$')
        {
            return Err(self.error("expected probe point component"));
        }
        self.next();
        let mut name = self.text(first).to_string();
        let mut last = first;
        loop {
            let t = self.tok();
            let adjacent = t.span.file == last.span.file
                && t.span.start == last.span.end
                && t.expansion == last.expansion;
            if !adjacent || !self.component_piece(t) {
                break;
            }
            name.push_str(self.text(t));
            self.next();
            last = t;
        }
        let mut span = first.span.to(last.span);
        let mut arg = None;
        if self.eat(Tok::LParen) {
            arg = Some(self.literal()?);
            let close = self.expect(Tok::RParen, "')'")?;
            span = span.to(close.span);
        }
        Ok(Component { name, arg, span })
    }
}

//! Expressions, with SystemTap's precedence (lowest first): assignment, `?:`, `||`,
//! `&&`, `|`, `^`, `&`, `in`, comparisons and `=~`/`!~`, shifts, `.`, `+ -`, `* / %`,
//! unary, `++`/`--`, then target-variable suffixes (`->f`, `[i]`, `$`) on values.

use super::{PResult, Parser};
use crate::ast::*;
use crate::lexer::{Tok, Token};

/// Binding levels of the binary operators handled by precedence climbing.
const IN_LEVEL: u8 = 5;
const CMP_LEVEL: u8 = 6;

fn binop(t: Tok) -> Option<(BinOp, u8)> {
    use BinOp::*;
    Some(match t {
        Tok::OrOr => (Or, 0),
        Tok::AndAnd => (And, 1),
        Tok::Pipe => (BitOr, 2),
        Tok::Caret => (BitXor, 3),
        Tok::Amp => (BitAnd, 4),
        Tok::Lt => (Lt, CMP_LEVEL),
        Tok::Le => (Le, CMP_LEVEL),
        Tok::Gt => (Gt, CMP_LEVEL),
        Tok::Ge => (Ge, CMP_LEVEL),
        Tok::EqEq => (Eq, CMP_LEVEL),
        Tok::Ne => (Ne, CMP_LEVEL),
        Tok::Match => (Match, CMP_LEVEL),
        Tok::NotMatch => (NotMatch, CMP_LEVEL),
        Tok::Shl => (Shl, 7),
        Tok::Shr => (Shr, 7),
        Tok::Dot => (Concat, 8),
        Tok::Plus => (Add, 9),
        Tok::Minus => (Sub, 9),
        Tok::Star => (Mul, 10),
        Tok::Slash => (Div, 10),
        Tok::Percent => (Mod, 10),
        _ => return None,
    })
}

fn assign_op(t: Tok) -> Option<AssignOp> {
    use AssignOp::*;
    Some(match t {
        Tok::Assign => Assign,
        Tok::Aggregate => Aggregate,
        Tok::AddAssign => Compound(BinOp::Add),
        Tok::SubAssign => Compound(BinOp::Sub),
        Tok::MulAssign => Compound(BinOp::Mul),
        Tok::DivAssign => Compound(BinOp::Div),
        Tok::ModAssign => Compound(BinOp::Mod),
        Tok::ShlAssign => Compound(BinOp::Shl),
        Tok::ShrAssign => Compound(BinOp::Shr),
        Tok::AndAssign => Compound(BinOp::BitAnd),
        Tok::OrAssign => Compound(BinOp::BitOr),
        Tok::XorAssign => Compound(BinOp::BitXor),
        Tok::ConcatAssign => Compound(BinOp::Concat),
        _ => return None,
    })
}

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Parser<'_> {
    /// A whole expression (assignment level).
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let lhs = self.ternary()?;
        let r = if let Some(op) = assign_op(self.peek()) {
            self.next();
            let rhs = self.expr()?;
            let span = lhs.span.to(rhs.span);
            Expr::new(
                ExprKind::Assign {
                    op,
                    lhs: boxed(lhs),
                    rhs: boxed(rhs),
                },
                span,
            )
        } else {
            lhs
        };
        self.leave();
        Ok(r)
    }

    fn ternary(&mut self) -> PResult<Expr> {
        let cond = self.binary(0)?;
        if !self.eat(Tok::Question) {
            return Ok(cond);
        }
        self.enter()?;
        let then = self.expr()?;
        self.expect(Tok::Colon, "':'")?;
        let otherwise = self.ternary()?;
        self.leave();
        let span = cond.span.to(otherwise.span);
        Ok(Expr::new(
            ExprKind::Ternary {
                cond: boxed(cond),
                then: boxed(then),
                otherwise: boxed(otherwise),
            },
            span,
        ))
    }

    /// Binary operators binding at least as tightly as `min`, by precedence climbing.
    fn binary(&mut self, min: u8) -> PResult<Expr> {
        let (mut lhs, from_in) = if min <= IN_LEVEL {
            self.array_in()?
        } else {
            (self.unary()?, false)
        };
        let mut chain = 0usize;
        while let Some((op, level)) = binop(self.peek()) {
            if level < min || (from_in && level >= IN_LEVEL) {
                break;
            }
            self.next();
            let rhs = if matches!(op, BinOp::Match | BinOp::NotMatch) {
                let t = self.tok();
                if t.kind != Tok::Str {
                    return Err(self.error("expected literal string as regular expression"));
                }
                let (s, span) = self.string_lit()?;
                Expr::new(ExprKind::Literal(Literal::String(s)), span)
            } else {
                self.enter()?;
                let r = self.binary(level + 1)?;
                self.leave();
                r
            };
            // A long operator chain nests the tree as deeply as parentheses would.
            chain += 1;
            if chain > super::MAX_CHAIN {
                return Err(self.error("expression too long (operator chain nests too deeply)"));
            }
            let span = lhs.span.to(rhs.span);
            lhs = Expr::new(
                ExprKind::Binary {
                    op,
                    lhs: boxed(lhs),
                    rhs: boxed(rhs),
                },
                span,
            );
        }
        Ok(lhs)
    }

    /// `[k1, k2] in a`, `k in a`, or just a comparison-level expression.  The flag says
    /// whether the result is an `in` test (nothing at its level or above may follow).
    fn array_in(&mut self) -> PResult<(Expr, bool)> {
        let start = self.tok().span;
        let bracketed = self.peek() == Tok::LBracket;
        let keys = if bracketed {
            self.next();
            self.index_list()?
        } else {
            vec![Some(self.binary(CMP_LEVEL)?)]
        };
        if self.eat(Tok::KwIn) {
            let array = self.indexable()?;
            let span = start.to(array.span);
            return Ok((
                Expr::new(
                    ExprKind::In {
                        keys,
                        array: boxed(array),
                    },
                    span,
                ),
                true,
            ));
        }
        if bracketed {
            return Err(self.error("expected 'in' after the bracketed key list"));
        }
        match keys.into_iter().next() {
            Some(Some(e)) => Ok((e, false)),
            _ => Err(self.error("expected expression")),
        }
    }

    /// Keys after `[` up to and including `]`; `*` stands for any key.
    pub(crate) fn index_list(&mut self) -> PResult<Vec<Option<Expr>>> {
        let mut out = Vec::new();
        if self.peek() == Tok::RBracket {
            return Err(self.error("expected index expression"));
        }
        loop {
            if self.peek() == Tok::Star && matches!(self.peek_at(1), Tok::Comma | Tok::RBracket) {
                self.next();
                out.push(None);
            } else {
                out.push(Some(self.expr()?));
            }
            if self.eat(Tok::Comma) {
                continue;
            }
            self.expect(Tok::RBracket, "',' or ']'")?;
            return Ok(out);
        }
    }

    /// What `in` and `foreach` iterate over: an array name or a histogram.
    pub(crate) fn indexable(&mut self) -> PResult<Expr> {
        let t = self.tok();
        let text = self.text(t);
        if t.kind == Tok::Ident && (text == "@hist_linear" || text == "@hist_log") {
            return self.hist_op();
        }
        let id = self.ident("array name or histogram")?;
        Ok(Expr::new(ExprKind::Symbol(id.name), id.span))
    }

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.tok();
        let op = match t.kind {
            Tok::Minus => UnOp::Neg,
            Tok::Plus => UnOp::Plus,
            Tok::Bang => UnOp::Not,
            Tok::Tilde => UnOp::BitNot,
            _ => return self.crement(),
        };
        self.next();
        self.enter()?;
        let operand = self.unary()?;
        self.leave();
        let span = t.span.to(operand.span);
        Ok(Expr::new(
            ExprKind::Unary {
                op,
                operand: boxed(operand),
            },
            span,
        ))
    }

    fn crement(&mut self) -> PResult<Expr> {
        let t = self.tok();
        let pre = match t.kind {
            Tok::Incr => Some(IncDec::Incr),
            Tok::Decr => Some(IncDec::Decr),
            _ => None,
        };
        if let Some(op) = pre {
            self.next();
            let operand = self.dwarf_value()?;
            let span = t.span.to(operand.span);
            return Ok(Expr::new(
                ExprKind::PreIncDec {
                    op,
                    operand: boxed(operand),
                },
                span,
            ));
        }
        let operand = self.dwarf_value()?;
        let post = match self.peek() {
            Tok::Incr => IncDec::Incr,
            Tok::Decr => IncDec::Decr,
            _ => return Ok(operand),
        };
        let end = self.next();
        let span = operand.span.to(end.span);
        Ok(Expr::new(
            ExprKind::PostIncDec {
                op: post,
                operand: boxed(operand),
            },
            span,
        ))
    }

    fn peek_target_components(&self) -> bool {
        match self.peek() {
            Tok::Arrow | Tok::LBracket => true,
            Tok::Ident => matches!(self.peek_text(), "$" | "$$"),
            _ => false,
        }
    }

    /// A value with optional `&` and target-variable suffixes.
    fn dwarf_value(&mut self) -> PResult<Expr> {
        let amp = if self.peek() == Tok::Amp {
            Some(self.next())
        } else {
            None
        };
        let t = self.tok();
        let text = self.peek_text();
        let base = if t.kind == Tok::Ident && text.starts_with('$') && !matches!(text, "$" | "$$") {
            self.next();
            let (name, pretty) = split_pretty(text);
            if name.len() <= 1 || name.chars().skip_while(|&c| c == '$').count() == 0 {
                return Err(self.error_at(t, "expected a target variable name after '$'"));
            }
            Some((TargetBase::Var(name.to_string()), pretty, t.span))
        } else if t.kind == Tok::Ident && text == "@cast" {
            Some((self.cast_op()?, 0, t.span))
        } else if t.kind == Tok::Ident && text == "@var" {
            Some((self.atvar_op()?, 0, t.span))
        } else {
            None
        };
        let (base, pretty, start) = match base {
            Some(b) => b,
            None if !self.opts.autocast => {
                if amp.is_some() {
                    return Err(self.error("expected @cast, @var or $var"));
                }
                return self.value();
            }
            None => {
                let v = self.value()?;
                if amp.is_none() && !self.peek_target_components() {
                    return Ok(v);
                }
                let span = v.span;
                (TargetBase::Auto(boxed(v)), 0, span)
            }
        };
        let mut target = Target {
            base,
            components: Vec::new(),
            addressof: amp.is_some(),
            pretty,
        };
        if pretty == 0 {
            self.target_components(&mut target)?;
        }
        let start = amp.map(|a| a.span).unwrap_or(start);
        Ok(Expr::new(
            ExprKind::Target(Box::new(target)),
            start.to(self.prev_span()),
        ))
    }

    fn target_components(&mut self, target: &mut Target) -> PResult<()> {
        loop {
            match self.peek() {
                Tok::Arrow => {
                    self.next();
                    let t = self.tok();
                    if !(t.kind == Tok::Ident || t.kind.is_keyword())
                        || self.text(t).starts_with('@')
                        || self.text(t).starts_with('$')
                    {
                        return Err(self.error("expected field name after '->'"));
                    }
                    self.next();
                    let (name, pretty) = split_pretty(self.text(t));
                    target.components.push(TargetComponent::Member(Ident {
                        name: name.to_string(),
                        span: t.span,
                    }));
                    if pretty > 0 {
                        target.pretty = pretty;
                        return Ok(());
                    }
                }
                Tok::LBracket => {
                    self.next();
                    self.enter()?;
                    let e = self.expr()?;
                    self.leave();
                    self.expect(Tok::RBracket, "']'")?;
                    target.components.push(TargetComponent::Index(e));
                }
                Tok::Ident if matches!(self.peek_text(), "$" | "$$") => {
                    target.pretty = self.peek_text().len() as u8;
                    self.next();
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
    }

    fn paren_open(&mut self, what: &str) -> PResult<()> {
        self.expect(Tok::LParen, &format!("'(' after {}", what))?;
        Ok(())
    }

    fn cast_op(&mut self) -> PResult<TargetBase> {
        self.next();
        self.paren_open("@cast")?;
        self.enter()?;
        let expr = self.expr()?;
        self.leave();
        self.expect(Tok::Comma, "','")?;
        let (ty, _) = self.string_lit()?;
        let module = if self.eat(Tok::Comma) {
            Some(self.string_lit()?.0)
        } else {
            None
        };
        self.expect(Tok::RParen, "')'")?;
        Ok(TargetBase::Cast {
            expr: boxed(expr),
            ty,
            module,
        })
    }

    fn atvar_op(&mut self) -> PResult<TargetBase> {
        self.next();
        self.paren_open("@var")?;
        let (name, _) = self.string_lit()?;
        let module = if self.eat(Tok::Comma) {
            Some(self.string_lit()?.0)
        } else {
            None
        };
        self.expect(Tok::RParen, "')'")?;
        Ok(TargetBase::AtVar { name, module })
    }

    fn hist_op(&mut self) -> PResult<Expr> {
        let t = self.next();
        let linear = self.text(t) == "@hist_linear";
        self.paren_open(self.text(t))?;
        self.enter()?;
        let operand = self.expr()?;
        let hist = if linear {
            let mut args = Vec::new();
            for _ in 0..3 {
                self.expect(
                    Tok::Comma,
                    "',' (@hist_linear takes a value, low, high and step)",
                )?;
                args.push(boxed(self.expr()?));
            }
            let step = args.pop().unwrap_or_else(|| boxed(operand.clone()));
            let hi = args.pop().unwrap_or_else(|| boxed(operand.clone()));
            let lo = args.pop().unwrap_or_else(|| boxed(operand.clone()));
            Hist::Linear { lo, hi, step }
        } else {
            Hist::Log
        };
        self.leave();
        self.expect(Tok::RParen, "')'")?;
        Ok(Expr::new(
            ExprKind::Hist {
                hist,
                operand: boxed(operand),
            },
            t.span.to(self.prev_span()),
        ))
    }

    /// One operand inside `@op( ... )`.
    fn paren_operand(&mut self, what: &str) -> PResult<Expr> {
        self.paren_open(what)?;
        self.enter()?;
        let e = self.expr()?;
        self.leave();
        self.expect(Tok::RParen, "')'")?;
        Ok(e)
    }

    /// `(s)` or `(s, b)` of `@variance`: the statistic and the bit shift (0 to 62).
    fn variance_operands(&mut self) -> PResult<(Expr, Option<u8>)> {
        self.paren_open("@variance")?;
        self.enter()?;
        let e = self.expr()?;
        self.leave();
        let mut shift = None;
        if self.eat(Tok::Comma) {
            match (self.peek(), self.peek_text().parse::<u8>()) {
                (Tok::Number, Ok(b)) if b <= 62 => {
                    self.next();
                    shift = Some(b);
                }
                _ => return Err(self.error("expected a bit shift from 0 to 62")),
            }
        }
        self.expect(Tok::RParen, "')'")?;
        Ok((e, shift))
    }

    /// The arguments of a call to `name` (at `(`), which started at token `t`.
    fn call(&mut self, name: Ident, t: Token) -> PResult<Expr> {
        let start = t.span;
        self.next();
        let mut args = Vec::new();
        if self.hist_first(&name) {
            // As SystemTap: a histogram is drawn only as the one argument of print,
            // println, sprint or sprintln (an element of it, `@hist_log(s)[i]`, is a value).
            self.enter()?;
            let h = self.hist_op()?;
            if self.peek() == Tok::LBracket {
                self.next();
                let indexes = self.index_list()?;
                let span = h.span.to(self.prev_span());
                args.push(Expr::new(
                    ExprKind::Index {
                        base: boxed(h),
                        indexes,
                    },
                    span,
                ));
                while self.eat(Tok::Comma) {
                    args.push(self.expr()?);
                }
                self.expect(Tok::RParen, "one of ', )'")?;
            } else {
                args.push(h);
                self.expect(Tok::RParen, "')'")?;
            }
            self.leave();
        } else if !self.eat(Tok::RParen) {
            self.enter()?;
            loop {
                args.push(self.expr()?);
                if self.eat(Tok::Comma) {
                    continue;
                }
                self.expect(Tok::RParen, "',' or ')'")?;
                break;
            }
            self.leave();
        }
        self.check_print_args(&name, &args, t)?;
        Ok(Expr::new(
            ExprKind::Call { name, args },
            start.to(self.prev_span()),
        ))
    }

    /// True at the `@hist_*` that starts the arguments of a call to a print function
    /// that can draw it.
    fn hist_first(&self, name: &Ident) -> bool {
        let t = self.tok();
        matches!(
            name.name.as_str(),
            "print" | "println" | "sprint" | "sprintln"
        ) && t.kind == Tok::Ident
            && matches!(self.text(t), "@hist_linear" | "@hist_log")
    }

    /// A primary value: literal, variable, call, array element, `@op(...)`, `( expr )`.
    fn value(&mut self) -> PResult<Expr> {
        let t = self.tok();
        let start = t.span;
        let at = |p: &Self| start.to(p.prev_span());
        match t.kind {
            Tok::LParen => {
                self.next();
                self.enter()?;
                let e = self.expr()?;
                self.leave();
                self.expect(Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::Number | Tok::Str => {
                let l = self.literal()?;
                Ok(Expr::new(ExprKind::Literal(l), at(self)))
            }
            Tok::Embedded => {
                self.next();
                self.check_embedded(t)?;
                let code = self.embed(t).code;
                Ok(Expr::new(ExprKind::Embedded(code), t.span))
            }
            // `string(...)` and `long(...)` are calls: the type names are keywords only
            // where a type is expected.
            Tok::KwString | Tok::KwLong if self.peek_at(1) == Tok::LParen => {
                self.next();
                let name = Ident {
                    name: self.text(t).to_string(),
                    span: t.span,
                };
                self.call(name, t)
            }
            Tok::Ident => {
                let text = self.text(t);
                if let Some(name) = text.strip_prefix('@') {
                    if let Some(mut op) = StatOp::from_name(text) {
                        self.next();
                        let e = if let StatOp::Variance(_) = op {
                            let (e, shift) = self.variance_operands()?;
                            op = StatOp::Variance(shift);
                            e
                        } else {
                            self.paren_operand(text)?
                        };
                        return Ok(Expr::new(
                            ExprKind::Stat {
                                op,
                                operand: boxed(e),
                            },
                            at(self),
                        ));
                    }
                    match name {
                        "hist_linear" | "hist_log" => {
                            let h = self.hist_op()?;
                            if self.peek() != Tok::LBracket {
                                return Err(self.error_at(
                                    t,
                                    "base histogram operator where expression expected",
                                ));
                            }
                            self.next();
                            let indexes = self.index_list()?;
                            Ok(Expr::new(
                                ExprKind::Index {
                                    base: boxed(h),
                                    indexes,
                                },
                                at(self),
                            ))
                        }
                        "defined" => {
                            self.next();
                            let e = self.paren_operand(text)?;
                            Ok(Expr::new(ExprKind::Defined(boxed(e)), at(self)))
                        }
                        "entry" => {
                            self.next();
                            let e = self.paren_operand(text)?;
                            Ok(Expr::new(ExprKind::Entry(boxed(e)), at(self)))
                        }
                        "perf" => {
                            self.next();
                            self.paren_open(text)?;
                            let (s, sspan) = self.string_lit()?;
                            if s.is_empty() {
                                return Err(self
                                    .error_at(
                                        self.toks[self.pos - 1],
                                        "expected a perf counter name",
                                    )
                                    .with_label(sspan, "empty name"));
                            }
                            self.expect(Tok::RParen, "')'")?;
                            Ok(Expr::new(ExprKind::Perf(s), at(self)))
                        }
                        "probewrite" => {
                            self.next();
                            self.paren_open(text)?;
                            let id = self.ident("variable name")?;
                            self.expect(Tok::RParen, "')'")?;
                            Ok(Expr::new(ExprKind::ProbeWrite(id), at(self)))
                        }
                        "const" => {
                            self.next();
                            self.check_embedded(t)?;
                            self.paren_open(text)?;
                            let (s, _) = self.string_lit()?;
                            self.expect(Tok::RParen, "')'")?;
                            Ok(Expr::new(ExprKind::Const(s), at(self)))
                        }
                        _ => Err(self.error(format!("unknown operator or macro '{}'", text))),
                    }
                } else if text.starts_with('$') {
                    Err(self.error("expected a target variable name after '$'"))
                } else {
                    self.next();
                    let name = Ident {
                        name: text.to_string(),
                        span: t.span,
                    };
                    match self.peek() {
                        Tok::LParen => self.call(name, t),
                        Tok::LBracket => {
                            self.next();
                            self.enter()?;
                            let indexes = self.index_list()?;
                            self.leave();
                            let base = Expr::new(ExprKind::Symbol(name.name), name.span);
                            Ok(Expr::new(
                                ExprKind::Index {
                                    base: boxed(base),
                                    indexes,
                                },
                                at(self),
                            ))
                        }
                        _ => Ok(Expr::new(ExprKind::Symbol(name.name), name.span)),
                    }
                }
            }
            _ => Err(self.error("expected an expression")),
        }
    }
}

impl Parser<'_> {
    /// The printing functions take their format or delimiter as a literal string.
    fn check_print_args(&self, name: &Ident, args: &[Expr], t: crate::lexer::Token) -> PResult<()> {
        let literal_first = matches!(
            args.first().map(|a| &a.kind),
            Some(ExprKind::Literal(Literal::String(_)))
        );
        match name.name.as_str() {
            "printf" | "sprintf" if !literal_first => Err(self.error_at(
                t,
                format!(
                    "expected a literal format string as the first argument of {}",
                    name.name
                ),
            )),
            "printd" | "printdln" | "sprintd" | "sprintdln" if !literal_first => Err(self
                .error_at(
                    t,
                    format!(
                        "expected a literal delimiter string as the first argument of {}",
                        name.name
                    ),
                )),
            "printd" | "printdln" | "sprintd" | "sprintdln" if args.len() < 3 => Err(self
                .error_at(
                    t,
                    format!("{} needs more than one value to join", name.name),
                )),
            "print" | "sprint" if args.is_empty() => {
                Err(self.error_at(t, format!("{} needs at least one argument", name.name)))
            }
            _ => Ok(()),
        }
    }
}

/// Splits a `$`/`$$` pretty-printing suffix off a name: `$var$$` -> (`$var`, 2).
fn split_pretty(text: &str) -> (&str, u8) {
    let trimmed = text.trim_end_matches('$');
    // `$$vars` and `$` alone: the dollars are the name, not a suffix.
    if trimmed.is_empty() {
        return (text, 0);
    }
    let n = (text.len() - trimmed.len()).min(2);
    (&text[..text.len() - n], n as u8)
}

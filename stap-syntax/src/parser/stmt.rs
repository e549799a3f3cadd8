//! Statements: blocks, control flow, `foreach`, `try`/`catch`.

use super::{PResult, Parser};
use crate::ast::*;
use crate::lexer::Tok;

impl Parser<'_> {
    /// `{ statements }`
    pub(crate) fn block(&mut self) -> PResult<Block> {
        let open = self.expect(Tok::LBrace, "'{'")?;
        self.enter()?;
        let mut stmts = Vec::new();
        loop {
            match self.peek() {
                Tok::RBrace => break,
                Tok::Eof => return Err(self.error("expected '}' (the block was not closed)")),
                _ => stmts.push(self.statement()?),
            }
        }
        let close = self.next();
        self.leave();
        Ok(Block {
            stmts,
            span: open.span.to(close.span),
        })
    }

    fn boxed_statement(&mut self) -> PResult<Box<Stmt>> {
        Ok(Box::new(self.statement()?))
    }

    /// One statement.  Simple statements take an optional `;` after them.
    pub(crate) fn statement(&mut self) -> PResult<Stmt> {
        self.enter()?;
        let start = self.tok().span;
        let kind = match self.peek() {
            Tok::Semi => {
                self.next();
                StmtKind::Null
            }
            Tok::LBrace => StmtKind::Block(self.block()?),
            Tok::KwTry => self.try_stmt()?,
            Tok::KwIf => {
                self.next();
                self.expect(Tok::LParen, "'('")?;
                let cond = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                let then = self.boxed_statement()?;
                let otherwise = if self.eat(Tok::KwElse) {
                    Some(self.boxed_statement()?)
                } else {
                    None
                };
                StmtKind::If {
                    cond,
                    then,
                    otherwise,
                }
            }
            Tok::KwWhile => {
                self.next();
                self.expect(Tok::LParen, "'('")?;
                let cond = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                StmtKind::While {
                    cond,
                    body: self.boxed_statement()?,
                }
            }
            Tok::KwFor => self.for_stmt()?,
            Tok::KwForeach => self.foreach()?,
            Tok::KwReturn => {
                if !self.in_function {
                    return Err(self.error("found 'return' not in function context"));
                }
                self.next();
                let value = if matches!(self.peek(), Tok::Semi | Tok::RBrace) {
                    None
                } else {
                    Some(self.expr()?)
                };
                self.eat(Tok::Semi);
                StmtKind::Return(value)
            }
            Tok::KwDelete => {
                self.next();
                let e = self.expr()?;
                self.eat(Tok::Semi);
                StmtKind::Delete(e)
            }
            Tok::KwBreak => {
                self.next();
                self.eat(Tok::Semi);
                StmtKind::Break
            }
            Tok::KwContinue => {
                self.next();
                self.eat(Tok::Semi);
                StmtKind::Continue
            }
            Tok::KwNext => {
                self.next();
                self.eat(Tok::Semi);
                StmtKind::Next
            }
            k if k.is_keyword() || k == Tok::Eof => return Err(self.error("expected statement")),
            Tok::PpOpen | Tok::PpThen | Tok::PpElse | Tok::PpClose => {
                return Err(self.error("expected statement"))
            }
            _ => {
                let e = self.expr()?;
                self.eat(Tok::Semi);
                StmtKind::Expr(e)
            }
        };
        self.leave();
        Ok(Stmt {
            kind,
            span: start.to(self.prev_span()),
        })
    }

    fn try_stmt(&mut self) -> PResult<StmtKind> {
        self.expect(Tok::KwTry, "'try'")?;
        let body = self.block()?;
        self.expect(Tok::KwCatch, "'catch'")?;
        let var = if self.eat(Tok::LParen) {
            let v = self.ident("identifier")?;
            self.expect(Tok::RParen, "')'")?;
            Some(v)
        } else {
            None
        };
        let handler = self.block()?;
        Ok(StmtKind::Try { body, var, handler })
    }

    fn for_stmt(&mut self) -> PResult<StmtKind> {
        self.expect(Tok::KwFor, "'for'")?;
        self.expect(Tok::LParen, "'('")?;
        let init = if self.peek() == Tok::Semi {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect(Tok::Semi, "';'")?;
        let cond = if self.peek() == Tok::Semi {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect(Tok::Semi, "';'")?;
        let incr = if self.peek() == Tok::RParen {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect(Tok::RParen, "')'")?;
        Ok(StmtKind::For {
            init,
            cond,
            incr,
            body: self.boxed_statement()?,
        })
    }

    fn sort_dir(&mut self) -> Option<SortDir> {
        match self.peek() {
            Tok::Plus => {
                self.next();
                Some(SortDir::Asc)
            }
            Tok::Minus => {
                self.next();
                Some(SortDir::Desc)
            }
            _ => None,
        }
    }

    fn foreach(&mut self) -> PResult<StmtKind> {
        self.expect(Tok::KwForeach, "'foreach'")?;
        self.expect(Tok::LParen, "'('")?;
        let mut value = None;
        if self.peek() == Tok::Ident && self.peek_at(1) == Tok::Assign {
            value = Some(self.ident("identifier")?);
            self.next();
        }
        let mut keys = Vec::new();
        let bracketed = self.eat(Tok::LBracket);
        loop {
            let k = self.ident("identifier")?;
            let dir = self.sort_dir();
            keys.push((k, dir));
            if !bracketed {
                break;
            }
            if self.eat(Tok::Comma) {
                continue;
            }
            self.expect(Tok::RBracket, "',' or ']'")?;
            break;
        }
        self.expect(Tok::KwIn, "'in'")?;
        let array = self.indexable()?;
        let slice = if self.peek() == Tok::LBracket {
            self.next();
            Some(self.index_list()?)
        } else {
            None
        };
        let mut stat = None;
        if self.peek() == Tok::Ident {
            if let Some(op) = StatOp::from_name(self.peek_text()) {
                self.next();
                stat = Some(op);
            }
        }
        let value_sort = self.sort_dir();
        if stat.is_some() && value_sort.is_none() {
            return Err(self.error("expected '+' or '-' after the statistic to sort by"));
        }
        let sorts = keys.iter().filter(|k| k.1.is_some()).count() + value_sort.is_some() as usize;
        if sorts > 1 {
            return Err(self.error_at(
                self.toks[self.pos - 1],
                "multiple sort directives in foreach (only one key or the value may be sorted)",
            ));
        }
        let limit = if self.eat(Tok::KwLimit) {
            Some(self.expr()?)
        } else {
            None
        };
        self.expect(Tok::RParen, "')'")?;
        let body = self.boxed_statement()?;
        Ok(StmtKind::Foreach(Foreach {
            value,
            keys,
            bracketed,
            array,
            slice,
            stat,
            value_sort,
            limit,
            body,
        }))
    }
}

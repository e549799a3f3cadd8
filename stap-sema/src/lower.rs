//! Lowering: AST bodies to IR, resolving every name.
//!
//! A name is a local of the function or probe if one exists, else a global visible from
//! the file (its own private globals first), else a tapset global (whose file then joins),
//! else a new local.  Arrays are always globals.  A call resolves to a function of the
//! right arity, from the script or, failing that, from a tapset.

use crate::elaborate::{sem_error, Derived, Elab, FileIx};
use crate::ir::*;
use stap_syntax::ast;
use stap_syntax::diag::Diagnostic;
use stap_syntax::source::Span;
use std::collections::HashMap;

/// The names a body sees while it is lowered.
#[derive(Clone)]
pub(crate) struct Scope {
    pub locals: Arena<Local>,
    pub map: HashMap<String, LocalId>,
    /// The file the code being lowered comes from (for private names).
    pub file: FileIx,
    pub family: Option<Family>,
    /// The probe point being lowered (None in functions).
    pub point: Option<ProbePoint>,
    /// Variables the user's handler assigns (for `@probewrite`).
    pub written: std::collections::HashSet<String>,
    pub in_function: bool,
    pub loops: usize,
    /// The autocast type of each local assigned one (None: assigned several).
    pub rich: HashMap<LocalId, Option<crate::autocast::Rich>>,
}

impl Scope {
    fn local(&mut self, name: &str, span: Span, declared: bool) -> LocalId {
        if let Some(&i) = self.map.get(name) {
            return i;
        }
        let id = self.locals.push(Local {
            name: name.to_string(),
            ty: Type::Unknown,
            span,
            param: false,
            declared,
        });
        self.map.insert(name.to_string(), id);
        id
    }
}

pub(crate) type LResult<T> = Result<T, Diagnostic>;

fn print_kind(name: &str) -> Option<PrintKind> {
    Some(match name {
        "print" => PrintKind::Print {
            newline: false,
            to_string: false,
        },
        "println" => PrintKind::Print {
            newline: true,
            to_string: false,
        },
        "sprint" => PrintKind::Print {
            newline: false,
            to_string: true,
        },
        "sprintln" => PrintKind::Print {
            newline: true,
            to_string: true,
        },
        "printf" => PrintKind::Format { to_string: false },
        "sprintf" => PrintKind::Format { to_string: true },
        "printd" => PrintKind::Delimited {
            newline: false,
            to_string: false,
        },
        "printdln" => PrintKind::Delimited {
            newline: true,
            to_string: false,
        },
        "sprintd" => PrintKind::Delimited {
            newline: false,
            to_string: true,
        },
        "sprintdln" => PrintKind::Delimited {
            newline: true,
            to_string: true,
        },
        _ => return None,
    })
}

pub(crate) fn e(kind: ExprKind, ty: Type, span: Span) -> Expr {
    Expr { kind, ty, span }
}

impl<'a> Elab<'a> {
    /// Lowers a derived probe: alias prologues, the user's body, alias epilogues.
    pub fn lower_probe(
        &mut self,
        file: FileIx,
        probe: &'a ast::Probe,
        pp: &'a ast::ProbePoint,
        d: Derived<'a>,
        origin: usize,
        written: &str,
    ) {
        let mut scope = Scope {
            locals: Arena::new(),
            map: HashMap::new(),
            file,
            family: Some(d.family),
            point: Some(d.point.clone()),
            written: assigned_names(&probe.body),
            in_function: false,
            loops: 0,
            rich: HashMap::new(),
        };
        let mut stmts = Vec::new();
        let mut ok = true;
        // The innermost alias's prologue first (it is the nearest to the probe point), as
        // SystemTap: `probe outer = inner {..}` runs inner's body, then outer's.
        let mut parts: Vec<(FileIx, &ast::Block)> = d.prologues.to_vec();
        parts.push((file, &probe.body));
        parts.extend(d.epilogues.iter().copied());
        for (f, b) in parts {
            scope.file = f;
            match self.lower_block(&mut scope, b) {
                Ok(b) => stmts.push(Stmt {
                    span: b.span,
                    kind: StmtKind::Block(b),
                }),
                Err(err) => {
                    self.diags.push(err);
                    ok = false;
                }
            }
        }
        scope.file = file;
        let condition = match &pp.condition {
            Some(c) => match self.lower_expr(&mut scope, c) {
                Ok(c) => Some(c),
                Err(err) => {
                    self.diags.push(err);
                    ok = false;
                    None
                }
            },
            None => None,
        };
        if !ok {
            return;
        }
        self.prog.probes.push(Probe {
            point: d.point,
            family: d.family,
            kind: d.kind,
            written: written.to_string(),
            written_point: stap_syntax::printer::print_probe_point(pp),
            alias_point: d.alias_point,
            condition,
            locals: scope.locals,
            body: Block {
                stmts,
                span: probe.body.span,
            },
            origin,
            span: probe.span,
        });
    }

    /// Lowers every function that has not been lowered yet (new ones may appear).
    pub fn lower_pending_functions(&mut self) -> bool {
        let mut did = false;
        let mut i = 0;
        while i < self.func_src.len() {
            if !self.func_lowered[i] {
                self.func_lowered[i] = true;
                did = true;
                self.lower_function(FuncId::new(i));
            }
            i += 1;
        }
        did
    }

    pub(crate) fn lower_function(&mut self, id: FuncId) {
        let (file, func) = self.func_src[id.index()];
        let params = self.prog.functions[id].locals.clone();
        let mut scope = Scope {
            map: params
                .enumerate()
                .map(|(i, l)| (l.name.clone(), i))
                .collect(),
            locals: params,
            file,
            family: None,
            point: None,
            written: Default::default(),
            in_function: true,
            loops: 0,
            rich: HashMap::new(),
        };
        let body = match &func.body {
            ast::FunctionBody::Embedded(em) => Body::Embedded {
                code: em.code.clone(),
                pragmas: pragmas(&em.code),
            },
            ast::FunctionBody::Block(b) => match self.lower_block(&mut scope, b) {
                Ok(b) => Body::Script(b),
                Err(err) => {
                    self.diags.push(err);
                    return;
                }
            },
        };
        let rich = match &body {
            Body::Script(b) => self.returns_rich(&scope, b),
            Body::Embedded { .. } => None,
        };
        self.func_rich.insert(id, rich);
        let f = &mut self.prog.functions[id];
        f.locals = scope.locals;
        f.body = body;
    }

    // ------------------------------------------------------------------ statements

    fn lower_block(&mut self, s: &mut Scope, b: &ast::Block) -> LResult<Block> {
        let mut stmts = Vec::with_capacity(b.stmts.len());
        for st in &b.stmts {
            stmts.push(self.lower_stmt(s, st)?);
        }
        Ok(Block {
            stmts,
            span: b.span,
        })
    }

    fn boxed(&mut self, s: &mut Scope, st: &ast::Stmt) -> LResult<Box<Stmt>> {
        Ok(Box::new(self.lower_stmt(s, st)?))
    }

    fn in_loop(&mut self, s: &mut Scope, st: &ast::Stmt) -> LResult<Box<Stmt>> {
        s.loops += 1;
        let r = self.boxed(s, st);
        s.loops -= 1;
        r
    }

    fn opt_expr(&mut self, s: &mut Scope, x: &Option<ast::Expr>) -> LResult<Option<Expr>> {
        x.as_ref().map(|x| self.lower_expr(s, x)).transpose()
    }

    fn lower_stmt(&mut self, s: &mut Scope, st: &ast::Stmt) -> LResult<Stmt> {
        use ast::StmtKind as A;
        let kind = match &st.kind {
            A::Null => StmtKind::Null,
            A::Block(b) => StmtKind::Block(self.lower_block(s, b)?),
            A::Expr(x) => StmtKind::Expr(self.lower_expr(s, x)?),
            A::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.lower_expr(s, cond)?;
                let t = self.boxed(s, then)?;
                let o = match otherwise {
                    Some(o) => Some(self.boxed(s, o)?),
                    None => None,
                };
                StmtKind::If(c, t, o)
            }
            A::While { cond, body } => {
                let c = self.lower_expr(s, cond)?;
                StmtKind::While(c, self.in_loop(s, body)?)
            }
            A::For {
                init,
                cond,
                incr,
                body,
            } => {
                let i = self.opt_expr(s, init)?;
                let c = self.opt_expr(s, cond)?;
                let n = self.opt_expr(s, incr)?;
                StmtKind::For(i, c, n, self.in_loop(s, body)?)
            }
            A::Foreach(f) => StmtKind::Foreach(self.lower_foreach(s, f)?),
            A::Return(v) => {
                if !s.in_function {
                    return Err(sem_error(
                        "sema.return",
                        "'return' outside a function",
                        st.span,
                    ));
                }
                StmtKind::Return(self.opt_expr(s, v)?)
            }
            A::Delete(x) => StmtKind::Delete(self.lower_delete(s, x)?),
            A::Break | A::Continue if s.loops == 0 => {
                let w = if matches!(st.kind, A::Break) {
                    "break"
                } else {
                    "continue"
                };
                return Err(sem_error(
                    "sema.loop-control",
                    format!("'{}' statement outside a loop", w),
                    st.span,
                ));
            }
            A::Break => StmtKind::Break,
            A::Continue => StmtKind::Continue,
            A::Next => {
                if s.in_function {
                    return Err(sem_error(
                        "sema.next",
                        "'next' statement in a function (it may only end a probe handler)",
                        st.span,
                    ));
                }
                StmtKind::Next
            }
            A::Try { body, var, handler } => {
                let b = self.lower_block(s, body)?;
                let v = var
                    .as_ref()
                    .map(|v| Var::Local(s.local(&v.name, v.span, true)));
                StmtKind::Try(b, v, self.lower_block(s, handler)?)
            }
        };
        Ok(Stmt {
            kind,
            span: st.span,
        })
    }

    fn lower_foreach(&mut self, s: &mut Scope, f: &ast::Foreach) -> LResult<Foreach> {
        let source = match &f.array.kind {
            ast::ExprKind::Symbol(name) => {
                let g = self.resolve_array(s, name, f.keys.len(), f.array.span)?;
                e(ExprKind::Array(Var::Global(g)), Type::Unknown, f.array.span)
            }
            _ => self.lower_expr(s, &f.array)?,
        };
        let slice = match &f.slice {
            Some(sl) => {
                if sl.len() != f.keys.len() {
                    return Err(sem_error(
                        "sema.foreach-slice",
                        format!(
                            "foreach slice has {} keys, but the loop has {} key variables",
                            sl.len(),
                            f.keys.len()
                        ),
                        f.array.span,
                    ));
                }
                let mut v = Vec::new();
                for k in sl {
                    v.push(self.opt_expr(s, k)?);
                }
                Some(v)
            }
            None => None,
        };
        let limit = self.opt_expr(s, &f.limit)?;
        let keys = f
            .keys
            .iter()
            .map(|(k, d)| (Var::Local(s.local(&k.name, k.span, true)), *d))
            .collect();
        let value = f
            .value
            .as_ref()
            .map(|v| Var::Local(s.local(&v.name, v.span, true)));
        let value_sort = f.value_sort.map(|d| (d, f.stat));
        let body = self.in_loop(s, &f.body)?;
        Ok(Foreach {
            source,
            keys,
            value,
            value_sort,
            slice,
            limit,
            body,
        })
    }

    fn lower_delete(&mut self, s: &mut Scope, x: &ast::Expr) -> LResult<Expr> {
        if let ast::ExprKind::Symbol(name) = &x.kind {
            // `delete a` of a global array, or of any scalar.
            if let Some(g) = self.lookup_global(s.file, name) {
                if self.prog.globals[g].is_array || self.arity.contains_key(&g) {
                    return Ok(e(ExprKind::Array(Var::Global(g)), Type::Unknown, x.span));
                }
            }
        }
        let v = self.lower_expr(s, x)?;
        match v.kind {
            ExprKind::Var(_) | ExprKind::Index(..) | ExprKind::Array(_) => Ok(v),
            _ => Err(sem_error(
                "sema.delete",
                "'delete' needs a variable, an array or an array element",
                x.span,
            )),
        }
    }

    // ------------------------------------------------------------------ names

    pub fn lookup_global(&mut self, file: FileIx, name: &str) -> Option<GlobalId> {
        if let Some(&g) = self.globals_by_name.get(&(Some(file), name.to_string())) {
            return Some(g);
        }
        if let Some(&g) = self.globals_by_name.get(&(None, name.to_string())) {
            return Some(g);
        }
        let files = self.lib_globals.get(name).cloned()?;
        self.include(files[0]);
        self.globals_by_name.get(&(None, name.to_string())).copied()
    }

    fn resolve_scalar(&mut self, s: &mut Scope, name: &str, span: Span) -> Var {
        if let Some(&i) = s.map.get(name) {
            return Var::Local(i);
        }
        if let Some(g) = self.lookup_global(s.file, name) {
            // A tapset's own variable is never a user script's global that happens to
            // share its name (a script's `global s` and a library function's local `s`);
            // SystemTap's library, written mostly in C, has no such collisions.
            if !(self.is_tapset(s.file) && !self.prog.globals[g].from_tapset) {
                return Var::Global(g);
            }
        }
        Var::Local(s.local(name, span, false))
    }

    fn resolve_array(
        &mut self,
        s: &Scope,
        name: &str,
        arity: usize,
        span: Span,
    ) -> LResult<GlobalId> {
        let global = if s.map.contains_key(name) {
            None
        } else {
            self.lookup_global(s.file, name)
        };
        let Some(g) = global else {
            return Err(sem_error(
                "sema.unresolved-array",
                format!(
                    "unresolved arity-{} global array {}, missing global declaration?",
                    arity, name
                ),
                span,
            ));
        };
        self.prog.globals[g].is_array = true;
        match self.arity.get(&g) {
            Some(&(a, first)) if a != arity => {
                return Err(sem_error(
                    "sema.arity",
                    format!("inconsistent arity ({} vs {})", a, arity),
                    span,
                )
                .with_label(first, format!("arity {} first inferred here", a)));
            }
            Some(_) => {}
            None => {
                self.arity.insert(g, (arity, span));
            }
        }
        Ok(g)
    }

    fn resolve_function(&mut self, s: &Scope, name: &ast::Ident, nargs: usize) -> LResult<FuncId> {
        let pick = |elab: &Elab, key: &(Option<FileIx>, String)| -> Option<FuncId> {
            let ids = elab.funcs_by_name.get(key)?;
            ids.iter()
                .copied()
                .filter(|&f| elab.prog.functions[f].arity == nargs)
                .max_by_key(|&f| elab.prog.functions[f].priority)
        };
        let private = (Some(s.file), name.name.clone());
        let public = (None, name.name.clone());
        if let Some(f) = pick(self, &private).or_else(|| pick(self, &public)) {
            return Ok(f);
        }
        if let Some(files) = self.lib_funcs.get(name.name.as_str()).cloned() {
            for f in files {
                self.include(f);
            }
            if let Some(f) = pick(self, &public) {
                return Ok(f);
            }
        }
        let known =
            self.funcs_by_name.contains_key(&public) || self.funcs_by_name.contains_key(&private);
        if known {
            return Err(sem_error(
                "sema.arity-call",
                format!(
                    "function '{}' is not defined for {} argument(s)",
                    name.name, nargs
                ),
                name.span,
            ));
        }
        let mut names: Vec<&str> = self.lib_funcs.keys().copied().collect();
        names.extend(self.funcs_by_name.keys().map(|k| k.1.as_str()));
        let similar = crate::similar(&name.name, names.into_iter());
        let mut msg = format!("unresolved function {}", name.name);
        if !similar.is_empty() {
            msg.push_str(&format!(" (similar: {})", similar.join(", ")));
        }
        Err(sem_error("sema.unresolved-function", msg, name.span))
    }

    // ------------------------------------------------------------------ expressions

    pub(crate) fn lower_expr(&mut self, s: &mut Scope, x: &ast::Expr) -> LResult<Expr> {
        use ast::ExprKind as A;
        let span = x.span;
        Ok(match &x.kind {
            A::Literal(l) => {
                let ty = match l {
                    ast::Literal::Number(_) => Type::Long,
                    ast::Literal::String(_) => Type::String,
                };
                e(ExprKind::Literal(l.clone()), ty, span)
            }
            A::Symbol(name) => e(
                ExprKind::Var(self.resolve_scalar(s, name, span)),
                Type::Unknown,
                span,
            ),
            A::Index { base, indexes } => self.lower_index(s, base, indexes, span)?,
            A::In { keys, array } => {
                let b = match &array.kind {
                    A::Symbol(name) => {
                        let g = self.resolve_array(s, name, keys.len(), array.span)?;
                        e(ExprKind::Array(Var::Global(g)), Type::Unknown, array.span)
                    }
                    _ => self.lower_expr(s, array)?,
                };
                let mut ks = Vec::new();
                for k in keys {
                    ks.push(self.opt_expr(s, k)?);
                }
                e(ExprKind::In(ks, Box::new(b)), Type::Long, span)
            }
            A::Call { name, args } => {
                let mut a = Vec::new();
                for arg in args {
                    a.push(self.lower_expr(s, arg)?);
                }
                if let Some(k) = print_kind(&name.name) {
                    let ty = match k {
                        PrintKind::Print {
                            to_string: true, ..
                        }
                        | PrintKind::Format { to_string: true }
                        | PrintKind::Delimited {
                            to_string: true, ..
                        } => Type::String,
                        _ => Type::Unknown,
                    };
                    e(ExprKind::Print(k, a), ty, span)
                } else {
                    let f = self.resolve_function(s, name, a.len())?;
                    e(ExprKind::Call(f, a), Type::Unknown, span)
                }
            }
            A::Binary { op, lhs, rhs } => {
                let l = self.lower_expr(s, lhs)?;
                let r = self.lower_expr(s, rhs)?;
                let ty = if *op == ast::BinOp::Concat {
                    Type::String
                } else {
                    Type::Long
                };
                e(ExprKind::Binary(*op, Box::new(l), Box::new(r)), ty, span)
            }
            A::Unary { op, operand } => {
                let o = self.lower_expr(s, operand)?;
                e(ExprKind::Unary(*op, Box::new(o)), Type::Long, span)
            }
            A::PreIncDec { op, operand } | A::PostIncDec { op, operand } => {
                let post = matches!(x.kind, A::PostIncDec { .. });
                let o = self.lower_expr(s, operand)?;
                e(
                    ExprKind::IncDec {
                        op: *op,
                        post,
                        operand: Box::new(o),
                    },
                    Type::Long,
                    span,
                )
            }
            A::Assign { op, lhs, rhs } => {
                let r = self.lower_expr(s, rhs)?;
                let l = self.lower_expr(s, lhs)?;
                if let (ast::AssignOp::Assign, ExprKind::Var(Var::Local(i))) = (op, &l.kind) {
                    let t = self.rich(s, &r);
                    crate::autocast::merge(&mut s.rich, *i, t);
                }
                e(
                    ExprKind::Assign(*op, Box::new(l), Box::new(r)),
                    Type::Unknown,
                    span,
                )
            }
            A::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let c = self.lower_expr(s, cond)?;
                // `@defined` decides at this pass; only the chosen branch is elaborated.
                if let ExprKind::Defined(b) = c.kind {
                    return self.lower_expr(s, if b { then } else { otherwise });
                }
                let t = self.lower_expr(s, then)?;
                let o = self.lower_expr(s, otherwise)?;
                e(
                    ExprKind::Ternary(Box::new(c), Box::new(t), Box::new(o)),
                    Type::Unknown,
                    span,
                )
            }
            A::Stat { op, operand } => {
                let o = self.lower_stat_operand(s, operand)?;
                e(ExprKind::Stat(*op, Box::new(o)), Type::Long, span)
            }
            A::Hist { hist, operand } => {
                let o = self.lower_stat_operand(s, operand)?;
                let kind = hist_kind(hist, span)?;
                e(ExprKind::Hist(kind, Box::new(o)), Type::Unknown, span)
            }
            A::Target(t) => self.lower_target(s, t, span)?,
            A::Defined(inner) => e(
                ExprKind::Defined(self.is_defined(s, inner)),
                Type::Long,
                span,
            ),
            A::Entry(inner) => {
                let o = self.lower_expr(s, inner)?;
                let ty = o.ty;
                e(ExprKind::Entry(Box::new(o)), ty, span)
            }
            A::Perf(name) => e(ExprKind::Perf(name.clone()), Type::Long, span),
            A::Const(name) => e(ExprKind::Const(name.clone()), Type::Long, span),
            A::ProbeWrite(id) => e(
                ExprKind::Defined(s.written.contains(&id.name)),
                Type::Long,
                span,
            ),
            A::Embedded(code) => {
                let ty = if pragmas(code).iter().any(|p| p == "string") {
                    Type::String
                } else {
                    Type::Long
                };
                e(ExprKind::Embedded(code.clone()), ty, span)
            }
        })
    }

    /// `a[k...]` or a histogram bucket.
    fn lower_index(
        &mut self,
        s: &mut Scope,
        base: &ast::Expr,
        indexes: &[Option<ast::Expr>],
        span: Span,
    ) -> LResult<Expr> {
        use ast::ExprKind as A;
        let b = match &base.kind {
            A::Symbol(name) => {
                let g = self.resolve_array(s, name, indexes.len(), base.span)?;
                e(ExprKind::Array(Var::Global(g)), Type::Unknown, base.span)
            }
            A::Hist { .. } => self.lower_expr(s, base)?,
            _ => {
                return Err(sem_error(
                    "sema.index",
                    "only arrays and histograms can be indexed",
                    span,
                ))
            }
        };
        let mut keys = Vec::new();
        for k in indexes {
            keys.push(self.opt_expr(s, k)?);
        }
        Ok(e(ExprKind::Index(Box::new(b), keys), Type::Unknown, span))
    }

    /// The operand of `@count(...)`, `@hist_log(...)`: a statistics variable or element.
    fn lower_stat_operand(&mut self, s: &mut Scope, x: &ast::Expr) -> LResult<Expr> {
        self.lower_expr(s, x)
    }
}

fn literal_number(x: &ast::Expr) -> LResult<i64> {
    match &x.kind {
        ast::ExprKind::Literal(ast::Literal::Number(n)) => Ok(*n),
        ast::ExprKind::Unary {
            op: ast::UnOp::Neg,
            operand,
        } => Ok(literal_number(operand)?.wrapping_neg()),
        _ => Err(sem_error(
            "sema.hist-literal",
            "histogram parameters must be literal numbers",
            x.span,
        )),
    }
}

/// Names the block assigns to (`x = ...`, `x += ...`, `x++` ...).
fn assigned_names(b: &ast::Block) -> std::collections::HashSet<String> {
    fn expr(x: &ast::Expr, out: &mut std::collections::HashSet<String>) {
        use ast::ExprKind as A;
        match &x.kind {
            A::Assign { lhs, rhs, .. } => {
                if let A::Symbol(n) = &lhs.kind {
                    out.insert(n.clone());
                }
                expr(lhs, out);
                expr(rhs, out);
            }
            A::PreIncDec { operand, .. } | A::PostIncDec { operand, .. } => {
                if let A::Symbol(n) = &operand.kind {
                    out.insert(n.clone());
                }
            }
            A::Binary { lhs, rhs, .. } => {
                expr(lhs, out);
                expr(rhs, out);
            }
            A::Ternary {
                cond,
                then,
                otherwise,
            } => {
                expr(cond, out);
                expr(then, out);
                expr(otherwise, out);
            }
            A::Call { args, .. } => args.iter().for_each(|a| expr(a, out)),
            A::Unary { operand, .. } => expr(operand, out),
            _ => {}
        }
    }
    fn stmt(s: &ast::Stmt, out: &mut std::collections::HashSet<String>) {
        use ast::StmtKind as S;
        match &s.kind {
            S::Expr(x) | S::Delete(x) => expr(x, out),
            S::Block(b) => b.stmts.iter().for_each(|s| stmt(s, out)),
            S::If {
                cond,
                then,
                otherwise,
            } => {
                expr(cond, out);
                stmt(then, out);
                if let Some(o) = otherwise {
                    stmt(o, out);
                }
            }
            S::While { cond, body } => {
                expr(cond, out);
                stmt(body, out);
            }
            S::For {
                init,
                cond,
                incr,
                body,
            } => {
                for x in [init, cond, incr].into_iter().flatten() {
                    expr(x, out);
                }
                stmt(body, out);
            }
            S::Foreach(f) => stmt(&f.body, out),
            S::Return(Some(x)) => expr(x, out),
            S::Try { body, handler, .. } => {
                body.stmts.iter().for_each(|s| stmt(s, out));
                handler.stmts.iter().for_each(|s| stmt(s, out));
            }
            _ => {}
        }
    }
    let mut out = std::collections::HashSet::new();
    b.stmts.iter().for_each(|s| stmt(s, &mut out));
    out
}

/// The `/* word */` pragmas of embedded code.
pub(crate) fn pragmas(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("/*") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("*/") else { break };
        let word = after[..j].trim();
        if !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            out.push(word.to_string());
        }
        rest = &after[j + 2..];
    }
    out
}

/// A histogram's kind and literal bucket parameters, checked as SystemTap checks them.
fn hist_kind(hist: &ast::Hist, span: Span) -> LResult<HistKind> {
    Ok(match hist {
        ast::Hist::Log => HistKind::Log,
        ast::Hist::Linear { lo, hi, step } => {
            let lo = literal_number(lo)?;
            let hi = literal_number(hi)?;
            let step = literal_number(step)?;
            if step <= 0 || hi < lo {
                return Err(sem_error(
                    "sema.hist-linear",
                    format!(
                        "@hist_linear needs low <= high and a positive step (got {}, {}, {})",
                        lo, hi, step
                    ),
                    span,
                ));
            }
            if HistKind::linear_buckets(lo, hi, step) > HIST_LINEAR_MAX_BUCKETS {
                return Err(sem_error(
                    "sema.hist-linear",
                    format!(
                        "@hist_linear has too many buckets (at most {})",
                        HIST_LINEAR_MAX_BUCKETS
                    ),
                    span,
                ));
            }
            HistKind::Linear { lo, hi, step }
        }
    })
}

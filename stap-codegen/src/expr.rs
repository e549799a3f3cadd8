//! C for expressions: operators, assignments, calls and printing (target variables are
//! in `target.rs`).
//!
//! An expression becomes C statements, one per line, over named temporaries, and a C
//! value: a temporary, a variable, a literal, or a side-effect-free C expression over
//! those.  Whatever can fail is a statement that records the error and jumps to the
//! current unwind label.  Operands are evaluated left to right: a value read from a
//! variable is saved in a temporary first when a later operand has statements of its own.

use crate::body::{c_long, local_names, stat_op, Gen, R};
use crate::{c_lit, cg_error};
use stap_sema::ir::*;
use stap_syntax::ast::{AssignOp, BinOp, IncDec, Literal, StatOp, UnOp};
use stap_syntax::source::Span;

impl Gen<'_> {
    /// The C value of `x`, after emitting the statements computing it.
    pub(crate) fn expr(&mut self, x: &Expr) -> R<String> {
        Ok(match &x.kind {
            ExprKind::Literal(Literal::Number(n)) => c_long(*n),
            ExprKind::Literal(Literal::String(s)) => c_lit(s),
            ExprKind::Var(v) => self.var(*v, false),
            ExprKind::Array(_) => return Err(cg_error("an array is not a value", x.span)),
            ExprKind::Index(b, keys) => self.index(b, keys, x.span)?,
            // A histogram's bucket is "in" it when it counted something (an index out of
            // range is an error, as for `@hist_log(s)[i]`), as SystemTap 4.8.
            ExprKind::In(keys, b) if matches!(b.kind, ExprKind::Hist(..)) => {
                let t = self.index(b, keys, x.span)?;
                format!("(int64_t)({} != 0)", t)
            }
            ExprKind::In(keys, b) => {
                let ExprKind::Array(Var::Global(g)) = b.kind else {
                    return Err(cg_error("'in' needs an array", x.span));
                };
                self.use_global(g, false);
                let (k, wild) = self.keys(g, keys)?;
                if wild == 0 {
                    format!("(int64_t)stp_map_exists(&{}, {})", self.global(g), k)
                } else {
                    format!(
                        "(int64_t)stp_map_exists_slice(&{}, {}, {}u)",
                        self.global(g),
                        k,
                        wild
                    )
                }
            }
            ExprKind::Call(f, args) => self.call(*f, args, x.span)?,
            ExprKind::Print(kind, args) => self.print(*kind, args, x.span)?,
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, x.span)?,
            ExprKind::Unary(op, o) => {
                let e = self.expr(o)?;
                match op {
                    UnOp::Neg => format!("(int64_t)(0 - (uint64_t){})", paren(&e)),
                    UnOp::Plus => e,
                    UnOp::Not => format!("(int64_t)!{}", paren(&e)),
                    UnOp::BitNot => format!("~{}", paren(&e)),
                }
            }
            ExprKind::IncDec { op, post, operand } => self.incdec(*op, *post, operand, x.span)?,
            ExprKind::Assign(op, l, r) => self.assign(*op, l, r, x.span)?,
            ExprKind::Ternary(c, t, o) => self.ternary(c, t, o, x.ty)?,
            ExprKind::Stat(op, operand) => {
                let stat = self.stat_ptr(operand)?;
                let n = self.near(x.span);
                let call = format!("stp_stat_extract(&c->rt, {}, {}, {})", stat, stat_op(*op), n);
                if matches!(op, StatOp::Count | StatOp::Sum) {
                    call
                } else {
                    let t = self.long_temp();
                    self.line(&format!("{} = {};", t, call));
                    self.check_line();
                    t
                }
            }
            ExprKind::Hist(..) => {
                return Err(cg_error(
                    "a histogram can only be printed, indexed or iterated",
                    x.span,
                ))
            }
            ExprKind::Defined(b) => c_long(*b as i64),
            ExprKind::Embedded(code) => {
                if x.ty == Type::String {
                    format!("(const char *)({})", code.trim())
                } else {
                    format!("(int64_t)({})", code.trim())
                }
            }
            ExprKind::Const(name) => format!("(int64_t)({})", name),
            ExprKind::Target(t) if matches!(t.resolved, Some(Ok(_))) => self.target(t, x.span)?,
            // `&@cast(p, "T")` is p itself, whatever types are at hand.
            ExprKind::Target(t)
                if t.addressof
                    && t.components.is_empty()
                    && t.pretty == 0
                    && matches!(t.base, TargetBase::Cast { .. }) =>
            {
                match &t.base {
                    TargetBase::Cast { expr, .. } => self.expr(expr)?,
                    _ => unreachable!(),
                }
            }
            // @entry($param) is the parameter as saved at entry (the kretprobe keeps it).
            ExprKind::Entry(o)
                if matches!(&o.kind, ExprKind::Target(t) if matches!(
                    &t.resolved,
                    Some(Ok(r)) if matches!(r.source, TargetSource::Param(_))
                )) =>
            {
                self.expr(o)?
            }
            ExprKind::Perf(_) | ExprKind::Target(_) | ExprKind::Entry(_) => {
                return Err(cg_error(
                    "this target variable, @entry or @perf expression needs kernel data stap-rs does not read yet (DWARF)",
                    x.span,
                ))
            }
        })
    }

    /// `a[k]` or a histogram bucket.
    fn index(&mut self, b: &Expr, keys: &[Option<Expr>], span: Span) -> R<String> {
        match &b.kind {
            ExprKind::Array(Var::Global(g)) => {
                let g = *g;
                self.use_global(g, false);
                let (k, _) = self.keys(g, keys)?;
                Ok(match self.prog.globals[g].ty {
                    Type::String => format!("stp_map_get_str(&{}, {})", self.global(g), k),
                    _ => format!("stp_map_get_long(&{}, {})", self.global(g), k),
                })
            }
            ExprKind::Hist(_, operand) => {
                let g = self.stat_global(operand)?;
                let stat = self.stat_ptr(operand)?;
                let cfg = self.hist_cfg(g, span)?;
                let i = match keys.first() {
                    Some(Some(k)) => self.expr(k)?,
                    _ => return Err(cg_error("a histogram index is one number", span)),
                };
                let n = self.near(span);
                let t = self.long_temp();
                self.line(&format!(
                    "{} = stp_hist_index(&c->rt, {}, {}, {}, {});",
                    t, stat, cfg, i, n
                ));
                self.check_line();
                Ok(t)
            }
            _ => Err(cg_error("only arrays and histograms can be indexed", span)),
        }
    }

    /// `l && r`, `l || r`: the right side's statements run only when it is evaluated.
    fn logical(&mut self, and: bool, l: &Expr, r: &Expr) -> R<String> {
        let a = self.expr(l)?;
        self.indent += 1;
        let (stmts, b) = self.capture(|g| g.expr(r));
        self.indent -= 1;
        let b = b?;
        let op = if and { "&&" } else { "||" };
        if stmts.is_empty() {
            return Ok(format!("(int64_t)({} {} {})", paren(&a), op, paren(&b)));
        }
        let t = self.long_temp();
        self.line(&format!("{} = {};", t, if and { 0 } else { 1 }));
        self.line(&format!(
            "if ({}{}) {{",
            if and { "" } else { "!" },
            paren(&a)
        ));
        self.out.push_str(&stmts);
        self.indent += 1;
        self.line(&format!("{} = {} != 0;", t, paren(&b)));
        self.indent -= 1;
        self.line("}");
        Ok(t)
    }

    /// `c ? t : o`: each branch's statements run only when it is taken.
    fn ternary(&mut self, c: &Expr, t: &Expr, o: &Expr, ty: Type) -> R<String> {
        let cond = self.expr(c)?;
        self.indent += 1;
        let (ts, tv) = self.capture(|g| g.expr(t));
        let (os, ov) = self.capture(|g| g.expr(o));
        self.indent -= 1;
        let (tv, ov) = (tv?, ov?);
        if ts.is_empty() && os.is_empty() && ty != Type::String {
            return Ok(format!("({} ? {} : {})", paren(&cond), tv, ov));
        }
        let r = self.temp(ty);
        self.line(&format!("if ({}) {{", paren(&cond)));
        self.out.push_str(&ts);
        self.indent += 1;
        self.assign_line(&r, &tv, ty);
        self.indent -= 1;
        self.line("} else {");
        self.out.push_str(&os);
        self.indent += 1;
        self.assign_line(&r, &ov, ty);
        self.indent -= 1;
        self.line("}");
        Ok(r)
    }

    pub(crate) fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, span: Span) -> R<String> {
        if matches!(op, BinOp::And | BinOp::Or) {
            return self.logical(op == BinOp::And, l, r);
        }
        let v = self.eval_all(&[l, r])?;
        let (a, b) = (&v[0], &v[1]);
        let strings = l.ty == Type::String || r.ty == Type::String;
        Ok(match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul => format!(
                "(int64_t)((uint64_t){} {} (uint64_t){})",
                paren(a),
                op.as_str(),
                paren(b)
            ),
            BinOp::Div | BinOp::Mod => {
                let a = self.bake(a.clone(), Type::Long);
                // Always a variable: GCC rejects a literal 0 divisor even where unreachable.
                let b = match self.stable.contains(b) {
                    true => b.clone(),
                    false => {
                        let t = self.long_temp();
                        self.line(&format!("{} = {};", t, b));
                        t
                    }
                };
                let n = self.near(self.sm.operator_after(l.span));
                let _ = span;
                self.fail_if(&format!("{} == 0", b), "division by 0", &n);
                let t = self.long_temp();
                let minus_one = if op == BinOp::Div {
                    format!("(int64_t)(0 - (uint64_t){})", a)
                } else {
                    "0".to_string()
                };
                self.line(&format!(
                    "{t} = {b} == -1 ? {minus_one} : {a} {} {b};",
                    op.as_str()
                ));
                t
            }
            BinOp::Shl => format!("(int64_t)((uint64_t){} << ({} & 63))", paren(a), paren(b)),
            BinOp::Shr => format!("({} >> ({} & 63))", paren(a), paren(b)),
            BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
                format!("({} {} {})", paren(a), op.as_str(), paren(b))
            }
            BinOp::And | BinOp::Or => unreachable!("handled by logical()"),
            BinOp::Concat => {
                let t = self.temp(Type::String);
                self.line(&format!("stp_concat({}, {}, {});", t, a, b));
                t
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                let c = op.as_str();
                if strings {
                    format!("(int64_t)(strcmp({}, {}) {} 0)", a, b, c)
                } else {
                    format!("(int64_t)({} {} {})", paren(a), c, paren(b))
                }
            }
            BinOp::Match | BinOp::NotMatch => {
                let Some(i) = self.regexes.iter().position(|(_, s)| *s == r.span) else {
                    return Err(cg_error(
                        "the regular expression must be a literal string",
                        span,
                    ));
                };
                let neg = if op == BinOp::NotMatch { "!" } else { "" };
                format!(
                    "(int64_t){}stp_re_match(&stp_re_{}, &c->rt.re, {})",
                    neg, i, a
                )
            }
        })
    }

    /// A long variable or array element read, changed by `f` (old value in, new value
    /// out) and written back; the value is the old one for `post`, else the new one.
    pub(crate) fn rmw(
        &mut self,
        target: &Expr,
        span: Span,
        f: &dyn Fn(&str) -> String,
        post: bool,
    ) -> R<String> {
        match &target.kind {
            ExprKind::Var(v) => {
                let var = self.var(*v, true);
                if post {
                    let old = self.long_temp();
                    self.line(&format!("{} = {};", old, var));
                    self.line(&format!("{} = {};", var, f(&old)));
                    Ok(old)
                } else {
                    self.line(&format!("{} = {};", var, f(&var)));
                    Ok(var)
                }
            }
            ExprKind::Index(b, keys) => {
                let ExprKind::Array(Var::Global(g)) = b.kind else {
                    return Err(cg_error("this cannot be assigned", span));
                };
                self.use_global(g, true);
                let (k, _) = self.keys(g, keys)?;
                let n = self.near(span);
                let m = self.global(g);
                // One lookup: the entry is found or created, then updated in place.
                let slot = self.decl_temp("int64_t *", "p", "NULL");
                self.line(&format!(
                    "{} = stp_map_slot_long(&c->rt, &{}, {}, {});",
                    slot, m, k, n
                ));
                self.check_line();
                let old = self.long_temp();
                self.line(&format!("{} = *{};", old, slot));
                let new = self.long_temp();
                self.line(&format!("{} = {};", new, f(&old)));
                self.line(&format!("*{} = {};", slot, new));
                Ok(if post { old } else { new })
            }
            _ => Err(cg_error("this cannot be assigned", span)),
        }
    }

    pub(crate) fn incdec(
        &mut self,
        op: IncDec,
        post: bool,
        operand: &Expr,
        span: Span,
    ) -> R<String> {
        let delta = if op == IncDec::Incr { "+" } else { "-" };
        self.rmw(
            operand,
            span,
            &|v| format!("(int64_t)((uint64_t){} {} 1)", v, delta),
            post,
        )
    }

    pub(crate) fn assign(&mut self, op: AssignOp, l: &Expr, r: &Expr, span: Span) -> R<String> {
        match (op, &l.kind) {
            (AssignOp::Assign, ExprKind::Var(v)) => {
                let rhs = self.expr(r)?;
                let t = self.var_type(*v);
                let var = self.var(*v, true);
                self.assign_line(&var, &rhs, t);
                Ok(var)
            }
            (AssignOp::Assign, ExprKind::Index(b, keys)) => {
                let g = self.array_global(b, span)?;
                self.use_global(g, true);
                let (k, _) = self.keys(g, keys)?;
                let rhs = self.expr(r)?;
                let n = self.near(span);
                let m = self.global(g);
                if self.prog.globals[g].ty == Type::String {
                    self.line(&format!(
                        "stp_map_set_str(&c->rt, &{}, {}, {}, {});",
                        m, k, rhs, n
                    ));
                    self.check_line();
                    Ok(rhs)
                } else {
                    let t = self.long_temp();
                    self.line(&format!(
                        "{} = stp_map_set_long(&c->rt, &{}, {}, {}, {});",
                        t, m, k, rhs, n
                    ));
                    self.check_line();
                    Ok(t)
                }
            }
            // Lock-free: each CPU adds to its own slot (no global lock taken).
            (AssignOp::Aggregate, ExprKind::Var(Var::Global(g))) => {
                let rhs = self.expr(r)?;
                let rhs = self.bake(rhs, Type::Long);
                let m = self.global(*g);
                self.line(&format!("stp_stat_set_add(&{}, c->rt.cpu, {});", m, rhs));
                Ok(rhs)
            }
            (AssignOp::Aggregate, ExprKind::Index(b, keys)) => {
                let ExprKind::Array(Var::Global(g)) = b.kind else {
                    return Err(cg_error("statistics must be global", span));
                };
                self.use_global_for_add(g);
                let (k, _) = self.keys(g, keys)?;
                let rhs = self.expr(r)?;
                let n = self.near(span);
                let t = self.long_temp();
                let m = self.global(g);
                self.line(&format!(
                    "{} = stp_map_add_stat(&c->rt, &{}, {}, {}, {});",
                    t, m, k, rhs, n
                ));
                self.check_line();
                Ok(t)
            }
            (AssignOp::Aggregate, _) => Err(cg_error("statistics must be global", span)),
            (AssignOp::Compound(BinOp::Concat), ExprKind::Var(v)) => {
                let rhs = self.expr(r)?;
                let var = self.var(*v, true);
                self.line(&format!("stp_strcat({}, {});", var, rhs));
                Ok(var)
            }
            (AssignOp::Compound(BinOp::Concat), ExprKind::Index(b, keys)) => {
                let g = self.array_global(b, span)?;
                self.use_global(g, true);
                let (k, _) = self.keys(g, keys)?;
                let rhs = self.expr(r)?;
                let n = self.near(span);
                let t = self.temp(Type::String);
                let m = self.global(g);
                self.line(&format!(
                    "stp_concat({}, stp_map_get_str(&{}, {}), {});",
                    t, m, k, rhs
                ));
                self.line(&format!(
                    "stp_map_set_str(&c->rt, &{}, {}, {}, {});",
                    m, k, t, n
                ));
                self.check_line();
                Ok(t)
            }
            // A procfs read probe's $value: what the read returns, set or appended to.
            (AssignOp::Assign | AssignOp::Compound(BinOp::Concat), ExprKind::Target(t)) if matches!(&t.resolved, Some(Ok(res)) if res.source == TargetSource::ProcfsValue) =>
            {
                let rhs = self.expr(r)?;
                let f = match op {
                    AssignOp::Assign => "stp_procfs_set",
                    _ => "stp_procfs_append",
                };
                let l = self.err_label().to_string();
                self.line(&format!("if ({}(&c->rt, {}))", f, rhs));
                self.line(&format!("\tgoto {};", l));
                Ok(rhs)
            }
            // A netfilter probe's $verdict (-g): what the hook returns.
            (AssignOp::Assign, ExprKind::Target(t)) if matches!(&t.resolved, Some(Ok(res)) if res.source == TargetSource::Verdict) =>
            {
                let rhs = self.expr(r)?;
                let rhs = self.bake(rhs, Type::Long);
                self.line(&format!("stp_set_verdict(&c->rt, {});", rhs));
                Ok(rhs)
            }
            // Guru mode (pass 2 checked): a kernel target variable.
            (AssignOp::Assign, ExprKind::Target(t)) if matches!(t.resolved, Some(Ok(_))) => {
                let rhs = self.expr(r)?;
                let rhs = self.bake(rhs, Type::Long);
                self.target_store(t, &rhs, span)?;
                Ok(rhs)
            }
            (AssignOp::Compound(op), _) => self.compound(op, l, r, span),
            _ => Err(cg_error("this cannot be assigned", span)),
        }
    }

    /// `l op= r` on a long.
    fn compound(&mut self, op: BinOp, l: &Expr, r: &Expr, span: Span) -> R<String> {
        let rhs = self.expr(r)?;
        let rhs = match self.stable.contains(&rhs) {
            true => rhs,
            false => {
                let t = self.long_temp();
                self.line(&format!("{} = {};", t, rhs));
                t
            }
        };
        if matches!(op, BinOp::Div | BinOp::Mod) {
            let n = self.near(span);
            self.fail_if(&format!("{} == 0", rhs), "division by 0", &n);
        }
        let f = move |v: &str| -> String {
            match op {
                BinOp::Add | BinOp::Sub | BinOp::Mul => {
                    format!(
                        "(int64_t)((uint64_t){} {} (uint64_t){})",
                        v,
                        op.as_str(),
                        rhs
                    )
                }
                BinOp::Div => format!(
                    "{r} == -1 ? (int64_t)(0 - (uint64_t){v}) : {v} / {r}",
                    r = rhs,
                    v = v
                ),
                BinOp::Mod => format!("{r} == -1 ? 0 : {v} % {r}", r = rhs, v = v),
                BinOp::Shl => format!("(int64_t)((uint64_t){} << ({} & 63))", v, rhs),
                BinOp::Shr => format!("{} >> ({} & 63)", v, rhs),
                _ => format!("{} {} {}", v, op.as_str(), rhs),
            }
        };
        self.rmw(l, span, &f, false)
    }

    /// The array global an element expression indexes.
    fn array_global(&self, b: &Expr, span: Span) -> R<GlobalId> {
        match b.kind {
            ExprKind::Array(Var::Global(g)) => Ok(g),
            _ => Err(cg_error("this cannot be assigned", span)),
        }
    }

    /// A call: the arguments, then the callee's frame (one level deeper) filled in, the
    /// call, and its result saved before anything else can reuse that frame.
    pub(crate) fn call(&mut self, f: FuncId, args: &[Expr], span: Span) -> R<String> {
        self.calls.insert(f);
        let func = &self.prog.functions[f];
        let fname = self.names.functions[f].clone();
        let refs: Vec<&Expr> = args.iter().collect();
        let vals = self.eval_all(&refs)?;
        let callee = local_names(
            &func.locals,
            &mut ["__ret".to_string()].into_iter().collect(),
        );
        let n = self.near(span);
        let err = self.err_label().to_string();
        self.line(&format!("STP_NEST({}, {});", n, err));
        let frame = self.decl_temp(&format!("struct stp_locals_{} *", fname), "cf", "NULL");
        self.line(&format!(
            "{} = &c->frames[c->rt.nesting + 1].f{};",
            frame, f
        ));
        self.line(&format!("stp_locals_{}_init({});", fname, frame));
        for (i, v) in func.locals.ids().zip(&vals) {
            let param = format!("{}->{}", frame, callee[i]);
            self.assign_line(&param, v, func.locals[i].ty);
        }
        self.line(&format!("stp_f_{}(c);", fname));
        self.check_line();
        Ok(match func.ret {
            Type::String => {
                let t = self.temp(Type::String);
                self.line(&format!("stp_strcpy({}, {}->__ret);", t, frame));
                t
            }
            Type::Long => {
                let t = self.long_temp();
                self.line(&format!("{} = {}->__ret;", t, frame));
                t
            }
            _ => c_long(0),
        })
    }

    /// The printing functions: the values into an argument array, then one runtime call.
    pub(crate) fn print(&mut self, kind: PrintKind, args: &[Expr], span: Span) -> R<String> {
        let (to_string, newline) = match kind {
            PrintKind::Print { newline, to_string } => (to_string, newline),
            PrintKind::Format { to_string } => (to_string, false),
            PrintKind::Delimited { newline, to_string } => (to_string, newline),
        };
        if args.iter().any(|a| matches!(a.kind, ExprKind::Hist(..))) {
            if !matches!(kind, PrintKind::Print { .. }) {
                return Err(cg_error(
                    "a histogram can only be drawn with print/println/sprint/sprintln",
                    span,
                ));
            }
            // As SystemTap 4.8: println and sprintln add no newline after a histogram.
            let _ = newline;
            return self.print_hist(args, to_string);
        }
        let (fmt, values): (String, &[Expr]) = match kind {
            PrintKind::Format { .. } => match args.first().map(|a| &a.kind) {
                Some(ExprKind::Literal(Literal::String(f))) => (f.clone(), &args[1..]),
                _ => return Err(cg_error("the format must be a literal string", span)),
            },
            PrintKind::Delimited { .. } => {
                let delim = match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Literal(Literal::String(d))) => d.replace('%', "%%"),
                    _ => return Err(cg_error("the delimiter must be a literal string", span)),
                };
                let f: Vec<&str> = args[1..].iter().map(|a| conv(a.ty)).collect();
                (f.join(&delim), &args[1..])
            }
            PrintKind::Print { .. } => (args.iter().map(|a| conv(a.ty)).collect(), args),
        };
        let fmt = if newline { format!("{}\\n", fmt) } else { fmt };
        let refs: Vec<&Expr> = values.iter().collect();
        let vals = self.eval_all(&refs)?;
        let arr = self.arg_array(values, &vals);
        if stap_sema::reads_memory(&fmt) {
            let near = self.near(span);
            let l = self.err_label().to_string();
            let (call, ret) = match to_string {
                true => {
                    let t = self.temp(Type::String);
                    (format!("stp_sprintf_mem(&c->rt, {}, ", t), t)
                }
                false => ("stp_printf_mem(&c->rt, ".to_string(), c_long(0)),
            };
            self.line(&format!(
                "if ({}{}, {}, {}, {}))",
                call,
                c_lit(&fmt),
                vals.len(),
                arr,
                near
            ));
            self.line(&format!("\tgoto {};", l));
            return Ok(ret);
        }
        if to_string {
            let t = self.temp(Type::String);
            self.line(&format!(
                "stp_sprintf({}, {}, {}, {});",
                t,
                c_lit(&fmt),
                vals.len(),
                arr
            ));
            Ok(t)
        } else {
            self.line(&format!(
                "stp_printf(&c->rt, {}, {}, {});",
                c_lit(&fmt),
                vals.len(),
                arr
            ));
            Ok(c_long(0))
        }
    }

    /// `print(@hist_log(s), ...)`: histograms drawn, other values printed, in order.
    /// `print`/`println` (to the output) or `sprint`/`sprintln` (into a string temporary,
    /// returned) of a histogram (pass 1 allows only one).
    fn print_hist(&mut self, args: &[Expr], to_string: bool) -> R<String> {
        let out = if to_string {
            let t = self.temp(Type::String);
            self.line(&format!("{}[0] = '\\0';", t));
            Some(t)
        } else {
            None
        };
        for a in args {
            if let ExprKind::Hist(_, operand) = &a.kind {
                let g = self.stat_global(operand)?;
                let stat = self.stat_ptr(operand)?;
                let cfg = self.hist_cfg(g, a.span)?;
                self.line(&match &out {
                    Some(t) => format!("stp_hist_sprint(&c->rt, {}, {}, {});", t, stat, cfg),
                    None => format!("stp_hist_print(&c->rt, {}, {});", stat, cfg),
                });
                // An empty statistic is an error (as SystemTap's "empty aggregate").
                let check = self.check();
                self.line(&check);
            } else {
                let e = self.expr(a)?;
                let arr = self.arg_array(std::slice::from_ref(a), &[e]);
                match &out {
                    Some(t) => {
                        let piece = self.temp(Type::String);
                        self.line(&format!(
                            "stp_sprintf({}, \"{}\", 1, {});",
                            piece,
                            conv(a.ty),
                            arr
                        ));
                        self.line(&format!("stp_strcat({}, {});", t, piece));
                    }
                    None => self.line(&format!(
                        "stp_printf(&c->rt, \"{}\", 1, {});",
                        conv(a.ty),
                        arr
                    )),
                }
            }
        }
        Ok(out.unwrap_or_else(|| c_long(0)))
    }

    /// An argument array for the format functions holding `vals` (NULL when empty).
    fn arg_array(&mut self, exprs: &[Expr], vals: &[String]) -> String {
        if vals.is_empty() {
            return "NULL".to_string();
        }
        let arr = self.decl_array("union stp_arg", "a", vals.len());
        for (i, (a, v)) in exprs.iter().zip(vals).enumerate() {
            let field = if a.ty == Type::String { "s" } else { "n" };
            self.line(&format!("{}[{}].{} = {};", arr, i, field, v));
        }
        arr
    }
}

/// The default conversion of a value in `print`-style functions.
fn conv(t: Type) -> &'static str {
    if t == Type::String {
        "%s"
    } else {
        "%d"
    }
}

/// `e` in parentheses unless it is a single name (`l->l_x`, `stp_g.g_a`), number or
/// string literal.
pub(crate) fn paren(e: &str) -> String {
    let name = {
        let flat = e.replace("->", ".");
        !flat.is_empty()
            && flat.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
    };
    let string =
        e.len() >= 2 && e.starts_with('"') && e.ends_with('"') && !e[1..e.len() - 1].contains('"');
    if name || string {
        e.to_string()
    } else {
        format!("({})", e)
    }
}

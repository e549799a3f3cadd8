//! C for expressions: operators, assignments, calls, printing, and the rest of the
//! expression forms (target variables are in `target.rs`).  Each returns a C expression;
//! anything that can fail is a GCC statement expression that records the error and jumps
//! to the current unwind label.

use crate::body::{c_long, local_names, stat_op, Gen, R};
use crate::{c_lit, cg_error};
use stap_sema::ir::*;
use stap_syntax::ast::{AssignOp, BinOp, IncDec, Literal, StatOp, UnOp};
use stap_syntax::source::Span;

impl Gen<'_> {
    pub(crate) fn expr(&mut self, x: &Expr) -> R<String> {
        Ok(match &x.kind {
            ExprKind::Literal(Literal::Number(n)) => format!("((int64_t){})", c_long(*n)),
            ExprKind::Literal(Literal::String(s)) => c_lit(s),
            ExprKind::Var(v) => self.var(*v, false),
            ExprKind::Array(_) => return Err(cg_error("an array is not a value", x.span)),
            ExprKind::Index(b, keys) => match &b.kind {
                ExprKind::Array(Var::Global(g)) => {
                    let g = *g;
                    self.use_global(g, false);
                    let (k, _) = self.keys(g, keys)?;
                    match self.prog.globals[g].ty {
                        Type::String => format!("stp_map_get_str(&{}, {})", self.global(g), k),
                        _ => format!("stp_map_get_long(&{}, {})", self.global(g), k),
                    }
                }
                ExprKind::Hist(_, operand) => {
                    let g = self.stat_global(operand)?;
                    let stat = self.stat_ptr(operand)?;
                    let cfg = self.hist_cfg(g, x.span)?;
                    let i = match keys.first() {
                        Some(Some(k)) => self.expr(k)?,
                        _ => return Err(cg_error("a histogram index is one number", x.span)),
                    };
                    let n = self.near(x.span);
                    format!(
                        "({{ int64_t __v = stp_hist_index(&c->rt, {}, {}, {}, {}); {} __v; }})",
                        stat,
                        cfg,
                        i,
                        n,
                        self.check()
                    )
                }
                _ => return Err(cg_error("only arrays and histograms can be indexed", x.span)),
            },
            ExprKind::In(keys, b) => {
                let ExprKind::Array(Var::Global(g)) = b.kind else {
                    return Err(cg_error("'in' needs an array", x.span));
                };
                self.use_global(g, false);
                let (k, wild) = self.keys(g, keys)?;
                if wild == 0 {
                    format!("((int64_t)stp_map_exists(&{}, {}))", self.global(g), k)
                } else {
                    format!("((int64_t)stp_map_exists_slice(&{}, {}, {}u))", self.global(g), k, wild)
                }
            }
            ExprKind::Call(f, args) => self.call(*f, args, x.span)?,
            ExprKind::Print(kind, args) => self.print(*kind, args, x.span)?,
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, x.span)?,
            ExprKind::Unary(op, o) => {
                let e = self.expr(o)?;
                match op {
                    UnOp::Neg => format!("((int64_t)(0 - (uint64_t)({})))", e),
                    UnOp::Plus => format!("({})", e),
                    UnOp::Not => format!("((int64_t)!({}))", e),
                    UnOp::BitNot => format!("(~({}))", e),
                }
            }
            ExprKind::IncDec { op, post, operand } => self.incdec(*op, *post, operand, x.span)?,
            ExprKind::Assign(op, l, r) => self.assign(*op, l, r, x.span)?,
            ExprKind::Ternary(c, t, o) => {
                let c = self.expr(c)?;
                let t = self.expr(t)?;
                let o = self.expr(o)?;
                format!("(({}) ? ({}) : ({}))", c, t, o)
            }
            ExprKind::Stat(op, operand) => {
                let stat = self.stat_ptr(operand)?;
                let n = self.near(x.span);
                if matches!(op, StatOp::Count | StatOp::Sum) {
                    format!("stp_stat_extract(&c->rt, {}, {}, {})", stat, stat_op(*op), n)
                } else {
                    format!(
                        "({{ int64_t __v = stp_stat_extract(&c->rt, {}, {}, {}); {} __v; }})",
                        stat,
                        stat_op(*op),
                        n,
                        self.check()
                    )
                }
            }
            ExprKind::Hist(..) => {
                return Err(cg_error("a histogram can only be printed, indexed or iterated", x.span))
            }
            ExprKind::Defined(b) => format!("((int64_t){})", *b as i32),
            ExprKind::Embedded(code) => {
                if x.ty == Type::String {
                    format!("((const char *)({}))", code.trim())
                } else {
                    format!("((int64_t)({}))", code.trim())
                }
            }
            ExprKind::Const(name) => format!("((int64_t)({}))", name),
            ExprKind::Target(t) if matches!(t.resolved, Some(Ok(_))) => self.target(t, x.span)?,
            // `&@cast(p, "T")` is p itself, whatever types are at hand.
            ExprKind::Target(t)
                if t.addressof
                    && t.components.is_empty()
                    && t.pretty == 0
                    && matches!(t.base, stap_sema::ir::TargetBase::Cast { .. }) =>
            {
                match &t.base {
                    stap_sema::ir::TargetBase::Cast { expr, .. } => self.expr(expr)?,
                    _ => unreachable!(),
                }
            }
            // @entry($param) is the parameter as saved at entry (the kretprobe keeps it).
            ExprKind::Entry(o)
                if matches!(&o.kind, ExprKind::Target(t) if matches!(
                    &t.resolved,
                    Some(Ok(r)) if matches!(r.source, stap_sema::ir::TargetSource::Param(_))
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

    pub(crate) fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, span: Span) -> R<String> {
        let a = self.expr(l)?;
        let b = self.expr(r)?;
        let strings = l.ty == Type::String || r.ty == Type::String;
        Ok(match op {
            BinOp::Add => format!("((int64_t)((uint64_t)({}) + (uint64_t)({})))", a, b),
            BinOp::Sub => format!("((int64_t)((uint64_t)({}) - (uint64_t)({})))", a, b),
            BinOp::Mul => format!("((int64_t)((uint64_t)({}) * (uint64_t)({})))", a, b),
            BinOp::Div | BinOp::Mod => {
                let _ = span;
                let n = self.near(crate::operator_after(self.sm, l.span));
                let (name, minus_one) = if op == BinOp::Div {
                    ("/", "(int64_t)(0 - (uint64_t)__a)")
                } else {
                    ("%", "0")
                };
                format!(
                    "({{ int64_t __a = ({}), __b = ({}); if (unlikely(__b == 0)) {{ stp_error_near(&c->rt, \"division by 0\", {}); goto {}; }} __b == -1 ? {} : __a {} __b; }})",
                    a, b, n, self.err_label(), minus_one, name
                )
            }
            BinOp::Shl => format!("((int64_t)((uint64_t)({}) << (({}) & 63)))", a, b),
            BinOp::Shr => format!("((int64_t)({}) >> (({}) & 63))", a, b),
            BinOp::BitAnd => format!("(({}) & ({}))", a, b),
            BinOp::BitOr => format!("(({}) | ({}))", a, b),
            BinOp::BitXor => format!("(({}) ^ ({}))", a, b),
            BinOp::And => format!("((int64_t)(({}) && ({})))", a, b),
            BinOp::Or => format!("((int64_t)(({}) || ({})))", a, b),
            BinOp::Concat => {
                let t = self.temp(Type::String);
                format!("stp_concat({}, {}, {})", t, a, b)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                let c = op.as_str();
                if strings {
                    format!("((int64_t)(strcmp({}, {}) {} 0))", a, b, c)
                } else {
                    format!("((int64_t)(({}) {} ({})))", a, c, b)
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
                    "((int64_t){}stp_re_match(&stp_re_{}, &c->rt.re, {}))",
                    neg, i, a
                )
            }
        })
    }

    /// A value read-modify-written in place: a long variable or array element.
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
                Ok(if post {
                    format!(
                        "({{ int64_t __old = {v}; {v} = {}; __old; }})",
                        f("__old"),
                        v = var
                    )
                } else {
                    format!("({v} = {})", f(&var), v = var)
                })
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
                Ok(format!(
                    "({{ const union stp_key *__k = {k}; int64_t *__p = stp_map_slot_long(&c->rt, &{m}, __k, {n}); {} int64_t __old = *__p; int64_t __new = {}; *__p = __new; {}; }})",
                    self.check(),
                    f("__old"),
                    if post { "__old" } else { "__new" },
                    k = k,
                    m = m,
                    n = n
                ))
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
            &|v| format!("(int64_t)((uint64_t)({}) {} 1)", v, delta),
            post,
        )
    }

    pub(crate) fn assign(&mut self, op: AssignOp, l: &Expr, r: &Expr, span: Span) -> R<String> {
        let rhs = self.expr(r)?;
        match op {
            AssignOp::Assign => match &l.kind {
                ExprKind::Var(v) => Ok(self.assign_var(*v, &rhs)),
                ExprKind::Index(b, keys) => {
                    let ExprKind::Array(Var::Global(g)) = b.kind else {
                        return Err(cg_error("this cannot be assigned", span));
                    };
                    self.use_global(g, true);
                    let (k, _) = self.keys(g, keys)?;
                    let n = self.near(span);
                    let setter = if self.prog.globals[g].ty == Type::String {
                        "stp_map_set_str"
                    } else {
                        "stp_map_set_long"
                    };
                    let t = if self.prog.globals[g].ty == Type::String {
                        "const char *"
                    } else {
                        "int64_t"
                    };
                    Ok(format!(
                        "({{ {} __v = {}(&c->rt, &{}, {}, {}, {}); {} __v; }})",
                        t,
                        setter,
                        self.global(g),
                        k,
                        rhs,
                        n,
                        self.check()
                    ))
                }
                _ => Err(cg_error("this cannot be assigned", span)),
            },
            AssignOp::Aggregate => match &l.kind {
                ExprKind::Var(Var::Global(g)) => {
                    // Lock-free: each CPU adds to its own slot (no global lock taken).
                    let g = *g;
                    Ok(format!(
                        "({{ int64_t __v = ({}); stp_stat_set_add(&{}, c->rt.cpu, __v); __v; }})",
                        rhs,
                        self.global(g)
                    ))
                }
                ExprKind::Index(b, keys) => {
                    let ExprKind::Array(Var::Global(g)) = b.kind else {
                        return Err(cg_error("statistics must be global", span));
                    };
                    self.use_global_for_add(g);
                    let (k, _) = self.keys(g, keys)?;
                    let n = self.near(span);
                    Ok(format!(
                        "({{ int64_t __v = stp_map_add_stat(&c->rt, &{}, {}, {}, {}); {} __v; }})",
                        self.global(g),
                        k,
                        rhs,
                        n,
                        self.check()
                    ))
                }
                _ => Err(cg_error("statistics must be global", span)),
            },
            AssignOp::Compound(BinOp::Concat) => match &l.kind {
                ExprKind::Var(v) => {
                    let var = self.var(*v, true);
                    Ok(format!("stp_strcat({}, {})", var, rhs))
                }
                ExprKind::Index(b, keys) => {
                    let ExprKind::Array(Var::Global(g)) = b.kind else {
                        return Err(cg_error("this cannot be assigned", span));
                    };
                    self.use_global(g, true);
                    let (k, _) = self.keys(g, keys)?;
                    let n = self.near(span);
                    let t = self.temp(Type::String);
                    Ok(format!(
                        "({{ const union stp_key *__k = {k}; stp_concat({t}, stp_map_get_str(&{m}, __k), {rhs}); stp_map_set_str(&c->rt, &{m}, __k, {t}, {n}); {} {t}; }})",
                        self.check(),
                        k = k,
                        t = t,
                        m = self.global(g),
                        rhs = rhs,
                        n = n
                    ))
                }
                _ => Err(cg_error("this cannot be assigned", span)),
            },
            AssignOp::Compound(op) => {
                let n = self.near(span);
                let err = self.err_label().to_string();
                let rhs_t = self.temp(Type::Long);
                let rhs_slot = rhs_t.clone();
                let f = move |v: &str| -> String {
                    match op {
                        BinOp::Add => format!("(int64_t)((uint64_t)({}) + (uint64_t){})", v, rhs_t),
                        BinOp::Sub => format!("(int64_t)((uint64_t)({}) - (uint64_t){})", v, rhs_t),
                        BinOp::Mul => format!("(int64_t)((uint64_t)({}) * (uint64_t){})", v, rhs_t),
                        BinOp::Div | BinOp::Mod => format!(
                            "({{ if (unlikely({r} == 0)) {{ stp_error_near(&c->rt, \"division by 0\", {n}); goto {err}; }} {r} == -1 ? {} : ({}) {} {r}; }})",
                            if op == BinOp::Div { format!("(int64_t)(0 - (uint64_t)({}))", v) } else { "0".to_string() },
                            v,
                            op.as_str(),
                            r = rhs_t,
                            n = n,
                            err = err
                        ),
                        BinOp::Shl => format!("(int64_t)((uint64_t)({}) << ({} & 63))", v, rhs_t),
                        BinOp::Shr => format!("(({}) >> ({} & 63))", v, rhs_t),
                        _ => format!("(({}) {} {})", v, op.as_str(), rhs_t),
                    }
                };
                let rmw = self.rmw(l, span, &f, false)?;
                Ok(format!("({{ {} = ({}); {}; }})", rhs_slot, rhs, rmw))
            }
        }
    }

    pub(crate) fn call(&mut self, f: FuncId, args: &[Expr], span: Span) -> R<String> {
        self.calls.insert(f);
        let func = &self.prog.functions[f];
        let fname = self.names.functions[f].clone();
        let mut parts = Vec::new();
        let mut vals = Vec::new();
        for (i, a) in args.iter().enumerate() {
            let e = self.expr(a)?;
            let t = func.locals[i].ty;
            let tmp = self.temp(t);
            parts.push(if t == Type::String {
                format!("stp_strcpy({}, {});", tmp, e)
            } else {
                format!("{} = {};", tmp, e)
            });
            vals.push(tmp);
        }
        let frame = format!("c->frames[c->rt.nesting + 1].f{}", f);
        let callee = local_names(
            &func.locals,
            &mut ["__ret".to_string()].into_iter().collect(),
        );
        let mut copy = Vec::new();
        for (i, v) in vals.iter().enumerate() {
            let pname = &callee[i];
            copy.push(if func.locals[i].ty == Type::String {
                format!("stp_strcpy({}.{}, {});", frame, pname, v)
            } else {
                format!("{}.{} = {};", frame, pname, v)
            });
        }
        let n = self.near(span);
        let result = match func.ret {
            Type::String => {
                let t = self.temp(Type::String);
                format!("stp_strcpy({}, {}.__ret);", t, frame) + &format!(" (const char *){};", t)
            }
            Type::Long => format!("{}.__ret;", frame),
            _ => "(int64_t)0;".to_string(),
        };
        Ok(format!(
            "({{ {} if (unlikely(c->rt.nesting + 1 >= MAXNESTING)) {{ stp_error_near(&c->rt, \"MAXNESTING exceeded\", {}); goto {}; }} stp_locals_{}_init(&{}); {} stp_f_{}(c); {} {} }})",
            parts.join(" "),
            n,
            self.err_label(),
            fname,
            frame,
            copy.join(" "),
            fname,
            self.check(),
            result
        ))
    }

    pub(crate) fn print(&mut self, kind: PrintKind, args: &[Expr], span: Span) -> R<String> {
        let (to_string, newline) = match kind {
            PrintKind::Print { newline, to_string } => (to_string, newline),
            PrintKind::Format { to_string } => (to_string, false),
            PrintKind::Delimited { newline, to_string } => (to_string, newline),
        };
        // A histogram argument is drawn, not formatted.
        if args.iter().any(|a| matches!(a.kind, ExprKind::Hist(..))) {
            if to_string || !matches!(kind, PrintKind::Print { .. }) {
                return Err(cg_error(
                    "a histogram can only be drawn with print/println",
                    span,
                ));
            }
            let mut parts = Vec::new();
            for a in args {
                if let ExprKind::Hist(_, operand) = &a.kind {
                    let g = self.stat_global(operand)?;
                    let stat = self.stat_ptr(operand)?;
                    let cfg = self.hist_cfg(g, a.span)?;
                    parts.push(format!("stp_hist_print(&c->rt, {}, {});", stat, cfg));
                } else {
                    let e = self.expr(a)?;
                    let f = if a.ty == Type::String { "%s" } else { "%d" };
                    let field = if a.ty == Type::String { "s" } else { "n" };
                    parts.push(format!(
                        "stp_printf(&c->rt, \"{}\", 1, (const union stp_arg[]){{ {{ .{} = {} }} }});",
                        f, field, e
                    ));
                }
            }
            if newline {
                parts.push("stp_print_str(&c->rt, \"\\n\");".to_string());
            }
            return Ok(format!("({{ {} (int64_t)0; }})", parts.join(" ")));
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
                let f: Vec<&str> = args[1..]
                    .iter()
                    .map(|a| if a.ty == Type::String { "%s" } else { "%d" })
                    .collect();
                (f.join(&delim), &args[1..])
            }
            PrintKind::Print { .. } => (
                args.iter()
                    .map(|a| if a.ty == Type::String { "%s" } else { "%d" })
                    .collect::<String>(),
                args,
            ),
        };
        let fmt = if newline { format!("{}\\n", fmt) } else { fmt };
        let mut vals = Vec::new();
        for a in values {
            let e = self.expr(a)?;
            let field = if a.ty == Type::String { "s" } else { "n" };
            vals.push(format!("{{ .{} = {} }}", field, e));
        }
        let arr = if vals.is_empty() {
            "NULL".to_string()
        } else {
            format!("(const union stp_arg[]){{ {} }}", vals.join(", "))
        };
        if to_string {
            let t = self.temp(Type::String);
            Ok(format!(
                "stp_sprintf({}, {}, {}, {})",
                t,
                c_lit(&fmt),
                vals.len(),
                arr
            ))
        } else {
            Ok(format!(
                "({{ stp_printf(&c->rt, {}, {}, {}); (int64_t)0; }})",
                c_lit(&fmt),
                vals.len(),
                arr
            ))
        }
    }
}

//! C for probe and function bodies: statements and expressions.
//!
//! Every local and temporary lives in the body's frame struct (`l->...`), which is part
//! of the per-CPU context.  Expressions become C expressions; anything that can fail
//! becomes a GCC statement expression that records the error and jumps to the current
//! unwind label (`out`, or a `catch` label inside `try`).

use crate::names::{c_ident, Names};
use crate::{c_str, cg_error, field, loc, near};
// (operator_after is used through crate:: for clarity at its one call site.)
use stap_sema::ir::*;
use stap_syntax::ast::{AssignOp, BinOp, IncDec, Literal, SortDir, StatOp, UnOp};
use stap_syntax::diag::Diagnostic;
use stap_syntax::source::{SourceMap, Span};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write;

pub(crate) type R<T> = Result<T, Diagnostic>;

/// A C literal for a long (valid for i64::MIN too).
pub(crate) fn c_long(v: i64) -> String {
    if v == i64::MIN {
        "(-9223372036854775807LL - 1)".to_string()
    } else {
        format!("{}LL", v)
    }
}

/// Calls `f` on every expression of the program.
pub(crate) fn for_each_expr(prog: &Program, f: &mut dyn FnMut(&Expr)) {
    for func in &prog.functions {
        if let Body::Script(b) = &func.body {
            stap_sema::visit::block(b, f);
        }
    }
    for p in &prog.probes {
        stap_sema::visit::block(&p.body, f);
        if let Some(c) = &p.condition {
            stap_sema::visit::expr(c, f);
        }
    }
}

/// The frame field names of a body's locals (`l_<name>`), unique and valid C.
pub(crate) fn local_names(locals: &[Local], taken: &mut HashSet<String>) -> Vec<String> {
    locals
        .iter()
        .map(|l| format!("l_{}", c_ident(&l.name, taken)))
        .collect()
}

/// The generated pieces of one probe or function.
pub(crate) struct Generated {
    /// The frame struct declaration.
    pub frame: String,
    /// The C function.
    pub code: String,
    /// Globals used directly, and whether written (or read exclusively).
    pub globals: BTreeMap<GlobalId, bool>,
    /// Functions called directly.
    pub calls: BTreeSet<FuncId>,
}

pub(crate) struct Gen<'a> {
    prog: &'a Program,
    sm: &'a SourceMap,
    names: &'a Names,
    hists: &'a BTreeMap<GlobalId, HistKind>,
    regexes: &'a [(String, Span)],
    locals: Vec<String>,
    local_types: Vec<Type>,
    temps: Vec<(String, Type)>,
    taken: HashSet<String>,
    out: String,
    indent: usize,
    err: Vec<String>,
    labels: usize,
    globals: BTreeMap<GlobalId, bool>,
    calls: BTreeSet<FuncId>,
    function: Option<FuncId>,
}

fn stat_op(op: StatOp) -> &'static str {
    match op {
        StatOp::Count => "STP_COUNT",
        StatOp::Sum => "STP_SUM",
        StatOp::Min => "STP_MIN",
        StatOp::Max => "STP_MAX",
        StatOp::Avg => "STP_AVG",
        StatOp::Variance => "STP_VARIANCE",
    }
}

impl<'a> Gen<'a> {
    fn new(
        prog: &'a Program,
        sm: &'a SourceMap,
        names: &'a Names,
        hists: &'a BTreeMap<GlobalId, HistKind>,
        regexes: &'a [(String, Span)],
        locals: &[Local],
        function: Option<FuncId>,
    ) -> Gen<'a> {
        let mut taken: HashSet<String> = ["__ret".to_string()].into_iter().collect();
        let names_l = local_names(locals, &mut taken);
        Gen {
            prog,
            sm,
            names,
            hists,
            regexes,
            locals: names_l,
            local_types: locals.iter().map(|l| l.ty).collect(),
            temps: Vec::new(),
            taken,
            out: String::new(),
            indent: 1,
            err: vec!["out".to_string()],
            labels: 0,
            globals: BTreeMap::new(),
            calls: BTreeSet::new(),
            function,
        }
    }

    fn line(&mut self, s: &str) {
        for _ in 0..self.indent {
            self.out.push('\t');
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    pub(crate) fn err_label(&self) -> &str {
        self.err.last().map(|s| s.as_str()).unwrap_or("out")
    }

    pub(crate) fn temp(&mut self, t: Type) -> String {
        let name = format!("t{}", self.temps.len());
        self.taken.insert(name.clone());
        self.temps.push((name.clone(), t));
        format!("l->{}", name)
    }

    fn label(&mut self, what: &str) -> String {
        self.labels += 1;
        format!("{}_{}", what, self.labels)
    }

    pub(crate) fn near(&self, span: Span) -> String {
        c_str(&near(self.sm, span))
    }

    fn use_global(&mut self, g: GlobalId, write: bool) {
        let e = self.globals.entry(g).or_insert(false);
        *e |= write;
    }

    fn global(&self, g: GlobalId) -> String {
        format!("stp_g.{}", self.names.globals[g])
    }

    fn var(&mut self, v: Var, write: bool) -> String {
        match v {
            Var::Local(i) => format!("l->{}", self.locals[i]),
            Var::Global(g) => {
                self.use_global(g, write);
                self.global(g)
            }
        }
    }

    fn var_type(&self, v: Var) -> Type {
        match v {
            Var::Local(i) => self.local_types[i],
            Var::Global(g) => self.prog.globals[g].ty,
        }
    }

    // ------------------------------------------------------------------ statements

    fn block(&mut self, b: &Block) -> R<()> {
        for s in &b.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt_prologue(&mut self, s: &Stmt) {
        let at = format!("/* {} */", loc(self.sm, s.span));
        self.line(&at);
        let n = self.near(s.span);
        let l = self.err_label().to_string();
        self.line(&format!("STP_STMT({}, {});", n, l));
    }

    fn loop_check(&mut self) {
        let l = self.err_label().to_string();
        self.line(&format!(
            "if (unlikely(stp_count_action(&c->rt))) goto {};",
            l
        ));
    }

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        match &s.kind {
            StmtKind::Null => {}
            StmtKind::Block(b) => {
                self.line("{");
                self.indent += 1;
                self.block(b)?;
                self.indent -= 1;
                self.line("}");
            }
            StmtKind::Expr(x) => {
                self.stmt_prologue(s);
                let e = self.expr(x)?;
                self.line(&format!("(void)({});", e));
            }
            StmtKind::If(c, t, o) => {
                self.stmt_prologue(s);
                let cond = self.expr(c)?;
                self.line(&format!("if ({}) {{", cond));
                self.indent += 1;
                self.stmt(t)?;
                self.indent -= 1;
                if let Some(o) = o {
                    self.line("} else {");
                    self.indent += 1;
                    self.stmt(o)?;
                    self.indent -= 1;
                }
                self.line("}");
            }
            StmtKind::While(c, b) => {
                self.stmt_prologue(s);
                let cond = self.expr(c)?;
                self.line(&format!("while ({}) {{", cond));
                self.indent += 1;
                self.loop_check();
                self.stmt(b)?;
                self.indent -= 1;
                self.line("}");
            }
            StmtKind::For(i, c, n, b) => {
                self.stmt_prologue(s);
                let i = match i {
                    Some(x) => format!("(void)({})", self.expr(x)?),
                    None => String::new(),
                };
                let c = match c {
                    Some(x) => self.expr(x)?,
                    None => String::new(),
                };
                let n = match n {
                    Some(x) => format!("(void)({})", self.expr(x)?),
                    None => String::new(),
                };
                self.line(&format!("for ({}; {}; {}) {{", i, c, n));
                self.indent += 1;
                self.loop_check();
                self.stmt(b)?;
                self.indent -= 1;
                self.line("}");
            }
            StmtKind::Foreach(f) => {
                self.stmt_prologue(s);
                self.foreach(f)?;
            }
            StmtKind::Return(v) => {
                self.stmt_prologue(s);
                if let (Some(v), Some(fid)) = (v, self.function) {
                    let e = self.expr(v)?;
                    if self.prog.functions[fid].ret == Type::String {
                        self.line(&format!("stp_strcpy(l->__ret, {});", e));
                    } else {
                        self.line(&format!("l->__ret = {};", e));
                    }
                }
                self.line("goto out;");
            }
            StmtKind::Delete(x) => {
                self.stmt_prologue(s);
                self.delete(x)?;
            }
            StmtKind::Break => self.line("break;"),
            StmtKind::Continue => self.line("continue;"),
            StmtKind::Next => {
                self.stmt_prologue(s);
                self.line("goto out;");
            }
            StmtKind::Try(b, v, h) => {
                let catch = self.label("catch");
                let end = self.label("end_try");
                self.line(&format!("/* try at {} */", loc(self.sm, s.span)));
                self.line("{");
                self.indent += 1;
                self.err.push(catch.clone());
                self.block(b)?;
                self.err.pop();
                self.line(&format!("goto {};", end));
                self.indent -= 1;
                self.line("}");
                self.line(&format!("{}:", catch));
                self.line("if (c->rt.last_error) {");
                self.indent += 1;
                if let Some(v) = v {
                    let var = self.var(*v, true);
                    self.line(&format!("stp_strcpy({}, c->rt.last_error);", var));
                }
                self.line("c->rt.last_error = NULL;");
                self.block(h)?;
                self.indent -= 1;
                self.line("}");
                self.line(&format!("{}: ;", end));
            }
        }
        Ok(())
    }

    fn assign_var(&mut self, v: Var, value: &str) -> String {
        let t = self.var_type(v);
        let var = self.var(v, true);
        if t == Type::String {
            format!("stp_strcpy({}, {})", var, value)
        } else {
            format!("{} = {}", var, value)
        }
    }

    fn foreach(&mut self, f: &Foreach) -> R<()> {
        let limit = match &f.limit {
            Some(l) => self.expr(l)?,
            None => "-1".to_string(),
        };
        match &f.source.kind {
            ExprKind::Array(Var::Global(g)) => {
                let g = *g;
                let gl = &self.prog.globals[g];
                let nkeys = gl.keys.len();
                self.use_global(g, false);
                let map = format!("&{}", self.global(g));
                let (column, dir, op) =
                    match (f.keys.iter().position(|k| k.1.is_some()), f.value_sort) {
                        (Some(i), _) => (i as i64, f.keys[i].1, None),
                        (None, Some((d, op))) => (nkeys as i64, Some(d), op),
                        (None, None) => (-1, None, None),
                    };
                let dir = match dir {
                    Some(SortDir::Desc) => -1,
                    _ => 1,
                };
                let op = op.map(stat_op).unwrap_or("STP_COUNT");
                let (slice, wild) = match &f.slice {
                    Some(keys) => {
                        let (k, w) = self.keys(g, keys)?;
                        (k, w)
                    }
                    None => ("NULL".to_string(), 0),
                };
                let it = self.label("it");
                let e = self.label("e");
                self.line("{");
                self.indent += 1;
                self.line(&format!("struct stp_map_iter {};", it));
                self.line(&format!("struct stp_map_entry *{};", e));
                self.line("");
                self.line(&format!(
                    "stp_map_iter_start(&c->rt, &{}, {}, {}, {}, {}, {}, {}, {}u);",
                    it, map, column, dir, op, limit, slice, wild
                ));
                self.line(&format!("while (({} = stp_map_iter_next(&{}))) {{", e, it));
                self.indent += 1;
                self.loop_check();
                for (i, (k, _)) in f.keys.iter().enumerate() {
                    let kt = gl.keys.get(i).copied().unwrap_or(Type::Long);
                    let getter = if kt == Type::String {
                        format!("stp_map_key_str({}, {}, {})", map, e, i)
                    } else {
                        format!("stp_map_key_long({}, {}, {})", map, e, i)
                    };
                    let a = self.assign_var(*k, &getter);
                    self.line(&format!("{};", a));
                }
                if let Some(v) = f.value {
                    let getter = match gl.ty {
                        Type::String => format!("stp_value_str_slot({}, {})", map, e),
                        _ => format!("*stp_value_long_slot({}, {})", map, e),
                    };
                    let a = self.assign_var(v, &getter);
                    self.line(&format!("{};", a));
                }
                self.stmt(&f.body)?;
                self.indent -= 1;
                self.line("}");
                self.indent -= 1;
                self.line("}");
            }
            ExprKind::Hist(_, operand) => {
                let g = self.stat_global(operand)?;
                let stat = self.stat_ptr(operand)?;
                let b = self.label("bucket");
                let s = self.label("hist");
                self.line("{");
                self.indent += 1;
                self.line(&format!("const struct stp_stat *{} = {};", s, stat));
                self.line(&format!("int64_t {};", b));
                self.line("");
                self.line(&format!(
                    "for ({b} = 0; {b} < stp_hist_{}.buckets{}; {b}++) {{",
                    self.names.globals[g],
                    if f.limit.is_some() { "" } else { "" },
                    b = b
                ));
                self.indent += 1;
                self.line(&format!(
                    "if (!{}->hist[{}])\n{}\tcontinue;",
                    s,
                    b,
                    "\t".repeat(self.indent)
                ));
                self.loop_check();
                if let Some((k, _)) = f.keys.first() {
                    let a = self.assign_var(*k, &b);
                    self.line(&format!("{};", a));
                }
                if let Some(v) = f.value {
                    let a = self.assign_var(v, &format!("{}->hist[{}]", s, b));
                    self.line(&format!("{};", a));
                }
                self.stmt(&f.body)?;
                self.indent -= 1;
                self.line("}");
                self.indent -= 1;
                self.line("}");
            }
            _ => {
                return Err(cg_error(
                    "foreach over this value is not supported",
                    f.source.span,
                ))
            }
        }
        Ok(())
    }

    fn delete(&mut self, x: &Expr) -> R<()> {
        match &x.kind {
            ExprKind::Array(Var::Global(g)) => {
                let g = *g;
                self.use_global(g, true);
                let line = if self.prog.globals[g].is_array {
                    format!("stp_map_clear(&{});", self.global(g))
                } else {
                    format!("stp_stat_set_clear(&{});", self.global(g))
                };
                self.line(&line);
            }
            ExprKind::Var(v) => {
                let t = self.var_type(*v);
                let var = self.var(*v, true);
                let line = match t {
                    Type::String => format!("{}[0] = '\\0';", var),
                    Type::Stats => format!("stp_stat_set_clear(&{});", var),
                    _ => format!("{} = 0;", var),
                };
                self.line(&line);
            }
            ExprKind::Index(b, keys) => {
                let ExprKind::Array(Var::Global(g)) = b.kind else {
                    return Err(cg_error("cannot delete this element", x.span));
                };
                self.use_global(g, true);
                let (k, wild) = self.keys(g, keys)?;
                let line = if wild == 0 {
                    format!("stp_map_delete(&{}, {});", self.global(g), k)
                } else {
                    format!(
                        "stp_map_delete_slice(&{}, {}, {}u);",
                        self.global(g),
                        k,
                        wild
                    )
                };
                self.line(&line);
            }
            _ => return Err(cg_error("cannot delete this", x.span)),
        }
        Ok(())
    }

    // ------------------------------------------------------------------ expressions

    /// A key array for map access, and the mask of `*` keys.
    fn keys(&mut self, g: GlobalId, keys: &[Option<Expr>]) -> R<(String, u32)> {
        let mut parts = Vec::new();
        let mut wild = 0u32;
        for (i, k) in keys.iter().enumerate() {
            let kt = self.prog.globals[g]
                .keys
                .get(i)
                .copied()
                .unwrap_or(Type::Long);
            let field = if kt == Type::String { "s" } else { "n" };
            match k {
                Some(k) => {
                    let e = self.expr(k)?;
                    parts.push(format!("{{ .{} = {} }}", field, e));
                }
                None => {
                    wild |= 1 << i;
                    parts.push(if kt == Type::String {
                        "{ .s = \"\" }".to_string()
                    } else {
                        "{ .n = 0 }".to_string()
                    });
                }
            }
        }
        Ok((
            format!("(const union stp_key[]){{ {} }}", parts.join(", ")),
            wild,
        ))
    }

    fn check(&self) -> String {
        format!("STP_CHECK({});", self.err_label())
    }

    /// The global a statistic operand lives in.
    fn stat_global(&self, operand: &Expr) -> R<GlobalId> {
        match &operand.kind {
            ExprKind::Var(Var::Global(g)) => Ok(*g),
            ExprKind::Index(b, _) => match b.kind {
                ExprKind::Array(Var::Global(g)) => Ok(g),
                _ => Err(cg_error("not a statistic", operand.span)),
            },
            _ => Err(cg_error("not a statistic", operand.span)),
        }
    }

    /// A `const struct stp_stat *` for a statistic operand.
    fn stat_ptr(&mut self, operand: &Expr) -> R<String> {
        match &operand.kind {
            ExprKind::Var(Var::Global(g)) => {
                let g = *g;
                // Reading merges the per-CPU copies: exclusive with <<< on other CPUs.
                self.use_global(g, true);
                Ok(format!("stp_stat_set_read(&{}, c->rt.cpu)", self.global(g)))
            }
            ExprKind::Index(b, keys) => {
                let ExprKind::Array(Var::Global(g)) = b.kind else {
                    return Err(cg_error("not a statistic", operand.span));
                };
                self.use_global(g, false);
                let (k, _) = self.keys(g, keys)?;
                Ok(format!("stp_map_get_stat(&{}, {})", self.global(g), k))
            }
            _ => Err(cg_error(
                "statistics must be global variables or array elements",
                operand.span,
            )),
        }
    }

    fn hist_cfg(&self, g: GlobalId, span: Span) -> R<String> {
        if self.hists.contains_key(&g) {
            Ok(format!("&stp_hist_{}", self.names.globals[g]))
        } else {
            Err(cg_error("no histogram is kept for this statistic", span))
        }
    }

    pub(crate) fn expr(&mut self, x: &Expr) -> R<String> {
        Ok(match &x.kind {
            ExprKind::Literal(Literal::Number(n)) => format!("((int64_t){})", c_long(*n)),
            ExprKind::Literal(Literal::String(s)) => format!("\"{}\"", s),
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

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, span: Span) -> R<String> {
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
    fn rmw(
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
                Ok(format!(
                    "({{ const union stp_key *__k = {k}; int64_t __old = stp_map_get_long(&{m}, __k); int64_t __new = {}; stp_map_set_long(&c->rt, &{m}, __k, __new, {n}); {} {}; }})",
                    f("__old"),
                    self.check(),
                    if post { "__old" } else { "__new" },
                    k = k,
                    m = m,
                    n = n
                ))
            }
            _ => Err(cg_error("this cannot be assigned", span)),
        }
    }

    fn incdec(&mut self, op: IncDec, post: bool, operand: &Expr, span: Span) -> R<String> {
        let delta = if op == IncDec::Incr { "+" } else { "-" };
        self.rmw(
            operand,
            span,
            &|v| format!("(int64_t)((uint64_t)({}) {} 1)", v, delta),
            post,
        )
    }

    fn assign(&mut self, op: AssignOp, l: &Expr, r: &Expr, span: Span) -> R<String> {
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
                    self.use_global(g, true);
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

    fn call(&mut self, f: FuncId, args: &[Expr], span: Span) -> R<String> {
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
            "({{ {} if (unlikely(c->rt.nesting + 1 >= MAXNESTING)) {{ stp_error_near(&c->rt, \"MAXNESTING exceeded\", {}); goto {}; }} memset(&{}, 0, sizeof({})); {} stp_f_{}(c); {} {} }})",
            parts.join(" "),
            n,
            self.err_label(),
            frame,
            frame,
            copy.join(" "),
            fname,
            self.check(),
            result
        ))
    }

    fn print(&mut self, kind: PrintKind, args: &[Expr], span: Span) -> R<String> {
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
                "stp_sprintf({}, \"{}\", {}, {})",
                t,
                fmt,
                vals.len(),
                arr
            ))
        } else {
            Ok(format!(
                "({{ stp_printf(&c->rt, \"{}\", {}, {}); (int64_t)0; }})",
                fmt,
                vals.len(),
                arr
            ))
        }
    }

    fn frame_struct(&self, name: &str, ret: Option<Type>) -> String {
        let mut s = format!("struct {} {{\n", name);
        for (i, l) in self.locals.iter().enumerate() {
            let _ = writeln!(s, "\t{}", field(self.local_types[i], l));
        }
        if let Some(t) = ret {
            let _ = writeln!(s, "\t{}", field(t, "__ret"));
        }
        for (n, t) in &self.temps {
            let _ = writeln!(s, "\t{}", field(*t, n));
        }
        if self.locals.is_empty() && self.temps.is_empty() && ret.is_none() {
            s.push_str("\tint unused;\n");
        }
        s.push_str("};\n\n");
        s
    }
}

/// Generates a function: its frame struct and its C function.
pub(crate) fn gen_function(
    prog: &Program,
    sm: &SourceMap,
    names: &Names,
    hists: &BTreeMap<GlobalId, HistKind>,
    regexes: &[(String, Span)],
    id: FuncId,
    f: &Function,
) -> R<Generated> {
    let mut g = Gen::new(prog, sm, names, hists, regexes, &f.locals, Some(id));
    let ret = match f.ret {
        Type::Long | Type::String => Some(f.ret),
        _ => None,
    };
    let cname = &names.functions[id];
    let frame_ty = format!("stp_locals_{}", cname);
    let mut code = String::new();
    match &f.body {
        Body::Script(b) => {
            g.block(b)?;
            let _ = write!(
                code,
                "/* function {} at {} */\nstatic void stp_f_{}(struct context *c)\n{{\n\tstruct {} *l = &c->frames[++c->rt.nesting].f{};\n\n\t(void)l;\n{}",
                f.name,
                loc(sm, f.span),
                cname,
                frame_ty,
                id,
                g.out
            );
        }
        Body::Embedded { code: c_code, .. } => {
            // The embedded C gets a function of its own, so a plain `return` in it is fine.
            let _ = write!(
                code,
                "/* function {} (embedded C) at {} */\nstatic void stp_fe_{}(struct context *c, struct {} *l)\n{{\n",
                f.name,
                loc(sm, f.span),
                cname,
                frame_ty
            );
            code.push_str("#define CONTEXT (&c->rt)\n");
            for (i, l) in f.locals.iter().take(f.arity).enumerate() {
                let _ = writeln!(code, "#define STAP_ARG_{} (l->{})", l.name, g.locals[i]);
            }
            code.push_str(
                "#define STAP_RETVALUE (l->__ret)\n\
                 #define STAP_RETURN(v) do { STAP_RETVALUE = (v); goto out; } while (0)\n\
                 #define STAP_ERROR(...) do { stp_set_errorf(CONTEXT, __VA_ARGS__); goto out; } while (0)\n\t(void)c;\n\t(void)l;\n\t{\n",
            );
            code.push_str(c_code);
            code.push_str("\n\t}\nout: __attribute__((unused));\n\t;\n#undef CONTEXT\n");
            for l in f.locals.iter().take(f.arity) {
                let _ = writeln!(code, "#undef STAP_ARG_{}", l.name);
            }
            code.push_str("#undef STAP_RETVALUE\n#undef STAP_RETURN\n#undef STAP_ERROR\n}\n\n");
            let _ = write!(
                code,
                "static void stp_f_{}(struct context *c)\n{{\n\tstruct {} *l = &c->frames[++c->rt.nesting].f{};\n\n\tstp_fe_{}(c, l);\n\tgoto out;\n",
                cname, frame_ty, id, cname
            );
        }
    }
    code.push_str("out: __attribute__((unused));\n\tc->rt.nesting--;\n}\n\n");
    let frame = if let Body::Embedded { .. } = f.body {
        // Embedded functions always have a return slot (STAP_RETVALUE).
        g.frame_struct(
            &format!("stp_locals_{}", cname),
            Some(if f.ret == Type::String {
                Type::String
            } else {
                Type::Long
            }),
        )
    } else {
        g.frame_struct(&format!("stp_locals_{}", cname), ret)
    };
    Ok(Generated {
        frame,
        code,
        globals: g.globals,
        calls: g.calls,
    })
}

/// Generates a probe handler and its frame struct.
pub(crate) fn gen_probe(
    prog: &Program,
    sm: &SourceMap,
    names: &Names,
    hists: &BTreeMap<GlobalId, HistKind>,
    regexes: &[(String, Span)],
    id: usize,
    p: &Probe,
) -> R<Generated> {
    let mut g = Gen::new(prog, sm, names, hists, regexes, &p.locals, None);
    if let Some(cond) = &p.condition {
        let c = g.expr(cond)?;
        g.line(&format!("if (!({}))\n\t\tgoto out;", c));
    }
    g.block(&p.body)?;
    let code = format!(
        "/* probe {} at {} */\nstatic void stp_p_{}(struct stp_ctx *rt)\n{{\n\tstruct context *c = (struct context *)rt;\n\tstruct stp_locals_probe_{} *l = &c->probe.p{};\n\n\tmemset(l, 0, sizeof(*l));\n{}out: __attribute__((unused));\n\t;\n}}\n\n",
        p.point,
        loc(sm, p.span),
        id,
        id,
        id,
        g.out
    );
    Ok(Generated {
        frame: g.frame_struct(&format!("stp_locals_probe_{}", id), None),
        code,
        globals: g.globals,
        calls: g.calls,
    })
}

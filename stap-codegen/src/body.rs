//! C for probe and function bodies: the frame, statements and the generator state
//! (expressions are in `expr.rs`).
//!
//! Every script local and string temporary lives in the body's frame struct (`l->...`),
//! which is part of the per-CPU context; number temporaries (`t0`), key and argument
//! arrays (`k0`, `a0`) and callee-frame pointers (`cf0`) are C locals declared at the
//! top of the function.  Expressions become statements over those temporaries (see
//! `expr.rs`); anything that can fail records the error and jumps to the current unwind
//! label (`out`, or a `catch` label inside `try`).

use crate::foreach_slots::ForeachSlots;
use crate::names::{c_ident, Names};
use crate::{c_comment, c_str, cg_error, cloc, field};
use stap_sema::ir::*;
use stap_syntax::ast::{SortDir, StatOp};
use stap_syntax::diag::Diagnostic;
use stap_syntax::locate::Locate;
use stap_syntax::source::Span;
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
pub(crate) fn local_names(
    locals: &Arena<Local>,
    taken: &mut HashSet<String>,
) -> IdVec<Local, String> {
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

/// What every body's generator shares: the program and the tables made from it.
pub(crate) struct Tables<'a> {
    pub(crate) prog: &'a Program,
    pub(crate) sm: &'a dyn Locate,
    pub(crate) names: &'a Names,
    pub(crate) hists: &'a BTreeMap<GlobalId, HistKind>,
    pub(crate) regexes: &'a [(String, Span)],
    pub(crate) slots: &'a ForeachSlots,
}

pub(crate) struct Gen<'a> {
    pub(crate) prog: &'a Program,
    pub(crate) slots: &'a ForeachSlots,
    pub(crate) sm: &'a dyn Locate,
    pub(crate) names: &'a Names,
    pub(crate) hists: &'a BTreeMap<GlobalId, HistKind>,
    pub(crate) regexes: &'a [(String, Span)],
    pub(crate) locals: IdVec<Local, String>,
    pub(crate) local_types: IdVec<Local, Type>,
    /// String temporaries: frame fields.
    pub(crate) temps: Vec<(String, Type)>,
    /// C declarations of the other temporaries, for the top of the function.
    pub(crate) decls: Vec<String>,
    /// How many temporaries have been named (one counter for every kind).
    pub(crate) ntemps: usize,
    /// Values that do not change once computed (temporaries): they need no saving.
    pub(crate) stable: HashSet<String>,
    /// Per enclosing loop: the label `continue` goes to (None: C's own `continue`).
    pub(crate) continues: Vec<Option<String>>,
    pub(crate) taken: HashSet<String>,
    pub(crate) out: String,
    pub(crate) indent: usize,
    pub(crate) err: Vec<String>,
    pub(crate) labels: usize,
    pub(crate) globals: BTreeMap<GlobalId, bool>,
    pub(crate) calls: BTreeSet<FuncId>,
    pub(crate) function: Option<FuncId>,
}

pub(crate) fn stat_op(op: StatOp) -> &'static str {
    match op {
        StatOp::Count => "STP_COUNT",
        StatOp::Sum => "STP_SUM",
        StatOp::Min => "STP_MIN",
        StatOp::Max => "STP_MAX",
        StatOp::Avg => "STP_AVG",
        StatOp::Variance(_) => "STP_VARIANCE",
    }
}

impl<'a> Gen<'a> {
    pub(crate) fn new(t: &Tables<'a>, locals: &Arena<Local>, function: Option<FuncId>) -> Gen<'a> {
        let mut taken: HashSet<String> = ["__ret".to_string()].into_iter().collect();
        let names_l = local_names(locals, &mut taken);
        Gen {
            prog: t.prog,
            slots: t.slots,
            sm: t.sm,
            names: t.names,
            hists: t.hists,
            regexes: t.regexes,
            locals: names_l,
            local_types: locals.iter().map(|l| l.ty).collect(),
            temps: Vec::new(),
            decls: Vec::new(),
            ntemps: 0,
            stable: HashSet::new(),
            continues: Vec::new(),
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

    /// One line at the current indentation (see [`push_line`]).
    pub(crate) fn line(&mut self, s: &str) {
        push_line(&mut self.out, self.indent, s);
    }

    pub(crate) fn err_label(&self) -> &str {
        self.err.last().map(|s| s.as_str()).unwrap_or("out")
    }

    /// A new temporary of type `t`: a string in the frame, a number as a C local.
    pub(crate) fn temp(&mut self, t: Type) -> String {
        if t != Type::String {
            return self.long_temp();
        }
        let name = format!("s{}", self.ntemps);
        self.ntemps += 1;
        self.taken.insert(name.clone());
        self.temps.push((name.clone(), t));
        let r = format!("l->{}", name);
        self.stable.insert(r.clone());
        r
    }

    /// A new number temporary.
    pub(crate) fn long_temp(&mut self) -> String {
        self.decl_temp("int64_t ", "t", "0")
    }

    /// A new C local `PREFIXn` of C type `ctype` (written with its trailing space or `*`).
    pub(crate) fn decl_temp(&mut self, ctype: &str, prefix: &str, init: &str) -> String {
        let name = format!("{}{}", prefix, self.ntemps);
        self.ntemps += 1;
        self.decls.push(format!("{}{} = {};", ctype, name, init));
        self.stable.insert(name.clone());
        name
    }

    /// A new C local array `PREFIXn[len]` of `ctype`.
    pub(crate) fn decl_array(&mut self, ctype: &str, prefix: &str, len: usize) -> String {
        let name = format!("{}{}", prefix, self.ntemps);
        self.ntemps += 1;
        let sep = if ctype.ends_with('*') { "" } else { " " };
        self.decls
            .push(format!("{}{}{}[{}];", ctype, sep, name, len.max(1)));
        name
    }

    /// True for values that cannot change before they are used: temporaries and literals.
    pub(crate) fn is_stable(&self, v: &str) -> bool {
        self.stable.contains(v)
            || v.starts_with('"')
            || v.strip_suffix("LL").is_some_and(|n| {
                n.trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit())
            })
    }

    /// `v` saved in a temporary unless it is stable already.
    pub(crate) fn bake(&mut self, v: String, t: Type) -> String {
        if self.is_stable(&v) {
            return v;
        }
        let tmp = self.temp(t);
        self.assign_line(&tmp, &v, t);
        tmp
    }

    /// `dest = v;` for a value of type `t` (strings are copied).
    pub(crate) fn assign_line(&mut self, dest: &str, v: &str, t: Type) {
        if t == Type::String {
            self.line(&format!("stp_strcpy({}, {});", dest, v));
        } else {
            self.line(&format!("{} = {};", dest, v));
        }
    }

    /// An error (message `msg`, location `near`, a C string) when `cond` holds.
    pub(crate) fn fail_if(&mut self, cond: &str, msg: &str, near: &str) {
        let l = self.err_label().to_string();
        self.line(&format!("if (unlikely({})) {{", cond));
        self.indent += 1;
        self.line(&format!("stp_error_near(&c->rt, \"{}\", {});", msg, near));
        self.line(&format!("goto {};", l));
        self.indent -= 1;
        self.line("}");
    }

    /// Unwinds if the last runtime call failed.
    pub(crate) fn check_line(&mut self) {
        let l = self.check();
        self.line(&l);
    }

    /// Runs `f` with its statements kept apart: returns them and `f`'s result.
    pub(crate) fn capture<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> (String, T) {
        let saved = std::mem::take(&mut self.out);
        let v = f(self);
        let stmts = std::mem::replace(&mut self.out, saved);
        (stmts, v)
    }

    /// The values of `xs`, evaluated left to right: a value that could change (a variable
    /// read) is saved in a temporary when a later operand has statements of its own.
    pub(crate) fn eval_all(&mut self, xs: &[&Expr]) -> R<Vec<String>> {
        let mut vals: Vec<(String, Type, usize)> = Vec::new();
        for x in xs {
            let mark = self.out.len();
            let v = self.expr(x)?;
            if self.out.len() > mark {
                // Save the earlier unstable values where they were computed, last first so
                // the earlier positions stay valid.
                for i in (0..vals.len()).rev() {
                    let (val, ty, at) = vals[i].clone();
                    if self.is_stable(&val) {
                        continue;
                    }
                    let tmp = self.temp(ty);
                    let (line, ()) = self.capture(|g| g.assign_line(&tmp, &val, ty));
                    self.out.insert_str(at, &line);
                    vals[i].0 = tmp;
                    for later in &mut vals[i..] {
                        later.2 += line.len();
                    }
                }
            }
            vals.push((v, x.ty, self.out.len()));
        }
        Ok(vals.into_iter().map(|(v, _, _)| v).collect())
    }

    pub(crate) fn label(&mut self, what: &str) -> String {
        self.labels += 1;
        format!("{}_{}", what, self.labels)
    }

    pub(crate) fn near(&self, span: Span) -> String {
        c_str(&self.sm.near(span))
    }

    /// Records that this probe or function uses global `g`, and whether it needs the
    /// exclusive side of its lock.  Every read of a statistics array does (reading folds
    /// the per-CPU slots of its entries).
    pub(crate) fn use_global(&mut self, g: GlobalId, write: bool) {
        let glob = &self.prog.globals[g];
        let write = write || (glob.ty == Type::Stats && glob.is_array);
        let e = self.globals.entry(g).or_insert(false);
        *e |= write;
    }

    /// `<<<` into an element of statistics array `g`: the shared side of its lock is
    /// enough (each CPU adds into its own slot), unless the array evicts entries (`%`).
    pub(crate) fn use_global_for_add(&mut self, g: GlobalId) {
        let wrap = self.prog.globals[g].wrap;
        let e = self.globals.entry(g).or_insert(false);
        *e |= wrap;
    }

    pub(crate) fn global(&self, g: GlobalId) -> String {
        format!("stp_g.{}", self.names.globals[g])
    }

    pub(crate) fn var(&mut self, v: Var, write: bool) -> String {
        match v {
            Var::Local(i) => format!("l->{}", self.locals[i]),
            Var::Global(g) => {
                self.use_global(g, write);
                self.global(g)
            }
        }
    }

    pub(crate) fn var_type(&self, v: Var) -> Type {
        match v {
            Var::Local(i) => self.local_types[i],
            Var::Global(g) => self.prog.globals[g].ty,
        }
    }

    // ------------------------------------------------------------------ statements

    pub(crate) fn block(&mut self, b: &Block) -> R<()> {
        for s in &b.stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    pub(crate) fn stmt_prologue(&mut self, s: &Stmt) {
        let at = format!("/* {} */", cloc(self.sm, s.span));
        self.line(&at);
        let n = self.near(s.span);
        let l = self.err_label().to_string();
        self.line(&format!("STP_STMT({}, {});", n, l));
    }

    pub(crate) fn loop_check(&mut self) {
        let l = self.err_label().to_string();
        self.line(&format!(
            "if (unlikely(stp_count_action(&c->rt))) goto {};",
            l
        ));
    }

    pub(crate) fn stmt(&mut self, s: &Stmt) -> R<()> {
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
                if !self.is_stable(&e) && !is_plain_name(&e) {
                    self.line(&format!("(void){};", crate::expr::paren(&e)));
                }
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
                self.while_loop(c, b)?;
            }
            StmtKind::For(i, c, n, b) => {
                self.stmt_prologue(s);
                self.for_loop(i.as_ref(), c.as_ref(), n.as_ref(), b)?;
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
            StmtKind::Continue => match self.continues.last().cloned().flatten() {
                Some(label) => self.line(&format!("goto {};", label)),
                None => self.line("continue;"),
            },
            StmtKind::Next => {
                self.stmt_prologue(s);
                self.line("goto out;");
            }
            StmtKind::Try(b, v, h) => {
                let catch = self.label("catch");
                let end = self.label("end_try");
                self.line(&format!("/* try at {} */", cloc(self.sm, s.span)));
                self.line("{");
                self.indent += 1;
                self.err.push(catch.clone());
                self.block(b)?;
                self.err.pop();
                self.line(&format!("goto {};", end));
                self.indent -= 1;
                self.line("}");
                // A body that cannot fail (empty once elided, say) never jumps here.
                self.line(&format!("{}: __attribute__((unused));", catch));
                self.line("if (c->rt.last_error == stp_abort_marker)");
                self.line(&format!("\tgoto {};", self.err_label()));
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

    /// `while (c) b`: the condition's statements run before each test.
    fn while_loop(&mut self, c: &Expr, b: &Stmt) -> R<()> {
        self.indent += 1;
        let (cs, cond) = self.capture(|g| g.expr(c));
        self.indent -= 1;
        let cond = cond?;
        if cs.is_empty() {
            self.line(&format!("while ({}) {{", cond));
            self.indent += 1;
        } else {
            self.line("for (;;) {");
            self.out.push_str(&cs);
            self.indent += 1;
            self.line(&format!("if (!{})", crate::expr::paren(&cond)));
            self.line("\tbreak;");
        }
        self.loop_body(b, None)?;
        self.indent -= 1;
        self.line("}");
        Ok(())
    }

    /// A loop's body: the MAXACTION check, then the body with `continue` going to
    /// `cont` (None: C's own `continue`).
    fn loop_body(&mut self, b: &Stmt, cont: Option<String>) -> R<()> {
        self.loop_check();
        self.continues.push(cont);
        self.stmt(b)?;
        self.continues.pop();
        Ok(())
    }

    /// `for (i; c; n) b`: a C `for` when the condition and step need no statements,
    /// else a loop whose `continue` goes to the step.
    fn for_loop(
        &mut self,
        i: Option<&Expr>,
        c: Option<&Expr>,
        n: Option<&Expr>,
        b: &Stmt,
    ) -> R<()> {
        if let Some(i) = i {
            let e = self.expr(i)?;
            if !self.is_stable(&e) && !is_plain_name(&e) {
                self.line(&format!("(void){};", crate::expr::paren(&e)));
            }
        }
        self.indent += 1;
        let (cs, cond) = self.capture(|g| c.map(|c| g.expr(c)).transpose());
        let (ns, next) = self.capture(|g| n.map(|n| g.expr(n)).transpose());
        self.indent -= 1;
        let (cond, next) = (cond?, next?);
        let next_pure = next
            .as_ref()
            .is_none_or(|e| self.is_stable(e) || is_plain_name(e));
        if cs.is_empty() && ns.is_empty() {
            let next = match (&next, next_pure) {
                (Some(n), false) => format!("(void){}", crate::expr::paren(n)),
                _ => String::new(),
            };
            self.line(&format!(
                "for (; {}; {}) {{",
                cond.unwrap_or_default(),
                next
            ));
            self.indent += 1;
            self.loop_body(b, None)?;
            self.indent -= 1;
            self.line("}");
            return Ok(());
        }
        let cont = self.label("next");
        self.line("for (;;) {");
        self.out.push_str(&cs);
        self.indent += 1;
        if let Some(cond) = cond {
            self.line(&format!("if (!{})", crate::expr::paren(&cond)));
            self.line("\tbreak;");
        }
        self.loop_body(b, Some(cont.clone()))?;
        self.indent -= 1;
        self.line(&format!("{}: __attribute__((unused));", cont));
        self.out.push_str(&ns);
        self.indent += 1;
        if let (Some(next), false) = (&next, next_pure) {
            self.line(&format!("(void){};", crate::expr::paren(next)));
        }
        self.indent -= 1;
        self.line("}");
        Ok(())
    }

    /// `v = value;` for a script variable.
    pub(crate) fn assign_var(&mut self, v: Var, value: &str) {
        let t = self.var_type(v);
        let var = self.var(v, true);
        self.assign_line(&var, value, t);
    }

    pub(crate) fn foreach(&mut self, f: &Foreach) -> R<()> {
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
                let slot = self.slots.slot(f.source.span);
                self.line(&format!(
                    "stp_map_iter_start(&c->rt, &{}, {}, {}, {}, {}, {}, {}, {}u, {});",
                    it, map, column, dir, op, limit, slice, wild, slot
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
                    self.assign_var(*k, &getter);
                }
                if let Some(v) = f.value {
                    let getter = match gl.ty {
                        Type::String => format!("stp_value_str_slot({}, {})", map, e),
                        _ => format!("*stp_value_long_slot({}, {})", map, e),
                    };
                    self.assign_var(v, &getter);
                }
                self.continues.push(None);
                self.stmt(&f.body)?;
                self.continues.pop();
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
                let lim = self.label("limit");
                self.line(&format!("const struct stp_stat *{} = {};", s, stat));
                self.line(&format!("int64_t {} = {};", lim, limit));
                self.line(&format!("int64_t {};", b));
                self.line("");
                self.line(&format!("(void){};", s));
                // As SystemTap's: every bucket, the empty ones too, up to the limit.
                self.line(&format!(
                    "for ({b} = 0; {b} < stp_hist_{g}.buckets && ({lim} < 0 || {b} < {lim}); {b}++) {{",
                    g = self.names.globals[g],
                    b = b,
                    lim = lim
                ));
                self.indent += 1;
                self.loop_check();
                if let Some((k, _)) = f.keys.first() {
                    self.assign_var(*k, &b);
                }
                if let Some(v) = f.value {
                    self.assign_var(v, &format!("{}->hist[{}]", s, b));
                }
                self.continues.push(None);
                self.stmt(&f.body)?;
                self.continues.pop();
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

    pub(crate) fn delete(&mut self, x: &Expr) -> R<()> {
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

    /// A key array for map access, filled in, and the mask of `*` keys.
    pub(crate) fn keys(&mut self, g: GlobalId, keys: &[Option<Expr>]) -> R<(String, u32)> {
        let given: Vec<&Expr> = keys.iter().flatten().collect();
        let mut vals = self.eval_all(&given)?.into_iter();
        let arr = self.decl_array("union stp_key", "k", keys.len());
        let mut wild = 0u32;
        for (i, k) in keys.iter().enumerate() {
            let kt = self.prog.globals[g]
                .keys
                .get(i)
                .copied()
                .unwrap_or(Type::Long);
            let field = if kt == Type::String { "s" } else { "n" };
            let v = match k {
                Some(_) => vals.next().unwrap_or_default(),
                None => {
                    wild |= 1 << i;
                    if kt == Type::String { "\"\"" } else { "0" }.to_string()
                }
            };
            self.line(&format!("{}[{}].{} = {};", arr, i, field, v));
        }
        Ok((arr, wild))
    }

    pub(crate) fn check(&self) -> String {
        format!("STP_CHECK({});", self.err_label())
    }

    /// The global a statistic operand lives in.
    pub(crate) fn stat_global(&self, operand: &Expr) -> R<GlobalId> {
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
    pub(crate) fn stat_ptr(&mut self, operand: &Expr) -> R<String> {
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

    pub(crate) fn hist_cfg(&self, g: GlobalId, span: Span) -> R<String> {
        if self.hists.contains_key(&g) {
            Ok(format!("&stp_hist_{}", self.names.globals[g]))
        } else {
            Err(cg_error("no histogram is kept for this statistic", span))
        }
    }

    pub(crate) fn frame_struct(&self, name: &str, ret: Option<Type>) -> String {
        let mut s = format!("struct {} {{\n", name);
        for (i, l) in self.locals.enumerate() {
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
        // Fresh locals read as 0 and "": one store per field, never a memset of the
        // string buffers (the hot path of every probe and call).
        let _ = write!(
            s,
            "static inline void {}_init(struct {} *l)\n{{\n\t(void)l;\n",
            name, name
        );
        let fields = self
            .locals
            .enumerate()
            .map(|(i, l)| (l.as_str(), self.local_types[i]))
            .chain(ret.map(|t| ("__ret", t)))
            .chain(self.temps.iter().map(|(n, t)| (n.as_str(), *t)));
        for (n, t) in fields {
            let _ = match t {
                Type::String => writeln!(s, "\tl->{}[0] = '\\0';", n),
                _ => writeln!(s, "\tl->{} = 0;", n),
            };
        }
        s.push_str("}\n\n");
        s
    }
}

/// True for a value that is only a name or literal (reading it alone does nothing).
fn is_plain_name(e: &str) -> bool {
    crate::expr::paren(e) == e
}

/// True when `name` occurs in `text` as a whole identifier.
/// How often each number temporary (`t0`, `t1`, ...) occurs in `text` as a whole C
/// identifier (not a member after `.`/`->`), in one pass.
fn temp_counts(text: &str) -> std::collections::HashMap<String, usize> {
    let b = text.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut counts = std::collections::HashMap::new();
    let mut i = 0;
    while i < b.len() {
        if !ident(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        let word = &text[start..i];
        let member = start > 0 && matches!(b[start - 1], b'.' | b'>');
        let temp = word.len() > 1
            && word.starts_with('t')
            && word[1..].bytes().all(|c| c.is_ascii_digit());
        if temp && !member && b.get(i) != Some(&b'[') {
            *counts.entry(word.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

impl Gen<'_> {
    /// Number temporaries that are only assigned (a value nobody reads, such as what
    /// `a[k] = v` returns as a statement): the assignment becomes a plain call and the
    /// declaration goes.
    pub(crate) fn drop_unread_temps(&mut self) {
        let counts = temp_counts(&self.out);
        let mut keep = Vec::new();
        for d in std::mem::take(&mut self.decls) {
            let name = d
                .strip_prefix("int64_t ")
                .and_then(|r| r.split(' ').next())
                .unwrap_or("");
            let n = counts.get(name).copied().unwrap_or(0);
            let assigned = self.out.matches(&format!("\t{} = ", name)).count();
            if n > 1 && assigned == n {
                // Set on several paths (the arms of a ?: whose value is unused) and
                // never read: kept, and marked so GCC does not call it set but unused.
                keep.push(d.replacen(name, &format!("{} __attribute__((unused))", name), 1));
                continue;
            }
            if n == 1 {
                let assign = format!("\t{} = ", name);
                if let Some(i) = self.out.find(&assign) {
                    // A call stays a call; any other value is discarded with (void), since
                    // a bare value is a statement with no effect.
                    let rest = &self.out[i + assign.len()..];
                    let callee = rest
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .is_some_and(|k| k > 0 && rest[k..].starts_with('('));
                    if callee {
                        self.out.replace_range(i + 1..i + assign.len(), "");
                    } else if let Some(end) = self.out[i..].find(";\n") {
                        // (void)(VALUE): the cast must not bind to VALUE's first operand
                        // only (`(void)t6 == -1 ? ...`).
                        self.out.insert(i + end, ')');
                        self.out.replace_range(i + 1..i + assign.len(), "(void)(");
                    } else {
                        keep.push(d);
                    }
                    continue;
                }
            }
            keep.push(d);
        }
        self.decls = keep;
    }
}

/// The declarations of a body's C-local temporaries, one per line.
fn decl_lines(g: &Gen) -> String {
    let mut o = String::new();
    for d in &g.decls {
        let _ = writeln!(o, "\t{}", d);
    }
    o
}

/// The widest generated line, in columns.
pub(crate) const MAX_COLUMNS: usize = 100;

/// Appends `s` as a line at `indent` tabs; a line wider than [`MAX_COLUMNS`] (tabs count
/// 8) is broken after a comma outside strings, continued one tab deeper.
pub(crate) fn push_line(out: &mut String, indent: usize, s: &str) {
    let mut rest = s;
    let mut level = indent;
    loop {
        let room = MAX_COLUMNS.saturating_sub(level * 8);
        let cut = if rest.len() > room {
            break_point(rest, room)
        } else {
            None
        };
        for _ in 0..level {
            out.push('\t');
        }
        match cut {
            Some(i) => {
                out.push_str(rest[..i].trim_end());
                out.push('\n');
                rest = rest[i..].trim_start();
                level = indent + 1;
            }
            None => {
                out.push_str(rest);
                out.push('\n');
                return;
            }
        }
    }
}

/// Where to break `s` to fit `room` columns: just after the last `, ` outside a string or
/// character literal that fits (None if there is none).
fn break_point(s: &str, room: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut best = None;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() && i < room {
        match (quote, b[i]) {
            (Some(_), b'\\') => i += 1,
            (Some(q), c) if c == q => quote = None,
            (None, b'"' | b'\'') => quote = Some(b[i]),
            (None, b',') if b.get(i + 1) == Some(&b' ') => best = Some(i + 2),
            _ => {}
        }
        i += 1;
    }
    best
}

/// Generates a function: its frame struct and its C function.
pub(crate) fn gen_function(t: &Tables, id: FuncId, f: &Function) -> R<Generated> {
    let (sm, names) = (t.sm, t.names);
    let mut g = Gen::new(t, &f.locals, Some(id));
    let ret = match f.ret {
        Type::Long | Type::String => Some(f.ret),
        _ => None,
    };
    let cname = &names.functions[id];
    let frame_ty = format!("stp_locals_{}", cname);
    let mut code = String::new();
    let mut undefs = String::new();
    match &f.body {
        Body::Script(b) => {
            g.block(b)?;
            g.drop_unread_temps();
            // An embedded-C expression in a script function reads its parameters as
            // STAP_ARG_name, as in SystemTap (`if (%{ S_ISDIR(STAP_ARG_mode) %})`).
            if g.out.contains("STAP_ARG_") {
                for (i, l) in f.locals.enumerate().take(f.arity) {
                    let _ = writeln!(code, "#define STAP_ARG_{} (l->{})", l.name, g.locals[i]);
                    let _ = writeln!(undefs, "#undef STAP_ARG_{}", l.name);
                }
            }
            let _ = write!(
                code,
                "/* function {} at {} */\nstatic void stp_f_{}(struct context *c)\n{{\n\tstruct {} *l = &c->frames[++c->rt.nesting].f{};\n{}\n\t(void)l;\n{}",
                c_comment(&f.name),
                cloc(sm, f.span),
                cname,
                frame_ty,
                id,
                decl_lines(&g),
                g.out
            );
        }
        Body::Embedded { code: c_code, .. } => {
            // The embedded C gets a function of its own, so a plain `return` in it is fine.
            let _ = write!(
                code,
                "/* function {} (embedded C) at {} */\nstatic void stp_fe_{}(struct context *c, struct {} *l)\n{{\n",
                c_comment(&f.name),
                cloc(sm, f.span),
                cname,
                frame_ty
            );
            code.push_str("#define CONTEXT (&c->rt)\n");
            for (i, l) in f.locals.enumerate().take(f.arity) {
                let _ = writeln!(code, "#define STAP_ARG_{} (l->{})", l.name, g.locals[i]);
            }
            code.push_str("#define STAP_RETVALUE (l->__ret)\n");
            // A string function's return slot is a buffer: STAP_RETURN copies into it.
            code.push_str(if f.ret == Type::String {
                "#define STAP_RETURN(v) do { stp_strcpy(STAP_RETVALUE, (v)); goto out; } while (0)\n"
            } else {
                "#define STAP_RETURN(v) do { STAP_RETVALUE = (v); goto out; } while (0)\n"
            });
            code.push_str(
                "#define STAP_ERROR(...) do { stp_set_errorf(CONTEXT, __VA_ARGS__); goto out; } while (0)\n\t(void)c;\n\t(void)l;\n\t{\n",
            );
            code.push_str(c_code);
            // kread() and its kin (stp_embedded.h) jump to deref_fault on a bad address.
            code.push_str(
                "\n\t}\nderef_fault: __attribute__((unused));\nout: __attribute__((unused));\n\t;\n#undef CONTEXT\n",
            );
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
    code.push_str("out: __attribute__((unused));\n\tc->rt.nesting--;\n}\n");
    code.push_str(&undefs);
    code.push('\n');
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
pub(crate) fn gen_probe(t: &Tables, id: usize, p: &Probe) -> R<Generated> {
    let sm = t.sm;
    let mut g = Gen::new(t, &p.locals, None);
    if let Some(cond) = &p.condition {
        let c = g.expr(cond)?;
        g.line(&format!("if (!{})", crate::expr::paren(&c)));
        g.line("\tgoto out;");
    }
    g.block(&p.body)?;
    g.drop_unread_temps();
    let code = format!(
        "/* probe {} at {} */\nstatic void stp_p_{}(struct stp_ctx *rt)\n{{\n\tstruct context *c = (struct context *)rt;\n\tstruct stp_locals_probe_{} *l = &c->probe.p{};\n{}\n\tstp_locals_probe_{}_init(l);\n{}out: __attribute__((unused));\n\t;\n}}\n\n",
        id,
        cloc(sm, p.span),
        id,
        id,
        id,
        decl_lines(&g),
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

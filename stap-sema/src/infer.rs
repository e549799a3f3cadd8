//! Type inference: whole-program, to a fixpoint.
//!
//! Every variable, array key, array value, parameter and return value is a slot that
//! starts unknown (or declared).  Walking every body pushes known types into slots (`x = 1`
//! makes `x` long; `f(x)` gives `x` the parameter's type and back); the walk repeats until
//! nothing changes.  A slot that receives two different types is a type mismatch, reported
//! with the place that first decided it.

use crate::elaborate::sem_error;
use crate::ir::*;
use crate::visit::{walk_stmt_mut, VisitorMut};
use stap_syntax::ast::{AssignOp, BinOp, Literal};
use stap_syntax::diag::Diagnostic;
use stap_syntax::source::Span;
use std::collections::HashMap;

/// Whose locals a body uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Owner {
    Func(FuncId),
    Probe(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Slot {
    Global(GlobalId),
    Key(GlobalId, usize),
    Local(Owner, LocalId),
    Ret(FuncId),
}

struct Infer<'p> {
    prog: &'p mut Program,
    first: HashMap<Slot, Span>,
    changed: bool,
    error: Option<Diagnostic>,
    owner: Owner,
}

/// Infers every type of `prog`; the first mismatch is returned as an error.
pub fn infer(
    prog: &mut Program,
    arity: &HashMap<GlobalId, (usize, Span)>,
) -> Result<(), Diagnostic> {
    for (g, (n, _)) in arity {
        let gl = &mut prog.globals[*g];
        if gl.keys.len() < *n {
            gl.keys.resize(*n, Type::Unknown);
        }
    }
    let mut inf = Infer {
        prog,
        first: HashMap::new(),
        changed: true,
        error: None,
        owner: Owner::Func(FuncId::new(0)),
    };
    let mut rounds = 0;
    while inf.changed && rounds < 64 {
        inf.changed = false;
        rounds += 1;
        for f in inf.prog.functions.ids() {
            inf.owner = Owner::Func(f);
            let mut body = std::mem::replace(
                &mut inf.prog.functions[f].body,
                Body::Script(Block::default()),
            );
            if let Body::Script(b) = &mut body {
                inf.block(b);
            }
            inf.prog.functions[f].body = body;
        }
        for p in 0..inf.prog.probes.len() {
            inf.owner = Owner::Probe(p);
            let mut body = std::mem::take(&mut inf.prog.probes[p].body);
            inf.block(&mut body);
            let mut cond = inf.prog.probes[p].condition.take();
            if let Some(c) = &mut cond {
                inf.expr(c, Type::Long);
            }
            inf.prog.probes[p].body = body;
            inf.prog.probes[p].condition = cond;
        }
        if let Some(e) = inf.error.take() {
            return Err(e);
        }
    }
    Ok(())
}

/// The statement walk: the visitor's, pushing the type each statement wants into its
/// expressions (a condition is a number, a `return` value its function's type, a
/// `catch` variable a string); an expression whose value is unused wants nothing.
impl VisitorMut for Infer<'_> {
    fn visit_stmt_mut(&mut self, s: &mut Stmt) {
        match &mut s.kind {
            StmtKind::If(c, t, o) => {
                self.expr(c, Type::Long);
                self.stmt(t);
                if let Some(o) = o {
                    self.stmt(o);
                }
            }
            StmtKind::While(c, b) => {
                self.expr(c, Type::Long);
                self.stmt(b);
            }
            StmtKind::For(i, c, n, b) => {
                if let Some(i) = i {
                    self.expr(i, Type::Unknown);
                }
                if let Some(c) = c {
                    self.expr(c, Type::Long);
                }
                if let Some(n) = n {
                    self.expr(n, Type::Unknown);
                }
                self.stmt(b);
            }
            StmtKind::Foreach(f) => self.foreach(f),
            StmtKind::Return(v) => {
                if let (Some(v), Owner::Func(f)) = (v, self.owner) {
                    let want = self.get(Slot::Ret(f));
                    let t = self.expr(v, want);
                    let span = v.span;
                    self.unify(Slot::Ret(f), t, span);
                }
            }
            StmtKind::Try(b, v, h) => {
                self.block(b);
                if let Some(v) = v {
                    let slot = self.var_slot(*v);
                    self.unify(slot, Type::String, s.span);
                }
                self.block(h);
            }
            _ => walk_stmt_mut(self, s),
        }
    }

    fn visit_expr_mut(&mut self, x: &mut Expr) {
        self.expr(x, Type::Unknown);
    }
}

impl Infer<'_> {
    fn get(&self, s: Slot) -> Type {
        match s {
            Slot::Global(g) => self.prog.globals[g].ty,
            Slot::Key(g, i) => self.prog.globals[g]
                .keys
                .get(i)
                .copied()
                .unwrap_or(Type::Unknown),
            Slot::Local(Owner::Func(f), i) => self.prog.functions[f].locals[i].ty,
            Slot::Local(Owner::Probe(p), i) => self.prog.probes[p].locals[i].ty,
            Slot::Ret(f) => self.prog.functions[f].ret,
        }
    }

    fn set(&mut self, s: Slot, t: Type) {
        match s {
            Slot::Global(g) => self.prog.globals[g].ty = t,
            Slot::Key(g, i) => {
                let k = &mut self.prog.globals[g].keys;
                if k.len() <= i {
                    k.resize(i + 1, Type::Unknown);
                }
                k[i] = t;
            }
            Slot::Local(Owner::Func(f), i) => self.prog.functions[f].locals[i].ty = t,
            Slot::Local(Owner::Probe(p), i) => self.prog.probes[p].locals[i].ty = t,
            Slot::Ret(f) => self.prog.functions[f].ret = t,
        }
    }

    fn declared_span(&self, s: Slot) -> Option<Span> {
        match s {
            Slot::Global(g) | Slot::Key(g, _) => Some(self.prog.globals[g].span),
            Slot::Local(Owner::Func(f), i) => Some(self.prog.functions[f].locals[i].span),
            Slot::Local(Owner::Probe(p), i) => Some(self.prog.probes[p].locals[i].span),
            Slot::Ret(f) => Some(self.prog.functions[f].span),
        }
    }

    fn mismatch(&mut self, have: Type, want: Type, span: Span, first: Option<Span>) {
        if self.error.is_some() {
            return;
        }
        let mut d = sem_error(
            "sema.type-mismatch",
            format!("type mismatch: expected {} but found {}", want, have),
            span,
        );
        if let Some(f) = first {
            if f != span {
                d = d.with_label(f, "type was first inferred here");
            }
        }
        self.error = Some(d);
    }

    /// Gives slot `s` type `t`; `span` is the place deciding it.
    fn unify(&mut self, s: Slot, t: Type, span: Span) -> Type {
        if t == Type::Unknown {
            return self.get(s);
        }
        let cur = self.get(s);
        if cur == Type::Unknown {
            self.set(s, t);
            self.first.entry(s).or_insert(span);
            self.changed = true;
            t
        } else if cur != t {
            let first = self
                .first
                .get(&s)
                .copied()
                .or_else(|| self.declared_span(s));
            self.mismatch(t, cur, span, first);
            cur
        } else {
            cur
        }
    }

    fn var_slot(&self, v: Var) -> Slot {
        match v {
            Var::Global(g) => Slot::Global(g),
            Var::Local(i) => Slot::Local(self.owner, i),
        }
    }

    fn block(&mut self, b: &mut Block) {
        self.visit_block_mut(b);
    }

    fn stmt(&mut self, s: &mut Stmt) {
        self.visit_stmt_mut(s);
    }

    fn foreach(&mut self, f: &mut Foreach) {
        match &mut f.source.kind {
            ExprKind::Array(Var::Global(g)) => {
                let g = *g;
                for (i, (k, _)) in f.keys.iter().enumerate() {
                    let ks = self.var_slot(*k);
                    let kt = self.get(ks);
                    let span = f.source.span;
                    let t = self.unify(Slot::Key(g, i), kt, span);
                    self.unify(ks, t, span);
                }
                if let Some(v) = f.value {
                    let vs = self.var_slot(v);
                    let span = f.source.span;
                    let at = self.get(Slot::Global(g));
                    // A statistics array's values are read through @count etc.
                    if at != Type::Stats {
                        let t = self.unify(Slot::Global(g), self.get(vs), span);
                        self.unify(vs, t, span);
                    }
                }
                if let Some(sl) = &mut f.slice {
                    for (i, k) in sl.iter_mut().enumerate() {
                        if let Some(k) = k {
                            let want = self.get(Slot::Key(g, i));
                            let t = self.expr(k, want);
                            let span = k.span;
                            self.unify(Slot::Key(g, i), t, span);
                        }
                    }
                }
            }
            _ => {
                // A histogram: bucket index and count are numbers.
                self.expr(&mut f.source, Type::Unknown);
                for (k, _) in &f.keys {
                    let ks = self.var_slot(*k);
                    self.unify(ks, Type::Long, f.source.span);
                }
                if let Some(v) = f.value {
                    let vs = self.var_slot(v);
                    self.unify(vs, Type::Long, f.source.span);
                }
            }
        }
        if let Some(l) = &mut f.limit {
            self.expr(l, Type::Long);
        }
        self.stmt(&mut f.body);
    }

    fn keys(&mut self, g: GlobalId, keys: &mut [Option<Expr>]) {
        for (i, k) in keys.iter_mut().enumerate() {
            if let Some(k) = k {
                let want = self.get(Slot::Key(g, i));
                let t = self.expr(k, want);
                let span = k.span;
                self.unify(Slot::Key(g, i), t, span);
            }
        }
    }

    /// Types `x`, pushing `want` into it where it has a slot.  Returns its type.
    /// A binary operation's operand types and result.
    fn binary(&mut self, op: BinOp, l: &mut Expr, r: &mut Expr) -> Type {
        match op {
            BinOp::Concat => {
                self.expr(l, Type::String);
                self.expr(r, Type::String);
                Type::String
            }
            BinOp::Match | BinOp::NotMatch => {
                self.expr(l, Type::String);
                self.expr(r, Type::String);
                Type::Long
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                let lt = self.expr(l, Type::Unknown);
                let rt = self.expr(r, lt);
                if lt == Type::Unknown && rt != Type::Unknown {
                    self.expr(l, rt);
                }
                for (t, side) in [(lt, &*l), (rt, &*r)] {
                    if t == Type::Stats {
                        self.mismatch(Type::Stats, Type::Long, side.span, None);
                    }
                }
                Type::Long
            }
            _ => {
                self.expr(l, Type::Long);
                self.expr(r, Type::Long);
                Type::Long
            }
        }
    }

    /// An assignment's operand types and result.
    fn assign(&mut self, op: AssignOp, l: &mut Expr, r: &mut Expr, want: Type, span: Span) -> Type {
        match op {
            AssignOp::Aggregate => {
                self.expr(l, Type::Stats);
                self.expr(r, Type::Long);
                Type::Long
            }
            AssignOp::Compound(BinOp::Concat) => {
                self.expr(l, Type::String);
                self.expr(r, Type::String);
                Type::String
            }
            AssignOp::Compound(_) => {
                self.expr(l, Type::Long);
                self.expr(r, Type::Long);
                Type::Long
            }
            AssignOp::Assign => {
                let rt = self.expr(r, want);
                let lt = self.expr(l, rt);
                if rt == Type::Unknown && lt != Type::Unknown {
                    self.expr(r, lt);
                }
                if lt == Type::Stats {
                    self.mismatch(Type::Stats, Type::Long, span, None);
                }
                lt
            }
        }
    }

    fn expr(&mut self, x: &mut Expr, want: Type) -> Type {
        let span = x.span;
        let t = match &mut x.kind {
            ExprKind::Literal(_)
            | ExprKind::Defined(_)
            | ExprKind::Perf(_)
            | ExprKind::Const(_)
            | ExprKind::Embedded(_) => x.ty,
            ExprKind::Var(v) => {
                let slot = self.var_slot(*v);
                self.unify(slot, want, span)
            }
            ExprKind::Array(_) => Type::Unknown,
            ExprKind::Index(base, keys) => match &mut base.kind {
                ExprKind::Array(Var::Global(g)) => {
                    let g = *g;
                    self.keys(g, keys);
                    self.unify(Slot::Global(g), want, span)
                }
                _ => {
                    self.expr(base, Type::Unknown);
                    for k in keys.iter_mut().flatten() {
                        self.expr(k, Type::Long);
                    }
                    Type::Long
                }
            },
            ExprKind::In(keys, base) => {
                if let ExprKind::Array(Var::Global(g)) = base.kind {
                    self.keys(g, keys);
                } else {
                    // A histogram's buckets are numbered.
                    self.expr(base, Type::Unknown);
                    for k in keys.iter_mut().flatten() {
                        self.expr(k, Type::Long);
                    }
                }
                Type::Long
            }
            ExprKind::Call(f, args) => {
                let f = *f;
                for (i, a) in args.iter_mut().enumerate() {
                    let ps = Slot::Local(Owner::Func(f), LocalId::new(i));
                    let want = self.get(ps);
                    let t = self.expr(a, want);
                    let aspan = a.span;
                    self.unify(ps, t, aspan);
                }
                self.unify(Slot::Ret(f), want, span)
            }
            ExprKind::Print(kind, args) => {
                let kind = *kind;
                // A formatted print's directives type its values (`%s` a string), as in
                // SystemTap: a variable only printed still gets a type.
                let wants = match (kind, args.first().map(|a| &a.kind)) {
                    (PrintKind::Format { .. }, Some(ExprKind::Literal(Literal::String(f)))) => {
                        let bytes = stap_syntax::lexer::decode_string(&format!("\"{}\"", f))
                            .unwrap_or_default();
                        crate::check_format::format_args(&bytes).unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                let skip = usize::from(!wants.is_empty());
                for (i, a) in args.iter_mut().enumerate() {
                    let want = match i.checked_sub(skip) {
                        Some(k) if skip == 1 => wants.get(k).copied().unwrap_or(Type::Unknown),
                        _ => Type::Unknown,
                    };
                    self.expr(a, want);
                }
                match kind {
                    PrintKind::Print {
                        to_string: true, ..
                    }
                    | PrintKind::Format { to_string: true }
                    | PrintKind::Delimited {
                        to_string: true, ..
                    } => Type::String,
                    // As SystemTap: printing has a long value (0) where one is used, in
                    // `return printf(...)` say.
                    _ => Type::Long,
                }
            }
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r),
            ExprKind::Unary(_, o) => {
                self.expr(o, Type::Long);
                Type::Long
            }
            ExprKind::IncDec { operand, .. } => {
                self.expr(operand, Type::Long);
                Type::Long
            }
            ExprKind::Assign(op, l, r) => self.assign(*op, l, r, want, span),
            ExprKind::Ternary(c, t, o) => {
                self.expr(c, Type::Long);
                let tt = self.expr(t, want);
                let ot = self.expr(o, if tt == Type::Unknown { want } else { tt });
                if tt == Type::Unknown && ot != Type::Unknown {
                    self.expr(t, ot);
                }
                if tt != Type::Unknown {
                    tt
                } else {
                    ot
                }
            }
            ExprKind::Stat(_, o) => {
                self.expr(o, Type::Stats);
                Type::Long
            }
            ExprKind::Hist(_, o) => {
                self.expr(o, Type::Stats);
                Type::Unknown
            }
            ExprKind::Target(t) => {
                match &mut t.base {
                    TargetBase::Cast { expr, .. } | TargetBase::Auto(expr) => {
                        self.expr(expr, Type::Unknown);
                    }
                    _ => {}
                }
                for c in &mut t.components {
                    if let TargetComponent::Index(i) = c {
                        self.expr(i, Type::Long);
                    }
                }
                x.ty
            }
            ExprKind::Entry(o) => self.expr(o, want),
        };
        if want != Type::Unknown && t != Type::Unknown && t != want {
            self.mismatch(t, want, span, None);
        }
        x.ty = t;
        t
    }
}

//! SystemTap's pass-2 optimiser: elide what has no effect, with its warnings.
//!
//! Functions no probe reaches and globals nothing mentions are removed; in each body,
//! assignments to locals that are never read and expression statements without side
//! effects go; a probe left with nothing to do is elided.  `-u` turns all of this off.
//! Warnings about tapset code are filtered out by the driver, as SystemTap does.

use crate::ir::*;
use crate::visit::{self, VisitorMut};
use stap_syntax::ast::{AssignOp, Literal};
use stap_syntax::diag::{Diagnostic, Pass};
use stap_syntax::source::Span;
use std::collections::{HashMap, HashSet};

fn warn(code: &'static str, msg: String, span: Span) -> Diagnostic {
    Diagnostic::error(Pass::Semantic, code, msg, span).into_warning()
}

/// True when evaluating `x` may change something (or print).
pub fn has_side_effects(x: &Expr, prog: &Program) -> bool {
    has_side_effects_with(x, &|f| is_pure(prog, f))
}

/// True when `f` is embedded C marked `/* pure */`: calling it changes nothing.
pub fn is_pure(prog: &Program, f: FuncId) -> bool {
    matches!(&prog.functions[f].body, Body::Embedded { pragmas, .. } if pragmas.iter().any(|p| p == "pure"))
}

/// [`has_side_effects`], with `pure` saying which functions are pure.
pub fn has_side_effects_with(x: &Expr, pure: &dyn Fn(FuncId) -> bool) -> bool {
    let mut effect = false;
    visit::expr(x, &mut |e| match &e.kind {
        ExprKind::Assign(..) | ExprKind::IncDec { .. } => effect = true,
        ExprKind::Print(k, _) => {
            if !matches!(
                k,
                PrintKind::Print {
                    to_string: true,
                    ..
                } | PrintKind::Format { to_string: true }
                    | PrintKind::Delimited {
                        to_string: true,
                        ..
                    }
            ) {
                effect = true
            }
        }
        ExprKind::Call(f, _) => {
            if !pure(*f) {
                effect = true
            }
        }
        ExprKind::Embedded(code) => {
            if !code.contains("/* pure */") {
                effect = true
            }
        }
        _ => {}
    });
    effect
}

/// Elides unused code; warnings go to `diags`.
pub fn elide(
    prog: &mut Program,
    arity: &mut HashMap<GlobalId, (usize, Span)>,
    diags: &mut Vec<Diagnostic>,
) {
    crate::fold::fold_constants(prog);
    // Eliding one statement can make another dead (`x = $v; if (x) {}`): repeat until
    // nothing changes.
    let settle = |b: &mut Block,
                  params: usize,
                  locals: &Arena<Local>,
                  prog: &Program,
                  diags: &mut Vec<Diagnostic>| {
        for _ in 0..16 {
            let before = diags.len();
            let mut read = locals_read(b);
            read.extend(locals.ids().take(params));
            Elide {
                read: &read,
                locals,
                prog,
                diags,
            }
            .visit_block_mut(b);
            if diags.len() == before {
                break;
            }
        }
    };
    for p in 0..prog.probes.len() {
        let mut body = std::mem::take(&mut prog.probes[p].body);
        let locals = prog.probes[p].locals.clone();
        settle(&mut body, 0, &locals, prog, diags);
        prog.probes[p].body = body;
    }
    for f in prog.functions.ids() {
        let mut body =
            std::mem::replace(&mut prog.functions[f].body, Body::Script(Block::default()));
        if let Body::Script(b) = &mut body {
            let locals = prog.functions[f].locals.clone();
            settle(b, prog.functions[f].arity, &locals, prog, diags);
        }
        prog.functions[f].body = body;
    }
    // Probes with nothing left to do.
    let mut kept = Vec::new();
    for p in std::mem::take(&mut prog.probes) {
        if block_is_empty(&p.body) && p.condition.is_none() {
            diags.push(warn(
                "sema.elide-probe",
                format!("Probe '{}' has been elided", p.point),
                p.span,
            ));
        } else {
            kept.push(p);
        }
    }
    prog.probes = kept;
    remove_unused_functions(prog, diags);
    remove_unused_globals(prog, arity, diags);
}

fn block_is_empty(b: &Block) -> bool {
    b.stmts.iter().all(|s| match &s.kind {
        StmtKind::Null => true,
        StmtKind::Block(b) => block_is_empty(b),
        _ => false,
    })
}

/// Locals read anywhere in a body (a plain assignment's target does not count).
fn locals_read(b: &Block) -> HashSet<LocalId> {
    let mut read = HashSet::new();
    let mut written_only: HashSet<*const Expr> = HashSet::new();
    visit::block(b, &mut |e| {
        if let ExprKind::Assign(AssignOp::Assign | AssignOp::Aggregate, l, _) = &e.kind {
            written_only.insert(&**l as *const Expr);
        }
    });
    visit::block(b, &mut |e| {
        if let ExprKind::Var(Var::Local(i)) = e.kind {
            if !written_only.contains(&(e as *const Expr)) {
                read.insert(i);
            }
        }
    });
    read
}

/// Dead-code elision over one body: a mutating walk whose block hook drops the
/// statements that do nothing (`kept` says whether one stays).
struct Elide<'e> {
    /// The locals read somewhere in the body (writes to the others are dead).
    read: &'e HashSet<LocalId>,
    locals: &'e Arena<Local>,
    prog: &'e Program,
    diags: &'e mut Vec<Diagnostic>,
}

impl VisitorMut for Elide<'_> {
    fn visit_block_mut(&mut self, b: &mut Block) {
        b.stmts.retain_mut(|s| self.kept(s));
    }
}

impl Elide<'_> {
    /// Drops a dead assignment from a whole-statement expression; true (with a warning)
    /// when what is left has no effect, so the expression can go.
    fn effect_free(&mut self, x: &mut Expr) -> bool {
        elide_assignment(x, self.read, self.locals, self.diags);
        self.drop_free_operands(x);
        let free = !has_side_effects(x, self.prog);
        if free {
            self.diags.push(warn(
                "sema.elide-expression",
                "Eliding side-effect-free expression".to_string(),
                x.span,
            ));
        }
        free
    }

    /// In a statement whose value is unused, an operand without side effects (a call
    /// of a `/* pure */` function, say) goes, as SystemTap splits `a + b;` into `a; b;`
    /// and elides the parts without effect: `p() + x++` keeps only `x++`.  The operands
    /// of `&&` and `||` stay (the right one runs only as the left one says).
    fn drop_free_operands(&mut self, x: &mut Expr) {
        use stap_syntax::ast::BinOp;
        loop {
            let keep = match &mut x.kind {
                ExprKind::Binary(op, l, r) if !matches!(op, BinOp::And | BinOp::Or) => {
                    let (lf, rf) = (
                        !has_side_effects(l, self.prog),
                        !has_side_effects(r, self.prog),
                    );
                    if lf == rf {
                        return;
                    }
                    let (gone, kept) = if lf { (l.span, r) } else { (r.span, l) };
                    self.diags.push(warn(
                        "sema.elide-expression",
                        "Eliding side-effect-free expression".to_string(),
                        gone,
                    ));
                    (**kept).clone()
                }
                ExprKind::Unary(_, o) if has_side_effects(o, self.prog) => (**o).clone(),
                _ => return,
            };
            *x = keep;
        }
    }

    /// Elides inside `s`; false when `s` itself should go.
    fn kept(&mut self, s: &mut Stmt) -> bool {
        match &mut s.kind {
            StmtKind::Block(b) => self.visit_block_mut(b),
            StmtKind::If(c, t, o)
                if matches!(
                    c.kind,
                    ExprKind::Literal(Literal::Number(_)) | ExprKind::Defined(_)
                ) =>
            {
                // A constant condition (often @defined) picks its branch now.
                let taken = match c.kind {
                    ExprKind::Literal(Literal::Number(n)) => n != 0,
                    ExprKind::Defined(b) => b,
                    _ => true,
                };
                self.diags.push(warn(
                    "sema.elide-if",
                    "Collapsing if statement with a constant condition".to_string(),
                    s.span,
                ));
                let chosen = if taken {
                    Some((**t).clone())
                } else {
                    o.as_ref().map(|o| (**o).clone())
                };
                match chosen {
                    Some(mut st) => {
                        let keep = self.kept(&mut st);
                        *s = st;
                        return keep;
                    }
                    None => return false,
                }
            }
            StmtKind::If(c, t, o) => {
                let keep_t = self.kept(t);
                let keep_o = o.as_mut().is_none_or(|o| self.kept(o));
                if !keep_t {
                    **t = Stmt {
                        kind: StmtKind::Null,
                        span: t.span,
                    };
                }
                if !keep_o {
                    *o = None;
                }
                // `if (x = y);` with x never read: what is left may have no effect at all.
                elide_assignment(c, self.read, self.locals, self.diags);
                let empty_t = matches!(t.kind, StmtKind::Null)
                    || matches!(&t.kind, StmtKind::Block(b) if block_is_empty(b));
                if empty_t && o.is_none() && !has_side_effects(c, self.prog) {
                    self.diags.push(warn(
                        "sema.elide-if",
                        "Eliding side-effect-free if statement".to_string(),
                        s.span,
                    ));
                    return false;
                }
            }
            StmtKind::While(c, b) => {
                // As SystemTap's optimizer: a loop that does nothing goes, even one that
                // would never end (`while (1) {}`).
                let kept = self.kept(b);
                let empty = !kept
                    || matches!(b.kind, StmtKind::Null)
                    || matches!(&b.kind, StmtKind::Block(bl) if block_is_empty(bl));
                if empty && !has_side_effects(c, self.prog) {
                    self.diags.push(warn(
                        "sema.elide-loop",
                        "Eliding while loop with an empty body".to_string(),
                        s.span,
                    ));
                    return false;
                }
            }
            StmtKind::For(init, _, incr, b) => {
                for part in [init, incr] {
                    if part.as_mut().is_some_and(|x| self.effect_free(x)) {
                        *part = None;
                    }
                }
                self.kept(b);
            }
            StmtKind::Foreach(f) => {
                // `limit 0` runs nothing: SystemTap's optimizer drops the loop (its array
                // then counts as unread, and is displayed at the end if written).
                if f.limit
                    .as_ref()
                    .is_some_and(|l| matches!(l.kind, ExprKind::Literal(Literal::Number(0))))
                {
                    return false;
                }
                if !self.kept(&mut f.body) {
                    *f.body = Stmt {
                        kind: StmtKind::Null,
                        span: f.body.span,
                    };
                }
                let empty = matches!(f.body.kind, StmtKind::Null)
                    || matches!(&f.body.kind, StmtKind::Block(b) if block_is_empty(b));
                if empty
                    && f.limit
                        .as_ref()
                        .is_none_or(|l| !has_side_effects(l, self.prog))
                {
                    self.diags.push(warn(
                        "sema.elide-foreach",
                        "Eliding foreach loop with an empty body".to_string(),
                        s.span,
                    ));
                    return false;
                }
            }
            StmtKind::Try(b, _, h) => {
                self.visit_block_mut(b);
                self.visit_block_mut(h);
            }
            StmtKind::Expr(x) => {
                if self.effect_free(x) {
                    return false;
                }
            }
            _ => {}
        }
        true
    }
}

/// `x = e` where local x is never read becomes `e` (keeping only e's effects).
fn elide_assignment(
    x: &mut Expr,
    read: &HashSet<LocalId>,
    locals: &Arena<Local>,
    diags: &mut Vec<Diagnostic>,
) {
    if let ExprKind::Assign(AssignOp::Assign | AssignOp::Aggregate, l, r) = &x.kind {
        if let ExprKind::Var(Var::Local(i)) = l.kind {
            if !read.contains(&i) {
                diags.push(warn(
                    "sema.elide-assignment",
                    format!("Eliding assignment to '{}'", locals[i].name),
                    x.span,
                ));
                let rhs = (**r).clone();
                *x = rhs;
            }
        }
    }
}

fn remove_unused_functions(prog: &mut Program, diags: &mut Vec<Diagnostic>) {
    let mut used: IdVec<Function, bool> = IdVec::filled(prog.functions.len(), false);
    let mut work = Vec::new();
    let note = |e: &Expr, work: &mut Vec<FuncId>| {
        if let ExprKind::Call(f, _) = e.kind {
            work.push(f);
        }
    };
    for p in &prog.probes {
        visit::block(&p.body, &mut |e| note(e, &mut work));
        if let Some(c) = &p.condition {
            visit::expr(c, &mut |e| note(e, &mut work));
        }
    }
    while let Some(f) = work.pop() {
        if used[f] {
            continue;
        }
        used[f] = true;
        if let Body::Script(b) = &prog.functions[f].body {
            visit::block(b, &mut |e| note(e, &mut work));
        }
    }
    let (remap, dropped) = prog.functions.compact(&used);
    for f in dropped {
        diags.push(warn(
            "sema.elide-function",
            format!("Eliding unused function '{}'", f.name),
            f.span,
        ));
    }
    let mut fix = |e: &mut Expr| {
        if let ExprKind::Call(f, _) = &mut e.kind {
            *f = remap[*f].expect("a called function is kept");
        }
    };
    for p in &mut prog.probes {
        visit::block_mut(&mut p.body, &mut fix);
        if let Some(c) = &mut p.condition {
            visit::expr_mut(c, &mut fix);
        }
    }
    for f in &mut prog.functions {
        if let Body::Script(b) = &mut f.body {
            visit::block_mut(b, &mut fix);
        }
    }
}

/// Under `-u`: a tapset's globals that nothing refers to go (silently), as SystemTap
/// takes a tapset's global only when code names it; the script's own stay.
pub fn remove_unreferenced_tapset_globals(
    prog: &mut Program,
    arity: &mut HashMap<GlobalId, (usize, Span)>,
) {
    let mut ignored = Vec::new();
    remove_globals(prog, arity, &mut ignored, &|g| !g.from_tapset);
}

fn remove_unused_globals(
    prog: &mut Program,
    arity: &mut HashMap<GlobalId, (usize, Span)>,
    diags: &mut Vec<Diagnostic>,
) {
    remove_globals(prog, arity, diags, &|_| false);
}

/// Removes the globals nothing refers to, but those `keep` keeps, with a warning each.
fn remove_globals(
    prog: &mut Program,
    arity: &mut HashMap<GlobalId, (usize, Span)>,
    diags: &mut Vec<Diagnostic>,
    keep: &dyn Fn(&Global) -> bool,
) {
    let mut seen: Vec<Var> = Vec::new();
    let mut note = |e: &Expr| {
        if let ExprKind::Var(v) | ExprKind::Array(v) = e.kind {
            seen.push(v);
        }
    };
    visit::program(prog, &mut note);
    for b in visit::script_bodies(prog) {
        visit::bound_vars(b, &mut |v| seen.push(v));
    }
    let mut used: IdVec<Global, bool> = IdVec::filled(prog.globals.len(), false);
    for g in prog.globals.ids() {
        used[g] = keep(&prog.globals[g]);
    }
    for v in seen {
        if let Var::Global(g) = v {
            used[g] = true;
        }
    }
    let (remap, dropped) = prog.globals.compact(&used);
    for g in dropped {
        diags.push(warn(
            "sema.elide-global",
            format!("Eliding unused variable '{}'", g.name),
            g.span,
        ));
    }
    let old = std::mem::take(arity);
    for (g, a) in old {
        if let Some(new) = remap[g] {
            arity.insert(new, a);
        }
    }
    let fix_var = |v: &mut Var| {
        if let Var::Global(g) = v {
            *g = remap[*g].expect("a used global is kept");
        }
    };
    let mut fix = |e: &mut Expr| {
        if let ExprKind::Var(v) | ExprKind::Array(v) = &mut e.kind {
            fix_var(v);
        }
    };
    for p in &mut prog.probes {
        visit::block_mut(&mut p.body, &mut fix);
        if let Some(c) = &mut p.condition {
            visit::expr_mut(c, &mut fix);
        }
        visit::bound_vars_mut(&mut p.body, &mut |v| fix_var(v));
    }
    for f in &mut prog.functions {
        if let Body::Script(b) = &mut f.body {
            visit::block_mut(b, &mut fix);
            visit::bound_vars_mut(b, &mut |v| fix_var(v));
        }
    }
}

/// Calls `f` on every foreach statement of a block (nested ones too).
pub(crate) fn for_each_foreach(b: &Block, f: &mut dyn FnMut(&Foreach)) {
    visit::each_stmt(b, &mut |s| {
        if let StmtKind::Foreach(fe) = &s.kind {
            f(fe);
        }
    });
}

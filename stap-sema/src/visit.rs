//! Walking IR bodies: the [`Visitor`] and [`VisitorMut`] traits, whose default methods
//! walk every statement, expression, and place a variable is bound outside an expression
//! (`foreach` keys and values, `catch` variables), and closure helpers built on them.
//! Model: `rustc_ast::visit` / `mut_visit`.  A pass overrides the methods it cares about
//! and calls the matching `walk_*` to go on into the children.

use crate::ir::*;

/// A read-only walk over IR borrowed for `'a` (so a visitor may keep what it visits, as
/// `syn::visit::Visit<'ast>` allows).  Each method's default walks the node's children.
pub trait Visitor<'a> {
    /// A block.
    fn visit_block(&mut self, b: &'a Block) {
        walk_block(self, b)
    }
    /// A statement.
    fn visit_stmt(&mut self, s: &'a Stmt) {
        walk_stmt(self, s)
    }
    /// An expression.
    fn visit_expr(&mut self, x: &'a Expr) {
        walk_expr(self, x)
    }
    /// A variable bound outside an expression: a `foreach` key or value, a `catch`
    /// variable.
    fn visit_bound_var(&mut self, _v: Var) {}
}

/// Walks a block's statements.
pub fn walk_block<'a, V: Visitor<'a> + ?Sized>(v: &mut V, b: &'a Block) {
    for s in &b.stmts {
        v.visit_stmt(s);
    }
}

/// Walks a statement's expressions, bound variables and sub-statements, in source order.
pub fn walk_stmt<'a, V: Visitor<'a> + ?Sized>(v: &mut V, s: &'a Stmt) {
    match &s.kind {
        StmtKind::Null | StmtKind::Break | StmtKind::Continue | StmtKind::Next => {}
        StmtKind::Block(b) => v.visit_block(b),
        StmtKind::Expr(x) | StmtKind::Delete(x) => v.visit_expr(x),
        StmtKind::If(c, t, o) => {
            v.visit_expr(c);
            v.visit_stmt(t);
            if let Some(o) = o {
                v.visit_stmt(o);
            }
        }
        StmtKind::While(c, b) => {
            v.visit_expr(c);
            v.visit_stmt(b);
        }
        StmtKind::For(i, c, n, b) => {
            for x in [i, c, n].into_iter().flatten() {
                v.visit_expr(x);
            }
            v.visit_stmt(b);
        }
        StmtKind::Foreach(fe) => {
            v.visit_expr(&fe.source);
            for k in fe.slice.iter().flatten().flatten() {
                v.visit_expr(k);
            }
            if let Some(l) = &fe.limit {
                v.visit_expr(l);
            }
            for (k, _) in &fe.keys {
                v.visit_bound_var(*k);
            }
            if let Some(val) = fe.value {
                v.visit_bound_var(val);
            }
            v.visit_stmt(&fe.body);
        }
        StmtKind::Return(x) => {
            if let Some(x) = x {
                v.visit_expr(x);
            }
        }
        StmtKind::Try(b, var, h) => {
            if let Some(var) = var {
                v.visit_bound_var(*var);
            }
            v.visit_block(b);
            v.visit_block(h);
        }
    }
}

/// Walks an expression's sub-expressions, in source order.
pub fn walk_expr<'a, V: Visitor<'a> + ?Sized>(v: &mut V, x: &'a Expr) {
    match &x.kind {
        ExprKind::Literal(_)
        | ExprKind::Var(_)
        | ExprKind::Array(_)
        | ExprKind::Defined(_)
        | ExprKind::Perf(_)
        | ExprKind::Const(_)
        | ExprKind::Embedded(_) => {}
        ExprKind::Index(b, keys) | ExprKind::In(keys, b) => {
            v.visit_expr(b);
            for k in keys.iter().flatten() {
                v.visit_expr(k);
            }
        }
        ExprKind::Call(_, args) | ExprKind::Print(_, args) => {
            for a in args {
                v.visit_expr(a);
            }
        }
        ExprKind::Binary(_, l, r) | ExprKind::Assign(_, l, r) => {
            v.visit_expr(l);
            v.visit_expr(r);
        }
        ExprKind::Unary(_, o)
        | ExprKind::IncDec { operand: o, .. }
        | ExprKind::Stat(_, o)
        | ExprKind::Hist(_, o)
        | ExprKind::Entry(o) => v.visit_expr(o),
        ExprKind::Ternary(c, t, o) => {
            v.visit_expr(c);
            v.visit_expr(t);
            v.visit_expr(o);
        }
        ExprKind::Target(t) => {
            if let TargetBase::Cast { expr, .. } | TargetBase::Auto(expr) = &t.base {
                v.visit_expr(expr);
            }
            for c in &t.components {
                if let TargetComponent::Index(i) = c {
                    v.visit_expr(i);
                }
            }
        }
    }
}

/// A mutating walk.  Each method's default walks the node's children.
pub trait VisitorMut {
    /// A block.
    fn visit_block_mut(&mut self, b: &mut Block) {
        walk_block_mut(self, b)
    }
    /// A statement.
    fn visit_stmt_mut(&mut self, s: &mut Stmt) {
        walk_stmt_mut(self, s)
    }
    /// An expression.
    fn visit_expr_mut(&mut self, x: &mut Expr) {
        walk_expr_mut(self, x)
    }
    /// A variable bound outside an expression (`foreach` key or value, `catch` variable).
    fn visit_bound_var_mut(&mut self, _v: &mut Var) {}
}

/// Walks a block's statements, mutably.
pub fn walk_block_mut<V: VisitorMut + ?Sized>(v: &mut V, b: &mut Block) {
    for s in &mut b.stmts {
        v.visit_stmt_mut(s);
    }
}

/// Walks a statement's parts, mutably, in source order.
pub fn walk_stmt_mut<V: VisitorMut + ?Sized>(v: &mut V, s: &mut Stmt) {
    match &mut s.kind {
        StmtKind::Null | StmtKind::Break | StmtKind::Continue | StmtKind::Next => {}
        StmtKind::Block(b) => v.visit_block_mut(b),
        StmtKind::Expr(x) | StmtKind::Delete(x) => v.visit_expr_mut(x),
        StmtKind::If(c, t, o) => {
            v.visit_expr_mut(c);
            v.visit_stmt_mut(t);
            if let Some(o) = o {
                v.visit_stmt_mut(o);
            }
        }
        StmtKind::While(c, b) => {
            v.visit_expr_mut(c);
            v.visit_stmt_mut(b);
        }
        StmtKind::For(i, c, n, b) => {
            for x in [i, c, n].into_iter().flatten() {
                v.visit_expr_mut(x);
            }
            v.visit_stmt_mut(b);
        }
        StmtKind::Foreach(fe) => {
            v.visit_expr_mut(&mut fe.source);
            for k in fe.slice.iter_mut().flatten().flatten() {
                v.visit_expr_mut(k);
            }
            if let Some(l) = &mut fe.limit {
                v.visit_expr_mut(l);
            }
            for (k, _) in &mut fe.keys {
                v.visit_bound_var_mut(k);
            }
            if let Some(val) = &mut fe.value {
                v.visit_bound_var_mut(val);
            }
            v.visit_stmt_mut(&mut fe.body);
        }
        StmtKind::Return(x) => {
            if let Some(x) = x {
                v.visit_expr_mut(x);
            }
        }
        StmtKind::Try(b, var, h) => {
            if let Some(var) = var {
                v.visit_bound_var_mut(var);
            }
            v.visit_block_mut(b);
            v.visit_block_mut(h);
        }
    }
}

/// Walks an expression's sub-expressions, mutably, in source order.
pub fn walk_expr_mut<V: VisitorMut + ?Sized>(v: &mut V, x: &mut Expr) {
    match &mut x.kind {
        ExprKind::Literal(_)
        | ExprKind::Var(_)
        | ExprKind::Array(_)
        | ExprKind::Defined(_)
        | ExprKind::Perf(_)
        | ExprKind::Const(_)
        | ExprKind::Embedded(_) => {}
        ExprKind::Index(b, keys) | ExprKind::In(keys, b) => {
            v.visit_expr_mut(b);
            for k in keys.iter_mut().flatten() {
                v.visit_expr_mut(k);
            }
        }
        ExprKind::Call(_, args) | ExprKind::Print(_, args) => {
            for a in args.iter_mut() {
                v.visit_expr_mut(a);
            }
        }
        ExprKind::Binary(_, l, r) | ExprKind::Assign(_, l, r) => {
            v.visit_expr_mut(l);
            v.visit_expr_mut(r);
        }
        ExprKind::Unary(_, o)
        | ExprKind::IncDec { operand: o, .. }
        | ExprKind::Stat(_, o)
        | ExprKind::Hist(_, o)
        | ExprKind::Entry(o) => v.visit_expr_mut(o),
        ExprKind::Ternary(c, t, o) => {
            v.visit_expr_mut(c);
            v.visit_expr_mut(t);
            v.visit_expr_mut(o);
        }
        ExprKind::Target(t) => {
            if let TargetBase::Cast { expr, .. } | TargetBase::Auto(expr) = &mut t.base {
                v.visit_expr_mut(expr);
            }
            for c in &mut t.components {
                if let TargetComponent::Index(i) = c {
                    v.visit_expr_mut(i);
                }
            }
        }
    }
}

/// The direct sub-expressions of an expression, in the order the walk visits them.
pub fn children(x: &Expr) -> Vec<&Expr> {
    struct Direct<'a>(Vec<&'a Expr>);
    impl<'a> Visitor<'a> for Direct<'a> {
        fn visit_expr(&mut self, x: &'a Expr) {
            self.0.push(x);
        }
    }
    let mut d = Direct(Vec::new());
    walk_expr(&mut d, x);
    d.0
}

// ------------------------------------------------------------------ closure helpers

/// Calls a function on every expression, pre-order.
struct EachExpr<'f>(&'f mut dyn FnMut(&Expr));

impl<'a> Visitor<'a> for EachExpr<'_> {
    fn visit_expr(&mut self, x: &'a Expr) {
        (self.0)(x);
        walk_expr(self, x);
    }
}

/// Calls a function on every expression, post-order, mutably.
struct EachExprMut<'f>(&'f mut dyn FnMut(&mut Expr));

impl VisitorMut for EachExprMut<'_> {
    fn visit_expr_mut(&mut self, x: &mut Expr) {
        walk_expr_mut(self, x);
        (self.0)(x);
    }
}

/// Calls `f` on `x` and every expression inside it (pre-order).
pub fn expr(x: &Expr, f: &mut dyn FnMut(&Expr)) {
    EachExpr(f).visit_expr(x);
}

/// Calls `f` on every expression of a statement (pre-order).
pub fn stmt(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    EachExpr(f).visit_stmt(s);
}

/// Calls `f` on every expression of a block (pre-order).
pub fn block(b: &Block, f: &mut dyn FnMut(&Expr)) {
    EachExpr(f).visit_block(b);
}

/// Calls `f` on every expression of a block, mutably (post-order).
pub fn block_mut(b: &mut Block, f: &mut dyn FnMut(&mut Expr)) {
    EachExprMut(f).visit_block_mut(b);
}

/// Calls `f` on every expression of a statement, mutably (post-order).
pub fn stmt_mut(s: &mut Stmt, f: &mut dyn FnMut(&mut Expr)) {
    EachExprMut(f).visit_stmt_mut(s);
}

/// Calls `f` on an expression and everything inside it, mutably (post-order).
pub fn expr_mut(x: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    EachExprMut(f).visit_expr_mut(x);
}

/// Each function's direct callees (by index into `prog.functions`; empty for embedded C),
/// in call order, repeats kept.
pub fn callees(prog: &Program) -> IdVec<Function, Vec<FuncId>> {
    prog.functions
        .iter()
        .map(|f| {
            let mut v = Vec::new();
            if let Body::Script(b) = &f.body {
                block(b, &mut |e| {
                    if let ExprKind::Call(c, _) = e.kind {
                        v.push(c);
                    }
                });
            }
            v
        })
        .collect()
}

/// Every script body of a program: probe handlers, then script functions (embedded-C
/// functions have none).
pub fn script_bodies(prog: &Program) -> Vec<&Block> {
    let mut bodies: Vec<&Block> = prog.probes.iter().map(|p| &p.body).collect();
    bodies.extend(prog.functions.iter().filter_map(|f| match &f.body {
        Body::Script(b) => Some(b),
        _ => None,
    }));
    bodies
}

/// Calls `f` on every expression of every script body and probe condition.
pub fn program(prog: &Program, f: &mut dyn FnMut(&Expr)) {
    for b in script_bodies(prog) {
        block(b, f);
    }
    for p in &prog.probes {
        if let Some(c) = &p.condition {
            expr(c, f);
        }
    }
}

/// Calls `f` on every statement of a block, nested ones too (pre-order).
pub fn each_stmt<'b>(b: &'b Block, f: &mut dyn FnMut(&'b Stmt)) {
    struct EachStmt<'b, 'f>(&'f mut dyn FnMut(&'b Stmt));
    impl<'b> Visitor<'b> for EachStmt<'b, '_> {
        fn visit_stmt(&mut self, s: &'b Stmt) {
            (self.0)(s);
            walk_stmt(self, s);
        }
        fn visit_expr(&mut self, _: &'b Expr) {}
    }
    EachStmt(f).visit_block(b);
}

/// Calls `f` on every variable a block binds outside expressions (`foreach` keys and
/// values, `catch` variables), nested statements too.
pub fn bound_vars(b: &Block, f: &mut dyn FnMut(Var)) {
    struct Bound<'f>(&'f mut dyn FnMut(Var));
    impl Visitor<'_> for Bound<'_> {
        fn visit_expr(&mut self, _: &Expr) {}
        fn visit_bound_var(&mut self, v: Var) {
            (self.0)(v);
        }
    }
    Bound(f).visit_block(b);
}

/// Calls `f` on every variable a block binds outside expressions, mutably.
pub fn bound_vars_mut(b: &mut Block, f: &mut dyn FnMut(&mut Var)) {
    struct Bound<'f>(&'f mut dyn FnMut(&mut Var));
    impl VisitorMut for Bound<'_> {
        fn visit_expr_mut(&mut self, _: &mut Expr) {}
        fn visit_bound_var_mut(&mut self, v: &mut Var) {
            (self.0)(v);
        }
    }
    Bound(f).visit_block_mut(b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use stap_syntax::source::{FileKind, SourceMap};

    fn program(script: &str) -> Program {
        let mut sm = SourceMap::new();
        let f = sm.add("t.stp", script, FileKind::User);
        let mut exp = stap_syntax::preprocess::Expansions::default();
        let env = stap_syntax::preprocess::PpEnv::default();
        let (file, errs) =
            stap_syntax::parse_source(&mut sm, &mut exp, &env, &Default::default(), f);
        assert!(errs.is_empty(), "{errs:?}");
        let opts = crate::Options {
            unoptimized: true,
            ..Default::default()
        };
        let e = crate::elaborate(&[file.unwrap()], &[], &opts, &crate::NoKernelData);
        assert!(e.program.is_some(), "{:?}", e.diagnostics);
        e.program.unwrap()
    }

    /// The walk reaches every statement, expression and bound variable, in source order.
    #[test]
    fn the_walk_sees_everything_in_order() {
        let p = program(
            "global a, b probe begin { foreach ([k] in a) { try { b[k] = k + 1 } catch (m) { println(m) } } }",
        );
        #[derive(Default)]
        struct Seen(Vec<String>);
        impl Visitor<'_> for Seen {
            fn visit_expr(&mut self, x: &Expr) {
                if let ExprKind::Literal(l) = &x.kind {
                    self.0.push(format!("lit {:?}", l));
                }
                walk_expr(self, x);
            }
            fn visit_bound_var(&mut self, v: Var) {
                self.0.push(format!("bound {:?}", v));
            }
        }
        let mut s = Seen::default();
        s.visit_block(&p.probes[0].body);
        let bound: Vec<&String> = s.0.iter().filter(|e| e.starts_with("bound")).collect();
        assert_eq!(bound.len(), 2, "{:?}", s.0);
        assert!(s.0.iter().any(|e| e == "lit Number(1)"), "{:?}", s.0);
        // The foreach key is bound before the body's literal is reached, the catch
        // variable after it.
        let key = s.0.iter().position(|e| e.starts_with("bound")).unwrap();
        let one = s.0.iter().position(|e| e == "lit Number(1)").unwrap();
        assert!(key < one, "{:?}", s.0);
        let mut vars = Vec::new();
        bound_vars(&p.probes[0].body, &mut |v| vars.push(v));
        assert_eq!(vars.len(), 2);
        let mut body = p.probes[0].body.clone();
        let mut n = 0;
        bound_vars_mut(&mut body, &mut |_| n += 1);
        assert_eq!(n, 2);
    }
}

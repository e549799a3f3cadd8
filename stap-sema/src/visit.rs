//! Walking every expression of IR bodies, read-only or mutably.

use crate::ir::*;

/// The direct sub-expressions of an expression.
pub fn children(x: &Expr) -> Vec<&Expr> {
    let mut v: Vec<&Expr> = Vec::new();
    match &x.kind {
        ExprKind::Literal(_)
        | ExprKind::Var(_)
        | ExprKind::Array(_)
        | ExprKind::Defined(_)
        | ExprKind::Perf(_)
        | ExprKind::Const(_)
        | ExprKind::Embedded(_) => {}
        ExprKind::Index(b, keys) | ExprKind::In(keys, b) => {
            v.push(b);
            v.extend(keys.iter().flatten());
        }
        ExprKind::Call(_, args) | ExprKind::Print(_, args) => v.extend(args.iter()),
        ExprKind::Binary(_, l, r) | ExprKind::Assign(_, l, r) => {
            v.push(l);
            v.push(r);
        }
        ExprKind::Unary(_, o)
        | ExprKind::IncDec { operand: o, .. }
        | ExprKind::Stat(_, o)
        | ExprKind::Hist(_, o)
        | ExprKind::Entry(o) => v.push(o),
        ExprKind::Ternary(c, t, o) => {
            v.push(c);
            v.push(t);
            v.push(o);
        }
        ExprKind::Target(t) => {
            if let TargetBase::Cast { expr, .. } | TargetBase::Auto(expr) = &t.base {
                v.push(expr);
            }
            for c in &t.components {
                if let TargetComponent::Index(i) = c {
                    v.push(i);
                }
            }
        }
    }
    v
}

/// Calls `f` on `x` and every expression inside it (pre-order).
pub fn expr(x: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(x);
    for c in children(x) {
        expr(c, f);
    }
}

/// Calls `f` on every expression of a statement.
pub fn stmt(s: &Stmt, f: &mut dyn FnMut(&Expr)) {
    match &s.kind {
        StmtKind::Null | StmtKind::Break | StmtKind::Continue | StmtKind::Next => {}
        StmtKind::Block(b) => block(b, f),
        StmtKind::Expr(x) | StmtKind::Delete(x) => expr(x, f),
        StmtKind::If(c, t, o) => {
            expr(c, f);
            stmt(t, f);
            if let Some(o) = o {
                stmt(o, f);
            }
        }
        StmtKind::While(c, b) => {
            expr(c, f);
            stmt(b, f);
        }
        StmtKind::For(i, c, n, b) => {
            for x in [i, c, n].into_iter().flatten() {
                expr(x, f);
            }
            stmt(b, f);
        }
        StmtKind::Foreach(fe) => {
            expr(&fe.source, f);
            for k in fe.slice.iter().flatten().flatten() {
                expr(k, f);
            }
            if let Some(l) = &fe.limit {
                expr(l, f);
            }
            stmt(&fe.body, f);
        }
        StmtKind::Return(v) => {
            if let Some(v) = v {
                expr(v, f);
            }
        }
        StmtKind::Try(b, _, h) => {
            block(b, f);
            block(h, f);
        }
    }
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

/// Calls `f` on every expression of a block.
pub fn block(b: &Block, f: &mut dyn FnMut(&Expr)) {
    for s in &b.stmts {
        stmt(s, f);
    }
}

/// Calls `f` on every expression of a probe or function body, mutably (post-order).
pub fn block_mut(b: &mut Block, f: &mut dyn FnMut(&mut Expr)) {
    for s in &mut b.stmts {
        stmt_mut(s, f);
    }
}

fn opt_mut(x: &mut Option<Expr>, f: &mut dyn FnMut(&mut Expr)) {
    if let Some(x) = x {
        expr_mut(x, f);
    }
}

/// Mutable walk of a statement.
pub fn stmt_mut(s: &mut Stmt, f: &mut dyn FnMut(&mut Expr)) {
    match &mut s.kind {
        StmtKind::Null | StmtKind::Break | StmtKind::Continue | StmtKind::Next => {}
        StmtKind::Block(b) => block_mut(b, f),
        StmtKind::Expr(x) | StmtKind::Delete(x) => expr_mut(x, f),
        StmtKind::If(c, t, o) => {
            expr_mut(c, f);
            stmt_mut(t, f);
            if let Some(o) = o {
                stmt_mut(o, f);
            }
        }
        StmtKind::While(c, b) => {
            expr_mut(c, f);
            stmt_mut(b, f);
        }
        StmtKind::For(i, c, n, b) => {
            opt_mut(i, f);
            opt_mut(c, f);
            opt_mut(n, f);
            stmt_mut(b, f);
        }
        StmtKind::Foreach(fe) => {
            expr_mut(&mut fe.source, f);
            if let Some(sl) = &mut fe.slice {
                for k in sl.iter_mut() {
                    opt_mut(k, f);
                }
            }
            opt_mut(&mut fe.limit, f);
            stmt_mut(&mut fe.body, f);
        }
        StmtKind::Return(v) => opt_mut(v, f),
        StmtKind::Try(b, _, h) => {
            block_mut(b, f);
            block_mut(h, f);
        }
    }
}

/// Mutable walk of an expression and everything inside it (post-order).
pub fn expr_mut(x: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    match &mut x.kind {
        ExprKind::Literal(_)
        | ExprKind::Var(_)
        | ExprKind::Array(_)
        | ExprKind::Defined(_)
        | ExprKind::Perf(_)
        | ExprKind::Const(_)
        | ExprKind::Embedded(_) => {}
        ExprKind::Index(b, keys) | ExprKind::In(keys, b) => {
            expr_mut(b, f);
            for k in keys.iter_mut() {
                opt_mut(k, f);
            }
        }
        ExprKind::Call(_, args) | ExprKind::Print(_, args) => {
            for a in args.iter_mut() {
                expr_mut(a, f);
            }
        }
        ExprKind::Binary(_, l, r) | ExprKind::Assign(_, l, r) => {
            expr_mut(l, f);
            expr_mut(r, f);
        }
        ExprKind::Unary(_, o)
        | ExprKind::IncDec { operand: o, .. }
        | ExprKind::Stat(_, o)
        | ExprKind::Hist(_, o)
        | ExprKind::Entry(o) => expr_mut(o, f),
        ExprKind::Ternary(c, t, o) => {
            expr_mut(c, f);
            expr_mut(t, f);
            expr_mut(o, f);
        }
        ExprKind::Target(t) => {
            if let TargetBase::Cast { expr, .. } | TargetBase::Auto(expr) = &mut t.base {
                expr_mut(expr, f);
            }
            for c in &mut t.components {
                if let TargetComponent::Index(i) = c {
                    expr_mut(i, f);
                }
            }
        }
    }
    f(x);
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
    fn st<'b>(s: &'b Stmt, f: &mut dyn FnMut(&'b Stmt)) {
        f(s);
        match &s.kind {
            StmtKind::Block(b) => each_stmt(b, f),
            StmtKind::If(_, t, o) => {
                st(t, f);
                if let Some(o) = o {
                    st(o, f);
                }
            }
            StmtKind::While(_, b) | StmtKind::For(_, _, _, b) => st(b, f),
            StmtKind::Foreach(fe) => st(&fe.body, f),
            StmtKind::Try(b, _, h) => {
                each_stmt(b, f);
                each_stmt(h, f);
            }
            _ => {}
        }
    }
    for s in &b.stmts {
        st(s, f);
    }
}

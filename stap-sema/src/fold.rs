//! SystemTap's constant folding (pass 2): an operator on literals becomes the literal it
//! yields, an identity (`x + 0`, `x * 1`, `"" . s`) becomes its other operand, and an
//! annihilator (`x * 0`, `x & 0`, `0 && x`, `1 || x`) becomes its literal when the operand
//! it drops has no side effects, as SystemTap 4.8 folds them (`stap -p2 --vp 01`).

use crate::ir::*;
use crate::optimize::{has_side_effects_with, is_pure};
use crate::visit;
use stap_syntax::ast::{BinOp, Literal};

/// What `l op r` folds to when exactly one side is a number `n` (`lit_left` says which):
/// the other side (`Keep`), a number, or nothing.
enum OneSided {
    Keep,
    Number(i64),
}

fn one_sided(op: BinOp, n: i64, lit_left: bool, other_pure: bool) -> Option<OneSided> {
    use BinOp::*;
    let keep = Some(OneSided::Keep);
    let zero_if_pure = if other_pure {
        Some(OneSided::Number(0))
    } else {
        None
    };
    match (op, n, lit_left) {
        (Add, 0, _) | (Sub, 0, false) | (Mul, 1, _) | (Div, 1, false) => keep,
        (BitOr, 0, _) | (BitXor, 0, _) | (BitAnd, -1, _) => keep,
        (Shl, 0, false) | (Shr, 0, false) => keep,
        (Mul, 0, _) | (BitAnd, 0, _) | (Mod, 1, false) => zero_if_pure,
        (Shl, 0, true) | (Shr, 0, true) => zero_if_pure,
        // The right side of `0 && x` and `1 || x` never runs.
        (And, 0, true) => Some(OneSided::Number(0)),
        (Or, n, true) if n != 0 => Some(OneSided::Number(1)),
        (And, 0, false) => zero_if_pure,
        (Or, n, false) if n != 0 && other_pure => Some(OneSided::Number(1)),
        _ => None,
    }
}

/// Folds `x` (a binary operator with one literal side) in place; false if it does not fold.
fn fold_one_sided(x: &mut Expr, pure: &dyn Fn(FuncId) -> bool) -> bool {
    let ExprKind::Binary(op, l, r) = &mut x.kind else {
        return false;
    };
    let lit = |e: &Expr| match &e.kind {
        ExprKind::Literal(Literal::Number(n)) => Some(Some(*n)),
        ExprKind::Literal(Literal::String(s)) if s.is_empty() => Some(None),
        _ => None,
    };
    let (n, lit_left, other) = match (lit(l), lit(r)) {
        (Some(n), None) => (n, true, &mut **r),
        (None, Some(n)) => (n, false, &mut **l),
        _ => return false,
    };
    let fold = match n {
        // `"" . s` and `s . ""` are `s`.
        None if *op == BinOp::Concat => Some(OneSided::Keep),
        None => None,
        Some(n) => one_sided(*op, n, lit_left, !has_side_effects_with(other, pure)),
    };
    match fold {
        Some(OneSided::Keep) => {
            let hole = Expr {
                kind: ExprKind::Literal(Literal::Number(0)),
                ty: Type::Long,
                span: other.span,
            };
            let kept = std::mem::replace(other, hole);
            *x = kept;
            true
        }
        Some(OneSided::Number(v)) => {
            x.kind = ExprKind::Literal(Literal::Number(v));
            true
        }
        None => false,
    }
}

/// SystemTap's constant folding: an operator on two literals is the literal it yields
/// (`"foo" . "bar"` is `"foobar"`, `2 * 3` is `6`); division is left for run time, where a
/// zero divisor is an error.
pub(crate) fn fold_constants(prog: &mut Program) {
    use stap_syntax::ast::BinOp::*;
    // Numbers, and @defined answers as 1 or 0.
    let num = |e: &Expr| match e.kind {
        ExprKind::Literal(Literal::Number(n)) => Some(n),
        ExprKind::Defined(b) => Some(b as i64),
        _ => None,
    };
    let pure_fns: Vec<bool> = prog.functions.ids().map(|f| is_pure(prog, f)).collect();
    let pure = move |f: FuncId| pure_fns[f.index()];
    let mut fold = |x: &mut Expr| {
        if let ExprKind::Unary(op, o) = &x.kind {
            use stap_syntax::ast::UnOp;
            let Some(n) = num(o) else { return };
            let v = match op {
                UnOp::Not => (n == 0) as i64,
                UnOp::Neg => n.wrapping_neg(),
                UnOp::Plus => n,
                UnOp::BitNot => !n,
            };
            x.kind = ExprKind::Literal(Literal::Number(v));
            return;
        }
        let ExprKind::Binary(op, l, r) = &x.kind else {
            return;
        };
        let v = match (&l.kind, &r.kind) {
            (ExprKind::Literal(Literal::String(a)), ExprKind::Literal(Literal::String(b)))
                if *op == Concat =>
            {
                Literal::String(format!("{}{}", a, b))
            }
            _ => {
                let (Some(a), Some(b)) = (num(l), num(r)) else {
                    fold_one_sided(x, &pure);
                    return;
                };
                let (a, b) = (&a, &b);
                Literal::Number(match op {
                    Add => a.wrapping_add(*b),
                    Sub => a.wrapping_sub(*b),
                    Mul => a.wrapping_mul(*b),
                    BitAnd => a & b,
                    BitOr => a | b,
                    BitXor => a ^ b,
                    Shl => a.wrapping_shl((*b & 63) as u32),
                    Shr => a.wrapping_shr((*b & 63) as u32),
                    And => (*a != 0 && *b != 0) as i64,
                    Or => (*a != 0 || *b != 0) as i64,
                    Lt => (a < b) as i64,
                    Le => (a <= b) as i64,
                    Gt => (a > b) as i64,
                    Ge => (a >= b) as i64,
                    Eq => (a == b) as i64,
                    Ne => (a != b) as i64,
                    _ => return,
                })
            }
        };
        x.kind = ExprKind::Literal(v);
    };
    for p in &mut prog.probes {
        visit::block_mut(&mut p.body, &mut fold);
        if let Some(c) = &mut p.condition {
            visit::expr_mut(c, &mut fold);
        }
    }
    for f in &mut prog.functions {
        if let Body::Script(b) = &mut f.body {
            visit::block_mut(b, &mut fold);
        }
    }
}

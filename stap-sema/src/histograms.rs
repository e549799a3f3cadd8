//! Which histogram each statistic keeps: SystemTap allows one kind (`@hist_log`, or one
//! `@hist_linear(lo, hi, step)`) per statistic; a second kind is an error.  Likewise one
//! bit shift of `@variance(s, b)` per statistic.

use crate::elaborate::sem_error;
use crate::ir::*;
use stap_syntax::diag::Diagnostic;
use stap_syntax::source::Span;
use std::collections::HashMap;

/// The global a histogram's operand is (a statistic or an element of a statistics array).
fn operand_global(operand: &Expr) -> Option<GlobalId> {
    match &operand.kind {
        ExprKind::Var(Var::Global(g)) => Some(*g),
        ExprKind::Index(b, _) => match b.kind {
            ExprKind::Array(Var::Global(g)) => Some(g),
            _ => None,
        },
        _ => None,
    }
}

/// Each statistic's histogram kind, and the first conflict.
#[derive(Default)]
struct Kinds {
    seen: HashMap<GlobalId, (HistKind, Span)>,
    shifts: HashMap<GlobalId, (u8, Span)>,
    err: Option<Diagnostic>,
}

impl crate::visit::Visitor<'_> for Kinds {
    fn visit_expr(&mut self, x: &Expr) {
        if let ExprKind::Stat(stap_syntax::ast::StatOp::Variance(Some(b)), operand) = &x.kind {
            if let Some(g) = operand_global(operand) {
                match self.shifts.get(&g) {
                    Some((s, first)) if s != b && self.err.is_none() => {
                        self.err = Some(
                            sem_error(
                                "sema.variance-shift",
                                "a statistic can have only one @variance bit shift",
                                x.span,
                            )
                            .with_label(*first, "the other bit shift"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        self.shifts.insert(g, (*b, x.span));
                    }
                }
            }
        }
        if let ExprKind::Hist(kind, operand) = &x.kind {
            if let Some(g) = operand_global(operand) {
                match self.seen.get(&g) {
                    Some((k, first)) if k != kind && self.err.is_none() => {
                        self.err = Some(
                            sem_error(
                                "sema.hist-kind",
                                "a statistic can have only one kind of histogram",
                                x.span,
                            )
                            .with_label(*first, "the other histogram"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        self.seen.insert(g, (*kind, x.span));
                    }
                }
            }
        }
        crate::visit::walk_expr(self, x);
    }
}

/// Records each statistic's histogram kind in its [`Global::hist`]; reports the first
/// statistic used with two kinds.
pub(crate) fn assign(prog: &mut Program, diags: &mut Vec<Diagnostic>) {
    use crate::visit::Visitor;
    let mut k = Kinds::default();
    for f in &prog.functions {
        if let Body::Script(b) = &f.body {
            k.visit_block(b);
        }
    }
    for p in &prog.probes {
        k.visit_block(&p.body);
        if let Some(c) = &p.condition {
            k.visit_expr(c);
        }
    }
    diags.extend(k.err);
    for (g, (kind, _)) in k.seen {
        prog.globals[g].hist = Some(kind);
    }
    for (g, (b, _)) in k.shifts {
        prog.globals[g].variance_shift = Some(b);
    }
}

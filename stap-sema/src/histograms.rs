//! Which histogram each statistic keeps: SystemTap allows one kind (`@hist_log`, or one
//! `@hist_linear(lo, hi, step)`) per statistic; a second kind is an error.

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

/// Records each statistic's histogram kind in its [`Global::hist`]; reports the first
/// statistic used with two kinds.
pub(crate) fn assign(prog: &mut Program, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<GlobalId, (HistKind, Span)> = HashMap::new();
    let mut err = None;
    let mut note = |x: &Expr| {
        let ExprKind::Hist(kind, operand) = &x.kind else {
            return;
        };
        let Some(g) = operand_global(operand) else {
            return;
        };
        match seen.get(&g) {
            Some((k, first)) if k != kind && err.is_none() => {
                err = Some(
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
                seen.insert(g, (*kind, x.span));
            }
        }
    };
    for f in &prog.functions {
        if let Body::Script(b) = &f.body {
            crate::visit::block(b, &mut note);
        }
    }
    for p in &prog.probes {
        crate::visit::block(&p.body, &mut note);
        if let Some(c) = &p.condition {
            crate::visit::expr(c, &mut note);
        }
    }
    diags.extend(err);
    for (g, (k, _)) in seen {
        prog.globals[g].hist = Some(k);
    }
}

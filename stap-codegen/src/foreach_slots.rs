//! Where each `foreach` over an array keeps its snapshot of the entries.
//!
//! A `foreach` copies (and sorts) pointers to the entries it visits into a snapshot buffer
//! of the map, one per CPU.  Loops that can be live at the same time on one CPU need
//! buffers of their own: every `foreach` statement over an array gets its own slot, and a
//! statement inside a recursive function (which can be live once per nesting level) gets
//! `MAXNESTING + 1` slots, indexed by the nesting level.  A loop nested in another over
//! the same array then iterates its own snapshot, as SystemTap's do.

use stap_sema::ir::*;
use stap_sema::visit;
use stap_syntax::source::Span;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The snapshot slots of every array, and which slot each `foreach` statement uses.
#[derive(Default)]
pub(crate) struct ForeachSlots {
    /// By the loop's source expression: the C expression of its slot.
    by_loop: HashMap<Span, String>,
    /// Per global: slots of plain statements, and statements in recursive functions.
    counts: BTreeMap<GlobalId, (u32, u32)>,
}

/// The functions that can be live more than once on one stack (on a call cycle).
fn recursive_functions(prog: &Program) -> BTreeSet<FuncId> {
    let calls = visit::callees(prog);
    let mut out = BTreeSet::new();
    for start in prog.functions.ids() {
        // Is `start` reachable from its own callees?
        let mut seen = BTreeSet::new();
        let mut todo: Vec<FuncId> = calls[start].clone();
        while let Some(f) = todo.pop() {
            if f == start {
                out.insert(start);
                break;
            }
            if f.index() < calls.len() && seen.insert(f) {
                todo.extend(calls[f].iter().copied());
            }
        }
    }
    out
}

/// The array globals a block's `foreach` statements iterate, with their source spans.
fn loops(b: &Block) -> Vec<(GlobalId, Span)> {
    let mut v = Vec::new();
    visit::each_stmt(b, &mut |s| {
        if let StmtKind::Foreach(f) = &s.kind {
            if let ExprKind::Array(Var::Global(g)) = &f.source.kind {
                v.push((*g, f.source.span));
            }
        }
    });
    v
}

impl ForeachSlots {
    /// Assigns the slots of a program.
    pub(crate) fn new(prog: &Program) -> ForeachSlots {
        let recursive = recursive_functions(prog);
        let mut plain: Vec<(GlobalId, Span)> = Vec::new();
        let mut nested: Vec<(GlobalId, Span)> = Vec::new();
        for p in &prog.probes {
            plain.extend(loops(&p.body));
        }
        for (i, f) in prog.functions.enumerate() {
            if let Body::Script(b) = &f.body {
                if recursive.contains(&i) {
                    nested.extend(loops(b));
                } else {
                    plain.extend(loops(b));
                }
            }
        }
        // Plain slots first, then each recursive statement's MAXNESTING + 1 after them.
        let mut s = ForeachSlots::default();
        for (g, span) in plain {
            let c = s.counts.entry(g).or_default();
            s.by_loop.insert(span, c.0.to_string());
            c.0 += 1;
        }
        for (g, span) in nested {
            let c = s.counts.entry(g).or_default();
            s.by_loop.insert(
                span,
                format!("{} + {} * (MAXNESTING + 1) + c->rt.nesting", c.0, c.1),
            );
            c.1 += 1;
        }
        s
    }

    /// The C expression of the slot a `foreach` (by its source's span) uses.
    pub(crate) fn slot(&self, source: Span) -> String {
        self.by_loop
            .get(&source)
            .cloned()
            .unwrap_or_else(|| "0".into())
    }

    /// The C expression of how many slots global `g` needs (at least 1).
    pub(crate) fn count(&self, g: GlobalId) -> String {
        match self.counts.get(&g) {
            None => "1".into(),
            Some((p, 0)) => (*p).max(1).to_string(),
            Some((p, r)) => format!("{} + {} * (MAXNESTING + 1)", p, r),
        }
    }
}

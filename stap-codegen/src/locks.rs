//! The lock functions of each probe: which globals it takes, in which mode, in one
//! global order.

use crate::body;
use stap_sema::ir::*;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The globals a probe touches, through the functions it calls too (true: exclusively).
pub(crate) fn probe_globals(
    p: &body::Generated,
    funcs: &IdVec<Function, body::Generated>,
) -> BTreeMap<GlobalId, bool> {
    let mut out = p.globals.clone();
    let mut seen = std::collections::BTreeSet::new();
    let mut work: Vec<FuncId> = p.calls.iter().copied().collect();
    while let Some(f) = work.pop() {
        if !seen.insert(f) {
            continue;
        }
        for (g, w) in &funcs[f].globals {
            *out.entry(*g).or_insert(false) |= *w;
        }
        work.extend(funcs[f].calls.iter().copied());
    }
    out
}

/// A statistics array: `<<<` into it takes only this CPU's flag of its lock.
pub(crate) fn is_stats_array(g: &Global) -> bool {
    g.ty == Type::Stats && g.is_array
}

/// Lock and unlock functions for a probe: every global it uses, in index order (so two
/// probes can never deadlock), each with a bounded try.  `true` means the exclusive side;
/// the shared side of a statistics array is its per-CPU `<<<` mode.
pub(crate) fn lock_functions(
    prog: &Program,
    id: usize,
    globals: &BTreeMap<GlobalId, bool>,
) -> String {
    let mode = |g: GlobalId, w: bool| match (w, is_stats_array(&prog.globals[g])) {
        (true, _) => "STP_LOCK_WRITE",
        (false, true) => "STP_LOCK_ADD",
        (false, false) => "STP_LOCK_READ",
    };
    let mut o = format!(
        "static int stp_lock_{}(struct stp_ctx *rt)\n{{\n\t(void)rt;\n",
        id
    );
    for (k, (g, w)) in globals.iter().enumerate() {
        let _ = writeln!(
            o,
            "\tif (!stp_lock_acquire(&stp_glock[{}], {}, rt->cpu))\n\t\tgoto unlock_{};",
            g,
            mode(*g, *w),
            k
        );
    }
    o.push_str("\treturn 1;\n");
    // Failing to take lock k jumps to unlock_k, which releases locks k-1 down to 0.
    let held: Vec<(&GlobalId, &bool)> = globals.iter().collect();
    for k in (1..held.len()).rev() {
        let (g, w) = held[k - 1];
        let _ = writeln!(o, "unlock_{}:", k);
        let _ = writeln!(
            o,
            "\tstp_lock_release(&stp_glock[{}], {}, rt->cpu);",
            g,
            mode(*g, *w)
        );
    }
    if !held.is_empty() {
        o.push_str("unlock_0:\n\treturn 0;\n");
    }
    o.push_str("}\n\n");
    let _ = writeln!(
        o,
        "static void stp_unlock_{}(struct stp_ctx *rt)\n{{\n\t(void)rt;",
        id
    );
    for (g, w) in globals.iter().rev() {
        let _ = writeln!(
            o,
            "\tstp_lock_release(&stp_glock[{}], {}, rt->cpu);",
            g,
            mode(*g, *w)
        );
    }
    o.push_str("}\n\n");
    o
}

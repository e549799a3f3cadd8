//! The `-p2` listing, in SystemTap's shape: `# globals`, `# functions`, `# probes`.

use crate::ir::*;
use std::collections::HashSet;
use std::fmt::Write;

/// Locals the body still mentions (elision may have removed every use of some).
fn used_locals(body: &Block) -> HashSet<LocalId> {
    let mut used = HashSet::new();
    crate::visit::block(body, &mut |e| {
        if let ExprKind::Var(Var::Local(i)) = e.kind {
            used.insert(i);
        }
    });
    crate::visit::bound_vars(body, &mut |v| {
        if let Var::Local(i) = v {
            used.insert(i);
        }
    });
    used
}

fn local_list(out: &mut String, locals: &Arena<Local>, skip: usize, body: &Block) {
    let used = used_locals(body);
    let shown: Vec<&Local> = locals
        .enumerate()
        .skip(skip)
        .filter(|(i, _)| used.contains(i))
        .map(|(_, l)| l)
        .collect();
    if shown.is_empty() {
        return;
    }
    out.push_str("  # locals\n");
    for l in shown {
        let _ = writeln!(out, "  {}:{}", l.name, l.ty);
    }
}

/// Prints the elaborated program.
pub fn print_program(p: &Program) -> String {
    let mut out = String::new();
    if !p.globals.is_empty() {
        out.push_str("# globals\n");
        for g in &p.globals {
            let _ = write!(out, "{}:{}", g.name, g.ty);
            if g.is_array {
                let keys: Vec<&str> = g.keys.iter().map(|k| k.name()).collect();
                let _ = write!(out, " [{}]", keys.join(", "));
            }
            if let Some(n) = g.size {
                let _ = write!(out, " size {}", n);
            }
            out.push('\n');
        }
    }
    if !p.functions.is_empty() {
        out.push_str("# functions\n");
        for f in &p.functions {
            let params: Vec<String> = f.locals.as_slice()[..f.arity]
                .iter()
                .map(|l| format!("{}:{}", l.name, l.ty))
                .collect();
            let _ = writeln!(out, "{}:{} ({})", f.name, f.ret, params.join(", "));
            if let Body::Script(b) = &f.body {
                local_list(&mut out, &f.locals, f.arity, b);
            }
        }
    }
    if !p.probes.is_empty() {
        out.push_str("# probes\n");
        for pr in &p.probes {
            let _ = writeln!(out, "{} /* <- {} */", pr.point, pr.written);
            local_list(&mut out, &pr.locals, 0, &pr.body);
        }
    }
    out
}

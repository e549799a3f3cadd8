//! The `-p2` listing, in SystemTap's shape: `# globals`, `# functions`, `# probes`.

use crate::ir::*;
use std::fmt::Write;

fn local_list(out: &mut String, locals: &[Local], skip: usize) {
    let shown: Vec<&Local> = locals.iter().skip(skip).collect();
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
            let params: Vec<String> = f.locals[..f.arity]
                .iter()
                .map(|l| format!("{}:{}", l.name, l.ty))
                .collect();
            let _ = writeln!(out, "{}:{} ({})", f.name, f.ret, params.join(", "));
            local_list(&mut out, &f.locals, f.arity);
        }
    }
    if !p.probes.is_empty() {
        out.push_str("# probes\n");
        for pr in &p.probes {
            let _ = writeln!(out, "{} /* <- {} */", pr.point, pr.written);
            local_list(&mut out, &pr.locals, 0);
        }
    }
    out
}

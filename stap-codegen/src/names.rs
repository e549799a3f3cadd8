//! C names for script names: readable, valid C, and unique.

use stap_sema::ir::{Function, Global, IdVec, Program};
use std::collections::HashSet;

/// Makes `name` a C identifier, unique among `taken`.
pub(crate) fn c_ident(name: &str, taken: &mut HashSet<String>) -> String {
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if base.is_empty() || base.starts_with(|c: char| c.is_ascii_digit()) {
        base.insert(0, '_');
    }
    let mut candidate = base.clone();
    let mut n = 1;
    while !taken.insert(candidate.clone()) {
        n += 1;
        candidate = format!("{}_{}", base, n);
    }
    candidate
}

/// The C names of a program's globals and functions.
pub(crate) struct Names {
    pub globals: IdVec<Global, String>,
    pub functions: IdVec<Function, String>,
}

impl Names {
    pub fn new(prog: &Program) -> Names {
        // Globals are members of `stp_g`: prefixed, so no C or kernel macro (`NULL`,
        // `current`, `HZ` ...) can take their name.
        let mut taken = HashSet::new();
        let globals = prog
            .globals
            .iter()
            .map(|g| c_ident(&format!("g_{}", g.name), &mut taken))
            .collect();
        let mut taken = HashSet::new();
        let functions = prog
            .functions
            .iter()
            .map(|f| c_ident(&f.name, &mut taken))
            .collect();
        Names { globals, functions }
    }
}

//! Pass 2: elaborate the parsed script, report, and the listings built on it.

use crate::cli::{Cli, Runtime};
use crate::pass1::Parsed;
use crate::report::Reporter;
use stap_kdata::BtfResolver;
use stap_sema::ir::Program;
use stap_sema::{elaborate, KernelResolver, NoKernelData, Options};
use stap_syntax::diag::Severity;
use stap_syntax::source::FileKind;

fn options(cli: &Cli, listing: bool) -> Options {
    Options {
        unoptimized: cli.unoptimized || listing,
        runtime_user: cli.runtime == Runtime::User,
        guru: cli.guru,
        has_target: cli.command.is_some() || cli.target_pid.is_some(),
        set_globals: cli.set_globals.clone(),
    }
}

/// Runs pass 2 and prints its diagnostics.  Warnings about tapset code are not shown
/// (as in SystemTap); `-w` hides all warnings and `-W` makes them errors.
/// Kernel probe points resolve against the target kernel's BTF (read on first use).
/// With `-L`, `kernel_vars` receives each kernel probe point's target variables.
pub fn run(
    cli: &Cli,
    parsed: &Parsed,
    rep: &mut Reporter,
    btf: &BtfResolver,
    kernel_vars: &mut Vec<(String, Vec<(String, String)>)>,
) -> Option<Program> {
    let listing = cli.list.is_some() || cli.list_vars.is_some();
    let resolver: &dyn KernelResolver = match cli.runtime {
        Runtime::Kernel => btf,
        Runtime::User => &NoKernelData,
    };
    let result = elaborate(
        &parsed.user,
        &parsed.library,
        &options(cli, listing),
        resolver,
    );
    if cli.verbose >= 1 {
        for n in resolver.notes() {
            if cli.verbose >= 2
                || n.starts_with("kernel data")
                || n.starts_with("kernel DWARF")
                || n.starts_with("module DWARF")
            {
                eprintln!("Pass 2: {}", n);
            }
        }
    }
    for n in resolver.notes() {
        if n.starts_with("kernel.mark") && !cli.no_warnings {
            eprintln!("Note: {}", n);
        }
    }
    if cli.list_vars.is_some() {
        if let Some(p) = &result.program {
            for probe in &p.probes {
                let vars = resolver.variables(&probe.point, probe.family);
                if !vars.is_empty() {
                    kernel_vars.push((probe.point.to_string(), vars));
                }
            }
        }
    }
    let mut failed = false;
    for d in &result.diagnostics {
        let in_tapset = d
            .primary
            .as_ref()
            .is_some_and(|p| parsed.sm.file(p.span.file).kind == FileKind::Tapset);
        match d.severity {
            Severity::Error => {
                failed = true;
                rep.emit(&parsed.sm, d);
            }
            Severity::Warning if cli.warnings_are_errors && !cli.no_warnings && !in_tapset => {
                failed = true;
                let mut e = d.clone();
                e.severity = Severity::Error;
                rep.emit(&parsed.sm, &e);
            }
            Severity::Warning if cli.no_warnings || in_tapset || listing => {}
            _ => rep.emit(&parsed.sm, d),
        }
    }
    if failed {
        None
    } else {
        result.program
    }
}

/// `-l`/`-L`: the probe points the pattern resolved to (and, for -L, their variables).
pub fn listing(
    cli: &Cli,
    program: &Program,
    kernel_vars: &[(String, Vec<(String, String)>)],
) -> Option<String> {
    if cli.list.is_none() && cli.list_vars.is_none() {
        return None;
    }
    let mut lines: Vec<String> = program
        .probes
        .iter()
        .map(|p| {
            // A probe through an alias is listed as the alias it matched, as SystemTap.
            let mut line = p.alias_point.as_ref().unwrap_or(&p.point).to_string();
            if cli.list_vars.is_some() {
                // The alias's variables, then the point's own.
                for l in &p.locals {
                    line.push_str(&format!(" {}:{}", l.name, l.ty));
                }
                let point = p.point.to_string();
                if let Some((_, vars)) = kernel_vars.iter().find(|(pp, _)| *pp == point) {
                    for (name, ty) in vars {
                        line.push_str(&format!(" {}:{}", name, ty));
                    }
                }
            }
            line
        })
        .collect();
    lines.sort();
    lines.dedup();
    Some(lines.iter().map(|l| format!("{}\n", l)).collect())
}

/// `--dump-probe-types`, `--dump-probe-aliases`, `--dump-functions`.
pub fn dumps(cli: &Cli, parsed: &Parsed) -> String {
    let mut out = Vec::new();
    if cli.dump_probe_types {
        for p in stap_sema::registry::Registry::new().patterns {
            out.push(p.describe());
        }
    }
    if cli.dump_probe_aliases {
        for f in &parsed.library {
            for a in f.aliases.iter().filter(|a| !a.private) {
                for n in &a.names {
                    out.push(stap_syntax::printer::print_probe_point(n));
                }
            }
        }
    }
    if cli.dump_functions {
        for f in &parsed.library {
            for func in f.functions.iter().filter(|f| !f.private) {
                let ty = |t: Option<stap_syntax::ast::TypeName>| match t {
                    Some(stap_syntax::ast::TypeName::Long) => "long",
                    Some(stap_syntax::ast::TypeName::String) => "string",
                    None => "unknown",
                };
                let params: Vec<String> = func
                    .params
                    .iter()
                    .map(|p| format!("{}:{}", p.name.name, ty(p.ty)))
                    .collect();
                out.push(format!(
                    "{}:{} ({})",
                    func.name.name,
                    ty(func.ret),
                    params.join(", ")
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out.iter().map(|l| format!("{}\n", l)).collect()
}

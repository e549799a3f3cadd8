//! Pass 2 of stap-rs: elaboration.
//!
//! [`elaborate`] takes the parsed user files and tapset library and produces the
//! [`ir::Program`]: derived probes on concrete probe points (aliases expanded, wildcards
//! matched), every name resolved (pulling in the tapset files that define what the
//! script uses), every type inferred, SystemTap's semantic checks made, and unused code
//! elided with SystemTap's warnings.

#![warn(missing_docs)]

mod autocast;
pub(crate) mod check;
mod check_format;
pub use check_format::reads_memory;
mod display;
mod elaborate;
mod families;
mod fold;
mod histograms;
pub use families::unsupported;
mod infer;
pub mod ir;
mod lower;
mod lower_target;
mod optimize;
pub mod print;
mod regex;
pub mod registry;
mod set_globals;
pub mod user_frames;
pub mod visit;

use ir::{Family, PointArg, ProbePoint};
use stap_syntax::ast;
use stap_syntax::diag::{Diagnostic, Pass, Severity};

/// Session options pass 2 follows.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-u`: no elision of unused code.
    pub unoptimized: bool,
    /// `--runtime=user`: kernel-only probe families are errors.
    pub runtime_user: bool,
    /// `-g`.
    pub guru: bool,
    /// `-c CMD` or `-x PID`: there is a target process.
    pub has_target: bool,
    /// `-G VAR=VALUE` settings, in order.
    pub set_globals: Vec<String>,
}

/// Resolves kernel probe points and target variables against the target kernel's data.
///
/// The kernel-probe work implements this against symbol tables, BTF and DWARF; until then
/// [`NoKernelData`] accepts what SystemTap accepts without kernel data.
pub trait KernelResolver {
    /// Expands a point of a kernel family into concrete points, or says why it cannot.
    fn resolve(&self, point: &ProbePoint, family: Family) -> Result<Vec<ProbePoint>, String>;
    /// Resolves `$name` followed by `components` (member names, `None` for `[index]`) at a
    /// concrete point of a kernel family, or says why it cannot.
    fn target(
        &self,
        point: &ProbePoint,
        family: Family,
        name: &str,
        components: &[Option<&str>],
    ) -> Result<ir::ResolvedTarget, String>;
    /// The target variables at a concrete point, with their C types (for `-L`).
    fn variables(&self, _point: &ProbePoint, _family: Family) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Notes for the session (which data source served, what a name was taken to mean).
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
    /// Where a concrete point's kprobe goes when not at a symbol of its own: the
    /// `MODULE:SYMBOL` and the offset into it (module functions and statements).
    fn site(&self, _point: &ProbePoint, _family: Family) -> Option<(String, u64)> {
        None
    }
    /// Where a concrete point in a user program's code goes: a function's entry or an SDT
    /// marker, as a uprobe.
    fn user_site(&self, _point: &ProbePoint) -> Option<ir::UserSite> {
        None
    }
    /// Whether the type `ty` (from `module`) can be used for member and element access.
    fn cast_type(&self, ty: &str, module: Option<&str>) -> Result<(), String>;
    /// Resolves `@cast(address, ty, module)` followed by `components` (member names,
    /// `None` for `[index]`): the steps from the address (source
    /// [`ir::TargetSource::Value`]) to the value the script reads.
    fn cast(
        &self,
        ty: &str,
        module: Option<&str>,
        _components: &[Option<&str>],
    ) -> Result<ir::ResolvedTarget, String> {
        self.cast_type(ty, module)?;
        Err(format!("@cast to '{}' needs the target kernel's types", ty))
    }
}

/// A resolver with no kernel data: it accepts the points that need none.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKernelData;

impl KernelResolver for NoKernelData {
    fn resolve(&self, point: &ProbePoint, family: Family) -> Result<Vec<ProbePoint>, String> {
        let wild = point.components.iter().any(|c| {
            c.name.contains(['*', '?'])
                || matches!(&c.arg, Some(PointArg::String(s)) if s.contains(['*', '?', '[']))
        });
        let first = point.components[0].name.as_str();
        let needs_data = match family {
            Family::Kprobe => wild,
            Family::Process => point.components.iter().any(|c| {
                matches!(
                    c.name.as_str(),
                    "function" | "statement" | "mark" | "provider" | "library" | "plt"
                )
            }),
            Family::Perf | Family::Netfilter | Family::Procfs => false,
            _ => true,
        };
        if needs_data {
            Err(format!(
                "cannot resolve '{}' yet: {} probe points need the target kernel's symbol and debug data, which stap-rs does not read yet",
                point, first
            ))
        } else {
            Ok(vec![point.clone()])
        }
    }

    fn target(
        &self,
        _point: &ProbePoint,
        _family: Family,
        name: &str,
        _components: &[Option<&str>],
    ) -> Result<ir::ResolvedTarget, String> {
        Err(format!(
            "'{}' needs the target kernel's debug data, which is not available here",
            name
        ))
    }

    fn cast_type(&self, ty: &str, module: Option<&str>) -> Result<(), String> {
        Err(format!(
            "type information for '{}'{} is not available: stap-rs does not read DWARF or BTF type data yet",
            ty,
            module.map(|m| format!(" in {}", m)).unwrap_or_default()
        ))
    }
}

/// Up to five names "similar" to `name` (edit distance), for did-you-mean notes.
pub fn similar<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    fn dist(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
            }
            prev = cur;
        }
        prev[b.len()]
    }
    let limit = (name.chars().count() / 2).max(2);
    let mut scored: Vec<(usize, &str)> = candidates
        .filter(|c| *c != name)
        .map(|c| (dist(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(5)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// The result of pass 2.
pub struct Elaborated {
    /// The program (None when elaboration failed).
    pub program: Option<ir::Program>,
    /// Errors and warnings, in order.
    pub diagnostics: Vec<Diagnostic>,
    /// How many tapset files were pulled in.
    pub tapsets_used: usize,
}

/// Runs pass 2 on the user files and the tapset library.
pub fn elaborate(
    user: &[ast::File],
    library: &[ast::File],
    opts: &Options,
    resolver: &dyn KernelResolver,
) -> Elaborated {
    let registry = registry::Registry::new();
    let mut el = elaborate::Elab::new(user, library, opts, &registry, resolver);
    for i in 0..user.len() {
        el.include(ir::Id::new(i));
    }
    for (i, f) in user.iter().enumerate() {
        for p in &f.probes {
            el.derive_probe(ir::Id::new(i), p);
        }
    }
    // Tapset files pulled in bring their probes; lowering may pull in more files.
    loop {
        let mut progress = false;
        while let Some(file) = el.pending_probe_files.pop() {
            let f = el.files[file];
            for p in &f.probes {
                el.derive_probe(file, p);
            }
            progress = true;
        }
        progress |= el.lower_pending_functions();
        if !progress {
            break;
        }
    }
    let tapsets_used = el.included.iter().skip(el.n_user).filter(|&&b| b).count();
    let mut diags = std::mem::take(&mut el.diags);
    let failed = |d: &[Diagnostic]| d.iter().any(|d| d.severity == Severity::Error);
    if failed(&diags) {
        return Elaborated {
            program: None,
            diagnostics: diags,
            tapsets_used,
        };
    }
    let mut prog = std::mem::take(&mut el.prog);
    if !opts.unoptimized {
        optimize::elide(&mut prog, &mut el.arity, &mut diags);
    } else {
        optimize::remove_unreferenced_tapset_globals(&mut prog, &mut el.arity);
    }
    if prog.probes.is_empty() {
        diags.push(Diagnostic::plain(
            Pass::Semantic,
            "sema.no-probes",
            "no probes found",
        ));
        return Elaborated {
            program: None,
            diagnostics: diags,
            tapsets_used,
        };
    }
    if let Err(e) = infer::infer(&mut prog, &el.arity) {
        diags.push(e);
    } else {
        set_globals::apply(&mut prog, &opts.set_globals, &mut diags);
        check::check(&prog, resolver, opts.guru, &mut diags);
        histograms::assign(&mut prog, &mut diags);
        display::add_global_display(&mut prog);
    }
    let ok = !failed(&diags);
    Elaborated {
        program: ok.then_some(prog),
        diagnostics: diags,
        tapsets_used,
    }
}

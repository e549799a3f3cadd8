//! The probe-point families: one file each.
//!
//! A family says which probe points it has (patterns in a compact notation, see
//! [`crate::registry`]), whether the kernel resolver expands them, how a concrete point
//! is checked and becomes a typed [`ProbeKind`], which target variables its probes have
//! without debug data, and which runtimes can run it.  Adding a family means one file
//! here, one entry in [`FAMILIES`], and (to run it) one attach header in the runtime.

mod begin_end;
mod dwarf;
mod kprobe;
pub(crate) mod netfilter;
mod perf;
mod perfmon;
mod process;
pub(crate) mod procfs;
mod timer;
mod tracepoint;

use crate::elaborate::sem_error;
use crate::ir::{Family, PointArg, ProbeKind, ProbePoint, Runtime, TargetExpr};
use stap_syntax::diag::Diagnostic;
use stap_syntax::source::Span;

/// What building a point's kind may use.
pub(crate) struct BuildCx<'a> {
    /// Where the probe point is written (for errors).
    pub span: Span,
    /// `-g`.
    pub guru: bool,
    /// `-c` or `-x`: there is a target process.
    pub has_target: bool,
    /// The kernel resolver (where a kprobe goes, for points not at a symbol of their own).
    pub resolver: &'a dyn crate::KernelResolver,
}

/// Why a concrete point was refused.
pub(crate) struct Refusal {
    /// The error.
    pub diag: Diagnostic,
    /// Refused even when a wildcard matched other points too (not merely a value the
    /// family does not take).
    pub hard: bool,
}

impl Refusal {
    /// A refusal of this point's values: other matches of a wildcard are still used.
    pub fn soft(code: &'static str, msg: impl Into<String>, span: Span) -> Refusal {
        Refusal {
            diag: sem_error(code, msg, span),
            hard: false,
        }
    }

    /// A refusal of the whole probe point.
    pub fn hard(code: &'static str, msg: impl Into<String>, span: Span) -> Refusal {
        Refusal {
            diag: sem_error(code, msg, span),
            hard: true,
        }
    }
}

/// One family of probe points.
pub(crate) trait ProbeFamily: Sync {
    /// Which family this is.
    fn family(&self) -> Family;
    /// Its patterns (`timer.ms(n).randomize(n)`; see [`crate::registry`]).
    fn patterns(&self) -> &'static [&'static str];
    /// True when matched points go through the kernel resolver, which expands them into
    /// concrete points (or says why it cannot).
    fn uses_resolver(&self) -> bool {
        false
    }
    /// Checks a concrete point as SystemTap does and builds what it attaches to.
    fn build(&self, point: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal>;
    /// True when its probes have target variables (`$name`).
    fn has_target_vars(&self) -> bool {
        false
    }
    /// True when the point's target variables are defined here, without debug data.
    fn context_vars_known(&self, _point: &ProbePoint) -> bool {
        false
    }
    /// Why `$name` (read, or assigned when `writing`; `guru` under `-g`) is not available,
    /// or `None` when it is (or when the resolver decides).
    fn context_var_error(
        &self,
        _point: &ProbePoint,
        _name: &str,
        _t: &TargetExpr,
        _writing: bool,
        _guru: bool,
    ) -> Option<String> {
        None
    }
    /// True when generated code for this family runs on `runtime`.
    fn runs_on(&self, runtime: Runtime) -> bool;
    /// True when `runtime` runs a probe of this family attached to `kind` (by default,
    /// when it runs the family).
    fn runs_kind(&self, runtime: Runtime, _kind: &ProbeKind) -> bool {
        self.runs_on(runtime)
    }
}

/// Every family.
pub(crate) static FAMILIES: &[&dyn ProbeFamily] = &[
    &begin_end::Begin,
    &begin_end::End,
    &begin_end::Error,
    &begin_end::Never,
    &timer::Timer,
    &timer::Profile,
    &dwarf::KernelDwarf,
    &kprobe::Kprobe,
    &tracepoint::Tracepoint,
    &process::Process,
    &perf::Perf,
    &perfmon::Perfmon,
    &procfs::Procfs,
    &netfilter::Netfilter,
];

/// The family `f`.
pub(crate) fn of(f: Family) -> &'static dyn ProbeFamily {
    FAMILIES
        .iter()
        .copied()
        .find(|x| x.family() == f)
        .expect("every Family has an entry in FAMILIES")
}

/// Component `name`'s number parameter.
pub(crate) fn num(p: &ProbePoint, name: &str) -> Option<i64> {
    p.components
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| match c.arg {
            Some(PointArg::Number(n)) => Some(n),
            _ => None,
        })
}

/// Component `name`'s string parameter.
pub(crate) fn string(p: &ProbePoint, name: &str) -> Option<String> {
    p.components
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| match &c.arg {
            Some(PointArg::String(s)) => Some(s.clone()),
            _ => None,
        })
}

/// True when the point has a component `name`.
pub(crate) fn has(p: &ProbePoint, name: &str) -> bool {
    p.components.iter().any(|c| c.name == name)
}

/// `.absolute` names a raw kernel address: guru mode only.
pub(crate) fn check_absolute(p: &ProbePoint, cx: &BuildCx) -> Result<(), Refusal> {
    if has(p, "absolute") && !cx.guru {
        return Err(Refusal::soft(
            "sema.absolute-needs-guru",
            "an .absolute probe point names a raw kernel address: it needs guru mode (stap -g)",
            cx.span,
        ));
    }
    Ok(())
}

/// `.maxactive(n)`: each active instance is preallocated when the probe registers.
pub(crate) fn maxactive(p: &ProbePoint, cx: &BuildCx) -> Result<i64, Refusal> {
    const MAX_MAXACTIVE: i64 = 65_536;
    let m = num(p, "maxactive").unwrap_or(0);
    if !(0..=MAX_MAXACTIVE).contains(&m) {
        return Err(Refusal::soft(
            "sema.maxactive",
            format!("maxactive must be from 0 to {} (got {})", MAX_MAXACTIVE, m),
            cx.span,
        ));
    }
    Ok(m)
}

/// True when the target variables of `point` (of family `f`) are defined without debug
/// data (procfs `$value`, process syscall `$syscall`/`$argN`/`$return`).
pub(crate) fn context_vars_known(f: Family, point: &ProbePoint) -> bool {
    of(f).context_vars_known(point)
}

/// Why `$name` is not available at `point` (read, or assigned when `writing`; `guru`
/// under `-g`); `None` when it is, or when the resolver decides.
pub(crate) fn context_var_error(
    f: Family,
    point: &ProbePoint,
    name: &str,
    t: &TargetExpr,
    writing: bool,
    guru: bool,
) -> Option<String> {
    of(f).context_var_error(point, name, t, writing, guru)
}

/// Whether `$name` exists at a point whose variables are known (for `@defined`).
pub(crate) fn context_var_ok(f: Family, point: &ProbePoint, name: &str) -> bool {
    let t = TargetExpr {
        base: crate::ir::TargetBase::Var(name.to_string()),
        components: Vec::new(),
        addressof: false,
        pretty: 0,
        resolved: None,
    };
    let writing = has(point, "read");
    context_var_error(f, point, name, &t, writing, false).is_none()
}

/// The probes of `prog` that `runtime` cannot run, as errors: SystemTap accepts their
/// points at pass 2, and so does pass 2 here; translating them would make a module whose
/// probes never fire.
pub fn unsupported(prog: &crate::ir::Program, runtime: Runtime) -> Vec<Diagnostic> {
    prog.probes
        .iter()
        .filter(|p| !of(p.family).runs_kind(runtime, &p.kind))
        .map(|p| {
            sem_error(
                "sema.runtime-unsupported",
                format!(
                    "probe point '{}' cannot run yet: the {} runtime has no {} probes",
                    p.point,
                    match runtime {
                        Runtime::Kernel => "kernel",
                        Runtime::User => "user-space",
                    },
                    p.point
                        .components
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(".")
                ),
                p.span,
            )
        })
        .collect()
}

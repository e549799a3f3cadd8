//! `perf.type(T).config(C)[.sample(N)]`: a sampling perf event on every CPU.  The
//! per-process forms (`.process`, `.counter`) and `.hz` are not built yet: the runtime
//! refuses them with a registration WARNING rather than count the whole system.

use super::{has, num, BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, ProbeKind, ProbePoint, Runtime};

/// The perf family.
pub(crate) struct Perf;

impl ProbeFamily for Perf {
    fn family(&self) -> Family {
        Family::Perf
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "perf.type(n).config(n)",
            "perf.type(n).config(n).sample(n)",
            "perf.type(n).config(n).hz(n)",
            "perf.type(n).config(n).process(s?)",
            "perf.type(n).config(n).counter(s)",
            "perf.type(n).config(n).process(s?).counter(s)",
            "perf.type(n).config(n).sample(n).process(s?)",
        ]
    }
    fn uses_resolver(&self) -> bool {
        true
    }
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        let no_process = p
            .components
            .iter()
            .any(|c| c.name == "process" && c.arg.is_none());
        if no_process && !cx.has_target {
            return Err(Refusal::hard(
                "sema.perf-process",
                format!(
                    "'{}' has no process: name one with .process(\"PATH\"), or give -c CMD or -x PID",
                    p
                ),
                cx.span,
            ));
        }
        Ok(ProbeKind::Perf {
            ty: num(p, "type").unwrap_or(0),
            config: num(p, "config").unwrap_or(0),
            sample: num(p, "sample").unwrap_or(1_000_000),
            unsupported: has(p, "process") || has(p, "counter") || has(p, "hz"),
        })
    }
    fn runs_on(&self, runtime: Runtime) -> bool {
        runtime == Runtime::Kernel
    }
}

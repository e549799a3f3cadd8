//! `kernel.trace("NAME")` (and `kernel.mark`, which the resolver maps to the tracepoint
//! of that name: markers are gone from Linux).

use super::{BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, PointArg, ProbeKind, ProbePoint, Runtime};

/// The tracepoint family.
pub(crate) struct Tracepoint;

impl ProbeFamily for Tracepoint {
    fn family(&self) -> Family {
        Family::Tracepoint
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "kernel.trace(s)",
            "kernel.mark(s)",
            "kernel.mark(s).format(s)",
        ]
    }
    fn uses_resolver(&self) -> bool {
        true
    }
    fn build(&self, p: &ProbePoint, _: &BuildCx) -> Result<ProbeKind, Refusal> {
        let name = match p.components.get(1).and_then(|c| c.arg.as_ref()) {
            Some(PointArg::String(s)) => s.clone(),
            _ => String::new(),
        };
        Ok(ProbeKind::Tracepoint { name })
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    fn runs_on(&self, runtime: Runtime) -> bool {
        runtime == Runtime::Kernel
    }
}

//! `perfmon.counter("EVENT")`: a counting perf event on every CPU, opened before the
//! begin probes; the probe runs once, with `$counter` its handle for `read_counter()`.

use super::{BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, PointArg, ProbeKind, ProbePoint, Runtime, PERFMON_EVENTS};

/// The perfmon family.
pub(crate) struct Perfmon;

impl ProbeFamily for Perfmon {
    fn family(&self) -> Family {
        Family::Perfmon
    }
    fn patterns(&self) -> &'static [&'static str] {
        &["perfmon.counter(s)"]
    }
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        let name = match &p.components[1].arg {
            Some(PointArg::String(s)) => s.as_str(),
            _ => "",
        };
        match PERFMON_EVENTS.iter().position(|(n, _, _)| *n == name) {
            Some(handle) => Ok(ProbeKind::Perfmon {
                handle,
                ty: PERFMON_EVENTS[handle].1,
                config: PERFMON_EVENTS[handle].2,
            }),
            None => {
                let known: Vec<&str> = PERFMON_EVENTS.iter().map(|e| e.0).collect();
                Err(Refusal::soft(
                    "sema.perfmon-event",
                    format!(
                        "perfmon.counter(\"{}\"): no such event (known: {})",
                        name,
                        known.join(", ")
                    ),
                    cx.span,
                ))
            }
        }
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    fn runs_on(&self, runtime: Runtime) -> bool {
        runtime == Runtime::Kernel
    }
}

//! `kernel.function`, `kernel.statement`, `module("M").function|statement` and
//! `kernel.data`: kernel points found through BTF, symbols and DWARF, run as kprobes.

use super::kprobe::build_kprobe;
use super::{BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, ProbeKind, ProbePoint, Runtime};

/// The DWARF kernel family.
pub(crate) struct KernelDwarf;

impl ProbeFamily for KernelDwarf {
    fn family(&self) -> Family {
        Family::KernelDwarf
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "kernel.function(ns)",
            "kernel.function(ns).call",
            "kernel.function(ns).exported",
            "kernel.function(ns).return",
            "kernel.function(ns).return.maxactive(n)",
            "kernel.function(ns).inline",
            "kernel.function(s).label(s)",
            "kernel.function(s).callee(s)",
            "kernel.function(s).callees",
            "kernel.function(s).callees(n)",
            "kernel.statement(ns)",
            "kernel.statement(ns).nearest",
            "kernel.statement(n).absolute",
            "module(s).function(ns)",
            "module(s).function(ns).call",
            "module(s).function(ns).exported",
            "module(s).function(ns).return",
            "module(s).function(ns).return.maxactive(n)",
            "module(s).function(ns).inline",
            "module(s).function(s).label(s)",
            "module(s).function(s).callee(s)",
            "module(s).function(s).callees",
            "module(s).statement(ns)",
            "module(s).statement(ns).nearest",
            "kernel.data(ns).write",
            "kernel.data(ns).rw",
            "kernel.data(ns).length(n).write",
            "kernel.data(ns).length(n).rw",
        ]
    }
    fn uses_resolver(&self) -> bool {
        true
    }
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        build_kprobe(p, Family::KernelDwarf, cx)
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    fn runs_on(&self, runtime: Runtime) -> bool {
        runtime == Runtime::Kernel
    }
}

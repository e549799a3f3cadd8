//! `kprobe.*`: kprobes by symbol name, without debug data.

use super::{check_absolute, has, maxactive, string, BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, ProbeKind, ProbePoint, Runtime};

/// `kprobe.function("F")[.call|.return[.maxactive(n)]]`, `kprobe.module("M").function(..)`,
/// `kprobe.statement(ADDR).absolute`
pub(crate) struct Kprobe;

/// The name the kernel knows a module by: `module("/path/to/x-y.ko")` is `x_y`.
pub(crate) fn module_name(m: &str) -> String {
    let base = m.rsplit('/').next().unwrap_or(m);
    base.strip_suffix(".ko").unwrap_or(base).replace('-', "_")
}

/// The kprobe a kernel point becomes: at the site the resolver found (module functions
/// and statements, from DWARF), else at its function's symbol; `.absolute` at the raw
/// address.
pub(crate) fn build_kprobe(
    p: &ProbePoint,
    family: Family,
    cx: &BuildCx,
) -> Result<ProbeKind, Refusal> {
    check_absolute(p, cx)?;
    let maxactive = maxactive(p, cx)?;
    if has(p, "absolute") {
        let addr = p.components.get(1).and_then(|c| match c.arg {
            Some(crate::ir::PointArg::Number(n)) => Some(n as u64),
            _ => None,
        });
        return Ok(ProbeKind::Kprobe {
            symbol: String::new(),
            offset: 0,
            ret: false,
            maxactive: 0,
            addr: Some(addr.unwrap_or(0)),
        });
    }
    let func = string(p, "function").unwrap_or_default();
    let (symbol, offset) = match (cx.resolver.site(p, family), string(p, "module")) {
        (Some((s, off)), _) => (s, off),
        (None, Some(m)) if m != "kernel" => (format!("{}:{}", module_name(&m), func), 0),
        _ => (func, 0),
    };
    Ok(ProbeKind::Kprobe {
        symbol,
        offset,
        ret: has(p, "return"),
        maxactive,
        addr: None,
    })
}

impl ProbeFamily for Kprobe {
    fn family(&self) -> Family {
        Family::Kprobe
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "kprobe.function(s)",
            "kprobe.function(s).call",
            "kprobe.function(s).return",
            "kprobe.function(s).return.maxactive(n)",
            "kprobe.module(s).function(s)",
            "kprobe.module(s).function(s).call",
            "kprobe.module(s).function(s).return",
            "kprobe.module(s).function(s).return.maxactive(n)",
            "kprobe.statement(n).absolute",
        ]
    }
    fn uses_resolver(&self) -> bool {
        true
    }
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        build_kprobe(p, Family::Kprobe, cx)
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    fn runs_on(&self, runtime: Runtime) -> bool {
        runtime == Runtime::Kernel
    }
}

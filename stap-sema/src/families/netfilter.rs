//! `netfilter.hook("H").pf("PF")[.priority("P")]`: a netfilter hook.  The kernel runtime
//! cannot run them yet; pass 2 checks them as SystemTap does.

use super::{string, BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, ProbeKind, ProbePoint, Runtime};

/// The netfilter family.
pub(crate) struct Netfilter;

const HOOKS: &[&str] = &[
    "NF_INET_PRE_ROUTING",
    "NF_INET_LOCAL_IN",
    "NF_INET_FORWARD",
    "NF_INET_LOCAL_OUT",
    "NF_INET_POST_ROUTING",
    "NF_IP_PRE_ROUTING",
    "NF_IP_LOCAL_IN",
    "NF_IP_FORWARD",
    "NF_IP_LOCAL_OUT",
    "NF_IP_POST_ROUTING",
    "NF_IP6_PRE_ROUTING",
    "NF_IP6_LOCAL_IN",
    "NF_IP6_FORWARD",
    "NF_IP6_LOCAL_OUT",
    "NF_IP6_POST_ROUTING",
    "NF_ARP_IN",
    "NF_ARP_OUT",
    "NF_ARP_FORWARD",
];

const PFS: &[&str] = &[
    "NFPROTO_IPV4",
    "NFPROTO_IPV6",
    "NFPROTO_ARP",
    "NFPROTO_BRIDGE",
    "NFPROTO_INET",
];

impl ProbeFamily for Netfilter {
    fn family(&self) -> Family {
        Family::Netfilter
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "netfilter.hook(s).pf(s)",
            "netfilter.pf(s).hook(s)",
            "netfilter.hook(s).pf(s).priority(s)",
            "netfilter.pf(s).hook(s).priority(s)",
        ]
    }
    fn uses_resolver(&self) -> bool {
        true
    }
    /// Guru mode may name hooks and families this table does not know.
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        let hook = string(p, "hook").unwrap_or_default();
        let pf = string(p, "pf").unwrap_or_default();
        if !cx.guru {
            if !HOOKS.contains(&hook.as_str()) && hook.parse::<i64>().is_err() {
                return Err(Refusal::soft(
                    "sema.netfilter",
                    format!("unknown netfilter hook '{}'", hook),
                    cx.span,
                ));
            }
            if !PFS.contains(&pf.as_str()) && pf.parse::<i64>().is_err() {
                return Err(Refusal::soft(
                    "sema.netfilter",
                    format!("unknown netfilter protocol family '{}'", pf),
                    cx.span,
                ));
            }
        }
        Ok(ProbeKind::Netfilter { hook, pf })
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    fn runs_on(&self, _: Runtime) -> bool {
        false
    }
}

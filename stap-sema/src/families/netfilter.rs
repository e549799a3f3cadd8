//! `netfilter.hook("H").pf("PF")[.priority("P")]`: a netfilter hook, registered in every
//! network namespace.  Its target variables are `$hooknum`, `$skb`, `$in`, `$out` and
//! `$okfn` (numbers: the hook's number and addresses), and, under `-g`, `$verdict`: what
//! the hook returns (`NF_ACCEPT` unless the probe assigns it).

use super::{string, BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, ProbeKind, ProbePoint, ResolvedTarget, Runtime, TargetExpr};
use crate::ir::{TargetResult, TargetSource};

/// The netfilter family.
pub(crate) struct Netfilter;

/// Hook names and their numbers (the kernel's `enum nf_inet_hooks`, and the older
/// per-protocol names with the same numbers; ARP's own three; the bridge's five).
const HOOKS: &[(&str, i64)] = &[
    ("NF_INET_PRE_ROUTING", 0),
    ("NF_INET_LOCAL_IN", 1),
    ("NF_INET_FORWARD", 2),
    ("NF_INET_LOCAL_OUT", 3),
    ("NF_INET_POST_ROUTING", 4),
    ("NF_IP_PRE_ROUTING", 0),
    ("NF_IP_LOCAL_IN", 1),
    ("NF_IP_FORWARD", 2),
    ("NF_IP_LOCAL_OUT", 3),
    ("NF_IP_POST_ROUTING", 4),
    ("NF_IP6_PRE_ROUTING", 0),
    ("NF_IP6_LOCAL_IN", 1),
    ("NF_IP6_FORWARD", 2),
    ("NF_IP6_LOCAL_OUT", 3),
    ("NF_IP6_POST_ROUTING", 4),
    ("NF_ARP_IN", 0),
    ("NF_ARP_OUT", 1),
    ("NF_ARP_FORWARD", 2),
    ("NF_BR_PRE_ROUTING", 0),
    ("NF_BR_LOCAL_IN", 1),
    ("NF_BR_FORWARD", 2),
    ("NF_BR_LOCAL_OUT", 3),
    ("NF_BR_POST_ROUTING", 4),
];

/// Protocol families (`NFPROTO_*`).
const PFS: &[(&str, i64)] = &[
    ("NFPROTO_INET", 1),
    ("NFPROTO_IPV4", 2),
    ("NFPROTO_ARP", 3),
    ("NFPROTO_BRIDGE", 7),
    ("NFPROTO_IPV6", 10),
];

/// Hook priorities by name (`NF_IP_PRI_*`, `NF_IP6_PRI_*`).
const PRIORITIES: &[(&str, i64)] = &[
    ("NF_IP_PRI_FIRST", i32::MIN as i64),
    ("NF_IP_PRI_CONNTRACK_DEFRAG", -400),
    ("NF_IP_PRI_RAW", -300),
    ("NF_IP_PRI_SELINUX_FIRST", -225),
    ("NF_IP_PRI_CONNTRACK", -200),
    ("NF_IP_PRI_MANGLE", -150),
    ("NF_IP_PRI_NAT_DST", -100),
    ("NF_IP_PRI_FILTER", 0),
    ("NF_IP_PRI_SECURITY", 50),
    ("NF_IP_PRI_NAT_SRC", 100),
    ("NF_IP_PRI_SELINUX_LAST", 225),
    ("NF_IP_PRI_CONNTRACK_HELPER", 300),
    ("NF_IP_PRI_CONNTRACK_CONFIRM", i32::MAX as i64),
    ("NF_IP_PRI_LAST", i32::MAX as i64),
    ("NF_IP6_PRI_FIRST", i32::MIN as i64),
    ("NF_IP6_PRI_CONNTRACK_DEFRAG", -400),
    ("NF_IP6_PRI_RAW", -300),
    ("NF_IP6_PRI_SELINUX_FIRST", -225),
    ("NF_IP6_PRI_CONNTRACK", -200),
    ("NF_IP6_PRI_MANGLE", -150),
    ("NF_IP6_PRI_NAT_DST", -100),
    ("NF_IP6_PRI_FILTER", 0),
    ("NF_IP6_PRI_SECURITY", 50),
    ("NF_IP6_PRI_NAT_SRC", 100),
    ("NF_IP6_PRI_SELINUX_LAST", 225),
    ("NF_IP6_PRI_CONNTRACK_HELPER", 300),
    ("NF_IP6_PRI_LAST", i32::MAX as i64),
];

/// The target variables read from what the hook got, in the runtime's argument order.
const VARS: &[&str] = &["$hooknum", "$skb", "$in", "$out", "$okfn"];

/// A name from `table`, or a number (any number only under `-g`), as the C the probe
/// table gets; under `-g` another C identifier too, as SystemTap passes it to the compiler
/// (a macro the script's embedded C defines, say).
fn value(table: &[(&str, i64)], s: &str, guru: bool, range: (i64, i64)) -> Option<String> {
    if let Some((_, v)) = table.iter().find(|(n, _)| *n == s) {
        return Some(v.to_string());
    }
    if let Ok(n) = s.trim().parse::<i64>() {
        return (guru || (range.0..=range.1).contains(&n)).then(|| n.to_string());
    }
    let ident = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (guru && ident).then(|| s.to_string())
}

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
    /// Names are the kernel's; numbers are taken in the kernel's ranges (any under `-g`).
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        let hook_s = string(p, "hook").unwrap_or_default();
        let pf_s = string(p, "pf").unwrap_or_default();
        let Some(hook) = value(HOOKS, &hook_s, cx.guru, (0, 4)) else {
            return Err(Refusal::soft(
                "sema.netfilter",
                format!("unknown netfilter hook '{}'; need stap -g", hook_s),
                cx.span,
            ));
        };
        let Some(pf) = value(PFS, &pf_s, cx.guru, (0, 12)) else {
            return Err(Refusal::soft(
                "sema.netfilter",
                format!("unknown netfilter protocol family '{}'; need stap -g", pf_s),
                cx.span,
            ));
        };
        let priority = match string(p, "priority") {
            None => "0".to_string(),
            Some(s) => {
                let range = (i32::MIN as i64, i32::MAX as i64);
                let fits = |v: &String| {
                    v.parse::<i64>()
                        .map_or(true, |n| range.0 <= n && n <= range.1)
                };
                match value(PRIORITIES, &s, cx.guru, range).filter(fits) {
                    Some(v) => v,
                    None => {
                        return Err(Refusal::soft(
                            "sema.netfilter",
                            format!("unsupported netfilter priority \"{}\"; need stap -g", s),
                            cx.span,
                        ))
                    }
                }
            }
        };
        Ok(ProbeKind::Netfilter { hook, pf, priority })
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    /// `$verdict` needs `-g`, to read or assign; the others are read-only numbers.
    fn context_var_error(
        &self,
        _: &ProbePoint,
        name: &str,
        t: &TargetExpr,
        writing: bool,
        guru: bool,
    ) -> Option<String> {
        if name == "$verdict" {
            if !guru {
                return Some("write to netfilter verdict requires guru mode; need stap -g".into());
            }
        } else if writing && VARS.contains(&name) {
            return Some(format!(
                "netfilter probe variable '{}' cannot be assigned",
                name
            ));
        }
        if VARS.contains(&name) || name == "$verdict" {
            if !t.components.is_empty() {
                return Some(format!(
                    "'{}' is a number: it has no fields or elements",
                    name
                ));
            }
        }
        None
    }
    fn runs_on(&self, r: Runtime) -> bool {
        r == Runtime::Kernel
    }
}

/// What `$name` is in a netfilter probe, or why there is no such variable.
pub(crate) fn target(name: &str, comps: &[Option<&str>]) -> Result<ResolvedTarget, String> {
    let source = match VARS.iter().position(|v| *v == name) {
        Some(i) => TargetSource::Param(i as u32),
        None if name == "$verdict" => TargetSource::Verdict,
        None => return Err(format!("unsupported context variable '{}': a netfilter probe has $hooknum, $skb, $in, $out, $okfn and $verdict", name)),
    };
    if !comps.is_empty() {
        return Err(format!(
            "'{}' is a number: it has no fields or elements",
            name
        ));
    }
    Ok(ResolvedTarget {
        source,
        ops: Vec::new(),
        result: TargetResult::Long,
        c_type: "long".into(),
        pretty: Vec::new(),
        pretty_deep: Vec::new(),
    })
}

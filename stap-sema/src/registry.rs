//! The registry of built-in probe-point families.
//!
//! Each family is a list of component patterns: a fixed name and what parameter it takes
//! (`timer.ms(n).randomize(n)`).  A written probe point (possibly with `*` in component
//! names) is matched against every pattern; the matches are concrete points.

use crate::ir::{Family, PointArg, PointComponent, ProbePoint};
use stap_syntax::preprocess::glob_match;

/// What parameter a pattern component takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgSpec {
    /// None.
    None,
    /// A number.
    Number,
    /// A string.
    String,
    /// A number or a string.
    Either,
    /// Optionally a string.
    OptString,
    /// Optionally a number or a string.
    OptEither,
}

/// One component of a family pattern.
#[derive(Clone, Debug)]
pub struct PatternComponent {
    /// The fixed name.
    pub name: &'static str,
    /// The parameter it takes.
    pub arg: ArgSpec,
}

/// A probe-point family pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The components.
    pub components: Vec<PatternComponent>,
    /// The family it belongs to.
    pub family: Family,
}

impl Pattern {
    /// The pattern as `--dump-probe-types` shows it: `timer.ms(number).randomize(number)`.
    pub fn describe(&self) -> String {
        self.components
            .iter()
            .map(|c| {
                let a = match c.arg {
                    ArgSpec::None => "",
                    ArgSpec::Number => "(number)",
                    ArgSpec::String => "(string)",
                    ArgSpec::Either => "(number|string)",
                    ArgSpec::OptString => "[(string)]",
                    ArgSpec::OptEither => "[(number|string)]",
                };
                format!("{}{}", c.name, a)
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Patterns in a compact notation: `name(n)` number, `(s)` string, `(ns)` either,
/// `(s?)`/`(ns?)` optional.
const PATTERNS: &[(Family, &[&str])] = &[
    (Family::Begin, &["begin", "begin(n)"]),
    (Family::End, &["end", "end(n)"]),
    (Family::Error, &["error", "error(n)"]),
    (Family::Never, &["never"]),
    (
        Family::Timer,
        &[
            "timer.jiffies(n)",
            "timer.jiffies(n).randomize(n)",
            "timer.s(n)",
            "timer.s(n).randomize(n)",
            "timer.sec(n)",
            "timer.sec(n).randomize(n)",
            "timer.ms(n)",
            "timer.ms(n).randomize(n)",
            "timer.msec(n)",
            "timer.msec(n).randomize(n)",
            "timer.us(n)",
            "timer.us(n).randomize(n)",
            "timer.usec(n)",
            "timer.usec(n).randomize(n)",
            "timer.ns(n)",
            "timer.ns(n).randomize(n)",
            "timer.nsec(n)",
            "timer.nsec(n).randomize(n)",
            "timer.hz(n)",
        ],
    ),
    (
        Family::TimerProfile,
        &["timer.profile", "timer.profile.tick"],
    ),
    (
        Family::KernelDwarf,
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
        ],
    ),
    (
        Family::Kprobe,
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
        ],
    ),
    (
        Family::Tracepoint,
        &[
            "kernel.trace(s)",
            "kernel.mark(s)",
            "kernel.mark(s).format(s)",
        ],
    ),
    (
        Family::Process,
        &[
            "process(ns?).begin",
            "process(ns?).end",
            "process(ns?).thread.begin",
            "process(ns?).thread.end",
            "process(ns?).syscall",
            "process(ns?).syscall.return",
            "process(s?).function(ns)",
            "process(s?).function(ns).call",
            "process(s?).function(ns).return",
            "process(s?).function(ns).inline",
            "process(s?).function(ns).exported",
            "process(s?).function(s).label(s)",
            "process(s?).statement(ns)",
            "process(s?).statement(ns).nearest",
            "process(s?).statement(n).absolute",
            "process(s?).statement(n).absolute.return",
            "process(s?).library(s).function(ns)",
            "process(s?).library(s).function(ns).call",
            "process(s?).library(s).function(ns).return",
            "process(s?).library(s).statement(ns)",
            "process(s?).library(s).mark(s)",
            "process(s?).library(s).provider(s).mark(s)",
            "process(s?).library(s).plt(s?)",
            "process(s?).library(s).plt(s?).return",
            "process(s?).mark(s)",
            "process(s?).provider(s).mark(s)",
            "process(s?).plt(s?)",
            "process(s?).plt(s?).return",
            "process(ns?).insn",
            "process(ns?).insn.block",
            "process(ns?).data(ns).write",
            "process(ns?).data(ns).rw",
        ],
    ),
    (
        Family::Perf,
        &[
            "perf.type(n).config(n)",
            "perf.type(n).config(n).sample(n)",
            "perf.type(n).config(n).hz(n)",
            "perf.type(n).config(n).process(s?)",
            "perf.type(n).config(n).counter(s)",
            "perf.type(n).config(n).process(s?).counter(s)",
            "perf.type(n).config(n).sample(n).process(s?)",
        ],
    ),
    (Family::Perfmon, &["perfmon.counter(s)"]),
    (
        Family::Procfs,
        &[
            "procfs(s?).read",
            "procfs(s?).read.maxsize(n)",
            "procfs(s?).write",
            "procfs(s?).umask(n).read",
            "procfs(s?).umask(n).read.maxsize(n)",
            "procfs(s?).umask(n).write",
        ],
    ),
    (
        Family::Netfilter,
        &[
            "netfilter.hook(s).pf(s)",
            "netfilter.pf(s).hook(s)",
            "netfilter.hook(s).pf(s).priority(s)",
            "netfilter.pf(s).hook(s).priority(s)",
        ],
    ),
];

fn parse_pattern(text: &'static str, family: Family) -> Pattern {
    let components = text
        .split('.')
        .map(|c| match c.split_once('(') {
            None => PatternComponent {
                name: c,
                arg: ArgSpec::None,
            },
            Some((name, spec)) => PatternComponent {
                name,
                arg: match spec.trim_end_matches(')') {
                    "n" => ArgSpec::Number,
                    "s" => ArgSpec::String,
                    "ns" => ArgSpec::Either,
                    "s?" => ArgSpec::OptString,
                    _ => ArgSpec::OptEither,
                },
            },
        })
        .collect();
    Pattern { components, family }
}

/// The built-in probe-point families.
#[derive(Clone, Debug)]
pub struct Registry {
    /// Every pattern.
    pub patterns: Vec<Pattern>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

/// A written component as matching needs it: a name (glob) and a literal parameter.
#[derive(Clone, Debug)]
pub struct WrittenComponent {
    /// The name, maybe with `*`/`?`.
    pub name: String,
    /// The parameter.
    pub arg: Option<PointArg>,
}

impl Registry {
    /// The registry of every family this translator knows.
    pub fn new() -> Registry {
        let mut patterns = Vec::new();
        for (family, texts) in PATTERNS {
            for t in *texts {
                patterns.push(parse_pattern(t, *family));
            }
        }
        Registry { patterns }
    }

    /// Every concrete point a written point matches, with its family.
    pub fn matches(&self, written: &[WrittenComponent]) -> Vec<(ProbePoint, Family)> {
        let mut out = Vec::new();
        for p in &self.patterns {
            if p.components.len() != written.len() {
                continue;
            }
            let mut comps = Vec::new();
            let mut ok = true;
            for (pc, wc) in p.components.iter().zip(written) {
                if !glob_match(&wc.name, pc.name) {
                    ok = false;
                    break;
                }
                let fits = match (&wc.arg, pc.arg) {
                    (None, ArgSpec::None | ArgSpec::OptString | ArgSpec::OptEither) => true,
                    (
                        Some(PointArg::Number(_)),
                        ArgSpec::Number | ArgSpec::Either | ArgSpec::OptEither,
                    ) => true,
                    (
                        Some(PointArg::String(_)),
                        ArgSpec::String | ArgSpec::Either | ArgSpec::OptString | ArgSpec::OptEither,
                    ) => true,
                    _ => false,
                };
                if !fits {
                    ok = false;
                    break;
                }
                comps.push(PointComponent {
                    name: pc.name.to_string(),
                    arg: wc.arg.clone(),
                });
            }
            if ok {
                let pp = ProbePoint {
                    components: comps,
                    instance: 0,
                };
                if !out.iter().any(|(q, _)| q == &pp) {
                    out.push((pp, p.family));
                }
            }
        }
        out
    }

    /// Names of first components, for "similar" suggestions.
    pub fn first_components(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.patterns.iter().map(|p| p.components[0].name).collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(parts: &[(&str, Option<PointArg>)]) -> Vec<WrittenComponent> {
        parts
            .iter()
            .map(|(n, a)| WrittenComponent {
                name: n.to_string(),
                arg: a.clone(),
            })
            .collect()
    }

    #[test]
    fn timer_matches_with_number() {
        let r = Registry::new();
        let m = r.matches(&w(&[("timer", None), ("ms", Some(PointArg::Number(100)))]));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].0.to_string(), "timer.ms(100)");
        assert!(r.matches(&w(&[("timer", None), ("ms", None)])).is_empty());
    }

    #[test]
    fn wildcards_expand() {
        let r = Registry::new();
        let m = r.matches(&w(&[("timer", None), ("*s", Some(PointArg::Number(1)))]));
        let names: Vec<String> = m.iter().map(|(p, _)| p.to_string()).collect();
        assert!(names.contains(&"timer.ms(1)".to_string()), "{names:?}");
        assert!(names.contains(&"timer.us(1)".to_string()));
        assert!(names.contains(&"timer.ns(1)".to_string()));
        assert!(names.contains(&"timer.s(1)".to_string()));
    }

    #[test]
    fn optional_parameters() {
        let r = Registry::new();
        assert_eq!(
            r.matches(&w(&[("process", None), ("begin", None)])).len(),
            1
        );
        assert_eq!(
            r.matches(&w(&[
                ("process", Some(PointArg::String("/bin/ls".into()))),
                ("begin", None)
            ]))
            .len(),
            1
        );
    }
}

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

// Patterns come from the families (`crate::families`), in a compact notation: `name(n)`
// number, `(s)` string, `(ns)` either, `(s?)`/`(ns?)` optional.

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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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
        for f in crate::families::FAMILIES {
            for t in f.patterns() {
                patterns.push(parse_pattern(t, f.family()));
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

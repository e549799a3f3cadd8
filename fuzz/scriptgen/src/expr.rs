//! Expressions: type-directed, of bounded depth.

use crate::{Gen, GlobalKind, Scope, Ty};

/// Deeper than this, only leaves.
const MAX_DEPTH: u32 = 4;

/// Long literals, edges included.
const LONGS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "42",
    "255",
    "256",
    "1000",
    "65536",
    "-9223372036854775808",
    "9223372036854775807",
    "0x7fffffff",
    "0xffffffff",
    "0x10",
    "0777",
    "-100",
    "4294967296",
];

/// String literal pieces, escapes included.
const STRS: &[&str] = &[
    "",
    "a",
    "abc",
    "hello world",
    "x\\ty",
    "line\\n",
    "q\\\"uote",
    "back\\\\slash",
    "%d",
    "%%",
    "0x1f",
    "12",
    "-7",
    "  pad  ",
    "\\001\\177",
    "\\x41",
];

const LONG_BINARY: &[&str] = &[
    "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "&&", "||", "<", "<=", ">", ">=", "==",
    "!=",
];

const STR_COMPARE: &[&str] = &["<", "<=", ">", ">=", "==", "!="];

impl Gen {
    pub(crate) fn long_literal(&mut self) -> String {
        if self.chance(3) {
            self.rng.i64(-50..50).to_string()
        } else {
            self.pick(LONGS).to_string()
        }
    }

    pub(crate) fn str_literal(&mut self) -> String {
        format!("\"{}\"", self.pick(STRS))
    }

    /// An expression of type `t` readable in `scope`.
    pub(crate) fn expr(&mut self, t: Ty, scope: &Scope, depth: u32) -> String {
        if depth >= MAX_DEPTH || self.chance(3) {
            return self.leaf(t, scope);
        }
        match t {
            Ty::Long => self.long_expr(scope, depth + 1),
            Ty::Str => self.str_expr(scope, depth + 1),
        }
    }

    /// A literal, a variable or an element.
    fn leaf(&mut self, t: Ty, scope: &Scope) -> String {
        let mut options: Vec<String> = scope
            .locals
            .iter()
            .filter(|(_, lt)| *lt == t)
            .map(|(n, _)| n.clone())
            .collect();
        for g in &self.globals {
            if matches!(g.kind, GlobalKind::Scalar(gt) if gt == t) {
                options.push(g.name.clone());
            }
        }
        if !options.is_empty() && self.chance(2) {
            return self.pick(&options).clone();
        }
        match t {
            Ty::Long => self.long_literal(),
            Ty::Str => self.str_literal(),
        }
    }

    fn element(&mut self, t: Ty, scope: &Scope, depth: u32) -> Option<String> {
        let arrays: Vec<(String, Vec<Ty>)> = self
            .globals
            .iter()
            .filter_map(|g| match &g.kind {
                GlobalKind::Array { keys, val } if *val == t => {
                    Some((g.name.clone(), keys.clone()))
                }
                _ => None,
            })
            .collect();
        if arrays.is_empty() {
            return None;
        }
        let (name, keys) = self.pick(&arrays).clone();
        let k = self.keys(&keys, scope, depth + 1);
        Some(format!("{}[{}]", name, k))
    }

    fn call(&mut self, t: Ty, scope: &Scope, depth: u32) -> Option<String> {
        // A function may change the array a foreach around here iterates.
        if !scope.iterating.is_empty() {
            return None;
        }
        let funcs: Vec<_> = self
            .funcs
            .iter()
            .filter(|f| f.ret == Some(t))
            .cloned()
            .collect();
        if funcs.is_empty() {
            return None;
        }
        let f = self.pick(&funcs).clone();
        let args: Vec<String> = f
            .params
            .iter()
            .map(|p| self.expr(*p, scope, depth + 1))
            .collect();
        Some(format!("{}({})", f.name, args.join(", ")))
    }

    fn long_expr(&mut self, scope: &Scope, depth: u32) -> String {
        let e = |g: &mut Gen, t| g.expr(t, scope, depth);
        match self.rng.u32(0..24) {
            0..=4 => {
                let op = *self.pick(LONG_BINARY);
                format!("({} {} {})", e(self, Ty::Long), op, e(self, Ty::Long))
            }
            5 => {
                let op = *self.pick(STR_COMPARE);
                format!("({} {} {})", e(self, Ty::Str), op, e(self, Ty::Str))
            }
            6 => {
                let op = *self.pick(&["-", "!", "~", "+"]);
                format!("{}({})", op, e(self, Ty::Long))
            }
            7 => format!(
                "({} ? {} : {})",
                e(self, Ty::Long),
                e(self, Ty::Long),
                e(self, Ty::Long)
            ),
            8 => self
                .element(Ty::Long, scope, depth)
                .unwrap_or_else(|| self.leaf(Ty::Long, scope)),
            9 => self
                .call(Ty::Long, scope, depth)
                .unwrap_or_else(|| self.leaf(Ty::Long, scope)),
            10 => match self.rng.u32(0..6) {
                0 => format!("strlen({})", e(self, Ty::Str)),
                1 => format!("isinstr({}, {})", e(self, Ty::Str), e(self, Ty::Str)),
                2 => {
                    let base = *self.pick(&["0", "2", "8", "10", "16", "36"]);
                    format!("strtol({}, {})", e(self, Ty::Str), base)
                }
                3 => format!("isdigit({})", e(self, Ty::Str)),
                4 => format!("stringat({}, {})", e(self, Ty::Str), e(self, Ty::Long)),
                _ => format!("randint({})", self.rng.u32(1..1000)),
            },
            11 => self.aggregate(scope, depth),
            12 => self.membership(scope, depth),
            13 => {
                // Increments and assignments as values (globals: their type is fixed).
                let scalars: Vec<String> = self
                    .globals
                    .iter()
                    .filter(|g| matches!(g.kind, GlobalKind::Scalar(Ty::Long)))
                    .map(|g| g.name.clone())
                    .collect();
                if scalars.is_empty() {
                    return self.leaf(Ty::Long, scope);
                }
                let v = self.pick(&scalars).clone();
                match self.rng.u32(0..4) {
                    0 => format!("{}++", v),
                    1 => format!("--{}", v),
                    2 => format!("({} += {})", v, e(self, Ty::Long)),
                    _ => format!("({} = {})", v, e(self, Ty::Long)),
                }
            }
            14 => self
                .pick(&["cpu()", "pid()", "tid()", "uid()", "gettimeofday_s()"])
                .to_string(),
            15 if self.twice => format!("@TWICE({})", e(self, Ty::Long)),
            16 => {
                let re = *self.pick(&[
                    "^a",
                    "b+$",
                    "[0-9]+",
                    "x|y",
                    "^$",
                    "(ab)*c?",
                    "\\.",
                    "[[:digit:]]",
                ]);
                let op = *self.pick(&["=~", "!~"]);
                format!("({} {} \"{}\")", e(self, Ty::Str), op, re)
            }
            17 => format!(
                "%( $# == 0 %? {} %: {} %)",
                e(self, Ty::Long),
                e(self, Ty::Long)
            ),
            _ => self.leaf(Ty::Long, scope),
        }
    }

    fn str_expr(&mut self, scope: &Scope, depth: u32) -> String {
        let e = |g: &mut Gen, t| g.expr(t, scope, depth);
        match self.rng.u32(0..16) {
            0..=2 => format!("{} . {}", e(self, Ty::Str), e(self, Ty::Str)),
            3 => format!(
                "substr({}, {}, {})",
                e(self, Ty::Str),
                e(self, Ty::Long),
                e(self, Ty::Long)
            ),
            4 => format!("sprint({})", e(self, Ty::Long)),
            5 => self.sprintf(scope, depth),
            6 => match self.rng.u32(0..5) {
                0 => format!("text_str({})", e(self, Ty::Str)),
                1 => format!(
                    "text_strn({}, {}, {})",
                    e(self, Ty::Str),
                    self.rng.u32(0..20),
                    self.rng.u32(0..2)
                ),
                2 => format!("string_quoted({})", e(self, Ty::Str)),
                3 => format!(
                    "str_replace({}, {}, {})",
                    e(self, Ty::Str),
                    e(self, Ty::Str),
                    e(self, Ty::Str)
                ),
                _ => format!("ctime({})", e(self, Ty::Long)),
            },
            7 => format!(
                "({} ? {} : {})",
                e(self, Ty::Long),
                e(self, Ty::Str),
                e(self, Ty::Str)
            ),
            8 => self
                .element(Ty::Str, scope, depth)
                .unwrap_or_else(|| self.leaf(Ty::Str, scope)),
            9 => self
                .call(Ty::Str, scope, depth)
                .unwrap_or_else(|| self.leaf(Ty::Str, scope)),
            10 => self.pick(&["execname()", "pp()", "\"\""]).to_string(),
            _ => self.leaf(Ty::Str, scope),
        }
    }

    /// `@count(s)` and its kin, of a statistic or an element of a statistics array.
    fn aggregate(&mut self, scope: &Scope, depth: u32) -> String {
        let Some(s) = self.stat_ref(scope, depth) else {
            return self.leaf(Ty::Long, scope);
        };
        let op = *self.pick(&["@count", "@sum", "@min", "@max", "@avg", "@variance"]);
        format!("{}({})", op, s)
    }

    /// A statistic, or an element of a statistics array.
    pub(crate) fn stat_ref(&mut self, scope: &Scope, depth: u32) -> Option<String> {
        let stats: Vec<(String, Option<Vec<Ty>>)> = self
            .globals
            .iter()
            .filter_map(|g| match &g.kind {
                GlobalKind::Stat => Some((g.name.clone(), None)),
                GlobalKind::StatArray { keys } => Some((g.name.clone(), Some(keys.clone()))),
                _ => None,
            })
            .collect();
        if stats.is_empty() {
            return None;
        }
        let (name, keys) = self.pick(&stats).clone();
        Some(match keys {
            None => name,
            Some(keys) => format!("{}[{}]", name, self.keys(&keys, scope, depth + 1)),
        })
    }

    fn membership(&mut self, scope: &Scope, depth: u32) -> String {
        let arrays: Vec<(String, Vec<Ty>)> = self
            .globals
            .iter()
            .filter_map(|g| match &g.kind {
                GlobalKind::Array { keys, .. } | GlobalKind::StatArray { keys } => {
                    Some((g.name.clone(), keys.clone()))
                }
                _ => None,
            })
            .collect();
        if arrays.is_empty() {
            return self.leaf(Ty::Long, scope);
        }
        let (name, keys) = self.pick(&arrays).clone();
        let k = self.keys(&keys, scope, depth + 1);
        let negate = if self.chance(3) { "!" } else { "" };
        format!("({}([{}] in {}))", negate, k, name)
    }

    /// A printf-style format and its arguments: every directive and flag.
    pub(crate) fn format_and_args(&mut self, scope: &Scope, depth: u32) -> (String, Vec<String>) {
        let mut fmt = String::new();
        let mut args = Vec::new();
        for _ in 0..self.rng.usize(0..5) {
            if self.chance(3) {
                let lit = *self.pick(&["x", " ", "%%", "\\n", "-", "\\t"]);
                fmt.push_str(lit);
            }
            let long = !self.chance(4);
            fmt.push('%');
            // 0 first: after another flag SystemTap reads it as the width's first digit.
            for f in ["0", "-", "+", " ", "#"] {
                if self.chance(6) {
                    fmt.push_str(f);
                }
            }
            if self.chance(6) {
                fmt.push('*');
                args.push(self.rng.i32(-5..25).to_string());
            } else if self.chance(2) {
                fmt.push_str(&self.rng.u32(1..25).to_string());
            }
            if self.chance(4) {
                fmt.push_str(&format!(".{}", self.rng.u32(0..12)));
            }
            if long {
                let conv = *self.pick(&["d", "i", "u", "x", "X", "o", "c", "p", "b"]);
                fmt.push_str(conv);
                args.push(self.expr(Ty::Long, scope, depth + 1));
            } else {
                fmt.push('s');
                args.push(self.expr(Ty::Str, scope, depth + 1));
            }
        }
        fmt.push_str("\\n");
        (format!("\"{}\"", fmt), args)
    }

    fn sprintf(&mut self, scope: &Scope, depth: u32) -> String {
        let (fmt, args) = self.format_and_args(scope, depth);
        let mut s = format!("sprintf({}", fmt);
        for a in args {
            s.push_str(", ");
            s.push_str(&a);
        }
        s.push(')');
        s
    }
}

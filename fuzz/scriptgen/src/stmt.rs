//! Statements: every form, with loops bounded and jumps only where they are allowed.

use crate::{Gen, GlobalKind, Scope, Ty};

/// Deeper than this, only simple statements.
const MAX_DEPTH: u32 = 3;

/// foreach sort suffixes.
const SORTS: &[&str] = &["", "", "+", "-"];

impl Gen {
    /// One statement (maybe a compound one) in `scope`; locals it assigns join the scope.
    pub(crate) fn statement(&mut self, scope: &mut Scope, depth: u32) {
        self.budget -= 1;
        let compound = depth < MAX_DEPTH && self.budget > 0;
        match self.rng.u32(0..24) {
            0..=3 => self.assign_local(scope),
            4 | 5 => self.assign_global(scope),
            6 | 7 => self.print(scope),
            8 if compound => self.if_statement(scope, depth),
            9 if compound => self.while_loop(scope, depth),
            10 if compound => self.for_loop(scope, depth),
            11 | 12 if compound => self.foreach(scope, depth),
            13 if compound => self.try_catch(scope, depth),
            14 if compound => {
                self.line("{");
                self.indent += 1;
                let mut inner = scope.clone();
                self.statement(&mut inner, depth + 1);
                self.indent -= 1;
                self.line("}");
            }
            15 => self.delete(scope),
            16 => self.histogram(scope),
            17 if scope.loops > 0 => {
                let jump = *self.pick(&["break", "continue"]);
                let c = self.expr(Ty::Long, scope, 2);
                self.line(&format!("if ({}) {}", c, jump));
            }
            18 => self.jump_out(scope),
            19 => self.call_statement(scope),
            20 => self.line(";"),
            21 => {
                let e = self.expr(Ty::Long, scope, 1);
                self.line(&format!("if ({} == 12345) error(\"stop\")", e));
            }
            _ => self.assign_local(scope),
        }
    }

    fn assign_local(&mut self, scope: &mut Scope) {
        let existing: Vec<(String, Ty)> = scope.locals.clone();
        if !existing.is_empty() && self.chance(2) {
            let (name, t) = self.pick(&existing).clone();
            let op = match t {
                Ty::Long => *self.pick(&[
                    "=", "+=", "-=", "*=", "/=", "%=", "<<=", ">>=", "&=", "|=", "^=",
                ]),
                Ty::Str => *self.pick(&["=", ".="]),
            };
            let e = self.expr(t, scope, 0);
            self.line(&format!("{} {} {}", name, op, e));
            return;
        }
        let t = self.ty();
        let e = self.expr(t, scope, 0);
        let name = self.fresh("l");
        self.line(&format!("{} = {}", name, e));
        scope.locals.push((name, t));
    }

    fn assign_global(&mut self, scope: &mut Scope) {
        if self.globals.is_empty() {
            return self.assign_local(scope);
        }
        let g = self.pick(&self.globals.clone()).clone();
        if scope.iterating.contains(&g.name) {
            return self.print(scope);
        }
        let text = match &g.kind {
            GlobalKind::Scalar(Ty::Long) => {
                let op = *self.pick(&["=", "+=", "-=", "|=", "^="]);
                format!("{} {} {}", g.name, op, self.expr(Ty::Long, scope, 0))
            }
            GlobalKind::Scalar(Ty::Str) => {
                let op = *self.pick(&["=", ".="]);
                format!("{} {} {}", g.name, op, self.expr(Ty::Str, scope, 0))
            }
            GlobalKind::Array { keys, val } => {
                let k = self.keys(keys, scope, 1);
                let op = match val {
                    Ty::Long => *self.pick(&["=", "+=", "++"]),
                    Ty::Str => *self.pick(&["=", ".="]),
                };
                if op == "++" {
                    format!("{}[{}]++", g.name, k)
                } else {
                    format!("{}[{}] {} {}", g.name, k, op, self.expr(*val, scope, 0))
                }
            }
            GlobalKind::Stat => format!("{} <<< {}", g.name, self.expr(Ty::Long, scope, 0)),
            GlobalKind::StatArray { keys } => {
                let k = self.keys(keys, scope, 1);
                format!("{}[{}] <<< {}", g.name, k, self.expr(Ty::Long, scope, 0))
            }
        };
        self.line(&text);
    }

    fn print(&mut self, scope: &mut Scope) {
        match self.rng.u32(0..5) {
            0 | 1 => {
                let (fmt, args) = self.format_and_args(scope, 0);
                let mut s = format!("printf({}", fmt);
                for a in args {
                    s.push_str(", ");
                    s.push_str(&a);
                }
                s.push(')');
                self.line(&s);
            }
            2 => {
                let t = self.ty();
                let e = self.expr(t, scope, 0);
                self.line(&format!("println({})", e));
            }
            3 => {
                let args: Vec<String> = (0..self.rng.usize(2..5))
                    .map(|_| {
                        let t = self.ty();
                        self.expr(t, scope, 1)
                    })
                    .collect();
                let f = *self.pick(&["printdln", "printd"]);
                self.line(&format!("{}(\",\", {})", f, args.join(", ")));
            }
            _ => {
                let t = self.ty();
                let e = self.expr(t, scope, 0);
                self.line(&format!("print({})", e));
            }
        }
    }

    fn block(&mut self, scope: &Scope, depth: u32, edit: impl FnOnce(&mut Scope)) {
        let mut inner = scope.clone();
        edit(&mut inner);
        self.indent += 1;
        for _ in 0..self.rng.usize(1..4) {
            self.statement(&mut inner, depth + 1);
        }
        self.indent -= 1;
    }

    fn if_statement(&mut self, scope: &mut Scope, depth: u32) {
        let cond = if self.chance(5) {
            // An assignment as the condition.
            let name = self.fresh("l");
            let e = self.expr(Ty::Long, scope, 1);
            scope.locals.push((name.clone(), Ty::Long));
            format!("{} = {}", name, e)
        } else {
            self.expr(Ty::Long, scope, 0)
        };
        self.line(&format!("if ({}) {{", cond));
        self.block(scope, depth, |_| {});
        if self.chance(2) {
            self.line("} else {");
            self.block(scope, depth, |_| {});
        }
        self.line("}");
    }

    fn while_loop(&mut self, scope: &mut Scope, depth: u32) {
        let i = self.fresh("i");
        let n = self.rng.u32(0..6);
        self.line(&format!("{} = 0", i));
        self.line(&format!("while ({} < {}) {{", i, n));
        self.indent += 1;
        self.line(&format!("{}++", i));
        self.indent -= 1;
        self.counted_body(scope, depth, i);
    }

    /// A loop's body (its counter `i` readable there), the closing brace, and `i` as a
    /// local after it.
    fn counted_body(&mut self, scope: &mut Scope, depth: u32, i: String) {
        let counter = i.clone();
        self.block(scope, depth, move |s| {
            s.loops += 1;
            s.locals.push((counter, Ty::Long));
        });
        self.line("}");
        scope.locals.push((i, Ty::Long));
    }

    fn for_loop(&mut self, scope: &mut Scope, depth: u32) {
        let i = self.fresh("i");
        let n = self.rng.u32(0..6);
        let step = *self.pick(&["++", " += 2", "++"]);
        self.line(&format!("for ({} = 0; {} < {}; {}{}) {{", i, i, n, i, step));
        self.counted_body(scope, depth, i);
    }

    fn foreach(&mut self, scope: &mut Scope, depth: u32) {
        let arrays: Vec<(String, Vec<Ty>, Option<Ty>)> = self
            .globals
            .iter()
            .filter_map(|g| match &g.kind {
                GlobalKind::Array { keys, val } => Some((g.name.clone(), keys.clone(), Some(*val))),
                GlobalKind::StatArray { keys } => Some((g.name.clone(), keys.clone(), None)),
                _ => None,
            })
            .collect();
        if arrays.is_empty() {
            return self.while_loop(scope, depth);
        }
        let (name, keys, val) = self.pick(&arrays).clone();
        let vars: Vec<(String, Ty)> = keys.iter().map(|t| (self.fresh("k"), *t)).collect();
        // At most one sort: on one key or on the value.
        let sort_key = self.rng.usize(0..vars.len() + 1);
        let sort = *self.pick(SORTS);
        let mut list: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
        if sort_key < vars.len() {
            list[sort_key].push_str(sort);
        }
        let keys_text = if list.len() == 1 && self.chance(2) {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        let mut head = String::from("foreach (");
        let value_var = if val.is_some() && self.chance(3) {
            let v = self.fresh("v");
            head.push_str(&format!("{} = ", v));
            Some(v)
        } else {
            None
        };
        head.push_str(&keys_text);
        head.push_str(" in ");
        head.push_str(&name);
        if sort_key == vars.len() {
            head.push_str(sort);
        }
        if self.chance(3) {
            head.push_str(&format!(" limit {}", self.rng.u32(0..5)));
        }
        head.push_str(") {");
        self.line(&head);
        let value = value_var.zip(val);
        self.block(scope, depth, move |s| {
            s.loops += 1;
            s.locals.extend(vars);
            s.locals.extend(value);
            s.iterating.push(name);
        });
        self.line("}");
    }

    fn try_catch(&mut self, scope: &mut Scope, depth: u32) {
        self.line("try {");
        self.block(scope, depth, |_| {});
        if self.chance(2) {
            let m = self.fresh("msg");
            self.line(&format!("}} catch ({}) {{", m));
            self.block(scope, depth, move |s| s.locals.push((m, Ty::Str)));
        } else {
            self.line("} catch {");
            self.block(scope, depth, |_| {});
        }
        self.line("}");
    }

    fn delete(&mut self, scope: &mut Scope) {
        let targets: Vec<(String, Option<Vec<Ty>>)> = self
            .globals
            .iter()
            .filter(|g| !scope.iterating.contains(&g.name))
            .map(|g| match &g.kind {
                GlobalKind::Array { keys, .. } | GlobalKind::StatArray { keys } => {
                    (g.name.clone(), Some(keys.clone()))
                }
                _ => (g.name.clone(), None),
            })
            .collect();
        if targets.is_empty() {
            return self.print(scope);
        }
        let (name, keys) = self.pick(&targets).clone();
        match keys {
            Some(keys) if self.chance(2) => {
                let k = self.keys(&keys, scope, 1);
                self.line(&format!("delete {}[{}]", name, k));
            }
            _ => self.line(&format!("delete {}", name)),
        }
    }

    fn histogram(&mut self, scope: &mut Scope) {
        let Some(s) = self.stat_ref(scope, 1) else {
            return self.print(scope);
        };
        // One kind of histogram per statistic, as SystemTap allows: chosen by its name.
        let base = s.split('[').next().unwrap_or(&s).to_string();
        let h = base
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        if h % 2 == 0 {
            self.line(&format!("print(@hist_log({}))", s));
        } else {
            let lo = (h % 200) as i32 - 100;
            let step = (h % 49) as i32 + 1;
            let hi = lo + step * ((h % 19) as i32 + 1);
            self.line(&format!(
                "print(@hist_linear({}, {}, {}, {}))",
                s, lo, hi, step
            ));
        }
    }

    /// `next` in a probe, `return` in a function: never at the top of a probe's code, so
    /// the rest of it is not dead.
    fn jump_out(&mut self, scope: &mut Scope) {
        // Mostly false, so the code after it runs too.
        let c = format!(
            "{} == {}",
            self.expr(Ty::Long, scope, 2),
            self.rng.i32(-2..3)
        );
        match scope.function {
            None if !scope.next_ok => self.line(&format!("if ({}) error(\"out\")", c)),
            None => self.line(&format!("if ({}) next", c)),
            Some(None) => self.line(&format!("if ({}) return;", c)),
            Some(Some(t)) => {
                let e = self.expr(t, scope, 1);
                self.line(&format!("if ({}) return {}", c, e));
            }
        }
    }

    fn call_statement(&mut self, scope: &mut Scope) {
        if self.funcs.is_empty() || !scope.iterating.is_empty() {
            return self.print(scope);
        }
        let f = self.pick(&self.funcs.clone()).clone();
        let args: Vec<String> = f.params.iter().map(|p| self.expr(*p, scope, 1)).collect();
        self.line(&format!("{}({})", f.name, args.join(", ")));
    }
}

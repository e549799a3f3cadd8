//! A grammar-based generator of SystemTap scripts.
//!
//! Each seed gives one script over the language the user runtime runs: typed globals
//! (scalars, arrays of one to three keys, statistics and statistics arrays), functions
//! with typed parameters and returns, `begin`/`end`/`error`/`timer` probes, every statement
//! form (assignments and compound assignments, `if`/`else`, bounded `while` and `for`,
//! `foreach` in its sort, limit and value forms, `break`/`continue`/`next`/`return`,
//! `delete`, `try`/`catch`, blocks), and expressions of every operator, the standard
//! string and conversion functions, aggregates, histograms, `printf` with every directive
//! and flag, and the preprocessor's conditionals.
//!
//! The generator keeps a symbol table, so almost every script it writes is well typed and
//! passes pass 2; the rest are refused there, which the driver counts but does not build.
//! Scripts always end: the main `begin` probe calls `exit()` and every loop is bounded.

mod expr;
mod stmt;

use std::fmt::Write;

/// A value type of the language.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ty {
    /// 64-bit signed integers.
    Long,
    /// Strings.
    Str,
}

impl Ty {
    fn annotation(self) -> &'static str {
        match self {
            Ty::Long => "long",
            Ty::Str => "string",
        }
    }
}

/// What a global holds.
#[derive(Clone, Debug)]
enum GlobalKind {
    Scalar(Ty),
    Array { keys: Vec<Ty>, val: Ty },
    Stat,
    StatArray { keys: Vec<Ty> },
}

#[derive(Clone, Debug)]
struct Global {
    name: String,
    kind: GlobalKind,
}

/// A function the code generated so far may call.
#[derive(Clone, Debug)]
struct Func {
    name: String,
    params: Vec<Ty>,
    /// `None`: called only as a statement.
    ret: Option<Ty>,
}

/// Where the code being generated is.
#[derive(Clone, Default)]
struct Scope {
    /// Locals assigned on every path to here.
    locals: Vec<(String, Ty)>,
    /// Loops around this point (`break`/`continue` allowed when non-zero).
    loops: u32,
    /// In a function: its return type (`Some(None)` for a void function).
    function: Option<Option<Ty>>,
    /// Arrays a `foreach` around this point iterates (they must not change).
    iterating: Vec<String>,
    /// Whether `next` may leave the code (not in the probe that calls `exit()`).
    next_ok: bool,
}

/// One script's generator, driven by a seeded random source.
pub struct Gen {
    rng: fastrand::Rng,
    globals: Vec<Global>,
    funcs: Vec<Func>,
    next_name: u32,
    out: String,
    indent: usize,
    /// Statements left to write: bounds the script's size.
    budget: i32,
    /// Whether the script defines the `@TWICE` macro.
    twice: bool,
}

/// The script of `seed`.
pub fn script(seed: u64) -> String {
    Gen::new(seed).generate()
}

impl Gen {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: fastrand::Rng::with_seed(seed),
            globals: Vec::new(),
            funcs: Vec::new(),
            next_name: 0,
            out: String::new(),
            indent: 0,
            budget: 0,
            twice: false,
        }
    }

    /// Writes the whole script: globals, functions, probes.
    pub fn generate(mut self) -> String {
        self.budget = 20 + self.rng.i32(0..100);
        let _ = writeln!(self.out, "# stap-scriptgen script");
        if self.chance(4) {
            let _ = writeln!(self.out, "@define TWICE(x) %( (@x) * 2 %)");
            self.twice = true;
        }
        for _ in 0..self.rng.usize(1..7) {
            self.global();
        }
        for _ in 0..self.rng.usize(0..5) {
            self.function();
        }
        self.main_probe();
        if self.chance(2) {
            self.other_probe("end");
        }
        if self.chance(5) {
            self.other_probe("error");
        }
        if self.chance(6) {
            self.other_probe("begin(10)");
        }
        if self.chance(8) {
            self.other_probe("never");
        }
        if self.chance(6) {
            self.other_probe("timer.ms(1)");
        }
        if self.chance(5) {
            // A probe alias of the script's own, and a probe on it.
            self.line("probe scriptgen.alias = end {");
            self.indent += 1;
            let name = self.fresh("a");
            let v = self.rng.i32(-5..5);
            self.line(&format!("{} = {}", name, v));
            self.indent -= 1;
            self.line("}");
            self.other_probe("scriptgen.alias");
        }
        self.out
    }

    fn chance(&mut self, one_in: u32) -> bool {
        self.rng.u32(0..one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(0..items.len())]
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{}{}", prefix, self.next_name)
    }

    fn ty(&mut self) -> Ty {
        if self.chance(3) {
            Ty::Str
        } else {
            Ty::Long
        }
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn global(&mut self) {
        let name = self.fresh("g");
        let (decl, kind) = match self.rng.u32(0..6) {
            0 => {
                let t = self.ty();
                let init = match t {
                    Ty::Long => format!(" = {}", self.long_literal()),
                    Ty::Str => format!(" = {}", self.str_literal()),
                };
                let init = if self.chance(2) { init } else { String::new() };
                (format!("global {}{}", name, init), GlobalKind::Scalar(t))
            }
            1 | 2 => {
                let keys = (0..self.rng.usize(1..4)).map(|_| self.ty()).collect();
                let val = self.ty();
                let size = match self.rng.u32(0..4) {
                    0 => format!("[{}]", self.rng.u32(1..200)),
                    1 => "%".to_string(),
                    _ => String::new(),
                };
                (
                    format!("global {}{}", name, size),
                    GlobalKind::Array { keys, val },
                )
            }
            3 => (format!("global {}", name), GlobalKind::Stat),
            _ => {
                let keys = (0..self.rng.usize(1..3)).map(|_| self.ty()).collect();
                (format!("global {}", name), GlobalKind::StatArray { keys })
            }
        };
        self.line(&decl);
        self.globals.push(Global { name, kind });
    }

    fn function(&mut self) {
        let name = self.fresh("f");
        let params: Vec<Ty> = (0..self.rng.usize(0..4)).map(|_| self.ty()).collect();
        let ret = match self.rng.u32(0..3) {
            0 => None,
            1 => Some(Ty::Str),
            _ => Some(Ty::Long),
        };
        let mut scope = Scope {
            function: Some(ret),
            ..Scope::default()
        };
        let mut header = format!("function {}", name);
        if let Some(t) = ret {
            let _ = write!(header, ":{}", t.annotation());
        }
        header.push_str(" (");
        for (i, t) in params.iter().enumerate() {
            let p = format!("p{}", i);
            let _ = write!(
                header,
                "{}{}:{}",
                if i > 0 { ", " } else { "" },
                p,
                t.annotation()
            );
            scope.locals.push((p, *t));
        }
        header.push_str(") {");
        self.line(&header);
        self.indent += 1;
        for _ in 0..self.rng.usize(1..5) {
            self.statement(&mut scope, 0);
        }
        if let Some(t) = ret {
            let e = self.expr(t, &scope, 0);
            self.line(&format!("return {}", e));
        }
        self.indent -= 1;
        self.line("}");
        // Only later code calls it: no recursion, so every call ends.
        self.funcs.push(Func { name, params, ret });
    }

    fn main_probe(&mut self) {
        self.line("probe begin {");
        self.indent += 1;
        let mut scope = Scope::default();
        // Every global gets a value of its type first, so each one's type is known.
        for g in self.globals.clone() {
            self.initialize(&g, &scope);
        }
        while self.budget > 0 {
            self.statement(&mut scope, 0);
        }
        self.line("exit()");
        self.indent -= 1;
        self.line("}");
    }

    fn other_probe(&mut self, point: &str) {
        self.line(&format!("probe {} {{", point));
        self.indent += 1;
        let mut scope = Scope {
            next_ok: true,
            ..Scope::default()
        };
        self.budget = 3 + self.rng.i32(0..10);
        while self.budget > 0 {
            self.statement(&mut scope, 0);
        }
        if point.starts_with("begin") {
            self.line("exit()");
        }
        self.indent -= 1;
        self.line("}");
    }

    fn initialize(&mut self, g: &Global, scope: &Scope) {
        let text = match &g.kind {
            GlobalKind::Scalar(t) => format!("{} = {}", g.name, self.expr(*t, scope, 2)),
            GlobalKind::Array { keys, val } => {
                let k = self.keys(keys, scope, 2);
                format!("{}[{}] = {}", g.name, k, self.expr(*val, scope, 2))
            }
            GlobalKind::Stat => format!("{} <<< {}", g.name, self.expr(Ty::Long, scope, 2)),
            GlobalKind::StatArray { keys } => {
                let k = self.keys(keys, scope, 2);
                format!("{}[{}] <<< {}", g.name, k, self.expr(Ty::Long, scope, 2))
            }
        };
        self.line(&text);
    }

    fn keys(&mut self, keys: &[Ty], scope: &Scope, depth: u32) -> String {
        keys.iter()
            .map(|t| self.expr(*t, scope, depth))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

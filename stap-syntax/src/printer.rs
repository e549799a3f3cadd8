//! The `-p1` printer: an AST back to canonical, re-parseable SystemTap source.
//!
//! The layout follows SystemTap's `-p1` dump (a `# file` header, then embedded code,
//! globals, aliases, probes and functions), indented two spaces a level.  Expressions get
//! exactly the parentheses their precedence needs, and every simple statement ends with
//! `;`, so printing the parse of the output gives the output again.

use crate::ast::*;
use std::fmt::Write;

/// Prints a whole file as SystemTap's `-p1` shows it.
pub fn print_file(f: &File) -> String {
    let mut p = Printer::default();
    let _ = writeln!(p.out, "# file {}", f.name);
    for e in &f.embeds {
        let _ = writeln!(p.out, "%{{{}%}}", e.code);
    }
    for g in &f.globals {
        p.global(g);
        p.out.push('\n');
    }
    for a in &f.aliases {
        p.alias(a);
        p.out.push('\n');
    }
    for pr in &f.probes {
        p.probe(pr);
        p.out.push('\n');
    }
    for func in &f.functions {
        p.function(func);
        p.out.push('\n');
    }
    p.out
}

/// Prints one expression (used in diagnostics and tests).
pub fn print_expr(e: &Expr) -> String {
    let mut p = Printer::default();
    p.expr(e, 0);
    p.out
}

/// Prints one probe point.
pub fn print_probe_point(pp: &ProbePoint) -> String {
    let mut p = Printer::default();
    p.point(pp);
    p.out
}

#[derive(Default)]
struct Printer {
    out: String,
    indent: usize,
}

/// Binding level of an expression: what it may appear under without parentheses.
fn level(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Assign { .. } => 0,
        ExprKind::Ternary { .. } => 1,
        ExprKind::Binary { op, .. } => binop_level(*op),
        ExprKind::In { .. } => 7,
        ExprKind::Unary { .. } | ExprKind::PreIncDec { .. } => 13,
        ExprKind::PostIncDec { .. } => 14,
        _ => 15,
    }
}

fn binop_level(op: BinOp) -> u8 {
    use BinOp::*;
    match op {
        Or => 2,
        And => 3,
        BitOr => 4,
        BitXor => 5,
        BitAnd => 6,
        Lt | Le | Gt | Ge | Eq | Ne | Match | NotMatch => 8,
        Shl | Shr => 9,
        Concat => 10,
        Add | Sub => 11,
        Mul | Div | Mod => 12,
    }
}

fn type_name(t: TypeName) -> &'static str {
    match t {
        TypeName::Long => "long",
        TypeName::String => "string",
    }
}

impl Printer {
    fn line(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
    }

    /// A literal in declarations (globals, probe-point parameters): `-5` reads back.
    fn literal(&mut self, l: &Literal) {
        match l {
            Literal::Number(n) => {
                let _ = write!(self.out, "{}", n);
            }
            Literal::String(s) => {
                let _ = write!(self.out, "\"{}\"", s);
            }
        }
    }

    fn global(&mut self, g: &Global) {
        if g.private {
            self.out.push_str("private ");
        }
        self.out.push_str("global ");
        self.out.push_str(&g.name.name);
        if g.wrap {
            self.out.push('%');
        }
        if let Some(n) = g.size {
            let _ = write!(self.out, "[{}]", n);
        }
        if let Some(init) = &g.init {
            self.out.push_str(" = ");
            self.literal(init);
        }
    }

    fn point(&mut self, pp: &ProbePoint) {
        for (i, c) in pp.components.iter().enumerate() {
            if i > 0 {
                self.out.push('.');
            }
            self.out.push_str(&c.name);
            if let Some(a) = &c.arg {
                self.out.push('(');
                self.literal(a);
                self.out.push(')');
            }
        }
        if pp.sufficient {
            self.out.push('!');
        } else if pp.optional {
            self.out.push('?');
        }
        if let Some(c) = &pp.condition {
            self.out.push_str(" if (");
            self.expr(c, 0);
            self.out.push(')');
        }
    }

    fn points(&mut self, pps: &[ProbePoint]) {
        for (i, pp) in pps.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.point(pp);
        }
    }

    fn alias(&mut self, a: &ProbeAlias) {
        if a.private {
            self.out.push_str("private ");
        }
        self.out.push_str("probe ");
        self.points(&a.names);
        self.out.push_str(if a.epilogue { " += " } else { " = " });
        self.points(&a.points);
        self.out.push(' ');
        self.block(&a.body);
        if let Some(e) = &a.also_epilogue {
            self.out.push_str(", ");
            self.block(e);
        }
    }

    fn probe(&mut self, p: &Probe) {
        if p.private {
            self.out.push_str("private ");
        }
        self.out.push_str("probe ");
        self.points(&p.points);
        self.out.push(' ');
        self.block(&p.body);
    }

    fn function(&mut self, f: &Function) {
        if f.private {
            self.out.push_str("private ");
        }
        self.out.push_str("function ");
        self.out.push_str(&f.name.name);
        if let Some(t) = f.ret {
            self.out.push(':');
            self.out.push_str(type_name(t));
        }
        self.out.push_str(" (");
        for (i, p) in f.params.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str(&p.name.name);
            if let Some(t) = p.ty {
                self.out.push(':');
                self.out.push_str(type_name(t));
            }
        }
        self.out.push(')');
        if let Some(n) = f.priority {
            let _ = write!(self.out, " :{}", n);
        }
        self.out.push(' ');
        match &f.body {
            FunctionBody::Block(b) => self.block(b),
            FunctionBody::Embedded(e) => {
                let _ = write!(self.out, "%{{{}%}}", e.code);
            }
        }
    }

    fn block(&mut self, b: &Block) {
        self.out.push('{');
        self.indent += 1;
        for s in &b.stmts {
            self.line();
            self.stmt(s);
        }
        self.indent -= 1;
        self.line();
        self.out.push('}');
    }

    fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Null => self.out.push(';'),
            StmtKind::Block(b) => self.block(b),
            StmtKind::Expr(e) => {
                self.expr(e, 0);
                self.out.push(';');
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.out.push_str("if (");
                self.expr(cond, 0);
                self.out.push_str(") ");
                self.stmt(then);
                if let Some(o) = otherwise {
                    self.line();
                    self.out.push_str("else ");
                    self.stmt(o);
                }
            }
            StmtKind::While { cond, body } => {
                self.out.push_str("while (");
                self.expr(cond, 0);
                self.out.push_str(") ");
                self.stmt(body);
            }
            StmtKind::For {
                init,
                cond,
                incr,
                body,
            } => {
                self.out.push_str("for (");
                if let Some(e) = init {
                    self.expr(e, 0);
                }
                self.out.push_str("; ");
                if let Some(e) = cond {
                    self.expr(e, 0);
                }
                self.out.push_str("; ");
                if let Some(e) = incr {
                    self.expr(e, 0);
                }
                self.out.push_str(") ");
                self.stmt(body);
            }
            StmtKind::Foreach(f) => self.foreach(f),
            StmtKind::Return(v) => {
                self.out.push_str("return");
                if let Some(e) = v {
                    self.out.push(' ');
                    self.expr(e, 0);
                }
                self.out.push(';');
            }
            StmtKind::Delete(e) => {
                self.out.push_str("delete ");
                self.expr(e, 0);
                self.out.push(';');
            }
            StmtKind::Break => self.out.push_str("break;"),
            StmtKind::Continue => self.out.push_str("continue;"),
            StmtKind::Next => self.out.push_str("next;"),
            StmtKind::Try { body, var, handler } => {
                self.out.push_str("try ");
                self.block(body);
                self.out.push_str(" catch ");
                if let Some(v) = var {
                    let _ = write!(self.out, "({}) ", v.name);
                }
                self.block(handler);
            }
        }
    }

    fn sort(&mut self, d: Option<SortDir>) {
        match d {
            Some(SortDir::Asc) => self.out.push('+'),
            Some(SortDir::Desc) => self.out.push('-'),
            None => {}
        }
    }

    fn foreach(&mut self, f: &Foreach) {
        self.out.push_str("foreach (");
        if let Some(v) = &f.value {
            let _ = write!(self.out, "{} = ", v.name);
        }
        self.out.push('[');
        for (i, (k, d)) in f.keys.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str(&k.name);
            self.sort(*d);
        }
        self.out.push_str("] in ");
        self.expr(&f.array, 15);
        if let Some(s) = &f.slice {
            self.index_list(s);
        }
        if let Some(op) = f.stat {
            self.out.push_str(op.as_str());
        }
        self.sort(f.value_sort);
        if let Some(l) = &f.limit {
            self.out.push_str(" limit ");
            self.expr(l, 0);
        }
        self.out.push_str(") ");
        self.stmt(&f.body);
    }

    fn index_list(&mut self, keys: &[Option<Expr>]) {
        self.out.push('[');
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            match k {
                Some(e) => self.expr(e, 0),
                None => self.out.push('*'),
            }
        }
        self.out.push(']');
    }

    fn args(&mut self, args: &[Expr]) {
        self.out.push('(');
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.expr(a, 0);
        }
        self.out.push(')');
    }

    /// Prints `e`, in parentheses when it binds less tightly than `min`.
    fn expr(&mut self, e: &Expr, min: u8) {
        if level(e) < min {
            self.out.push('(');
            self.expr(e, 0);
            self.out.push(')');
            return;
        }
        match &e.kind {
            // In expressions `-5` is unary minus applied to 5, so a literal that wrapped
            // negative (written as 9223372036854775808 or more) prints unsigned, as written.
            ExprKind::Literal(Literal::Number(n)) if *n < 0 => {
                let _ = write!(self.out, "{}", *n as u64);
            }
            ExprKind::Literal(l) => self.literal(l),
            ExprKind::Symbol(s) => self.out.push_str(s),
            ExprKind::Index { base, indexes } => {
                self.expr(base, 15);
                self.index_list(indexes);
            }
            ExprKind::In { keys, array } => {
                self.out.push('[');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(", ");
                    }
                    match k {
                        Some(k) => self.expr(k, 8),
                        None => self.out.push('*'),
                    }
                }
                self.out.push_str("] in ");
                self.expr(array, 15);
            }
            ExprKind::Call { name, args } => {
                self.out.push_str(&name.name);
                self.args(args);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let l = binop_level(*op);
                self.expr(lhs, l);
                let _ = write!(self.out, " {} ", op.as_str());
                self.expr(rhs, l + 1);
            }
            ExprKind::Unary { op, operand } => {
                self.out.push_str(op.as_str());
                // Keep `- -x`, `-(-1)` and `!~x` from lexing as `--`, `!~`.
                let min = if level(operand) <= 13 { 14 } else { 13 };
                self.expr(operand, min);
            }
            ExprKind::PreIncDec { op, operand } => {
                self.out.push_str(op.as_str());
                self.expr(operand, 15);
            }
            ExprKind::PostIncDec { op, operand } => {
                self.expr(operand, 15);
                self.out.push_str(op.as_str());
            }
            ExprKind::Assign { op, lhs, rhs } => {
                self.expr(lhs, 1);
                let _ = write!(self.out, " {} ", op.as_str());
                self.expr(rhs, 0);
            }
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, 2);
                self.out.push_str(" ? ");
                self.expr(then, 0);
                self.out.push_str(" : ");
                self.expr(otherwise, 1);
            }
            ExprKind::Stat { op, operand } => {
                self.out.push_str(op.as_str());
                self.out.push('(');
                self.expr(operand, 0);
                if let StatOp::Variance(Some(b)) = op {
                    self.out.push_str(&format!(", {}", b));
                }
                self.out.push(')');
            }
            ExprKind::Hist { hist, operand } => match hist {
                Hist::Log => {
                    self.out.push_str("@hist_log(");
                    self.expr(operand, 0);
                    self.out.push(')');
                }
                Hist::Linear { lo, hi, step } => {
                    self.out.push_str("@hist_linear(");
                    self.expr(operand, 0);
                    for a in [lo, hi, step] {
                        self.out.push_str(", ");
                        self.expr(a, 0);
                    }
                    self.out.push(')');
                }
            },
            ExprKind::Target(t) => self.target(t),
            ExprKind::Defined(e) => {
                self.out.push_str("@defined(");
                self.expr(e, 0);
                self.out.push(')');
            }
            ExprKind::Entry(e) => {
                self.out.push_str("@entry(");
                self.expr(e, 0);
                self.out.push(')');
            }
            ExprKind::Perf(s) => {
                let _ = write!(self.out, "@perf(\"{}\")", s);
            }
            ExprKind::ProbeWrite(id) => {
                let _ = write!(self.out, "@probewrite({})", id.name);
            }
            ExprKind::Const(s) => {
                let _ = write!(self.out, "@const(\"{}\")", s);
            }
            ExprKind::Embedded(code) => {
                let _ = write!(self.out, "%{{{}%}}", code);
            }
        }
    }

    fn target(&mut self, t: &Target) {
        if t.addressof {
            self.out.push('&');
        }
        match &t.base {
            TargetBase::Var(name) => self.out.push_str(name),
            TargetBase::Cast { expr, ty, module } => {
                self.out.push_str("@cast(");
                self.expr(expr, 0);
                let _ = write!(self.out, ", \"{}\"", ty);
                if let Some(m) = module {
                    let _ = write!(self.out, ", \"{}\"", m);
                }
                self.out.push(')');
            }
            TargetBase::AtVar { name, module } => {
                let _ = write!(self.out, "@var(\"{}\"", name);
                if let Some(m) = module {
                    let _ = write!(self.out, ", \"{}\"", m);
                }
                self.out.push(')');
            }
            TargetBase::Auto(e) => {
                // A bare name or histogram followed by `[` would read as an array index.
                let needs_parens =
                    matches!(e.kind, ExprKind::Symbol(_) | ExprKind::Hist { .. }) || level(e) < 15;
                if needs_parens {
                    self.out.push('(');
                    self.expr(e, 0);
                    self.out.push(')');
                } else {
                    self.expr(e, 15);
                }
            }
        }
        for c in &t.components {
            match c {
                TargetComponent::Member(m) => {
                    self.out.push_str("->");
                    self.out.push_str(&m.name);
                }
                TargetComponent::Index(e) => {
                    self.out.push('[');
                    self.expr(e, 0);
                    self.out.push(']');
                }
            }
        }
        for _ in 0..t.pretty {
            self.out.push('$');
        }
    }
}

//! SystemTap's display of written-but-unread globals: for every global of the user's
//! script that is assigned (`=`, `++`, `<<<`, `delete` ...) but never read, an `end` probe
//! is added that prints its value, so `stap -e 'global n probe ... { n++ }'` shows `n=42`
//! when the session ends.  The formats are SystemTap's:
//!   `n=42`, `s="text"`, `a["key",1]=7` (arrays sorted by value, descending),
//!   `st @count=3 @min=1 @max=7 @sum=12 @avg=4` (`st @count=0x0` when empty),
//!   `ast["key"] @count=...` (statistics arrays sorted by `@count`, descending).

use crate::ir::*;
use crate::visit;
use stap_syntax::ast::{BinOp, Literal, SortDir, StatOp};
use stap_syntax::source::Span;
use std::collections::HashSet;

/// The globals that are written somewhere and read nowhere (user globals only).
fn unread_globals(prog: &Program) -> Vec<GlobalId> {
    let bodies = visit::script_bodies(prog);
    // The expressions that are only written: assignment and ++/-- targets, deletions.
    let mut targets: HashSet<*const Expr> = HashSet::new();
    let mark = |e: &Expr, targets: &mut HashSet<*const Expr>| {
        targets.insert(e as *const Expr);
        if let ExprKind::Index(b, _) = &e.kind {
            targets.insert(&**b as *const Expr);
        }
    };
    // An assignment or ++/-- whose value an enclosing expression uses (`y = ++n`) reads
    // its target too, as in SystemTap.
    let mut used: HashSet<*const Expr> = HashSet::new();
    for b in &bodies {
        visit::block(b, &mut |e| {
            for c in visit::children(e) {
                used.insert(c as *const Expr);
            }
        });
    }
    let mut collect = |e: &Expr| {
        if used.contains(&(e as *const Expr)) {
            return;
        }
        match &e.kind {
            ExprKind::Assign(_, l, _) => mark(l, &mut targets),
            ExprKind::IncDec { operand, .. } => mark(operand, &mut targets),
            _ => {}
        }
    };
    for b in &bodies {
        visit::block(b, &mut collect);
    }
    for b in &bodies {
        for_each_delete(b, &mut |e| mark(e, &mut targets));
    }
    let mut read: IdVec<Global, bool> = IdVec::filled(prog.globals.len(), false);
    let mut written: IdVec<Global, bool> = IdVec::filled(prog.globals.len(), false);
    let mut note = |e: &Expr| {
        if let ExprKind::Var(Var::Global(g)) | ExprKind::Array(Var::Global(g)) = e.kind {
            if targets.contains(&(e as *const Expr)) {
                written[g] = true;
            } else {
                read[g] = true;
            }
        }
    };
    visit::program(prog, &mut note);
    for b in &bodies {
        visit::bound_vars(b, &mut |v| {
            if let Var::Global(g) = v {
                written[g] = true;
            }
        });
    }
    prog.globals
        .ids()
        .filter(|&g| written[g] && !read[g] && !prog.globals[g].from_tapset)
        .collect()
}

/// Calls `f` on the operand of every `delete` statement of a block.
fn for_each_delete(b: &Block, f: &mut dyn FnMut(&Expr)) {
    visit::each_stmt(b, &mut |s| {
        if let StmtKind::Delete(e) = &s.kind {
            f(e);
        }
    });
}

/// Builds expressions and statements at one span.
struct Builder {
    span: Span,
}

impl Builder {
    fn expr(&self, kind: ExprKind, ty: Type) -> Expr {
        Expr {
            kind,
            ty,
            span: self.span,
        }
    }

    fn stmt(&self, kind: StmtKind) -> Stmt {
        Stmt {
            kind,
            span: self.span,
        }
    }

    fn str(&self, s: &str) -> Expr {
        self.expr(
            ExprKind::Literal(Literal::String(s.to_string())),
            Type::String,
        )
    }

    fn num(&self, n: i64) -> Expr {
        self.expr(ExprKind::Literal(Literal::Number(n)), Type::Long)
    }

    fn printf(&self, fmt: &str, mut args: Vec<Expr>) -> Stmt {
        args.insert(0, self.str(fmt));
        let p = self.expr(
            ExprKind::Print(PrintKind::Format { to_string: false }, args),
            Type::Long,
        );
        self.stmt(StmtKind::Expr(p))
    }

    fn stat(&self, op: StatOp, operand: &Expr) -> Expr {
        self.expr(ExprKind::Stat(op, Box::new(operand.clone())), Type::Long)
    }
}

/// The format of one value, and of one key (strings quoted as they are, unescaped, as
/// SystemTap 4.8 prints them).
fn conv(t: Type, key: bool) -> &'static str {
    match (t, key) {
        (Type::String, _) => "\\\"%s\\\"",
        (_, true) => "%#d",
        _ => "%d",
    }
}

const STATS_FMT: &str = " @count=%#d @min=%#d @max=%#d @sum=%#d @avg=%#d\\n";
const STATS_OPS: [StatOp; 5] = [
    StatOp::Count,
    StatOp::Min,
    StatOp::Max,
    StatOp::Sum,
    StatOp::Avg,
];

/// The end probe displaying global `g`.
fn display_probe(prog: &Program, g: GlobalId) -> Probe {
    let glob = &prog.globals[g];
    let b = Builder { span: glob.span };
    let mut locals = Arena::new();
    let var = Var::Global(g);
    let body = if !glob.is_array {
        let v = b.expr(ExprKind::Var(var), glob.ty);
        match glob.ty {
            Type::Stats => {
                let count = b.stat(StatOp::Count, &v);
                let empty = b.expr(
                    ExprKind::Binary(BinOp::Eq, Box::new(count), Box::new(b.num(0))),
                    Type::Long,
                );
                let args = STATS_OPS.iter().map(|op| b.stat(*op, &v)).collect();
                // An empty statistic shows nothing, as in SystemTap.
                b.stmt(StmtKind::If(
                    empty,
                    Box::new(b.stmt(StmtKind::Null)),
                    Some(Box::new(
                        b.printf(&format!("{}{}", glob.name, STATS_FMT), args),
                    )),
                ))
            }
            t => b.printf(&format!("{}={}\\n", glob.name, conv(t, false)), vec![v]),
        }
    } else {
        let mut keys = Vec::new();
        let mut key_exprs = Vec::new();
        for (i, t) in glob.keys.iter().enumerate() {
            let id = locals.push(Local {
                name: format!("__idx{}", i),
                ty: *t,
                span: glob.span,
                param: false,
                declared: true,
            });
            keys.push((Var::Local(id), None));
            key_exprs.push(b.expr(ExprKind::Var(Var::Local(id)), *t));
        }
        let key_fmt: Vec<&str> = glob.keys.iter().map(|t| conv(*t, true)).collect();
        let lead = format!("{}[{}]", glob.name, key_fmt.join(","));
        let elem = b.expr(
            ExprKind::Index(
                Box::new(b.expr(ExprKind::Array(var), glob.ty)),
                key_exprs.iter().cloned().map(Some).collect(),
            ),
            glob.ty,
        );
        let (line, value_sort) = if glob.ty == Type::Stats {
            let mut args = key_exprs.clone();
            args.extend(STATS_OPS.iter().map(|op| b.stat(*op, &elem)));
            (
                b.printf(&format!("{}{}", lead, STATS_FMT), args),
                (SortDir::Desc, Some(StatOp::Count)),
            )
        } else {
            let mut args = key_exprs.clone();
            args.push(elem);
            (
                b.printf(&format!("{}={}\\n", lead, conv(glob.ty, false)), args),
                (SortDir::Desc, None),
            )
        };
        b.stmt(StmtKind::Foreach(Foreach {
            source: b.expr(ExprKind::Array(var), glob.ty),
            keys,
            value: None,
            value_sort: Some(value_sort),
            slice: None,
            limit: None,
            body: Box::new(line),
        }))
    };
    Probe {
        point: ProbePoint {
            components: vec![PointComponent {
                name: "end".to_string(),
                arg: None,
            }],
            instance: 0,
        },
        family: Family::End,
        kind: ProbeKind::End { seq: 0 },
        written: "end".to_string(),
        written_point: "end".to_string(),
        alias_point: None,
        condition: None,
        locals,
        body: Block {
            stmts: vec![body],
            span: glob.span,
        },
        origin: prog.probes.len(),
        span: glob.span,
    }
}

/// Adds an end probe displaying each written-but-unread user global, in declaration order,
/// after every other probe (so they run after the script's own end probes).
pub fn add_global_display(prog: &mut Program) {
    for g in unread_globals(prog) {
        let p = display_probe(prog, g);
        prog.probes.push(p);
    }
}

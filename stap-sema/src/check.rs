//! The semantic checks SystemTap makes after types are known: lvalues, formatted-print
//! arguments, where statistics and histograms may appear, unresolved types.

use crate::elaborate::sem_error;
use crate::ir::*;
use stap_syntax::ast::{AssignOp, Literal};
use stap_syntax::diag::Diagnostic;
use stap_syntax::lexer::decode_string;

use crate::check_format::format_args;

struct Checker<'p> {
    prog: &'p Program,
    diags: &'p mut Vec<Diagnostic>,
    locals: &'p Arena<Local>,
    /// The probe's family (None in functions).
    family: Option<Family>,
    /// The probe's point (None in functions).
    point: Option<&'p ProbePoint>,
    /// Type data for casts.
    resolver: &'p dyn crate::KernelResolver,
    /// `-g`: writes to target expressions are allowed.
    guru: bool,
    /// Checking a tapset's function: it may call the library's guru-only functions.
    in_tapset: bool,
}

/// True when the block can take more than one path (so a recursion may have a base).
fn branches(b: &Block) -> bool {
    fn stmt(s: &Stmt) -> bool {
        match &s.kind {
            StmtKind::If(..)
            | StmtKind::While(..)
            | StmtKind::For(..)
            | StmtKind::Foreach(..)
            | StmtKind::Try(..)
            | StmtKind::Next => true,
            StmtKind::Block(b) => branches(b),
            _ => false,
        }
    }
    let mut choice = false;
    crate::visit::block(b, &mut |e| {
        if matches!(
            e.kind,
            ExprKind::Ternary(..)
                | ExprKind::Binary(
                    stap_syntax::ast::BinOp::And | stap_syntax::ast::BinOp::Or,
                    ..
                )
                | ExprKind::Embedded(_)
        ) {
            choice = true;
        }
    });
    choice || b.stmts.iter().any(stmt)
}

/// A function that calls itself on its only path can never return.
fn check_recursion(prog: &Program, diags: &mut Vec<Diagnostic>) {
    for (id, f) in prog.functions.enumerate() {
        let Body::Script(b) = &f.body else { continue };
        let mut self_call = None;
        crate::visit::block(b, &mut |e| {
            if let ExprKind::Call(callee, _) = e.kind {
                if callee == id && self_call.is_none() {
                    self_call = Some(e.span);
                }
            }
        });
        if let Some(span) = self_call {
            if !branches(b) {
                diags.push(
                    sem_error(
                        "sema.recursion",
                        format!("function '{}' calls itself on every path: the recursion has no base case", f.name),
                        span,
                    )
                    .with_label(f.span, "the function"),
                );
            }
        }
    }
}

/// Globals an expression tree or body writes: assignments, ++/--, <<<, delete.
/// The global an assignment, increment or `delete` writes (a variable, array or element).
fn written_global(x: &Expr) -> Option<GlobalId> {
    match &x.kind {
        ExprKind::Var(Var::Global(g)) | ExprKind::Array(Var::Global(g)) => Some(*g),
        ExprKind::Index(b, _) => match b.kind {
            ExprKind::Array(Var::Global(g)) => Some(g),
            _ => None,
        },
        _ => None,
    }
}

/// The globals a block writes: assigned, incremented or deleted.
fn written_globals(b: &Block) -> std::collections::HashSet<GlobalId> {
    #[derive(Default)]
    struct Written(std::collections::HashSet<GlobalId>);
    impl crate::visit::Visitor<'_> for Written {
        fn visit_stmt(&mut self, s: &Stmt) {
            if let StmtKind::Delete(x) = &s.kind {
                self.0.extend(written_global(x));
            }
            crate::visit::walk_stmt(self, s);
        }
        fn visit_expr(&mut self, x: &Expr) {
            if let ExprKind::Assign(_, l, _) | ExprKind::IncDec { operand: l, .. } = &x.kind {
                self.0.extend(written_global(l));
            }
            crate::visit::walk_expr(self, x);
        }
    }
    let mut w = Written::default();
    crate::visit::Visitor::visit_block(&mut w, b);
    w.0
}

/// An array must not change while a foreach iterates over it (also through calls).
fn check_foreach_mutation(prog: &Program, diags: &mut Vec<Diagnostic>) {
    // Globals each function writes, through the functions it calls.
    let mut writes: IdVec<Function, std::collections::HashSet<GlobalId>> = prog
        .functions
        .iter()
        .map(|f| match &f.body {
            Body::Script(b) => written_globals(b),
            _ => Default::default(),
        })
        .collect();
    let calls = crate::visit::callees(prog);
    loop {
        let mut changed = false;
        for f in writes.ids() {
            for &c in &calls[f] {
                let add: Vec<GlobalId> = writes[c].difference(&writes[f]).copied().collect();
                if !add.is_empty() {
                    writes[f].extend(add);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut check_block = |b: &Block| {
        crate::optimize::for_each_foreach(b, &mut |f: &Foreach| {
            let ExprKind::Array(Var::Global(g)) = f.source.kind else {
                return;
            };
            let body = Block {
                stmts: vec![(*f.body).clone()],
                span: f.body.span,
            };
            let mut w = written_globals(&body);
            crate::visit::block(&body, &mut |e| {
                if let ExprKind::Call(c, _) = e.kind {
                    w.extend(writes[c].iter().copied());
                }
            });
            if w.contains(&g) {
                diags.push(sem_error(
                    "sema.foreach-mutation",
                    format!(
                        "array '{}' is modified during a foreach over it",
                        prog.globals[g].name
                    ),
                    f.source.span,
                ));
            }
        });
    };
    for p in &prog.probes {
        check_block(&p.body);
    }
    for func in &prog.functions {
        if let Body::Script(b) = &func.body {
            check_block(b);
        }
    }
}

/// Runs the checks over the whole program.
pub fn check(
    prog: &Program,
    resolver: &dyn crate::KernelResolver,
    guru: bool,
    diags: &mut Vec<Diagnostic>,
) {
    check_recursion(prog, diags);
    check_foreach_mutation(prog, diags);
    crate::families::procfs::check_paths(prog, diags);
    for f in &prog.functions {
        if let Body::Script(b) = &f.body {
            let mut c = Checker {
                prog,
                diags,
                locals: &f.locals,
                family: None,
                point: None,
                resolver,
                guru,
                in_tapset: f.from_tapset,
            };
            c.block(b);
        }
    }
    for p in &prog.probes {
        let mut c = Checker {
            prog,
            diags,
            locals: &p.locals,
            family: Some(p.family),
            point: Some(&p.point),
            resolver,
            guru,
            in_tapset: false,
        };
        c.block(&p.body);
        if let Some(x) = &p.condition {
            c.expr(x, false);
            // As SystemTap: a condition is re-evaluated whenever the globals it reads
            // change, so it may only read globals, and neither write nor call anything.
            let mut problem: Option<(&str, stap_syntax::source::Span)> = None;
            crate::visit::expr(x, &mut |e| {
                let why = match &e.kind {
                    ExprKind::Assign(..) | ExprKind::IncDec { .. } => {
                        "probe condition must not modify any variables"
                    }
                    ExprKind::Call(..) => "probe condition must not call functions",
                    ExprKind::Var(Var::Local(_)) | ExprKind::Array(Var::Local(_)) => {
                        "probe condition must refer only to global variables"
                    }
                    _ => return,
                };
                problem.get_or_insert((why, e.span));
            });
            if let Some((why, span)) = problem {
                c.diags.push(sem_error("sema.probe-condition", why, span));
            }
        }
    }
    for f in &prog.functions {
        for l in &f.locals {
            if l.ty == Type::Stats {
                let what = if l.param {
                    "parameter"
                } else {
                    "local variable"
                };
                diags.push(sem_error(
                    "sema.local-stats",
                    format!(
                        "{} '{}' cannot hold statistics (only globals can)",
                        what, l.name
                    ),
                    l.span,
                ));
            }
        }
    }
    for p in &prog.probes {
        for l in &p.locals {
            if l.ty == Type::Stats {
                diags.push(sem_error(
                    "sema.local-stats",
                    format!(
                        "local variable '{}' cannot hold statistics (only globals can)",
                        l.name
                    ),
                    l.span,
                ));
            }
        }
    }
    for g in &prog.globals {
        if g.keys.contains(&Type::Stats) {
            diags.push(sem_error(
                "sema.stats-key",
                format!("array '{}' cannot be indexed with statistics", g.name),
                g.span,
            ));
        }
        if g.ty == Type::Unknown && !g.is_array {
            diags.push(sem_error(
                "sema.unresolved-type",
                format!("unresolved type for global '{}'", g.name),
                g.span,
            ));
        }
    }
}

/// The statement walk: the visitor's, but for the statements whose expressions are
/// checked in a context of their own (a whole statement's value is unused; a `foreach`
/// source and a `delete` operand are arrays, not values).
impl<'a> crate::visit::Visitor<'a> for Checker<'_> {
    fn visit_stmt(&mut self, s: &'a Stmt) {
        match &s.kind {
            StmtKind::Expr(x) => self.expr(x, true),
            StmtKind::For(i, c, n, b) => {
                for x in [i, c, n].into_iter().flatten() {
                    self.expr(x, true);
                }
                self.visit_stmt(b);
            }
            StmtKind::Foreach(f) => {
                self.foreach(f);
                if let Some(l) = &f.limit {
                    self.expr(l, false);
                }
                self.visit_stmt(&f.body);
            }
            StmtKind::Delete(x) => match &x.kind {
                ExprKind::Index(_, keys) => {
                    for k in keys.iter().flatten() {
                        self.expr(k, false);
                    }
                }
                ExprKind::Var(_) | ExprKind::Array(_) => {}
                _ => self.err(
                    "sema.delete",
                    "'delete' needs a variable or an array element",
                    x,
                ),
            },
            _ => crate::visit::walk_stmt(self, s),
        }
    }

    fn visit_expr(&mut self, x: &'a Expr) {
        self.expr(x, false);
    }
}

impl Checker<'_> {
    fn err(&mut self, code: &'static str, msg: impl Into<String>, x: &Expr) {
        self.diags.push(sem_error(code, msg, x.span));
    }

    fn block(&mut self, b: &Block) {
        crate::visit::Visitor::visit_block(self, b);
    }

    /// What a `foreach` statement's source and sort may be.
    fn foreach(&mut self, f: &Foreach) {
        match &f.source.kind {
            ExprKind::Array(_) | ExprKind::Hist(..) => {}
            _ => self.err(
                "sema.foreach",
                "foreach needs an array or a histogram",
                &f.source,
            ),
        }
        let ExprKind::Array(Var::Global(g)) = &f.source.kind else {
            return;
        };
        let gl = &self.prog.globals[*g];
        if gl.ty == Type::Stats && f.value.is_some() {
            self.err(
                "sema.foreach-value",
                format!("foreach cannot copy the statistics of '{}' into a variable; use @count({}[...]) etc.", gl.name, gl.name),
                &f.source,
            );
        }
        if gl.ty != Type::Stats && f.value_sort.is_some_and(|(_, op)| op.is_some()) {
            self.err(
                "sema.foreach-sort",
                format!(
                    "'{}' is not a statistics array: sort it by value with + or - alone",
                    gl.name
                ),
                &f.source,
            );
        }
        // A statistics array sorted by value alone (`s-`) sorts by @count, as SystemTap's.
    }

    fn lvalue(&mut self, x: &Expr, what: &str) {
        if let (ExprKind::Target(t), Some(point), Some(f)) = (&x.kind, self.point, self.family) {
            if let TargetBase::Var(name) = &t.base {
                if let Some(msg) =
                    crate::families::context_var_error(f, point, name, t, true, self.guru)
                {
                    self.err("sema.context-var", msg, x);
                }
            }
        }
        match &x.kind {
            ExprKind::Var(_) => {}
            ExprKind::Index(b, keys) if matches!(b.kind, ExprKind::Array(_)) => {
                if keys.iter().any(|k| k.is_none()) {
                    self.err("sema.lvalue", "cannot assign to an array slice", x);
                }
            }
            ExprKind::Target(_) => {}
            _ => self.err("sema.lvalue", format!("Expecting lvalue for {}", what), x),
        }
    }

    fn var_name(&self, v: Var) -> &str {
        match v {
            Var::Global(g) => &self.prog.globals[g].name,
            Var::Local(i) => &self.locals[i].name,
        }
    }

    /// `stmt`: the expression is a whole statement (its value is unused).
    fn expr(&mut self, x: &Expr, stmt: bool) {
        match &x.kind {
            ExprKind::Literal(_)
            | ExprKind::Defined(_)
            | ExprKind::Perf(_)
            | ExprKind::Const(_)
            | ExprKind::Embedded(_) => {}
            ExprKind::Var(v) => {
                if let Var::Global(g) = v {
                    if self.prog.globals[*g].is_array {
                        let name = self.prog.globals[*g].name.clone();
                        return self.err(
                            "sema.array-scalar",
                            format!("array '{}' used as a scalar (it needs an index)", name),
                            x,
                        );
                    }
                }
                if x.ty == Type::Unknown {
                    let name = self.var_name(*v).to_string();
                    self.err(
                        "sema.unresolved-type",
                        format!("unresolved type for '{}'", name),
                        x,
                    );
                }
            }
            ExprKind::Array(Var::Global(g)) => {
                let name = self.prog.globals[*g].name.clone();
                self.err(
                    "sema.array-value",
                    format!("array '{}' used as a value (index it)", name),
                    x,
                );
            }
            ExprKind::Array(_) => {}
            ExprKind::Index(b, keys) => {
                if let ExprKind::Hist(..) = b.kind {
                    self.expr_hist_ok(b);
                }
                for k in keys {
                    match k {
                        Some(k) => self.expr(k, false),
                        None => self.err(
                            "sema.slice",
                            "'*' is only allowed in delete, foreach and 'in'",
                            x,
                        ),
                    }
                }
            }
            ExprKind::In(keys, _) => {
                for k in keys.iter().flatten() {
                    self.expr(k, false);
                }
            }
            ExprKind::Call(f, args) => {
                for a in args {
                    self.expr(a, false);
                }
                let func = &self.prog.functions[*f];
                let guru_only = matches!(&func.body, Body::Embedded { pragmas, .. } if pragmas.iter().any(|p| p == "guru"));
                if guru_only && !self.guru && !self.in_tapset {
                    self.err(
                        "sema.guru-function",
                        format!(
                            "function may not be used unless -g is specified: identifier '{}'",
                            func.name
                        ),
                        x,
                    );
                }
                if !stmt && func.ret == Type::Unknown {
                    self.err(
                        "sema.void-value",
                        format!(
                            "function '{}' returns no value, but its value is used",
                            func.name
                        ),
                        x,
                    );
                }
            }
            ExprKind::Print(kind, args) => self.print(*kind, args, x),
            ExprKind::Binary(op, l, r) => {
                if matches!(
                    op,
                    stap_syntax::ast::BinOp::Match | stap_syntax::ast::BinOp::NotMatch
                ) {
                    if let ExprKind::Literal(Literal::String(p)) = &r.kind {
                        let bytes = decode_string(&format!("\"{}\"", p)).unwrap_or_default();
                        if let Err(m) = crate::regex::check(&bytes) {
                            self.err(
                                "sema.regex",
                                format!("invalid regular expression: {}", m),
                                r,
                            );
                        }
                    }
                }
                self.expr(l, false);
                self.expr(r, false);
            }
            ExprKind::Unary(_, o) => self.expr(o, false),
            ExprKind::IncDec { operand, .. } => {
                self.lvalue(operand, "increment/decrement");
                self.expr(operand, false);
            }
            ExprKind::Assign(op, l, r) => self.assign(*op, l, r),
            ExprKind::Ternary(c, t, o) => {
                self.expr(c, false);
                self.expr(t, stmt);
                self.expr(o, stmt);
            }
            ExprKind::Stat(_, o) => {
                if let ExprKind::Var(Var::Global(g)) = o.kind {
                    if self.prog.globals[g].is_array {
                        let name = self.prog.globals[g].name.clone();
                        return self.err(
                            "sema.array-scalar",
                            format!("array '{}' used as a scalar (it needs an index)", name),
                            o,
                        );
                    }
                }
                self.stat_operand(o)
            }
            ExprKind::Hist(_, o) => {
                self.err(
                    "sema.hist-use",
                    "a histogram can only be printed, indexed or iterated with foreach",
                    x,
                );
                self.stat_operand(o);
            }
            ExprKind::Target(t) => self.target(t, x),
            ExprKind::Entry(o) => {
                let in_return = self
                    .point
                    .is_some_and(|p| p.components.iter().any(|c| c.name == "return"));
                if !in_return {
                    self.err(
                        "sema.entry",
                        "@entry is only available in .return probes",
                        x,
                    );
                }
                self.expr(o, false)
            }
        }
    }

    /// A target expression: its type and member chain, its context, its operands.
    fn target(&mut self, t: &TargetExpr, x: &Expr) {
        // Member and element access, and pretty printing, need the pointed-to type
        // (checked after elision: unused casts need no type).
        if !t.components.is_empty() || t.pretty > 0 {
            let need = match &t.base {
                TargetBase::Cast { ty, module, .. } => {
                    // A known type with a bad member chain says what is wrong.
                    match (self.resolver.cast_type(ty, module.as_deref()), &t.resolved) {
                        (Ok(()), Some(Err(why))) => {
                            self.err("sema.cast-member", why.clone(), x);
                            None
                        }
                        (Ok(()), _) => None,
                        (Err(_), _) => Some((ty.clone(), module.clone())),
                    }
                }
                TargetBase::Auto(_) => {
                    self.err(
                        "sema.autocast",
                        "the type of the value before '->' is not known (stap-rs does not track types through functions and locals yet): name it with @cast(value, \"type\")".to_string(),
                        x,
                    );
                    None
                }
                _ => None,
            };
            if let Some((ty, module)) = need {
                if let Err(msg) = self.resolver.cast_type(&ty, module.as_deref()) {
                    self.err("sema.cast-type", msg, x);
                }
            }
        }
        if let (TargetBase::Var(name), Some(point), Some(f)) = (&t.base, self.point, self.family) {
            if let Some(msg) =
                crate::families::context_var_error(f, point, name, t, false, self.guru)
            {
                self.err("sema.context-var", msg, x);
            }
        }
        if let (TargetBase::Var(name), Some(Err(why))) = (&t.base, &t.resolved) {
            self.diags.push(
                sem_error(
                    "sema.target-symbol",
                    format!("unresolved target-symbol expression '{}'", name),
                    x.span,
                )
                .with_note(why.clone()),
            );
        }
        if let TargetBase::Var(name) = &t.base {
            if !self.family.is_some_and(|f| f.has_target_vars()) {
                let note = match self.family {
                    None => "target variables are only available in probe handlers".to_string(),
                    Some(f) => format!("a {:?} probe has no target variables", f).to_lowercase(),
                };
                self.diags.push(
                    sem_error(
                        "sema.target-symbol",
                        format!("unresolved target-symbol expression '{}'", name),
                        x.span,
                    )
                    .with_note(note),
                );
            }
        }
        if let TargetBase::Cast { expr, .. } | TargetBase::Auto(expr) = &t.base {
            self.expr(expr, false);
        }
        for c in &t.components {
            if let TargetComponent::Index(i) = c {
                self.expr(i, false);
            }
        }
    }

    /// An assignment: what it assigns to may be assigned, and its operands.
    fn assign(&mut self, op: AssignOp, l: &Expr, r: &Expr) {
        self.lvalue(l, "assignment");
        if let ExprKind::Target(t) = &l.kind {
            if !self.guru && !matches!(&t.base, TargetBase::Var(n) if n == "$value") {
                self.err(
                    "sema.target-write",
                    "writing to kernel memory through a target expression needs guru mode (stap -g)",
                    l,
                );
            }
            // lvalue() checked context variables; others need a probe that has them.
            if let TargetBase::Var(name) = &t.base {
                if !self.family.is_some_and(|f| f.has_target_vars()) {
                    self.err(
                        "sema.target-symbol",
                        format!("unresolved target-symbol expression '{}'", name),
                        l,
                    );
                }
            }
        } else if op != AssignOp::Aggregate
            || !matches!(l.kind, ExprKind::Var(_) | ExprKind::Index(..))
        {
            self.expr(l, false);
        } else if let ExprKind::Index(_, keys) = &l.kind {
            for k in keys.iter().flatten() {
                self.expr(k, false);
            }
        }
        self.expr(r, false);
    }

    fn stat_operand(&mut self, o: &Expr) {
        if let ExprKind::Index(_, keys) = &o.kind {
            for k in keys.iter().flatten() {
                self.expr(k, false);
            }
        }
    }

    fn expr_hist_ok(&mut self, h: &Expr) {
        if let ExprKind::Hist(_, o) = &h.kind {
            self.stat_operand(o);
        }
    }

    fn print(&mut self, kind: PrintKind, args: &[Expr], x: &Expr) {
        // SystemTap's limit (PR10750): a print takes at most 32 values.
        let values = match kind {
            PrintKind::Print { .. } => args.len(),
            _ => args.len().saturating_sub(1),
        };
        if values > 32 {
            self.err(
                "sema.print-args",
                format!("too many arguments to print ({}; at most 32)", values),
                x,
            );
        }
        let values: &[Expr] = match kind {
            PrintKind::Format { .. } => {
                let Some(ExprKind::Literal(Literal::String(fmt))) = args.first().map(|a| &a.kind)
                else {
                    return self.err("sema.format", "the format must be a literal string", x);
                };
                let bytes = decode_string(&format!("\"{}\"", fmt)).unwrap_or_default();
                match format_args(&bytes) {
                    Err(m) => self.err("sema.format", m, &args[0]),
                    Ok(types) => {
                        if types.len() != args.len() - 1 {
                            self.err(
                                "sema.format-args",
                                format!(
                                    "Wrong number of args to formatted print operator: the format takes {}, {} given",
                                    types.len(),
                                    args.len() - 1
                                ),
                                x,
                            );
                        } else {
                            for (t, a) in types.iter().zip(&args[1..]) {
                                if a.ty != Type::Unknown && a.ty != *t {
                                    self.diags.push(sem_error(
                                        "sema.type-mismatch",
                                        format!("type mismatch: expected {} but found {}", t, a.ty),
                                        a.span,
                                    ));
                                }
                            }
                        }
                    }
                }
                &args[1..]
            }
            PrintKind::Delimited { .. } => &args[1..],
            PrintKind::Print { .. } => args,
        };
        for a in values {
            match &a.kind {
                // Printing a histogram draws it.
                ExprKind::Hist(_, o) => self.stat_operand(o),
                _ => {
                    if a.ty == Type::Stats {
                        self.err("sema.stats-value", "statistics can only be printed through @count, @sum ... or a histogram", a);
                    }
                    self.expr(a, false);
                }
            }
        }
    }
}

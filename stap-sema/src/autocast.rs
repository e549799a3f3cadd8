//! Autocast: `value->member` where `value` is no target variable and no `@cast`, but an
//! expression whose kernel type is known, as SystemTap's autocast does.  A value has a
//! type ("rich" value) when it is:
//!   - `&@cast(p, "T"[, "module"])`, or a target variable or cast member that is a pointer
//!     (`$file`, `@cast(t, "task_struct")->mm`): the pointed-to type;
//!   - a local assigned only values of one type, before this use;
//!   - a call of a function whose every `return` gives values of one type;
//!   - an assignment (its value) or a ternary whose branches share a type (`@defined`
//!     conditions already chose their branch).
//!
//! The autocast then lowers as `@cast(value, "T", module)`.

use crate::elaborate::Elab;
use crate::ir::*;
use crate::lower::Scope;
use stap_syntax::ast::AssignOp;
use std::collections::HashMap;

/// A known kernel type of a value: the type an autocast casts it to, and its module.
pub type Rich = (String, Option<String>);

/// Records that local `i` was assigned a value of type `t` (a second, different type, or
/// an untyped value after a typed one, leaves it untyped).
pub(crate) fn merge(rich: &mut HashMap<LocalId, Option<Rich>>, i: LocalId, t: Option<Rich>) {
    match rich.get(&i) {
        None => {
            rich.insert(i, t);
        }
        Some(old) if *old != t => {
            rich.insert(i, None);
        }
        Some(_) => {}
    }
}

/// The pointed-to type of a C pointer type name (`struct file *` -> `struct file`), for
/// single pointers only.
fn pointee(c_type: &str) -> Option<String> {
    let t = c_type.trim().strip_suffix('*')?.trim_end();
    if t.ends_with('*') {
        return None;
    }
    let t = t
        .trim_start_matches("const ")
        .trim_start_matches("volatile ");
    Some(t.trim().to_string())
}

/// The kernel module a probe point names (`module("nfsd").function(...)`), if any.
fn point_module(s: &Scope) -> Option<String> {
    let first = s.point.as_ref()?.components.first()?;
    match (&first.name[..], &first.arg) {
        ("module", Some(PointArg::String(m))) => Some(m.clone()),
        _ => None,
    }
}

/// The `return e` expressions of a body.
fn returns<'b>(b: &'b Block, out: &mut Vec<&'b Expr>) {
    crate::visit::each_stmt(b, &mut |s| {
        if let StmtKind::Return(Some(e)) = &s.kind {
            out.push(e);
        }
    });
}

impl Elab<'_> {
    /// The known type of a lowered expression, if any.
    pub(crate) fn rich(&mut self, s: &Scope, x: &Expr) -> Option<Rich> {
        match &x.kind {
            ExprKind::Target(t) => match (&t.base, &t.resolved) {
                (TargetBase::Cast { ty, module, .. }, _)
                    if t.components.is_empty() && t.addressof && t.pretty == 0 =>
                {
                    Some((ty.clone(), module.clone()))
                }
                (base, Some(Ok(r))) if r.result == TargetResult::Long && t.pretty == 0 => {
                    // The type lives where the value's type came from: a cast's module,
                    // or for `$var` the module the probe point names (its DWARF).
                    let module = match base {
                        TargetBase::Cast { module, .. } => module.clone(),
                        TargetBase::Var(_) => point_module(s),
                        _ => None,
                    };
                    pointee(&r.c_type).map(|p| (p, module))
                }
                _ => None,
            },
            ExprKind::Call(f, _) => self.function_rich(*f),
            ExprKind::Var(Var::Local(i)) => s.rich.get(i).cloned().flatten(),
            ExprKind::Assign(AssignOp::Assign, _, r) => self.rich(s, r),
            ExprKind::Ternary(_, a, b) => {
                let ra = self.rich(s, a)?;
                (self.rich(s, b)? == ra).then_some(ra)
            }
            _ => None,
        }
    }

    /// The type a function's values have, lowering the function first if it was not yet
    /// (a function being lowered, i.e. recursion, has none).
    fn function_rich(&mut self, f: FuncId) -> Option<Rich> {
        if !self.func_lowered[f.index()] {
            self.func_lowered[f.index()] = true;
            self.lower_function(f);
        }
        self.func_rich.get(&f).cloned().flatten()
    }

    /// The type every `return e` of a function body gives, if they agree.
    pub(crate) fn returns_rich(&mut self, s: &Scope, b: &Block) -> Option<Rich> {
        let mut rs = Vec::new();
        returns(b, &mut rs);
        let mut out: Option<Rich> = None;
        for e in rs {
            let t = self.rich(s, e)?;
            match &out {
                Some(o) if *o != t => return None,
                _ => out = Some(t),
            }
        }
        out
    }
}

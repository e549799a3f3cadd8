//! Lowering of target expressions: `$var`, `@cast`, autocast, `@var`, and `@defined`
//! (decided at this pass, as SystemTap does).

use crate::elaborate::Elab;
use crate::ir::*;
use crate::lower::LResult;
use crate::lower::{e, Scope};
use stap_syntax::ast;
use stap_syntax::source::Span;

/// A target's `->member` names, `None` for each `[index]`.
fn member_names(t: &ast::Target) -> Vec<Option<&str>> {
    t.components
        .iter()
        .map(|c| match c {
            ast::TargetComponent::Member(m) => Some(m.name.as_str()),
            ast::TargetComponent::Index(_) => None,
        })
        .collect()
}

impl Elab<'_> {
    /// `$name` in a probe of family `f`: `$counter` of a perfmon probe here, the rest
    /// from the kernel resolver.
    fn target_var(
        &self,
        point: &crate::ir::ProbePoint,
        f: crate::ir::Family,
        name: &str,
        comps: &[Option<&str>],
    ) -> Result<crate::ir::ResolvedTarget, String> {
        if f == crate::ir::Family::Netfilter {
            return crate::families::netfilter::target(name, comps);
        }
        if f != crate::ir::Family::Perfmon {
            return self.resolver.target(point, f, name, comps);
        }
        let event = match point.components.get(1).and_then(|c| c.arg.as_ref()) {
            Some(crate::ir::PointArg::String(s)) => s.as_str(),
            _ => "",
        };
        let handle = crate::ir::PERFMON_EVENTS
            .iter()
            .position(|(n, _, _)| *n == event)
            .ok_or_else(|| format!("no perfmon event '{}'", event))?;
        if name != "$counter" || !comps.is_empty() {
            return Err(format!(
                "'{}': a perfmon.counter probe has one target variable, $counter (its handle for read_counter())",
                name
            ));
        }
        Ok(crate::ir::ResolvedTarget {
            source: crate::ir::TargetSource::Const(handle as i64),
            ops: Vec::new(),
            result: crate::ir::TargetResult::Long,
            c_type: "long".into(),
            pretty: Vec::new(),
            pretty_deep: Vec::new(),
        })
    }

    pub(crate) fn is_defined(&mut self, s: &mut Scope, x: &ast::Expr) -> bool {
        match &x.kind {
            ast::ExprKind::Target(t) => match &t.base {
                ast::TargetBase::Var(name) => match (s.family, &s.point) {
                    (Some(f), Some(point)) if f.has_target_vars() => {
                        match crate::families::context_vars_known(f, point) {
                            true => crate::families::context_var_ok(f, point, name),
                            false => {
                                let comps = member_names(t);
                                match self.target_var(point, f, name, &comps) {
                                    Ok(r) => {
                                        t.addressof
                                            || !matches!(
                                                r.result,
                                                crate::ir::TargetResult::Aggregate(_)
                                            )
                                    }
                                    Err(_) => false,
                                }
                            }
                        }
                    }
                    _ => false,
                },
                ast::TargetBase::AtVar { .. } => false,
                // @cast: defined when the type has the members named (with no kernel
                // types at hand, SystemTap's answer without debuginfo: assume so).
                ast::TargetBase::Cast { ty, module, .. } => {
                    let comps = member_names(t);
                    // (A struct-valued member is defined: it resolves, and & takes it.)
                    match self.resolver.cast(ty, module.as_deref(), &comps) {
                        Ok(_) => true,
                        Err(_) => self.resolver.cast_type(ty, module.as_deref()).is_err(),
                    }
                }
                // An autocast is defined when its operand's type is known and has the
                // members named.
                ast::TargetBase::Auto(x) => {
                    let mut probe = s.clone();
                    let n = self.diags.len();
                    let lowered = self.lower_expr(&mut probe, x);
                    self.diags.truncate(n);
                    let Ok(x) = lowered else { return false };
                    let Some((ty, module)) = self.rich(&probe, &x) else {
                        return false;
                    };
                    let comps = member_names(t);
                    self.resolver.cast(&ty, module.as_deref(), &comps).is_ok()
                }
            },
            // `@defined(c) ? a : b` (@choose_defined) is defined when its chosen branch is:
            // the ternary itself is not automatically defined.
            ast::ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => {
                let mut probe = s.clone();
                let n = self.diags.len();
                let c = self.lower_expr(&mut probe, cond);
                self.diags.truncate(n);
                match c.map(|c| c.kind) {
                    Ok(ExprKind::Defined(b)) => {
                        self.is_defined(s, if b { then } else { otherwise })
                    }
                    _ => self.elaborates(s, x),
                }
            }
            _ => self.elaborates(s, x),
        }
    }

    /// Whether a script expression elaborates (what `@defined` of one means).
    fn elaborates(&mut self, s: &mut Scope, x: &ast::Expr) -> bool {
        let mut probe = s.clone();
        let n = self.diags.len();
        let ok = self.lower_expr(&mut probe, x).is_ok();
        self.diags.truncate(n);
        ok
    }

    pub(crate) fn lower_target(
        &mut self,
        s: &mut Scope,
        t: &ast::Target,
        span: Span,
    ) -> LResult<Expr> {
        let base = match &t.base {
            // Whether the probe has this variable is checked after elision, as SystemTap
            // does: dead code may name variables that do not exist.
            ast::TargetBase::Var(name) => TargetBase::Var(name.clone()),
            ast::TargetBase::Cast { expr, ty, module } => TargetBase::Cast {
                expr: Box::new(self.lower_expr(s, expr)?),
                ty: ty.clone(),
                module: module.clone(),
            },
            ast::TargetBase::AtVar { name, module } => TargetBase::AtVar {
                name: name.clone(),
                module: module.clone(),
            },
            // An autocast whose operand has a known type is that @cast.
            ast::TargetBase::Auto(x) => {
                let x = self.lower_expr(s, x)?;
                match self.rich(s, &x) {
                    Some((ty, module)) => TargetBase::Cast {
                        expr: Box::new(x),
                        ty,
                        module,
                    },
                    None => TargetBase::Auto(Box::new(x)),
                }
            }
        };
        let mut components = Vec::new();
        for c in &t.components {
            components.push(match c {
                ast::TargetComponent::Member(m) => TargetComponent::Member(m.name.clone()),
                ast::TargetComponent::Index(i) => TargetComponent::Index(self.lower_expr(s, i)?),
            });
        }
        // In kernel probes, $name resolves against the kernel's types now; a failure is
        // reported after elision, if the expression is still used.
        let comps: Vec<Option<&str>> = components
            .iter()
            .map(|c| match c {
                TargetComponent::Member(m) => Some(m.as_str()),
                TargetComponent::Index(_) => None,
            })
            .collect();
        let resolved = match (&t.base, s.family, &s.point) {
            // procfs's $value: the file's text (its checks are the family's).
            (ast::TargetBase::Var(name), Some(Family::Procfs), _) if name == "$value" => {
                Some(Ok(crate::ir::ResolvedTarget {
                    source: crate::ir::TargetSource::ProcfsValue,
                    ops: Vec::new(),
                    result: crate::ir::TargetResult::String { max: 0 },
                    c_type: "char *".into(),
                    pretty: Vec::new(),
                    pretty_deep: Vec::new(),
                }))
            }
            (ast::TargetBase::Var(name), Some(f), Some(point))
                if f.has_target_vars() && !crate::families::context_vars_known(f, point) =>
            {
                Some(self.target_var(point, f, name, &comps))
            }
            // @cast (and an autocast made one) works in any probe or function: its
            // address comes from the script.
            _ => match &base {
                TargetBase::Cast { ty, module, .. } => {
                    Some(self.resolver.cast(ty, module.as_deref(), &comps))
                }
                _ => None,
            },
        };
        // &$var->member: the member's address (the last load dropped); a value in a
        // register has none.
        let resolved = match resolved {
            Some(Ok(mut r)) if t.addressof => {
                let last = r.ops.last().cloned();
                match (last, &r.result) {
                    (_, crate::ir::TargetResult::String { .. }) => {
                        r.result = crate::ir::TargetResult::Long;
                        Some(Ok(r))
                    }
                    (_, crate::ir::TargetResult::Aggregate(_)) => {
                        r.result = crate::ir::TargetResult::Long;
                        r.c_type = format!("{} *", r.c_type);
                        Some(Ok(r))
                    }
                    (Some(crate::ir::TargetOp::Load { .. }), _) => {
                        r.ops.pop();
                        r.c_type = format!("{} *", r.c_type);
                        Some(Ok(r))
                    }
                    (Some(crate::ir::TargetOp::Bits { .. }), _) => {
                        Some(Err("cannot take the address of a bitfield".to_string()))
                    }
                    _ => Some(Err(
                        "cannot take the address of a register parameter or return value"
                            .to_string(),
                    )),
                }
            }
            Some(Ok(mut r)) => match &r.result {
                // A char array is its address, as in SystemTap (kernel_string($p->comm));
                // `$p->comm$` shows it as a string.
                crate::ir::TargetResult::String { max } if *max > 0 && t.pretty == 0 => {
                    r.result = crate::ir::TargetResult::Long;
                    Some(Ok(r))
                }
                // `$struct$` shows its members, from its address.
                crate::ir::TargetResult::Aggregate(_) if t.pretty > 0 && !r.pretty.is_empty() => {
                    r.result = crate::ir::TargetResult::Long;
                    Some(Ok(r))
                }
                crate::ir::TargetResult::Aggregate(why) => Some(Err(why.clone())),
                _ => Some(Ok(r)),
            },
            other => other,
        };
        let resolved_string = matches!(
            &resolved,
            Some(Ok(r)) if matches!(r.result, crate::ir::TargetResult::String { .. })
        );
        // procfs probes pass the file's contents as the string $value.
        let procfs_value = s.family == Some(Family::Procfs)
            && matches!(&t.base, ast::TargetBase::Var(n) if n == "$value");
        let ty = if t.pretty > 0
            || procfs_value
            || resolved_string
            || matches!(&t.base, ast::TargetBase::Var(n) if n.starts_with("$$"))
        {
            Type::String
        } else {
            Type::Long
        };
        Ok(e(
            ExprKind::Target(Box::new(TargetExpr {
                base,
                components,
                addressof: t.addressof,
                pretty: t.pretty,
                resolved,
            })),
            ty,
            span,
        ))
    }
}

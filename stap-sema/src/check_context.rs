//! Target variables of the probe points whose variables are known without debug data
//! (procfs `$value`, process syscall `$syscall`/`$argN`/`$return`).

use crate::ir::*;

/// True for probe points whose variables are known without debug data.
pub(crate) fn context_vars_known(point: &ProbePoint) -> bool {
    let names: Vec<&str> = point.components.iter().map(|c| c.name.as_str()).collect();
    match names.first() {
        Some(&"procfs") => true,
        Some(&"process") => !names
            .iter()
            .any(|n| matches!(*n, "function" | "statement" | "mark" | "plt")),
        _ => false,
    }
}

/// Whether `$name` exists at a point whose variables are known (for `@defined`).
pub(crate) fn context_var_ok(point: &ProbePoint, name: &str) -> bool {
    let t = TargetExpr {
        base: TargetBase::Var(name.to_string()),
        components: Vec::new(),
        addressof: false,
        pretty: 0,
        resolved: None,
    };
    let writing = point.components.iter().any(|c| c.name == "read");
    context_var_error(point, name, &t, writing).is_none()
}

/// Variables of probe points whose context SystemTap defines without debug data:
/// process syscalls (`$syscall`, `$arg1`..`$arg6`, `$return`) and procfs (`$value`).
pub(crate) fn context_var_error(
    point: &ProbePoint,
    name: &str,
    t: &TargetExpr,
    writing: bool,
) -> Option<String> {
    let names: Vec<&str> = point.components.iter().map(|c| c.name.as_str()).collect();
    let has = |n: &str| names.contains(&n);
    let is_process = names.first() == Some(&"process");
    let is_procfs = names.first() == Some(&"procfs");
    if is_procfs {
        if name != "$value" {
            return Some(format!("procfs probes have only $value, not '{}'", name));
        }
        if !t.components.is_empty() {
            return Some("$value is a string: it has no fields or elements".into());
        }
        if has("write") && writing {
            return Some(
                "$value of a procfs write probe holds what was written: it cannot be assigned"
                    .into(),
            );
        }
        if has("read") && !writing {
            return Some(
                "$value of a procfs read probe is what the read returns: it can only be assigned"
                    .into(),
            );
        }
        return None;
    }
    if !is_process || has("function") || has("statement") || has("mark") || has("plt") {
        return None;
    }
    let syscall = has("syscall");
    let ret = has("return");
    let ok = syscall
        && (name == "$syscall"
            || (!ret
                && matches!(
                    name,
                    "$arg1" | "$arg2" | "$arg3" | "$arg4" | "$arg5" | "$arg6"
                ))
            || (ret && name == "$return"));
    if !ok {
        return Some(format!(
            "'{}' is not available in a '{}' probe",
            name, point
        ));
    }
    if writing {
        return Some(format!("'{}' cannot be assigned", name));
    }
    if !t.components.is_empty() {
        return Some(format!(
            "'{}' is a number: it has no fields or elements",
            name
        ));
    }
    None
}

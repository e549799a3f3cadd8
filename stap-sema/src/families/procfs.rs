//! `procfs[("PATH")].read|write[.maxsize(n)]`, `.umask(n)`: a file under
//! `/proc/systemtap/MODULE` whose reads and writes run the probe, with `$value` the
//! text.  The kernel runtime runs them; the user runtime has no /proc of its own.

use super::{has, num, string, BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, ProbeKind, ProbePoint, Runtime, TargetExpr};

/// The procfs family.
pub(crate) struct Procfs;

impl ProbeFamily for Procfs {
    fn family(&self) -> Family {
        Family::Procfs
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "procfs(s?).read",
            "procfs(s?).read.maxsize(n)",
            "procfs(s?).write",
            "procfs(s?).umask(n).read",
            "procfs(s?).umask(n).read.maxsize(n)",
            "procfs(s?).umask(n).write",
        ]
    }
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        let path = string(p, "procfs");
        if let Some(path) = &path {
            let bad = path.is_empty()
                || path.starts_with('/')
                || path.ends_with('/')
                || path.contains("//")
                || path.split('/').any(|c| c == "." || c == "..");
            if bad {
                return Err(Refusal::soft(
                    "sema.procfs-path",
                    format!("invalid procfs path '{}': use a relative path without '.', '..' or empty components", path),
                    cx.span,
                ));
            }
        }
        if num(p, "maxsize").is_some_and(|m| m <= 0) {
            return Err(Refusal::soft(
                "sema.procfs-maxsize",
                "procfs maxsize must be positive",
                cx.span,
            ));
        }
        Ok(ProbeKind::Procfs {
            path: path.unwrap_or_else(|| "command".to_string()),
            write: has(p, "write"),
            maxsize: num(p, "maxsize").unwrap_or(0),
            umask: num(p, "umask").map_or(-1, |m| m & 0o777),
        })
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    fn context_vars_known(&self, _: &ProbePoint) -> bool {
        true
    }
    /// Only `$value`: what a write probe received (read-only), or what a read probe
    /// returns (write-only).
    fn context_var_error(
        &self,
        p: &ProbePoint,
        name: &str,
        t: &TargetExpr,
        writing: bool,
        _guru: bool,
    ) -> Option<String> {
        if name != "$value" {
            return Some(format!("procfs probes have only $value, not '{}'", name));
        }
        if !t.components.is_empty() {
            return Some("$value is a string: it has no fields or elements".into());
        }
        if has(p, "write") && writing {
            return Some(
                "$value of a procfs write probe holds what was written: it cannot be assigned"
                    .into(),
            );
        }
        if has(p, "read") && !writing {
            return Some(
                "$value of a procfs read probe is what the read returns: it can only be assigned"
                    .into(),
            );
        }
        None
    }
    fn runs_on(&self, r: Runtime) -> bool {
        r == Runtime::Kernel
    }
}

/// As SystemTap: a path has at most one read probe and one write probe (but `__stdin`,
/// the input probes' file, has any number of write probes).
pub(crate) fn check_paths(
    prog: &crate::ir::Program,
    diags: &mut Vec<stap_syntax::diag::Diagnostic>,
) {
    let mut seen: Vec<(&str, bool)> = Vec::new();
    for p in &prog.probes {
        let ProbeKind::Procfs { path, write, .. } = &p.kind else {
            continue;
        };
        if path == "__stdin" && *write {
            continue;
        }
        if seen.contains(&(path.as_str(), *write)) {
            diags.push(crate::elaborate::sem_error(
                "sema.procfs-duplicate",
                format!(
                    "only one {} procfs probe can exist for procfs path \"{}\"",
                    if *write { "write" } else { "read" },
                    path
                ),
                p.span,
            ));
        } else {
            seen.push((path.as_str(), *write));
        }
    }
}

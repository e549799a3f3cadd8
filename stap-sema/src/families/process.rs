//! `process[("PATH"|PID)].*`: process and thread lifecycle, system calls, and points in
//! user code.  The kernel runtime runs the lifecycle probes (`.begin`, `.end`,
//! `.thread.begin`, `.thread.end`) and, as uprobes, `process("PATH").function("NAME")`
//! with `.call` and `.return` (functions from the program's symbol tables), SDT markers
//! (`process("PATH")[.provider("P")].mark("NAME")`, from its `.note.stapsdt`) and PLT
//! entries (`.plt("NAME")`), each also in a library (`.library("LIB")`), and, from the
//! program's DWARF, `.function("F").inline` and `.statement("F@FILE:LINE")`; the others
//! pass pass 2, checked as SystemTap does, and are refused before pass 4.

use super::{has, BuildCx, ProbeFamily, Refusal};
use crate::ir::{
    Family, PointArg, ProbeKind, ProbePoint, ProcessEvent, ProcessFilter, Runtime, TargetExpr,
};

/// The process family.
pub(crate) struct Process;

/// True for points inside a program's code, whose variables come from its debug data.
fn in_code(p: &ProbePoint) -> bool {
    ["function", "statement", "mark", "plt"]
        .iter()
        .any(|n| has(p, n))
}

impl ProbeFamily for Process {
    fn family(&self) -> Family {
        Family::Process
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "process(ns?).begin",
            "process(ns?).end",
            "process(ns?).thread.begin",
            "process(ns?).thread.end",
            "process(ns?).syscall",
            "process(ns?).syscall.return",
            "process(ns?).function(ns)",
            "process(ns?).function(ns).call",
            "process(ns?).function(ns).return",
            "process(ns?).function(ns).inline",
            "process(ns?).function(ns).exported",
            "process(ns?).function(s).label(s)",
            "process(ns?).statement(ns)",
            "process(ns?).statement(ns).nearest",
            "process(s?).statement(n).absolute",
            "process(s?).statement(n).absolute.return",
            "process(ns?).library(s).function(ns)",
            "process(ns?).library(s).function(ns).call",
            "process(ns?).library(s).function(ns).return",
            "process(ns?).library(s).statement(ns)",
            "process(ns?).library(s).mark(s)",
            "process(ns?).library(s).provider(s).mark(s)",
            "process(ns?).library(s).plt(s?)",
            "process(ns?).library(s).plt(s?).return",
            "process(ns?).mark(s)",
            "process(ns?).provider(s).mark(s)",
            "process(ns?).plt(s?)",
            "process(ns?).plt(s?).return",
            "process(ns?).insn",
            "process(ns?).insn.block",
            "process(ns?).data(ns).write",
            "process(ns?).data(ns).rw",
        ]
    }
    fn uses_resolver(&self) -> bool {
        true
    }
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        super::check_absolute(p, cx)?;
        let ret = has(p, "return");
        // A function, SDT marker or PLT entry the resolver placed in its file: a uprobe.
        if ["function", "mark", "plt", "statement"]
            .iter()
            .any(|n| has(p, n))
            && !["exported", "label"].iter().any(|n| has(p, n))
        {
            if let Some(site) = cx.resolver.user_site(p) {
                return Ok(ProbeKind::Uprobe { site, ret });
            }
        }
        let event = if in_code(p) || has(p, "insn") || has(p, "data") {
            ProcessEvent::Code
        } else if has(p, "syscall") {
            if ret {
                ProcessEvent::SyscallReturn
            } else {
                ProcessEvent::Syscall
            }
        } else if has(p, "thread") {
            if has(p, "begin") {
                ProcessEvent::ThreadBegin
            } else {
                ProcessEvent::ThreadEnd
            }
        } else if has(p, "begin") {
            ProcessEvent::Begin
        } else {
            ProcessEvent::End
        };
        let filter = match &p.components[0].arg {
            Some(PointArg::Number(n)) => ProcessFilter::Pid(*n),
            Some(PointArg::String(s)) => ProcessFilter::Path(s.clone()),
            None => ProcessFilter::Any,
        };
        Ok(ProbeKind::Process { event, filter })
    }
    fn has_target_vars(&self) -> bool {
        true
    }
    fn context_vars_known(&self, p: &ProbePoint) -> bool {
        !in_code(p)
    }
    /// `process.syscall` has `$syscall` and `$arg1`..`$arg6`, its `.return` `$syscall`
    /// and `$return`; the lifecycle probes have none.
    fn context_var_error(
        &self,
        p: &ProbePoint,
        name: &str,
        t: &TargetExpr,
        writing: bool,
        _guru: bool,
    ) -> Option<String> {
        if in_code(p) {
            return None;
        }
        let ret = has(p, "return");
        let ok = has(p, "syscall")
            && (name == "$syscall"
                || (!ret
                    && matches!(
                        name,
                        "$arg1" | "$arg2" | "$arg3" | "$arg4" | "$arg5" | "$arg6"
                    ))
                || (ret && name == "$return"));
        if !ok {
            return Some(format!("'{}' is not available in a '{}' probe", name, p));
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
    fn runs_on(&self, _: Runtime) -> bool {
        false
    }
    /// The kernel runs the lifecycle events and uprobes.
    fn runs_kind(&self, runtime: Runtime, kind: &ProbeKind) -> bool {
        runtime == Runtime::Kernel
            && matches!(
                kind,
                ProbeKind::Process {
                    event: ProcessEvent::Begin
                        | ProcessEvent::End
                        | ProcessEvent::ThreadBegin
                        | ProcessEvent::ThreadEnd,
                    ..
                } | ProbeKind::Uprobe { .. }
            )
    }
}

//! `begin`, `end`, `error` and `never`: the probes that run once, at start-up, at
//! shutdown, after an error, or not at all.

use super::{num, BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, ProbeKind, ProbePoint, Runtime};

/// `begin[(seq)]`
pub(crate) struct Begin;
/// `end[(seq)]`
pub(crate) struct End;
/// `error[(seq)]`
pub(crate) struct Error;
/// `never`
pub(crate) struct Never;

impl ProbeFamily for Begin {
    fn family(&self) -> Family {
        Family::Begin
    }
    fn patterns(&self) -> &'static [&'static str] {
        &["begin", "begin(n)"]
    }
    fn build(&self, p: &ProbePoint, _: &BuildCx) -> Result<ProbeKind, Refusal> {
        Ok(ProbeKind::Begin {
            seq: num(p, "begin").unwrap_or(0),
        })
    }
    fn runs_on(&self, _: Runtime) -> bool {
        true
    }
}

impl ProbeFamily for End {
    fn family(&self) -> Family {
        Family::End
    }
    fn patterns(&self) -> &'static [&'static str] {
        &["end", "end(n)"]
    }
    fn build(&self, p: &ProbePoint, _: &BuildCx) -> Result<ProbeKind, Refusal> {
        Ok(ProbeKind::End {
            seq: num(p, "end").unwrap_or(0),
        })
    }
    fn runs_on(&self, _: Runtime) -> bool {
        true
    }
}

impl ProbeFamily for Error {
    fn family(&self) -> Family {
        Family::Error
    }
    fn patterns(&self) -> &'static [&'static str] {
        &["error", "error(n)"]
    }
    fn build(&self, p: &ProbePoint, _: &BuildCx) -> Result<ProbeKind, Refusal> {
        Ok(ProbeKind::Error {
            seq: num(p, "error").unwrap_or(0),
        })
    }
    fn runs_on(&self, _: Runtime) -> bool {
        true
    }
}

impl ProbeFamily for Never {
    fn family(&self) -> Family {
        Family::Never
    }
    fn patterns(&self) -> &'static [&'static str] {
        &["never"]
    }
    fn build(&self, _: &ProbePoint, _: &BuildCx) -> Result<ProbeKind, Refusal> {
        Ok(ProbeKind::Never)
    }
    fn runs_on(&self, _: Runtime) -> bool {
        true
    }
}

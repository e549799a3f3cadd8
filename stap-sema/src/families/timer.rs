//! `timer.*`: hrtimers (`s`, `ms`, `us`, `ns`, `hz`), jiffies timers, and
//! `timer.profile` (every tick, on every CPU).

use super::{num, BuildCx, ProbeFamily, Refusal};
use crate::ir::{Family, PointArg, ProbeKind, ProbePoint, Runtime, TimerPeriod};
use stap_syntax::source::Span;

/// `timer.UNIT(n)[.randomize(n)]`, `timer.hz(n)`
pub(crate) struct Timer;
/// `timer.profile[.tick]`
pub(crate) struct Profile;

/// The hrtimer minimum SystemTap enforces.
const MIN_NS: i64 = 100_000;
/// One day.
const MAX_NS: i64 = 1_000_000_000 * 60 * 60 * 24;

/// Nanoseconds per unit of an hrtimer (0 for `jiffies` and `hz`).
fn ns_per(unit: &str) -> i64 {
    match unit {
        "s" | "sec" => 1_000_000_000,
        "ms" | "msec" => 1_000_000,
        "us" | "usec" => 1_000,
        "ns" | "nsec" => 1,
        _ => 0,
    }
}

/// SystemTap's limits on timer intervals: an hrtimer period (s, ms, us, ns, hz) within
/// 100 us and one day, a jiffies period within 1 and 1 000 000 jiffies.
fn check_range(unit: &str, n: i64, span: Span) -> Result<(), Refusal> {
    let (lo, hi) = match unit {
        "jiffies" => (1, 1_000_000),
        "hz" => (1, 1_000_000_000 / MIN_NS),
        _ => {
            let scale = ns_per(unit);
            ((MIN_NS / scale).max(1), MAX_NS / scale)
        }
    };
    if n < lo || n > hi {
        return Err(Refusal::soft(
            "sema.timer-value",
            format!("interval value out of range ({},{})", lo, hi),
            span,
        ));
    }
    Ok(())
}

impl ProbeFamily for Timer {
    fn family(&self) -> Family {
        Family::Timer
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "timer.jiffies(n)",
            "timer.jiffies(n).randomize(n)",
            "timer.s(n)",
            "timer.s(n).randomize(n)",
            "timer.sec(n)",
            "timer.sec(n).randomize(n)",
            "timer.ms(n)",
            "timer.ms(n).randomize(n)",
            "timer.msec(n)",
            "timer.msec(n).randomize(n)",
            "timer.us(n)",
            "timer.us(n).randomize(n)",
            "timer.usec(n)",
            "timer.usec(n).randomize(n)",
            "timer.ns(n)",
            "timer.ns(n).randomize(n)",
            "timer.nsec(n)",
            "timer.nsec(n).randomize(n)",
            "timer.hz(n)",
        ]
    }
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        let unit = &p.components[1];
        let n = match unit.arg {
            Some(PointArg::Number(n)) => n,
            _ => 1,
        };
        if n <= 0 {
            return Err(Refusal::soft(
                "sema.timer-value",
                format!("invalid timer interval {} (must be positive)", n),
                cx.span,
            ));
        }
        check_range(&unit.name, n, cx.span)?;
        let r = num(p, "randomize").unwrap_or(0);
        // As SystemTap 4.8: the spread may be as large as the interval itself.
        if r < 0 || r > n {
            return Err(Refusal::soft(
                "sema.timer-randomize",
                format!(
                    "randomization value out of range ({} is not within 0..={})",
                    r, n
                ),
                cx.span,
            ));
        }
        let (period, randomize) = match unit.name.as_str() {
            "jiffies" => (TimerPeriod::Jiffies(n), r),
            "hz" => (TimerPeriod::Ns(1_000_000_000 / n), 0),
            u => (
                TimerPeriod::Ns(n.saturating_mul(ns_per(u))),
                r.saturating_mul(ns_per(u)),
            ),
        };
        Ok(ProbeKind::Timer {
            period,
            randomize,
            per_cpu: false,
        })
    }
    fn runs_on(&self, _: Runtime) -> bool {
        true
    }
}

impl ProbeFamily for Profile {
    fn family(&self) -> Family {
        Family::TimerProfile
    }
    fn patterns(&self) -> &'static [&'static str] {
        &[
            "timer.profile",
            "timer.profile.tick",
            "timer.profile.freq.hz(n)",
        ]
    }
    /// Every tick on every CPU, or `.freq.hz(N)`: N times a second on every CPU.
    fn build(&self, p: &ProbePoint, cx: &BuildCx) -> Result<ProbeKind, Refusal> {
        let period = match super::num(p, "hz") {
            Some(hz) => {
                check_range("hz", hz, cx.span)?;
                TimerPeriod::Ns(1_000_000_000 / hz)
            }
            None => TimerPeriod::Jiffies(1),
        };
        Ok(ProbeKind::Timer {
            period,
            randomize: 0,
            per_cpu: true,
        })
    }
    fn runs_on(&self, runtime: Runtime) -> bool {
        runtime == Runtime::Kernel
    }
}

//! C for target variables resolved against the kernel's types: a parameter, tracepoint
//! argument or return value, then member offsets, indices and fault-safe loads.

use crate::body::{Gen, R};
use stap_sema::ir::Type;
use stap_sema::ir::{
    ResolvedTarget, TargetBase, TargetComponent, TargetExpr, TargetOp, TargetResult, TargetSource,
};
use stap_syntax::source::Span;

fn source(s: &TargetSource) -> String {
    match s {
        TargetSource::Param(n) | TargetSource::TracepointArg(n) => {
            format!("stp_arg(&c->rt, {})", n)
        }
        TargetSource::Return => "stp_retval(&c->rt)".to_string(),
        TargetSource::DwarfReg(n) => format!("stp_dwarf_reg(&c->rt, {})", n),
        TargetSource::Pairs(_) | TargetSource::Value => "0".to_string(),
    }
}

impl Gen<'_> {
    /// A resolved `$name...` as a C expression (a statement expression that unwinds to
    /// the error label when a load faults).
    pub(crate) fn target(&mut self, t: &TargetExpr, span: Span) -> R<String> {
        let Some(Ok(r)) = &t.resolved else {
            return Ok("0".into());
        };
        let r: &ResolvedTarget = r;
        let near = self.near(span);
        let err = self.err_label().to_string();
        if let TargetSource::Pairs(pairs) = &r.source {
            let buf = self.temp(Type::String);
            let names: Vec<String> = pairs.iter().map(|(n, _)| crate::c_str(n)).collect();
            let vals: Vec<String> = pairs.iter().map(|(_, s)| source(s)).collect();
            if pairs.is_empty() {
                return Ok(format!(
                    "({{ {}[0] = '\\0'; (const char *){}; }})",
                    buf, buf
                ));
            }
            return Ok(format!(
                "({{ static const char *const __n[] = {{ {} }}; const uint64_t __v[] = {{ {} }}; stp_format_pairs({}, __n, __v, {}); (const char *){}; }})",
                names.join(", "),
                vals.join(", "),
                buf,
                pairs.len(),
                buf
            ));
        }
        let start = match (&r.source, &t.base) {
            (TargetSource::Value, TargetBase::Cast { expr, .. }) => {
                format!("(uint64_t)({})", self.expr(expr)?)
            }
            (s, _) => source(s),
        };
        let mut code = format!("({{ uint64_t __t = {};", start);
        for op in &r.ops {
            match op {
                TargetOp::Narrow { size, signed } => {
                    let ty = match (size, signed) {
                        (1, true) => "int8_t",
                        (1, false) => "uint8_t",
                        (2, true) => "int16_t",
                        (2, false) => "uint16_t",
                        (4, true) => "int32_t",
                        _ => "uint32_t",
                    };
                    code.push_str(&format!(" __t = (uint64_t)(int64_t)({})__t;", ty));
                }
                TargetOp::Add(k) => code.push_str(&format!(" __t += (uint64_t){}LL;", k)),
                TargetOp::AddIndex { component, scale } => {
                    let idx = match t.components.get(*component) {
                        Some(TargetComponent::Index(e)) => self.expr(e)?,
                        _ => "0".to_string(),
                    };
                    code.push_str(&format!(" __t += (uint64_t)({}) * {}ULL;", idx, scale));
                }
                TargetOp::Load { size, signed } => code.push_str(&format!(
                    " if (stp_kread(&c->rt, &__t, {}, {}, {})) goto {};",
                    size, *signed as i32, near, err
                )),
                TargetOp::Bits {
                    shift,
                    bits,
                    signed,
                } => {
                    code.push_str(&format!(
                        " __t = (__t >> {}) & ((1ULL << {}) - 1);",
                        shift, bits
                    ));
                    if *signed {
                        code.push_str(&format!(
                            " __t = (uint64_t)((int64_t)(__t << {0}) >> {0});",
                            64 - *bits as u32
                        ));
                    }
                }
            }
        }
        match r.result {
            // An aggregate only reaches here as &aggregate: its address.
            TargetResult::Long | TargetResult::Aggregate(_) => code.push_str(" (int64_t)__t; })"),
            TargetResult::String { max } => {
                let buf = self.temp(Type::String);
                code.push_str(&format!(
                    " if (stp_kread_string(&c->rt, {}, __t, {}, {})) goto {}; (const char *){}; }})",
                    buf, max, near, err, buf
                ));
            }
        }
        Ok(code)
    }
}

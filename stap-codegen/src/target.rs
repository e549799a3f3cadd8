//! C for target variables resolved against the kernel's types: a parameter, tracepoint
//! argument or return value, then member offsets, indices and fault-safe loads.

use crate::body::{Gen, R};
use stap_sema::ir::Type;
use stap_sema::ir::{
    PrettyKind, ResolvedTarget, TargetBase, TargetComponent, TargetExpr, TargetOp, TargetResult,
    TargetSource,
};
use stap_syntax::source::Span;

fn source(s: &TargetSource) -> String {
    match s {
        TargetSource::Param(n) | TargetSource::TracepointArg(n) => {
            format!("stp_arg(&c->rt, {})", n)
        }
        TargetSource::Return => "stp_retval(&c->rt)".to_string(),
        TargetSource::DwarfReg(n) => format!("stp_dwarf_reg(&c->rt, {})", n),
        TargetSource::Const(v) => format!("(uint64_t){}LL", v),
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
        code.push_str(&self.target_ops(t, &r.ops, &near, &err)?);
        if t.pretty > 0 {
            return self.pretty(t, r, code, &near, &err);
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

    /// `$var$`: the value (`code` leaves it, or the struct's address, in `__t`) as a string,
    /// structs in SystemTap's `{.a=1, .b="x", .p=0x...}` layout (at most 64 members).
    fn pretty(
        &mut self,
        t: &TargetExpr,
        r: &ResolvedTarget,
        mut code: String,
        near: &str,
        err: &str,
    ) -> R<String> {
        let buf = self.temp(Type::String);
        let fields = if t.pretty > 1 {
            &r.pretty_deep
        } else {
            &r.pretty
        };
        if fields.is_empty() {
            let fmt = match r.result {
                TargetResult::String { .. } => {
                    let s = self.temp(Type::String);
                    code.push_str(&format!(
                        " if (stp_kread_string(&c->rt, {s}, __t, 0, {near})) goto {err}; stp_sprintf({buf}, \"\\\"%#s\\\"\", 1, (const union stp_arg[]){{ {{ .s = {s} }} }}); (const char *){buf}; }})"
                    ));
                    return Ok(code);
                }
                _ if r.c_type.ends_with('*') => "%#x",
                _ => "%d",
            };
            code.push_str(&format!(
                " stp_sprintf({buf}, \"{fmt}\", 1, (const union stp_arg[]){{ {{ .n = (int64_t)__t }} }}); (const char *){buf}; }})"
            ));
            return Ok(code);
        }
        let mut fmt = String::new();
        let mut args = Vec::new();
        let mut shown = 0;
        for f in fields {
            if shown == 64 && f.kind != PrettyKind::Text {
                fmt.push_str(", ...}");
                break;
            }
            fmt.push_str(&crate::c_str(&f.text).trim_matches('"').replace('%', "%%"));
            let read = format!(
                "({{ uint64_t __t = __base;{}",
                self.target_ops(t, &f.ops, near, err)?
            );
            match f.kind {
                PrettyKind::Text => continue,
                PrettyKind::Number => {
                    fmt.push_str("%d");
                    args.push(format!("{{ .n = {} (int64_t)__t; }}) }}", read));
                }
                PrettyKind::Pointer => {
                    fmt.push_str("%#x");
                    args.push(format!("{{ .n = {} (int64_t)__t; }}) }}", read));
                }
                PrettyKind::String { max } => {
                    let s = self.temp(Type::String);
                    fmt.push_str("\\\"%#s\\\"");
                    args.push(format!(
                        "{{ .s = {} if (stp_kread_string(&c->rt, {s}, __t, {max}, {near})) goto {err}; (const char *){s}; }}) }}",
                        read
                    ));
                }
            }
            shown += 1;
        }
        code.push_str(&format!(
            " uint64_t __base = __t; stp_sprintf({buf}, \"{fmt}\", {}, {}); (const char *){buf}; }})",
            args.len(),
            if args.is_empty() {
                "NULL".to_string()
            } else {
                format!("(const union stp_arg[]){{ {} }}", args.join(", "))
            }
        ));
        Ok(code)
    }

    /// The C statements applying `ops` to `__t`.
    fn target_ops(&mut self, t: &TargetExpr, ops: &[TargetOp], near: &str, err: &str) -> R<String> {
        let mut code = String::new();
        for op in ops {
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
                TargetOp::Arith { op, k } => {
                    use stap_sema::ir::ArithOp;
                    code.push_str(&match op {
                        ArithOp::And => format!(" __t &= (uint64_t){}LL;", k),
                        ArithOp::Or => format!(" __t |= (uint64_t){}LL;", k),
                        ArithOp::Xor => format!(" __t ^= (uint64_t){}LL;", k),
                        ArithOp::Mul => format!(" __t *= (uint64_t){}LL;", k),
                        ArithOp::Shl => format!(" __t <<= {};", k & 63),
                        ArithOp::Shr => format!(" __t >>= {};", k & 63),
                        ArithOp::Shra => {
                            format!(" __t = (uint64_t)((int64_t)__t >> {});", k & 63)
                        }
                        ArithOp::Neg => " __t = -__t;".to_string(),
                        ArithOp::Not => " __t = ~__t;".to_string(),
                    })
                }
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
        Ok(code)
    }
}

//! C for target variables resolved against the kernel's types: a parameter, tracepoint
//! argument or return value, then member offsets, indices and fault-safe loads.

use crate::body::{Gen, R};
use stap_sema::ir::Type;
use stap_sema::ir::{
    PrettyKind, ResolvedTarget, TargetBase, TargetComponent, TargetExpr, TargetOp, TargetResult,
    TargetSource,
};
use stap_syntax::source::Span;

/// The C type of a value's low `size` bytes.
fn narrow_type(size: u8, signed: bool) -> &'static str {
    match (size, signed) {
        (1, true) => "int8_t",
        (1, false) => "uint8_t",
        (2, true) => "int16_t",
        (2, false) => "uint16_t",
        (4, true) => "int32_t",
        _ => "uint32_t",
    }
}

fn source(s: &TargetSource) -> String {
    match s {
        TargetSource::Param(n) | TargetSource::TracepointArg(n) => {
            format!("stp_arg(&c->rt, {})", n)
        }
        TargetSource::Return => "stp_retval(&c->rt)".to_string(),
        TargetSource::DwarfReg(n) => format!("stp_dwarf_reg(&c->rt, {})", n),
        TargetSource::Const(v) => format!("(uint64_t){}", crate::body::c_long(*v)),
        TargetSource::Verdict => "stp_verdict(&c->rt)".to_string(),
        TargetSource::ProcfsValue => "0".to_string(),
        // Strings and step-computed values: Gen::target and Gen::pairs emit these.
        TargetSource::Pairs(_)
        | TargetSource::Value
        | TargetSource::Text(_)
        | TargetSource::Operand { .. } => "0".to_string(),
        TargetSource::Narrowed { src, size, signed } => {
            let wide = if *signed {
                "(uint64_t)(int64_t)"
            } else {
                "(uint64_t)"
            };
            format!("{}({}){}", wide, narrow_type(*size, *signed), source(src))
        }
    }
}

impl Gen<'_> {
    /// A resolved `$name...`: statements computing it in a `uint64_t` temporary (a
    /// faulting load unwinds to the error label), and its value.
    pub(crate) fn target(&mut self, t: &TargetExpr, span: Span) -> R<String> {
        let Some(Ok(r)) = &t.resolved else {
            return Ok("0LL".into());
        };
        let r: &ResolvedTarget = r;
        if r.source == TargetSource::ProcfsValue {
            let buf = self.temp(Type::String);
            self.line(&format!("stp_procfs_value(&c->rt, {});", buf));
            return Ok(buf);
        }
        let near = self.near(span);
        if let TargetSource::Pairs(pairs) = &r.source {
            return self.pairs(pairs, &near);
        }
        if let TargetSource::Text(text) = &r.source {
            return Ok(crate::c_str(text));
        }
        let start = match (&r.source, &t.base) {
            (TargetSource::Value, TargetBase::Cast { expr, .. }) => {
                format!("(uint64_t){}", crate::expr::paren(&self.expr(expr)?))
            }
            (s, _) => source(s),
        };
        let u = self.decl_temp("uint64_t ", "u", "0");
        self.line(&format!("{} = {};", u, start));
        self.target_ops(&t.components, &r.ops, &u, &near)?;
        if t.pretty > 0 {
            return self.pretty(t, r, &u, &near);
        }
        Ok(match r.result {
            // An aggregate only reaches here as &aggregate: its address.
            TargetResult::Long | TargetResult::Aggregate(_) => {
                let v = format!("(int64_t){}", u);
                self.stable.insert(v.clone());
                v
            }
            TargetResult::String { max } => {
                let buf = self.temp(Type::String);
                self.read_string(&buf, &u, max, &near);
                buf
            }
        })
    }

    /// `$$parms` and friends: `name=0x...` pairs in a string temporary.
    fn pairs(&mut self, pairs: &[(String, TargetSource)], near: &str) -> R<String> {
        let buf = self.temp(Type::String);
        if pairs.is_empty() {
            self.line(&format!("{}[0] = '\\0';", buf));
            return Ok(buf);
        }
        let names = self.decl_array("const char *", "n", pairs.len());
        let vals = self.decl_array("uint64_t", "v", pairs.len());
        for (i, (n, src)) in pairs.iter().enumerate() {
            self.line(&format!("{}[{}] = {};", names, i, crate::c_str(n)));
            if let TargetSource::Operand { src, ops } = src {
                let u = format!("{}[{}]", vals, i);
                self.line(&format!("{} = {};", u, source(src)));
                self.target_ops(&[], ops, &u, near)?;
                continue;
            }
            self.line(&format!("{}[{}] = {};", vals, i, source(src)));
        }
        self.line(&format!(
            "stp_format_pairs({}, {}, {}, {});",
            buf,
            names,
            vals,
            pairs.len()
        ));
        Ok(buf)
    }

    /// The string at address `u` (at most `max` bytes, 0: any) into `buf`.
    fn read_string(&mut self, buf: &str, u: &str, max: u32, near: &str) {
        let l = self.err_label().to_string();
        self.line(&format!(
            "if (stp_kread_string(&c->rt, {}, {}, {}, {}))",
            buf, u, max, near
        ));
        self.line(&format!("\tgoto {};", l));
    }

    /// `$var$`: the value (in `u`, or the struct's address) as a string, structs in
    /// SystemTap's `{.a=1, .b="x", .p=0x...}` layout (at most 64 members).
    fn pretty(&mut self, t: &TargetExpr, r: &ResolvedTarget, u: &str, near: &str) -> R<String> {
        let buf = self.temp(Type::String);
        let fields = if t.pretty > 1 {
            &r.pretty_deep
        } else {
            &r.pretty
        };
        if fields.is_empty() {
            let arr = self.decl_array("union stp_arg", "a", 1);
            let fmt = match r.result {
                TargetResult::String { .. } => {
                    let s = self.temp(Type::String);
                    self.read_string(&s, u, 0, near);
                    self.line(&format!("{}[0].s = {};", arr, s));
                    "\\\"%#s\\\""
                }
                _ => {
                    self.line(&format!("{}[0].n = (int64_t){};", arr, u));
                    if r.c_type.ends_with('*') {
                        "%#x"
                    } else {
                        "%d"
                    }
                }
            };
            self.line(&format!("stp_sprintf({}, \"{}\", 1, {});", buf, fmt, arr));
            return Ok(buf);
        }
        let mut fmt = String::new();
        let mut vals: Vec<(String, &'static str)> = Vec::new();
        let mut shown = 0;
        for f in fields {
            if shown == 64 && f.kind != PrettyKind::Text {
                fmt.push_str(", ...}");
                break;
            }
            fmt.push_str(&crate::c_str(&f.text).trim_matches('"').replace('%', "%%"));
            if f.kind == PrettyKind::Text {
                continue;
            }
            let m = self.decl_temp("uint64_t ", "u", "0");
            self.line(&format!("{} = {};", m, u));
            self.target_ops(&t.components, &f.ops, &m, near)?;
            match f.kind {
                PrettyKind::Text => {}
                PrettyKind::Number => {
                    fmt.push_str("%d");
                    vals.push((format!("(int64_t){}", m), "n"));
                }
                PrettyKind::Pointer => {
                    fmt.push_str("%#x");
                    vals.push((format!("(int64_t){}", m), "n"));
                }
                PrettyKind::String { max } => {
                    let s = self.temp(Type::String);
                    self.read_string(&s, &m, max, near);
                    fmt.push_str("\\\"%#s\\\"");
                    vals.push((s, "s"));
                }
            }
            shown += 1;
        }
        let arr = if vals.is_empty() {
            "NULL".to_string()
        } else {
            let arr = self.decl_array("union stp_arg", "a", vals.len());
            for (i, (v, field)) in vals.iter().enumerate() {
                self.line(&format!("{}[{}].{} = {};", arr, i, field, v));
            }
            arr
        };
        self.line(&format!(
            "stp_sprintf({}, \"{}\", {}, {});",
            buf,
            fmt,
            vals.len(),
            arr
        ));
        Ok(buf)
    }

    /// The statements applying `ops` to the `uint64_t` temporary `u`.
    fn target_ops(
        &mut self,
        components: &[TargetComponent],
        ops: &[TargetOp],
        u: &str,
        near: &str,
    ) -> R<()> {
        for op in ops {
            let line = match op {
                TargetOp::Narrow { size, signed } => {
                    format!(
                        "{u} = (uint64_t)(int64_t)({}){u};",
                        narrow_type(*size, *signed)
                    )
                }
                TargetOp::Add(k) => format!("{u} += (uint64_t){}LL;", k),
                TargetOp::Arith { op, k } => {
                    use stap_sema::ir::ArithOp;
                    match op {
                        ArithOp::And => format!("{u} &= (uint64_t){}LL;", k),
                        ArithOp::Or => format!("{u} |= (uint64_t){}LL;", k),
                        ArithOp::Xor => format!("{u} ^= (uint64_t){}LL;", k),
                        ArithOp::Mul => format!("{u} *= (uint64_t){}LL;", k),
                        ArithOp::Shl => format!("{u} <<= {};", k & 63),
                        ArithOp::Shr => format!("{u} >>= {};", k & 63),
                        ArithOp::Shra => format!("{u} = (uint64_t)((int64_t){u} >> {});", k & 63),
                        ArithOp::Neg => format!("{u} = -{u};"),
                        ArithOp::Not => format!("{u} = ~{u};"),
                    }
                }
                TargetOp::AddIndex { component, scale } => {
                    let idx = match components.get(*component) {
                        Some(TargetComponent::Index(e)) => self.expr(e)?,
                        _ => "0".to_string(),
                    };
                    format!(
                        "{u} += (uint64_t){} * {}ULL;",
                        crate::expr::paren(&idx),
                        scale
                    )
                }
                TargetOp::AddReg { reg, scale } => {
                    format!("{u} += stp_dwarf_reg(&c->rt, {}) * {}ULL;", reg, scale)
                }
                TargetOp::Load { size, signed } => {
                    let l = self.err_label().to_string();
                    self.line(&format!(
                        "if (stp_kread(&c->rt, &{}, {}, {}, {}))",
                        u, size, *signed as i32, near
                    ));
                    format!("\tgoto {};", l)
                }
                TargetOp::Bits {
                    shift,
                    bits,
                    signed,
                } => {
                    self.line(&format!(
                        "{u} = ({u} >> {}) & ((1ULL << {}) - 1);",
                        shift, bits
                    ));
                    if !*signed {
                        continue;
                    }
                    format!(
                        "{u} = (uint64_t)((int64_t)({u} << {0}) >> {0});",
                        64 - *bits as u32
                    )
                }
            };
            self.line(&line);
        }
        Ok(())
    }

    /// A guru-mode `$target = value` (a long): a parameter's register, or the bytes of a
    /// member or element in memory, written fault-safely.
    pub(crate) fn target_store(&mut self, t: &TargetExpr, rhs: &str, span: Span) -> R<()> {
        let Some(Ok(r)) = &t.resolved else {
            return Err(crate::cg_error("this cannot be assigned", span));
        };
        if r.result != TargetResult::Long || t.pretty > 0 || t.addressof {
            return Err(crate::cg_error(
                "only a number can be assigned to a target variable",
                span,
            ));
        }
        if r.ops.is_empty() {
            return match r.source {
                TargetSource::Param(n) => {
                    self.line(&format!("stp_set_arg(&c->rt, {}, {});", n, rhs));
                    Ok(())
                }
                _ => Err(crate::cg_error("this cannot be assigned", span)),
            };
        }
        // The value's last load, then at most narrowing: its address is what comes before.
        let last = r
            .ops
            .iter()
            .rposition(|o| matches!(o, TargetOp::Load { .. }));
        let Some(i) = last.filter(|i| {
            r.ops[i + 1..]
                .iter()
                .all(|o| matches!(o, TargetOp::Narrow { .. }))
        }) else {
            return Err(crate::cg_error(
                "this target variable (a register value or a bitfield) cannot be assigned",
                span,
            ));
        };
        let TargetOp::Load { size, .. } = r.ops[i] else {
            unreachable!()
        };
        let near = self.near(span);
        let u = self.decl_temp("uint64_t ", "u", "0");
        self.line(&format!("{} = {};", u, source(&r.source)));
        self.target_ops(&t.components, &r.ops[..i], &u, &near)?;
        let l = self.err_label().to_string();
        self.line(&format!(
            "if (stp_kwrite(&c->rt, {}, {}, {}, {}))",
            u, size, rhs, near
        ));
        self.line(&format!("\tgoto {};", l));
        Ok(())
    }
}

//! `$var$` and `$var$$`: a struct's members in SystemTap's layout,
//! `{.a=1, .name="x", .ptr=0x..., .inner={...}}`, as text pieces and member reads.
//! Members of anonymous structs and unions show at the level of their parent, as C
//! names them.

use crate::btf::{Btf, Kind, TypeId};
use crate::walk::scalar;
use stap_sema::ir::{PrettyField, PrettyKind, TargetOp};

/// The text waiting for the next value, and whether a member was shown at this level.
struct Level {
    text: String,
    first: bool,
}

/// Appends struct `st`'s members, read from the address in hand; nested structs are
/// shown `depth - 1` more levels, then as `{...}`.  The caller closes the brace.
pub(crate) fn pretty_struct(btf: &Btf, st: TypeId, depth: u32, out: &mut Vec<PrettyField>) {
    let mut level = Level {
        text: "{".into(),
        first: true,
    };
    show_members(btf, st, &[], depth, &mut level, out);
    if !level.text.is_empty() {
        out.push(PrettyField {
            text: level.text,
            ops: Vec::new(),
            kind: PrettyKind::Text,
        });
    }
}

fn show_members(
    btf: &Btf,
    st: TypeId,
    base: &[TargetOp],
    depth: u32,
    level: &mut Level,
    out: &mut Vec<PrettyField>,
) {
    let Kind::Struct { members, .. } = &btf.get(st).kind else {
        return;
    };
    for m in members {
        let mt = btf.strip(m.ty);
        let kind = &btf.get(mt).kind;
        let mut ops = base.to_vec();
        if m.name.is_empty() {
            // An anonymous struct or union: its members are the parent's.
            if matches!(kind, Kind::Struct { .. }) && m.bit_size == 0 {
                ops.push(TargetOp::Add((m.bit_offset / 8) as i64));
                show_members(btf, mt, &ops, depth, level, out);
            }
            continue;
        }
        let sep = if level.first { "" } else { ", " };
        level.first = false;
        let label = format!("{}{}.{}=", std::mem::take(&mut level.text), sep, m.name);
        let mut field = |ops: Vec<TargetOp>, kind: PrettyKind| {
            out.push(PrettyField {
                text: label.clone(),
                ops,
                kind,
            })
        };
        if m.bit_size > 0 {
            let size = btf.size_of(m.ty).clamp(1, 8);
            let unit = size * 8;
            ops.push(TargetOp::Add(((m.bit_offset as u64 / unit) * size) as i64));
            ops.push(TargetOp::Load {
                size: size as u8,
                signed: false,
            });
            ops.push(TargetOp::Bits {
                shift: (m.bit_offset as u64 % unit) as u8,
                bits: m.bit_size as u8,
                signed: false,
            });
            field(ops, PrettyKind::Number);
            continue;
        }
        ops.push(TargetOp::Add((m.bit_offset / 8) as i64));
        match kind {
            Kind::Ptr => {
                ops.push(TargetOp::Load {
                    size: 8,
                    signed: false,
                });
                field(ops, PrettyKind::Pointer);
            }
            Kind::Array { nelems }
                if matches!(btf.get(btf.strip(btf.get(mt).ty)).kind, Kind::Int { .. })
                    && btf.size_of(btf.get(mt).ty) == 1 =>
            {
                field(ops, PrettyKind::String { max: *nelems });
            }
            Kind::Struct { .. } if depth > 1 => {
                let mut inner = Level {
                    text: format!("{}{{", label),
                    first: true,
                };
                show_members(btf, mt, &ops, depth - 1, &mut inner, out);
                level.text = format!("{}}}", inner.text);
            }
            Kind::Struct { .. } => level.text = format!("{}{{...}}", label),
            Kind::Array { .. } => level.text = format!("{}[...]", label),
            _ => match scalar(btf, m.ty) {
                Some((size, signed)) => {
                    ops.push(TargetOp::Load { size, signed });
                    field(ops, PrettyKind::Number);
                }
                None => level.text = format!("{}?", label),
            },
        }
    }
}

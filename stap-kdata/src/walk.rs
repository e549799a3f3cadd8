//! Walking a target expression's `->member` and `[index]` steps over a type model (the
//! kernel's BTF, or a module's DWARF converted to it), into the reads the generated C does;
//! and the types `@cast` names.

use crate::btf::{Btf, Kind, TypeId};
use stap_sema::ir::{
    PrettyField, PrettyKind, ResolvedTarget, TargetOp, TargetResult, TargetSource,
};
/// Where a value is while walking members and indices.
pub(crate) enum At {
    /// In hand (a register), of this type.
    Value(TypeId),
    /// In memory at the address in hand, of this type; a bitfield's (shift, bits) if any.
    Memory(TypeId, Option<(u8, u8)>),
}

/// Finds `name` among a struct's members, looking into anonymous members; returns the
/// member's type, bit offset and bitfield width.
fn member(btf: &Btf, st: TypeId, name: &str) -> Option<(TypeId, u64, u32)> {
    let Kind::Struct { members, .. } = &btf.get(btf.strip(st)).kind else {
        return None;
    };
    for m in members {
        if m.name == name {
            return Some((m.ty, m.bit_offset as u64, m.bit_size));
        }
        if m.name.is_empty() {
            if let Some((t, off, bits)) = member(btf, m.ty, name) {
                return Some((t, off + m.bit_offset as u64, bits));
            }
        }
    }
    None
}

fn member_names(btf: &Btf, st: TypeId) -> Vec<String> {
    match &btf.get(btf.strip(st)).kind {
        Kind::Struct { members, .. } => members
            .iter()
            .flat_map(|m| {
                if m.name.is_empty() {
                    member_names(btf, m.ty)
                } else {
                    vec![m.name.clone()]
                }
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `src` as a value of type `ty`: narrowed (and sign-extended) when `ty` is a number
/// narrower than 64 bits.
pub(crate) fn narrowed(btf: &Btf, ty: TypeId, src: TargetSource) -> TargetSource {
    match scalar(btf, ty) {
        Some((size, signed)) if size < 8 => TargetSource::Narrowed {
            src: Box::new(src),
            size,
            signed,
        },
        _ => src,
    }
}

pub(crate) fn scalar(btf: &Btf, ty: TypeId) -> Option<(u8, bool)> {
    let t = btf.get(btf.strip(ty));
    match &t.kind {
        Kind::Int { signed, .. } => Some((t.size.min(8) as u8, *signed)),
        Kind::Enum { signed } => Some((t.size.min(8) as u8, *signed)),
        Kind::Ptr => Some((8, false)),
        _ => None,
    }
}

/// The type a `@cast` names: `T`, `struct T`, `union T` or a typedef, in the kernel (the
/// module `kernel`, or `kernel<header.h>`: BTF has every type, so the header is not needed).
pub(crate) fn cast_target(btf: &Btf, ty: &str, module: Option<&str>) -> Result<TypeId, String> {
    let trimmed = ty.trim();
    let (bare, want) = if let Some(r) = trimmed.strip_prefix("struct ") {
        (r.trim(), Some(false))
    } else if let Some(r) = trimmed.strip_prefix("union ") {
        (r.trim(), Some(true))
    } else {
        (trimmed, None)
    };
    let in_kernel = module.is_none_or(|m| m == "kernel" || m.starts_with("kernel<"));
    let found = in_kernel
        .then(|| {
            btf.find(bare, |k| match (k, want) {
                (Kind::Struct { union, .. }, Some(u)) => *union == u,
                (Kind::Struct { .. }, None) => true,
                _ => false,
            })
            .or_else(|| {
                want.is_none()
                    .then(|| btf.named(bare).first().copied())
                    .flatten()
            })
        })
        .flatten();
    found.ok_or_else(|| {
        format!(
            "type definition '{}' not found in '{}'{}",
            ty,
            module.unwrap_or("kernel"),
            if in_kernel {
                ""
            } else {
                " (stap-rs reads the types of the kernel image only)"
            }
        )
    })
}

/// A `@cast` module that names a kernel module (not the kernel, not a user header).
pub(crate) fn is_module_name(m: &str) -> bool {
    !(m == "kernel" || m.starts_with("kernel<") || m.starts_with('<') || m.contains('>'))
}

/// Walks `->member` and `[index]` steps from a value of type `ty`.
pub(crate) fn walk(
    btf: &Btf,
    source: TargetSource,
    ty: TypeId,
    comps: &[Option<&str>],
) -> Result<ResolvedTarget, String> {
    walk_from(btf, source, At::Value(ty), comps)
}

/// Walks `->member` and `[index]` steps from `at`.
pub(crate) fn walk_from(
    btf: &Btf,
    source: TargetSource,
    start: At,
    comps: &[Option<&str>],
) -> Result<ResolvedTarget, String> {
    let mut ops = Vec::new();
    let mut at = start;
    // `@cast(p, "T")[i]` is element i of an array of T at p, as in SystemTap.
    let cast = matches!(source, TargetSource::Value);
    for (ci, c) in comps.iter().enumerate() {
        // Reach an address of the object the step applies to.
        let (obj_ty, obj) = match at {
            At::Value(t) => {
                let st = btf.strip(t);
                if btf.get(st).kind != Kind::Ptr {
                    return Err(format!("'{}' is not a pointer", btf.c_name(t)));
                }
                (btf.get(st).ty, true)
            }
            At::Memory(t, _) => {
                let st = btf.strip(t);
                match btf.get(st).kind {
                    Kind::Ptr => {
                        ops.push(TargetOp::Load {
                            size: 8,
                            signed: false,
                        });
                        (btf.get(st).ty, true)
                    }
                    Kind::Array { .. } if c.is_none() => (st, false),
                    Kind::Struct { .. } if c.is_some() => (st, false),
                    _ if cast && ci == 0 && c.is_none() => (t, false),
                    _ => {
                        return Err(format!(
                            "cannot take a member or element of '{}'",
                            btf.c_name(t)
                        ))
                    }
                }
            }
        };
        let _ = obj;
        match c {
            Some(m) => {
                let (mt, bit_off, bits) = member(btf, obj_ty, m).ok_or_else(|| {
                    let known = member_names(btf, obj_ty);
                    let near = stap_sema::similar(m, known.iter().map(|s| s.as_str()));
                    format!(
                        "'{}' has no member '{}'{}",
                        btf.c_name(obj_ty),
                        m,
                        if near.is_empty() {
                            String::new()
                        } else {
                            format!(" (did you mean: {}?)", near.join(", "))
                        }
                    )
                })?;
                if bits > 0 {
                    let size = btf.size_of(mt).clamp(1, 8);
                    let unit = size * 8;
                    let base = (bit_off / unit) * size;
                    ops.push(TargetOp::Add(base as i64));
                    at = At::Memory(mt, Some(((bit_off % unit) as u8, bits as u8)));
                } else {
                    ops.push(TargetOp::Add((bit_off / 8) as i64));
                    at = At::Memory(mt, None);
                }
            }
            None => {
                let elem = btf.get(btf.strip(obj_ty));
                let elem_ty = match elem.kind {
                    Kind::Array { .. } => elem.ty,
                    _ => obj_ty,
                };
                ops.push(TargetOp::AddIndex {
                    component: ci,
                    scale: btf.size_of(elem_ty).max(1),
                });
                at = At::Memory(elem_ty, None);
            }
        }
    }
    let (result, c_type) = match at {
        At::Value(t) => {
            let (size, signed) = scalar(btf, t)
                .ok_or_else(|| format!("'{}' is not a number or a pointer", btf.c_name(t)))?;
            if size < 8 {
                ops.push(TargetOp::Narrow { size, signed });
            }
            (TargetResult::Long, btf.c_name(t))
        }
        At::Memory(t, bitfield) => {
            let st = btf.strip(t);
            let tt = btf.get(st);
            match (&tt.kind, scalar(btf, t)) {
                (Kind::Array { nelems }, _)
                    if matches!(btf.get(btf.strip(tt.ty)).kind, Kind::Int { .. })
                        && btf.size_of(tt.ty) == 1 =>
                {
                    (TargetResult::String { max: *nelems }, btf.c_name(t))
                }
                (_, Some((size, signed))) => {
                    ops.push(TargetOp::Load {
                        size,
                        signed: signed && bitfield.is_none(),
                    });
                    if let Some((shift, bits)) = bitfield {
                        ops.push(TargetOp::Bits {
                            shift,
                            bits,
                            signed,
                        });
                    }
                    (TargetResult::Long, btf.c_name(t))
                }
                _ => (
                    TargetResult::Aggregate(format!(
                        "'{}' is a {}, not a number, pointer or string: name one of its members, or take its address with &",
                        btf.c_name(t),
                        match tt.kind {
                            Kind::Struct { union: true, .. } => "union",
                            Kind::Struct { .. } => "struct",
                            Kind::Array { .. } => "array",
                            _ => "value of another kind",
                        }
                    )),
                    btf.c_name(t),
                ),
            }
        }
    };
    // The struct the value is, or points to, for `$var$`.
    let shown = match at {
        At::Value(t) => {
            let st = btf.strip(t);
            (btf.get(st).kind == Kind::Ptr).then(|| btf.get(st).ty)
        }
        At::Memory(t, None) => {
            let st = btf.strip(t);
            match btf.get(st).kind {
                Kind::Ptr => Some(btf.get(st).ty),
                Kind::Struct { .. } => Some(st),
                _ => None,
            }
        }
        At::Memory(_, Some(_)) => None,
    };
    let pretty_at = |depth| {
        let mut out = Vec::new();
        if let Some(s) = shown.map(|s| btf.strip(s)) {
            if matches!(btf.get(s).kind, Kind::Struct { .. }) {
                crate::pretty::pretty_struct(btf, s, depth, &mut out);
                out.push(PrettyField {
                    text: "}".into(),
                    ops: Vec::new(),
                    kind: PrettyKind::Text,
                });
            }
        }
        out
    };
    let (pretty, pretty_deep) = (pretty_at(1), pretty_at(3));
    Ok(ResolvedTarget {
        source,
        ops,
        result,
        c_type,
        pretty,
        pretty_deep,
    })
}

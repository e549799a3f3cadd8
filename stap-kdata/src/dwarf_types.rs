//! DWARF types converted to the [`Btf`] model, so one member walk serves BTF and DWARF.

use crate::btf::{Kind, Member, Param, Type, TypeId};
use gimli::{AttributeValue, UnitOffset};
use std::collections::HashMap;

use crate::dwarf::R;

/// Reads DWARF `entry`'s types into `types`, memoized by DIE offset.
pub(crate) struct TypeReader<'d, 'a> {
    pub(crate) dwarf: &'d gimli::Dwarf<R<'a>>,
    pub(crate) types: Vec<Type>,
    pub(crate) seen: HashMap<(usize, UnitOffset), TypeId>,
}

impl<'a> TypeReader<'_, 'a> {
    pub(crate) fn name(
        &self,
        unit: &gimli::Unit<R<'a>>,
        e: &gimli::DebuggingInformationEntry<R<'a>>,
    ) -> String {
        e.attr_value(gimli::DW_AT_name)
            .ok()
            .flatten()
            .and_then(|v| self.dwarf.attr_string(unit, v).ok())
            .and_then(|s| s.to_string().ok().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    pub(crate) fn udata(
        e: &gimli::DebuggingInformationEntry<R<'a>>,
        at: gimli::DwAt,
    ) -> Option<u64> {
        e.attr_value(at)
            .ok()
            .flatten()
            .and_then(|v| v.udata_value())
    }

    pub(crate) fn type_ref(
        &mut self,
        uid: usize,
        unit: &gimli::Unit<R<'a>>,
        e: &gimli::DebuggingInformationEntry<R<'a>>,
    ) -> TypeId {
        match e.attr_value(gimli::DW_AT_type).ok().flatten() {
            Some(AttributeValue::UnitRef(o)) => self.type_at(uid, unit, o),
            _ => 0,
        }
    }

    fn type_at(&mut self, uid: usize, unit: &gimli::Unit<R<'a>>, off: UnitOffset) -> TypeId {
        if let Some(&id) = self.seen.get(&(uid, off)) {
            return id;
        }
        let id = self.types.len() as TypeId;
        self.seen.insert((uid, off), id);
        self.types.push(Type {
            name: String::new(),
            kind: Kind::Other,
            size: 0,
            ty: 0,
        });
        let Ok(e) = unit.entry(off) else { return id };
        let name = match e.tag() {
            gimli::DW_TAG_const_type => "const".to_string(),
            gimli::DW_TAG_volatile_type => "volatile".to_string(),
            _ => self.name(unit, &e),
        };
        let size = Self::udata(&e, gimli::DW_AT_byte_size).unwrap_or(0) as u32;
        let target = self.type_ref(uid, unit, &e);
        let (kind, ty) = match e.tag() {
            gimli::DW_TAG_base_type => {
                let enc = match e.attr_value(gimli::DW_AT_encoding).ok().flatten() {
                    Some(AttributeValue::Encoding(x)) => x,
                    _ => gimli::DW_ATE_signed,
                };
                let kind = if enc == gimli::DW_ATE_float {
                    Kind::Float
                } else {
                    Kind::Int {
                        signed: enc == gimli::DW_ATE_signed || enc == gimli::DW_ATE_signed_char,
                        char: enc == gimli::DW_ATE_signed_char
                            || enc == gimli::DW_ATE_unsigned_char,
                    }
                };
                (kind, 0)
            }
            gimli::DW_TAG_pointer_type => (Kind::Ptr, target),
            gimli::DW_TAG_typedef => (Kind::Typedef, target),
            gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type => (Kind::Qualifier, target),
            gimli::DW_TAG_enumeration_type => (
                Kind::Enum {
                    signed: !matches!(
                        self.types.get(target as usize).map(|t| &t.kind),
                        Some(Kind::Int { signed: false, .. })
                    ),
                },
                0,
            ),
            gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type => {
                let decl = matches!(
                    e.attr_value(gimli::DW_AT_declaration).ok().flatten(),
                    Some(AttributeValue::Flag(true))
                );
                if decl {
                    (Kind::Fwd, 0)
                } else {
                    let members = self.members(uid, unit, off);
                    (
                        Kind::Struct {
                            union: e.tag() == gimli::DW_TAG_union_type,
                            members,
                        },
                        0,
                    )
                }
            }
            gimli::DW_TAG_array_type => (
                Kind::Array {
                    nelems: self.array_len(unit, off),
                },
                target,
            ),
            gimli::DW_TAG_subroutine_type => (
                Kind::FuncProto {
                    params: Vec::<Param>::new(),
                },
                target,
            ),
            _ => (Kind::Other, target),
        };
        self.types[id as usize] = Type {
            name,
            kind,
            size,
            ty,
        };
        id
    }

    fn children(
        unit: &gimli::Unit<R<'a>>,
        off: UnitOffset,
        f: &mut dyn FnMut(&gimli::DebuggingInformationEntry<R<'a>>),
    ) {
        let Ok(mut tree) = unit.entries_tree(Some(off)) else {
            return;
        };
        let Ok(root) = tree.root() else { return };
        let mut kids = root.children();
        while let Ok(Some(child)) = kids.next() {
            f(child.entry());
        }
    }

    fn members(&mut self, uid: usize, unit: &gimli::Unit<R<'a>>, off: UnitOffset) -> Vec<Member> {
        let mut raw = Vec::new();
        Self::children(unit, off, &mut |c| {
            if c.tag() == gimli::DW_TAG_member {
                let ty = match c.attr_value(gimli::DW_AT_type).ok().flatten() {
                    Some(AttributeValue::UnitRef(o)) => Some(o),
                    _ => None,
                };
                let byte = match c
                    .attr_value(gimli::DW_AT_data_member_location)
                    .ok()
                    .flatten()
                {
                    Some(v) => v.udata_value().unwrap_or(0),
                    None => 0,
                };
                let bit_off = Self::udata(c, gimli::DW_AT_data_bit_offset).unwrap_or(byte * 8);
                let bits = Self::udata(c, gimli::DW_AT_bit_size).unwrap_or(0);
                raw.push((c.offset(), ty, bit_off as u32, bits as u32));
            }
        });
        let mut out = Vec::new();
        for (moff, ty, bit_offset, bit_size) in raw {
            let Ok(me) = unit.entry(moff) else { continue };
            let name = self.name(unit, &me);
            let ty = ty.map(|o| self.type_at(uid, unit, o)).unwrap_or(0);
            out.push(Member {
                name,
                ty,
                bit_offset,
                bit_size,
            });
        }
        out
    }

    fn array_len(&self, unit: &gimli::Unit<R<'a>>, off: UnitOffset) -> u32 {
        let mut n = 0u32;
        Self::children(unit, off, &mut |c| {
            if c.tag() == gimli::DW_TAG_subrange_type && n == 0 {
                n = Self::udata(c, gimli::DW_AT_count)
                    .or_else(|| Self::udata(c, gimli::DW_AT_upper_bound).map(|u| u + 1))
                    .unwrap_or(0) as u32;
            }
        });
        n
    }
}

//! A reader for BTF, the kernel's compact type format (`Documentation/bpf/btf.rst`): every
//! type of the kernel, the prototypes of its functions, and the tracepoints' argument lists.

use std::collections::HashMap;

/// A BTF type id (0 is `void`).
pub type TypeId = u32;

/// What a BTF type is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `void` (id 0).
    Void,
    /// An integer of `size` bytes.
    Int {
        /// Signed.
        signed: bool,
        /// `char`-like (for strings).
        char: bool,
    },
    /// A pointer to `ty`.
    Ptr,
    /// An array of `nelems` of `ty`.
    Array {
        /// Its element count.
        nelems: u32,
    },
    /// A struct (`union: false`) or union.
    Struct {
        /// A union.
        union: bool,
        /// Its members.
        members: Vec<Member>,
    },
    /// An enum of `size` bytes.
    Enum {
        /// Signed values.
        signed: bool,
    },
    /// A forward declaration.
    Fwd,
    /// A typedef of `ty`.
    Typedef,
    /// `volatile`, `const`, `restrict` or a type tag on `ty`.
    Qualifier,
    /// A function whose prototype is `ty`.
    Func,
    /// A prototype returning `ty`.
    FuncProto {
        /// Its parameters.
        params: Vec<Param>,
    },
    /// A floating-point number of `size` bytes.
    Float,
    /// Anything else (variables, data sections, declaration tags).
    Other,
}

/// A member of a struct or union.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its name ("" when anonymous).
    pub name: String,
    /// Its type.
    pub ty: TypeId,
    /// Offset in bits.
    pub bit_offset: u32,
    /// Width in bits when a bitfield, else 0.
    pub bit_size: u32,
}

/// A parameter of a prototype.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Its name ("" when not recorded).
    pub name: String,
    /// Its type.
    pub ty: TypeId,
}

/// One type.
#[derive(Clone, Debug)]
pub struct Type {
    /// Its name ("" when anonymous).
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Size in bytes (ints, structs, enums, floats).
    pub size: u32,
    /// The type it refers to (pointers, arrays, typedefs, qualifiers, functions, prototypes).
    pub ty: TypeId,
}

/// A parsed BTF blob.
pub struct Btf {
    types: Vec<Type>,
    by_name: HashMap<String, Vec<TypeId>>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, String> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| "BTF data is truncated".to_string())
}

impl Btf {
    /// Parses a `.BTF` section (little-endian, as on x86-64).
    pub fn parse(data: &[u8]) -> Result<Btf, String> {
        if data.len() < 24 || data[0..2] != [0x9f, 0xeb] {
            return Err("not BTF data (bad magic)".into());
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_b = data
            .get(hdr_len + type_off..hdr_len + type_off + type_len)
            .ok_or("BTF type section out of bounds")?;
        let strs = data
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .ok_or("BTF string section out of bounds")?;
        let name = |off: u32| -> String {
            let s = strs.get(off as usize..).unwrap_or(&[]);
            let end = s.iter().position(|b| *b == 0).unwrap_or(s.len());
            String::from_utf8_lossy(&s[..end]).into_owned()
        };
        let mut types = vec![Type {
            name: "void".into(),
            kind: Kind::Void,
            size: 0,
            ty: 0,
        }];
        let mut p = 0usize;
        while p + 12 <= types_b.len() {
            let name_off = u32_at(types_b, p)?;
            let info = u32_at(types_b, p + 4)?;
            let size_or_type = u32_at(types_b, p + 8)?;
            p += 12;
            let vlen = (info & 0xffff) as usize;
            let kind_flag = info >> 31 == 1;
            let (kind, size, ty) = match (info >> 24) & 0x1f {
                1 => {
                    let enc = u32_at(types_b, p)? >> 24;
                    p += 4;
                    let k = Kind::Int {
                        signed: enc & 1 != 0,
                        char: enc & 2 != 0,
                    };
                    (k, size_or_type, 0)
                }
                2 => (Kind::Ptr, 8, size_or_type),
                3 => {
                    let elem = u32_at(types_b, p)?;
                    let nelems = u32_at(types_b, p + 8)?;
                    p += 12;
                    (Kind::Array { nelems }, 0, elem)
                }
                k @ (4 | 5) => {
                    let mut members = Vec::with_capacity(vlen);
                    for _ in 0..vlen {
                        let off = u32_at(types_b, p + 8)?;
                        let (bit_offset, bit_size) = if kind_flag {
                            (off & 0xff_ffff, off >> 24)
                        } else {
                            (off, 0)
                        };
                        members.push(Member {
                            name: name(u32_at(types_b, p)?),
                            ty: u32_at(types_b, p + 4)?,
                            bit_offset,
                            bit_size,
                        });
                        p += 12;
                    }
                    let union = k == 5;
                    (Kind::Struct { union, members }, size_or_type, 0)
                }
                6 => {
                    p += 8 * vlen;
                    (Kind::Enum { signed: kind_flag }, size_or_type, 0)
                }
                19 => {
                    p += 12 * vlen;
                    (Kind::Enum { signed: kind_flag }, size_or_type, 0)
                }
                7 => (Kind::Fwd, 0, 0),
                8 => (Kind::Typedef, 0, size_or_type),
                9..=11 | 18 => (Kind::Qualifier, 0, size_or_type),
                12 => (Kind::Func, 0, size_or_type),
                13 => {
                    let mut params = Vec::with_capacity(vlen);
                    for _ in 0..vlen {
                        params.push(Param {
                            name: name(u32_at(types_b, p)?),
                            ty: u32_at(types_b, p + 4)?,
                        });
                        p += 8;
                    }
                    (Kind::FuncProto { params }, 0, size_or_type)
                }
                14 => {
                    p += 4;
                    (Kind::Other, 0, size_or_type)
                }
                15 => {
                    p += 12 * vlen;
                    (Kind::Other, size_or_type, 0)
                }
                16 => (Kind::Float, size_or_type, 0),
                17 => {
                    p += 4;
                    (Kind::Other, 0, size_or_type)
                }
                k => return Err(format!("unknown BTF kind {}", k)),
            };
            // Qualifiers are named as C writes them (-L shows "char const*").
            let tname = match (info >> 24) & 0x1f {
                9 => "volatile".to_string(),
                10 => "const".to_string(),
                11 | 18 => String::new(),
                _ => name(name_off),
            };
            types.push(Type {
                name: tname,
                kind,
                size,
                ty,
            });
        }
        Ok(Btf::from_types(types))
    }

    /// A type table built elsewhere (from DWARF): `types[0]` must be `void`.
    pub fn from_types(types: Vec<Type>) -> Btf {
        let mut by_name: HashMap<String, Vec<TypeId>> = HashMap::new();
        for (id, t) in types.iter().enumerate().skip(1) {
            if !t.name.is_empty() && !matches!(t.kind, Kind::Qualifier) {
                by_name
                    .entry(t.name.clone())
                    .or_default()
                    .push(id as TypeId);
            }
        }
        Btf { types, by_name }
    }

    /// The type with this id (`void` for an unknown id).
    pub fn get(&self, id: TypeId) -> &Type {
        self.types.get(id as usize).unwrap_or(&self.types[0])
    }

    /// How many types there are.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Whether there are no types but `void`.
    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    /// All types, with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (TypeId, &Type)> {
        self.types.iter().enumerate().map(|(i, t)| (i as TypeId, t))
    }

    /// The ids of the types with this name.
    pub fn named(&self, name: &str) -> &[TypeId] {
        self.by_name.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// The first type of a kind (tested by `pred`) with this name.
    pub fn find(&self, name: &str, pred: impl Fn(&Kind) -> bool) -> Option<TypeId> {
        self.named(name)
            .iter()
            .copied()
            .find(|&id| pred(&self.get(id).kind))
    }

    /// Follows typedefs and qualifiers to the type underneath.
    pub fn strip(&self, mut id: TypeId) -> TypeId {
        for _ in 0..64 {
            match self.get(id).kind {
                Kind::Typedef | Kind::Qualifier => id = self.get(id).ty,
                _ => break,
            }
        }
        id
    }

    /// The size in bytes of a value of the type.
    pub fn size_of(&self, id: TypeId) -> u64 {
        let t = self.get(self.strip(id));
        match &t.kind {
            Kind::Array { nelems } => *nelems as u64 * self.size_of(t.ty),
            Kind::Ptr => 8,
            _ => t.size as u64,
        }
    }

    /// The type as C spells it (`struct file *`, `const char *`, `size_t`).
    pub fn c_name(&self, id: TypeId) -> String {
        let t = self.get(id);
        match &t.kind {
            Kind::Void => "void".into(),
            // As SystemTap writes types: "char const*", "struct file**", "char[]".
            Kind::Ptr => format!("{}*", self.c_name(t.ty)),
            Kind::Array { .. } => format!("{}[]", self.c_name(t.ty)),
            Kind::Struct { union, .. } => format!(
                "{} {}",
                if *union { "union" } else { "struct" },
                if t.name.is_empty() { "{...}" } else { &t.name }
            ),
            Kind::Enum { .. } => format!("enum {}", t.name),
            Kind::Qualifier if t.name.is_empty() => self.c_name(t.ty),
            Kind::Qualifier => format!("{} {}", self.c_name(t.ty), t.name),
            Kind::FuncProto { .. } => "func".into(),
            _ => t.name.clone(),
        }
    }
}

//! DWARF of a kernel module (`.ko`, built with `-g`), read with gimli and object: its
//! functions (with the ELF symbol each lives in), their parameters and locals with their
//! locations, its line table, and its types (converted to the [`Btf`] model, so the same
//! member walk serves BTF and DWARF).
//!
//! A `.ko` is a relocatable object: its debug sections refer to code and strings through
//! relocations, applied here.  Each allocated section gets a base address of its own
//! (`index << 32`), so addresses of different text sections never collide.

use crate::btf::{Btf, Kind, Member, Param, Type, TypeId};
use gimli::{AttributeValue, EndianSlice, LittleEndian, UnitOffset};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};
use std::collections::HashMap;
use std::path::Path;

type R<'a> = EndianSlice<'a, LittleEndian>;

/// Where a variable is, from one point of its range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarLoc {
    /// In DWARF register `n` (x86-64 numbering).
    Reg(u16),
    /// In memory at register `n` plus an offset (also DW_OP_fbreg, from the CFA's rule).
    RegOffset(u16, i64),
    /// Not in memory: the value is register `n` plus an offset (`DW_OP_bregN; stack_value`).
    RegValue(u16, i64),
    /// A constant (`DW_OP_litN`/`constu`/`consts`; `stack_value`).
    Const(i64),
}

/// A location as DWARF gives it.
#[derive(Clone, Debug)]
enum Loc {
    /// One expression for the whole scope.
    Expr(Vec<u8>),
    /// Expressions by address range.
    List(Vec<(u64, u64, Vec<u8>)>),
    /// None recorded (optimized out).
    Missing,
}

/// A parameter or local of a function.
#[derive(Clone, Debug)]
pub struct Var {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: TypeId,
    /// A parameter (else a local).
    pub param: bool,
    /// Address ranges of its lexical block (empty: the whole function).
    scope: Vec<(u64, u64)>,
    loc: Loc,
}

/// A function with code in the module.
#[derive(Clone, Debug)]
pub struct Func {
    /// Its name in the source.
    pub name: String,
    /// Its code.
    pub low: u64,
    /// The end of its code.
    pub high: u64,
    /// Its parameters and locals.
    pub vars: Vec<Var>,
    /// For an inlined copy: the call site (file, line) it was inlined at.
    pub inlined_at: Option<(String, u64)>,
    frame_cfa: bool,
}

/// One row of the line table.
#[derive(Clone, Debug)]
pub struct Line {
    /// The source file's path.
    pub file: String,
    /// The line.
    pub line: u64,
    /// The first instruction of the line.
    pub addr: u64,
}

/// What pass 2 knows of one module, from its DWARF.
pub struct ModuleDwarf {
    /// The module's name (the file name without `.ko`, `-` as `_`).
    pub name: String,
    /// Its types.
    pub types: Btf,
    /// Its functions with code.
    pub functions: Vec<Func>,
    /// Its line table (statement rows).
    pub lines: Vec<Line>,
    /// Function symbols: name, address, size.
    symbols: Vec<(String, u64, u64)>,
    /// Relocated `.debug_frame`, for CFA rules.
    debug_frame: Vec<u8>,
}

fn is_alloc(s: &object::Section) -> bool {
    matches!(s.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0)
}

fn base_of(index: usize) -> u64 {
    (index as u64) << 32
}

/// The debug sections of `file`, relocated.
fn sections(file: &object::File) -> Result<HashMap<String, Vec<u8>>, String> {
    let mut out = HashMap::new();
    for sec in file.sections() {
        let name = sec.name().unwrap_or("");
        if !name.starts_with(".debug_") {
            continue;
        }
        let mut data = sec
            .uncompressed_data()
            .map_err(|e| format!("{}: {}", name, e))?
            .into_owned();
        for (off, rel) in sec.relocations() {
            let RelocationTarget::Symbol(si) = rel.target() else {
                continue;
            };
            let Ok(sym) = file.symbol_by_index(si) else {
                continue;
            };
            let base = match sym.section_index() {
                Some(i) => match file.section_by_index(i) {
                    Ok(s) if is_alloc(&s) => base_of(i.0),
                    _ => 0,
                },
                None => 0,
            };
            let v = (base + sym.address()).wrapping_add(rel.addend() as u64);
            let off = off as usize;
            match rel.size() {
                64 if off + 8 <= data.len() => data[off..off + 8].copy_from_slice(&v.to_le_bytes()),
                32 if off + 4 <= data.len() => {
                    data[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes())
                }
                _ => {}
            }
        }
        out.insert(name.to_string(), data);
    }
    Ok(out)
}

/// Reads DWARF `entry`'s types into `types`, memoized by DIE offset.
struct TypeReader<'d, 'a> {
    dwarf: &'d gimli::Dwarf<R<'a>>,
    types: Vec<Type>,
    seen: HashMap<(usize, UnitOffset), TypeId>,
}

impl<'a> TypeReader<'_, 'a> {
    fn name(
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

    fn udata(e: &gimli::DebuggingInformationEntry<R<'a>>, at: gimli::DwAt) -> Option<u64> {
        e.attr_value(at)
            .ok()
            .flatten()
            .and_then(|v| v.udata_value())
    }

    fn type_ref(
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
        let name = self.name(unit, &e);
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

/// The DIE an abstract origin (or specification) names, for a name and type.
fn origin<'u, 'a>(
    unit: &'u gimli::Unit<R<'a>>,
    e: &gimli::DebuggingInformationEntry<R<'a>>,
) -> Option<gimli::DebuggingInformationEntry<'u, 'u, R<'a>>> {
    for at in [gimli::DW_AT_abstract_origin, gimli::DW_AT_specification] {
        if let Ok(Some(AttributeValue::UnitRef(o))) = e.attr_value(at) {
            return unit.entry(o).ok();
        }
    }
    None
}

impl ModuleDwarf {
    /// Reads the DWARF of the module at `path`.
    pub fn load(path: &Path) -> Result<ModuleDwarf, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {}", path.display(), e))?;
        let file =
            object::File::parse(&*bytes).map_err(|e| format!("{}: {}", path.display(), e))?;
        let secs = sections(&file)?;
        if !secs.contains_key(".debug_info") {
            return Err(format!(
                "{} has no DWARF (build it with -g, or CONFIG_DEBUG_INFO)",
                path.display()
            ));
        }
        let symbols = file
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text)
            .filter_map(|s| {
                let i = s.section_index()?;
                Some((
                    s.name().ok()?.to_string(),
                    base_of(i.0) + s.address(),
                    s.size(),
                ))
            })
            .collect();
        let load = |id: gimli::SectionId| -> Result<R<'_>, gimli::Error> {
            Ok(EndianSlice::new(
                secs.get(id.name()).map(|v| v.as_slice()).unwrap_or(&[]),
                LittleEndian,
            ))
        };
        let dwarf = gimli::Dwarf::load(load).map_err(|e| e.to_string())?;
        let mut tr = TypeReader {
            dwarf: &dwarf,
            types: vec![Type {
                name: String::new(),
                kind: Kind::Void,
                size: 0,
                ty: 0,
            }],
            seen: HashMap::new(),
        };
        let mut functions = Vec::new();
        let mut lines = Vec::new();
        let mut units = dwarf.units();
        let mut uid = 0;
        while let Some(header) = units.next().map_err(|e| e.to_string())? {
            let unit = dwarf.unit(header).map_err(|e| e.to_string())?;
            read_functions(&dwarf, &mut tr, uid, &unit, &mut functions)?;
            read_lines(&dwarf, &unit, &mut lines)?;
            uid += 1;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().replace('-', "_"))
            .unwrap_or_default();
        Ok(ModuleDwarf {
            name,
            types: Btf::from_types(tr.types),
            functions,
            lines,
            symbols,
            debug_frame: secs.get(".debug_frame").cloned().unwrap_or_default(),
        })
    }

    /// The ELF symbol holding `addr` and the offset into it (a kprobe's symbol and offset).
    pub fn symbol_at(&self, addr: u64) -> Option<(&str, u64)> {
        self.symbols
            .iter()
            .filter(|(_, a, sz)| *a <= addr && addr < a + (*sz).max(1))
            .map(|(n, a, _)| (n.as_str(), addr - a))
            .min_by_key(|(_, off)| *off)
    }

    /// Where variable `v` of `f` is at `pc`, or why it cannot be read there.
    pub fn var_location(&self, f: &Func, v: &Var, pc: u64) -> Result<VarLoc, String> {
        let expr = match &v.loc {
            Loc::Expr(e) => e.clone(),
            Loc::List(l) => l
                .iter()
                .find(|(b, e, _)| *b <= pc && pc < *e)
                .map(|(_, _, x)| x.clone())
                .ok_or_else(|| format!("'{}' is optimized out at this point", v.name))?,
            Loc::Missing => return Err(format!("'{}' is optimized out", v.name)),
        };
        let mut ops =
            gimli::Expression(EndianSlice::new(&expr, LittleEndian)).operations(gimli::Encoding {
                format: gimli::Format::Dwarf32,
                version: 5,
                address_size: 8,
            });
        let op = ops
            .next()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("'{}' has an empty location", v.name))?;
        let next = ops.next().ok().flatten();
        let stack_value = matches!(next, Some(gimli::Operation::StackValue));
        let loc = match op {
            gimli::Operation::Register { register } => VarLoc::Reg(register.0),
            gimli::Operation::RegisterOffset {
                register, offset, ..
            } if stack_value => VarLoc::RegValue(register.0, offset),
            gimli::Operation::RegisterOffset {
                register, offset, ..
            } => VarLoc::RegOffset(register.0, offset),
            gimli::Operation::UnsignedConstant { value } if stack_value => {
                VarLoc::Const(value as i64)
            }
            gimli::Operation::SignedConstant { value } if stack_value => VarLoc::Const(value),
            gimli::Operation::FrameOffset { offset } if f.frame_cfa => {
                let (reg, cfa) = self.cfa_at(pc)?;
                if reg != 7 {
                    return Err(format!(
                        "'{}' is on a frame addressed from DWARF register {}, not supported",
                        v.name, reg
                    ));
                }
                VarLoc::RegOffset(7, cfa + offset)
            }
            other => {
                return Err(format!(
                    "'{}' has a location stap-rs does not read yet ({:?})",
                    v.name, other
                ))
            }
        };
        let rest = if stack_value {
            ops.next().ok().flatten()
        } else {
            next
        };
        match rest {
            None => Ok(loc),
            Some(_) => Err(format!(
                "'{}' has a composite or computed location stap-rs does not read yet",
                v.name
            )),
        }
    }

    /// The CFA rule at `pc`: register and offset.
    fn cfa_at(&self, pc: u64) -> Result<(u16, i64), String> {
        use gimli::UnwindSection;
        let frame = gimli::DebugFrame::new(&self.debug_frame, LittleEndian);
        let bases = gimli::BaseAddresses::default();
        let fde = frame
            .fde_for_address(&bases, pc, gimli::DebugFrame::cie_from_offset)
            .map_err(|_| "no call frame information for this address".to_string())?;
        let mut ctx = gimli::UnwindContext::new();
        let row = fde
            .unwind_info_for_address(&frame, &bases, &mut ctx, pc)
            .map_err(|e| e.to_string())?;
        match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } => Ok((register.0, *offset)),
            _ => Err("the frame's CFA is computed by an expression".into()),
        }
    }
}

/// Reads the functions with code of one unit, with their parameters and locals.
fn read_functions<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    tr: &mut TypeReader<'_, 'a>,
    uid: usize,
    unit: &gimli::Unit<R<'a>>,
    out: &mut Vec<Func>,
) -> Result<(), String> {
    let mut entries = unit.entries();
    let mut depth = 0isize;
    // The functions open (a subprogram, then the inlined copies in it): (depth, index in
    // out), innermost last; and the lexical blocks open.
    let mut funcs: Vec<(isize, usize)> = Vec::new();
    let mut blocks: Vec<(isize, Vec<(u64, u64)>)> = Vec::new();
    while let Some((delta, e)) = entries.next_dfs().map_err(|e| e.to_string())? {
        depth += delta;
        funcs.retain(|(d, _)| depth > *d);
        blocks.retain(|(d, _)| depth > *d);
        let func = funcs.last().copied();
        match e.tag() {
            gimli::DW_TAG_subprogram => {
                let low = match e.attr_value(gimli::DW_AT_low_pc).ok().flatten() {
                    Some(AttributeValue::Addr(a)) => Some(a),
                    Some(AttributeValue::DebugAddrIndex(i)) => dwarf.address(unit, i).ok(),
                    _ => None,
                };
                let Some(low) = low else { continue };
                let high = match e.attr_value(gimli::DW_AT_high_pc).ok().flatten() {
                    Some(AttributeValue::Addr(a)) => a,
                    Some(v) => low + v.udata_value().unwrap_or(0),
                    None => low,
                };
                let mut name = tr.name(unit, e);
                if name.is_empty() {
                    if let Some(o) = origin(unit, e) {
                        name = tr.name(unit, &o);
                    }
                }
                let frame_cfa = matches!(
                    e.attr_value(gimli::DW_AT_frame_base).ok().flatten(),
                    Some(AttributeValue::Exprloc(x)) if x.0.slice() == [0x9c]
                );
                out.push(Func {
                    name,
                    low,
                    high,
                    vars: Vec::new(),
                    inlined_at: None,
                    frame_cfa,
                });
                funcs.clear();
                funcs.push((depth, out.len() - 1));
            }
            gimli::DW_TAG_lexical_block if func.is_some() => {
                let mut ranges = Vec::new();
                if let Ok(mut it) = dwarf.die_ranges(unit, e) {
                    while let Ok(Some(r)) = it.next() {
                        ranges.push((r.begin, r.end));
                    }
                }
                blocks.push((depth, ranges));
            }
            gimli::DW_TAG_formal_parameter | gimli::DW_TAG_variable => {
                let Some((fd, fi)) = func else { continue };
                // Parameters directly under the function; locals anywhere in it (not in
                // inlined subroutines, whose variables are another function's).
                if e.tag() == gimli::DW_TAG_formal_parameter && depth != fd + 1 {
                    continue;
                }
                let o = origin(unit, e);
                let named = o.as_ref().unwrap_or(e);
                let name = tr.name(unit, named);
                if name.is_empty() {
                    continue;
                }
                let ty = tr.type_ref(uid, unit, named);
                let loc = match e.attr_value(gimli::DW_AT_location).ok().flatten() {
                    Some(AttributeValue::Exprloc(x)) => Loc::Expr(x.0.slice().to_vec()),
                    Some(v) => match dwarf.attr_locations(unit, v) {
                        Ok(Some(mut it)) => {
                            let mut l = Vec::new();
                            while let Ok(Some(entry)) = it.next() {
                                l.push((
                                    entry.range.begin,
                                    entry.range.end,
                                    entry.data.0.slice().to_vec(),
                                ));
                            }
                            Loc::List(l)
                        }
                        _ => Loc::Missing,
                    },
                    None => Loc::Missing,
                };
                let scope = blocks.last().map(|(_, r)| r.clone()).unwrap_or_default();
                out[fi].vars.push(Var {
                    name,
                    ty,
                    param: e.tag() == gimli::DW_TAG_formal_parameter,
                    scope,
                    loc,
                });
            }
            gimli::DW_TAG_inlined_subroutine if func.is_some() => {
                // An inlined copy: a function of its own (its variables are its own).
                let mut ranges = Vec::new();
                if let Ok(mut it) = dwarf.die_ranges(unit, e) {
                    while let Ok(Some(r)) = it.next() {
                        ranges.push((r.begin, r.end));
                    }
                }
                let entry = match e.attr_value(gimli::DW_AT_entry_pc).ok().flatten() {
                    Some(AttributeValue::Addr(a)) => Some(a),
                    Some(AttributeValue::DebugAddrIndex(i)) => dwarf.address(unit, i).ok(),
                    _ => None,
                };
                let Some(low) = entry.or_else(|| ranges.iter().map(|r| r.0).min()) else {
                    continue;
                };
                let high = ranges.iter().map(|r| r.1).max().unwrap_or(low + 1);
                let name = origin(unit, e)
                    .map(|o| tr.name(unit, &o))
                    .unwrap_or_default();
                let line = TypeReader::udata(e, gimli::DW_AT_call_line).unwrap_or(0);
                let file = match e.attr_value(gimli::DW_AT_call_file).ok().flatten() {
                    Some(AttributeValue::FileIndex(i)) => file_name(dwarf, unit, i),
                    Some(v) => v.udata_value().and_then(|i| file_name(dwarf, unit, i)),
                    None => None,
                }
                .unwrap_or_default();
                let frame_cfa = func.is_some_and(|(_, i)| out[i].frame_cfa);
                out.push(Func {
                    name,
                    low,
                    high,
                    vars: Vec::new(),
                    inlined_at: Some((file, line)),
                    frame_cfa,
                });
                funcs.push((depth, out.len() - 1));
                // Its variables are in scope over its own ranges.
                blocks.push((depth, ranges));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The path of file `index` of a unit's line program.
fn file_name<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    index: u64,
) -> Option<String> {
    let header = unit.line_program.as_ref()?.header();
    let file = header.file(index)?;
    dwarf
        .attr_string(unit, file.path_name())
        .ok()
        .and_then(|s| s.to_string().ok().map(|s| s.to_string()))
}

/// Reads the statement rows of one unit's line program.
fn read_lines<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    out: &mut Vec<Line>,
) -> Result<(), String> {
    let Some(program) = unit.line_program.clone() else {
        return Ok(());
    };
    let mut rows = program.rows();
    while let Some((header, row)) = rows.next_row().map_err(|e| e.to_string())? {
        if !row.is_stmt() || row.end_sequence() {
            continue;
        }
        let Some(line) = row.line() else { continue };
        let Some(file) = row.file(header) else {
            continue;
        };
        let name = dwarf
            .attr_string(unit, file.path_name())
            .ok()
            .and_then(|s| s.to_string().ok().map(|s| s.to_string()))
            .unwrap_or_default();
        out.push(Line {
            file: name,
            line: line.get(),
            addr: row.address(),
        });
    }
    Ok(())
}

impl Var {
    /// Whether the variable is in scope at `pc` (its lexical block covers it).
    pub fn in_scope(&self, pc: u64) -> bool {
        self.scope.is_empty() || self.scope.iter().any(|(b, e)| *b <= pc && pc < *e)
    }
}

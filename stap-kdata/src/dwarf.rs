//! DWARF of a kernel module (`.ko`, built with `-g`), read with gimli and object: its
//! functions (with the ELF symbol each lives in), their parameters and locals with their
//! locations, its line table, and its types (converted to the [`Btf`] model, so the same
//! member walk serves BTF and DWARF).
//!
//! A `.ko` is a relocatable object: its debug sections refer to code and strings through
//! relocations, applied here.  Each allocated section gets a base address of its own
//! (`index << 32`), so addresses of different text sections never collide.

use crate::btf::{Btf, Kind, Type, TypeId};
use crate::dwarf_sections::{base_of, sections};
use crate::dwarf_types::TypeReader;
use gimli::{AttributeValue, EndianSlice, LittleEndian};
use object::{Object, ObjectSection, ObjectSymbol};
use stap_sema::ir::{ArithOp, TargetOp};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

pub(crate) type R<'a> = EndianSlice<'a, LittleEndian>;

/// Where a variable is, from one point of its range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VarLoc {
    /// In DWARF register `n` (x86-64 numbering).
    Reg(u16),
    /// Computed: `ops` applied to `base` give the variable's address (`memory`) or, for
    /// a `DW_OP_stack_value` location, its value.
    Computed {
        /// Where the computation starts.
        base: Base,
        /// The arithmetic and memory reads after it.
        ops: Vec<TargetOp>,
        /// The result is the variable's address (else its value).
        memory: bool,
    },
}

/// The start of a computed location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// DWARF register `n`'s value.
    Reg(u16),
    /// A constant.
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

impl Var {
    /// Whether it lives in a slot of its function's frame for the whole function (one
    /// `DW_OP_fbreg` location: unoptimized code).
    fn in_frame_slot(&self) -> bool {
        matches!(&self.loc, Loc::Expr(e) if e.first() == Some(&gimli::DW_OP_fbreg.0))
    }
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
    /// The file and line of its declaration.
    pub decl: (String, u64),
    /// Its return type (0: void).
    pub ret: TypeId,
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
    /// Its line table (statement rows), sorted by address (see [`ModuleDwarf::lines_in`]).
    pub lines: Vec<Line>,
    /// Functions by name (indices into `functions`), built on first use.
    by_name: std::cell::OnceCell<HashMap<String, Vec<usize>>>,
    /// Function symbols: name, address, size.
    symbols: Rc<Vec<Symbol>>,
    /// Relocated `.debug_frame`, for CFA rules.
    debug_frame: Rc<Vec<u8>>,
    /// A program's `.eh_frame` and its address, for CFA rules when it has no
    /// `.debug_frame` (user programs keep only this one).
    eh_frame: Option<(Rc<Vec<u8>>, u64)>,
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

/// A function symbol: name, address, size.
pub(crate) type Symbol = (String, u64, u64);

/// The symbol of `symbols` holding `addr`, and the offset into it.
/// `symbols` are sorted by address ([`text_symbols`]); of several holding `addr`, the one
/// starting last (then the first listed) is taken.
pub(crate) fn symbol_at(symbols: &[Symbol], addr: u64) -> Option<(&str, u64)> {
    let end = symbols.partition_point(|s| s.1 <= addr);
    // Symbols hold each other only near their starts (aliases, zero-sized labels).
    let near = &symbols[end.saturating_sub(64)..end];
    let holds = |s: &&Symbol| addr < s.1 + s.2.max(1);
    let start = near.iter().filter(holds).map(|s| s.1).max()?;
    near.iter()
        .filter(holds)
        .find(|s| s.1 == start)
        .map(|(n, a, _)| (n.as_str(), addr - a))
}

/// The DWARF sections of a linked image (no relocations to apply), borrowed from it.
pub(crate) fn linked_dwarf<'a>(file: &object::File<'a>) -> Result<gimli::Dwarf<R<'a>>, String> {
    let load = |id: gimli::SectionId| -> Result<R<'a>, gimli::Error> {
        let data = file
            .section_by_name(id.name())
            .and_then(|s| s.data().ok())
            .unwrap_or(&[]);
        Ok(EndianSlice::new(data, LittleEndian))
    };
    gimli::Dwarf::load(load).map_err(|e| e.to_string())
}

/// Reads the functions and lines of the units `headers` yields.
fn read_units<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    headers: impl Iterator<Item = Result<gimli::UnitHeader<R<'a>>, gimli::Error>>,
) -> Result<(Btf, Vec<Func>, Vec<Line>), String> {
    let mut tr = TypeReader {
        dwarf,
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
    for (uid, header) in headers.enumerate() {
        let unit = dwarf
            .unit(header.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        read_functions(dwarf, &mut tr, uid, &unit, &mut functions)?;
        read_lines(dwarf, &unit, &mut lines)?;
    }
    // By address, so a function's rows are one binary search away.
    lines.sort_by_key(|l: &Line| l.addr);
    Ok((Btf::from_types(tr.types), functions, lines))
}

/// The text symbols of an ELF file; `rebase` gives each a section base (a `.ko`).
pub(crate) fn text_symbols(file: &object::File, rebase: bool) -> Vec<Symbol> {
    let mut out: Vec<Symbol> = file
        .symbols()
        .filter(|s| s.kind() == object::SymbolKind::Text)
        .filter_map(|s| {
            let i = s.section_index()?;
            let base = if rebase { base_of(i.0) } else { 0 };
            Some((s.name().ok()?.to_string(), base + s.address(), s.size()))
        })
        .collect();
    // Stable: of symbols at one address, the symbol table's order stays.
    out.sort_by_key(|s| s.1);
    out
}

impl ModuleDwarf {
    /// Reads the DWARF of the module at `path`.
    pub fn load(path: &Path) -> Result<ModuleDwarf, String> {
        let bytes = crate::read_regular(path).map_err(|e| format!("{}: {}", path.display(), e))?;
        let file =
            object::File::parse(&*bytes).map_err(|e| format!("{}: {}", path.display(), e))?;
        let secs = sections(&file)?;
        if !secs.contains_key(".debug_info") {
            return Err(format!(
                "{} has no DWARF (build it with -g, or CONFIG_DEBUG_INFO)",
                path.display()
            ));
        }
        // A .ko's sections are placed apart (base_of); a program's addresses are final.
        let symbols = text_symbols(&file, file.kind() == object::ObjectKind::Relocatable);
        let load = |id: gimli::SectionId| -> Result<R<'_>, gimli::Error> {
            Ok(EndianSlice::new(
                secs.get(id.name()).map(|v| v.as_slice()).unwrap_or(&[]),
                LittleEndian,
            ))
        };
        let dwarf = gimli::Dwarf::load(load).map_err(|e| e.to_string())?;
        let mut units = dwarf.units();
        let headers = std::iter::from_fn(|| units.next().transpose());
        let (types, functions, lines) = read_units(&dwarf, headers)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().replace('-', "_"))
            .unwrap_or_default();
        Ok(ModuleDwarf {
            name,
            types,
            functions,
            lines,
            by_name: Default::default(),
            symbols: Rc::new(symbols),
            debug_frame: Rc::new(secs.get(".debug_frame").cloned().unwrap_or_default()),
            eh_frame: file
                .section_by_name(".eh_frame")
                .filter(|s| s.kind() != object::SectionKind::UninitializedData)
                .and_then(|s| Some((Rc::new(s.data().ok()?.to_vec()), s.address()))),
        })
    }

    /// Reads the units at `offsets` (in `.debug_info`) of a linked image (the debug
    /// vmlinux: no relocations to apply), which `symbols` and `debug_frame` belong to.
    pub(crate) fn load_units(
        name: &str,
        file: &object::File,
        offsets: &[u64],
        symbols: Rc<Vec<Symbol>>,
        debug_frame: Rc<Vec<u8>>,
    ) -> Result<ModuleDwarf, String> {
        let dwarf = linked_dwarf(file)?;
        let headers = offsets.iter().map(|o| {
            dwarf
                .debug_info
                .header_from_offset(gimli::DebugInfoOffset(*o as usize))
        });
        let (types, functions, lines) = read_units(&dwarf, headers)?;
        Ok(ModuleDwarf {
            name: name.to_string(),
            types,
            functions,
            lines,
            by_name: Default::default(),
            symbols,
            debug_frame,
            eh_frame: None,
        })
    }

    /// The line-table rows with addresses in `[low, high)`.
    pub fn lines_in(&self, low: u64, high: u64) -> &[Line] {
        let a = self.lines.partition_point(|l| l.addr < low);
        let b = self.lines.partition_point(|l| l.addr < high);
        &self.lines[a..b.max(a)]
    }

    /// Where a function's probe goes: its first instruction, or, for a function compiled
    /// without optimization (every variable in a slot of its frame, `DW_OP_fbreg`), the
    /// first instruction of its body, past the prologue that stores the parameters there
    /// (SystemTap's "auto" prologue searching): the first line row after the entry's for
    /// another line.
    pub fn probe_address(&self, f: &Func) -> u64 {
        let unoptimized = !f.vars.is_empty() && f.vars.iter().all(Var::in_frame_slot);
        if !unoptimized || f.inlined_at.is_some() {
            return f.low;
        }
        let rows = self.lines_in(f.low, f.high);
        let Some(first) = rows.first().filter(|r| r.addr == f.low) else {
            return f.low;
        };
        rows.iter()
            .find(|r| r.addr > f.low && r.line != first.line)
            .map_or(f.low, |r| r.addr)
    }

    /// The indices of the functions (and inlined copies) named `name`.
    pub fn functions_named(&self, name: &str) -> &[usize] {
        let index = self.by_name.get_or_init(|| {
            let mut m: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, f) in self.functions.iter().enumerate() {
                m.entry(f.name.clone()).or_default().push(i);
            }
            m
        });
        index.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// The ELF symbol holding `addr` and the offset into it (a kprobe's symbol and offset).
    pub fn symbol_at(&self, addr: u64) -> Option<(&str, u64)> {
        symbol_at(&self.symbols, addr)
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
        let mut all = Vec::new();
        while let Some(op) = ops.next().map_err(|e| e.to_string())? {
            all.push(op);
        }
        let unsupported = |what: &str| {
            Err(format!(
                "'{}' has a location stap-rs does not read yet ({})",
                v.name, what
            ))
        };
        let (base, mut ops, rest) = match all.as_slice() {
            [] => return Err(format!("'{}' has an empty location", v.name)),
            [gimli::Operation::Register { register }] => return Ok(VarLoc::Reg(register.0)),
            [gimli::Operation::RegisterOffset {
                register, offset, ..
            }, rest @ ..] => (Base::Reg(register.0), vec![TargetOp::Add(*offset)], rest),
            [gimli::Operation::UnsignedConstant { value }, rest @ ..] => {
                (Base::Const(*value as i64), Vec::new(), rest)
            }
            [gimli::Operation::SignedConstant { value }, rest @ ..] => {
                (Base::Const(*value), Vec::new(), rest)
            }
            [gimli::Operation::FrameOffset { offset }, rest @ ..] if f.frame_cfa => {
                // The CFA is a register plus an offset there: the stack pointer, or in
                // unoptimized code past its prologue the frame pointer.
                let (reg, cfa) = self.cfa_at(pc)?;
                if reg > 16 {
                    return Err(format!(
                        "'{}' is on a frame addressed from DWARF register {}, not supported",
                        v.name, reg
                    ));
                }
                (Base::Reg(reg), vec![TargetOp::Add(cfa + offset)], rest)
            }
            [gimli::Operation::EntryValue { .. }, ..] => {
                return Err(format!(
                    "'{}' is optimized out at this point (only its value at the function's \
                     entry is recorded)",
                    v.name
                ))
            }
            [other, ..] => return unsupported(&format!("{:?}", other)),
        };
        let mut memory = true;
        let mut i = 0;
        while i < rest.len() {
            use gimli::Operation as O;
            let konst = match rest[i] {
                O::UnsignedConstant { value } => Some(value as i64),
                O::SignedConstant { value } => Some(value),
                _ => None,
            };
            if let (Some(k), Some(next)) = (konst, rest.get(i + 1)) {
                let op = match next {
                    O::Plus => TargetOp::Add(k),
                    O::Minus => TargetOp::Add(k.wrapping_neg()),
                    O::And => TargetOp::Arith {
                        op: ArithOp::And,
                        k,
                    },
                    O::Or => TargetOp::Arith { op: ArithOp::Or, k },
                    O::Xor => TargetOp::Arith {
                        op: ArithOp::Xor,
                        k,
                    },
                    O::Mul => TargetOp::Arith {
                        op: ArithOp::Mul,
                        k,
                    },
                    O::Shl => TargetOp::Arith {
                        op: ArithOp::Shl,
                        k,
                    },
                    O::Shr => TargetOp::Arith {
                        op: ArithOp::Shr,
                        k,
                    },
                    O::Shra => TargetOp::Arith {
                        op: ArithOp::Shra,
                        k,
                    },
                    _ => return unsupported("a computation on two values"),
                };
                ops.push(op);
                i += 2;
                continue;
            }
            match &rest[i] {
                O::PlusConstant { value } => ops.push(TargetOp::Add(*value as i64)),
                O::Deref {
                    size, space: false, ..
                } => ops.push(TargetOp::Load {
                    size: *size,
                    signed: false,
                }),
                O::Neg => ops.push(TargetOp::Arith {
                    op: ArithOp::Neg,
                    k: 0,
                }),
                O::Not => ops.push(TargetOp::Arith {
                    op: ArithOp::Not,
                    k: 0,
                }),
                O::StackValue if i + 1 == rest.len() => memory = false,
                O::Piece { .. } => return unsupported("a composite location, in pieces"),
                O::EntryValue { .. } => {
                    return Err(format!(
                        "'{}' is optimized out at this point (only its value at the \
                         function's entry is recorded)",
                        v.name
                    ))
                }
                other => return unsupported(&format!("{:?}", other)),
            }
            i += 1;
        }
        Ok(VarLoc::Computed { base, ops, memory })
    }

    /// The CFA rule at `pc`: register and offset.
    fn cfa_at(&self, pc: u64) -> Result<(u16, i64), String> {
        use gimli::UnwindSection;
        let mut ctx = gimli::UnwindContext::new();
        let frame = gimli::DebugFrame::new(&self.debug_frame, LittleEndian);
        let bases = gimli::BaseAddresses::default();
        let row = match frame.fde_for_address(&bases, pc, gimli::DebugFrame::cie_from_offset) {
            Ok(fde) => fde
                .unwind_info_for_address(&frame, &bases, &mut ctx, pc)
                .map_err(|e| e.to_string())?
                .clone(),
            Err(_) => {
                let (data, addr) = self
                    .eh_frame
                    .as_ref()
                    .ok_or_else(|| "no call frame information for this address".to_string())?;
                let eh = gimli::EhFrame::new(data, LittleEndian);
                let bases = gimli::BaseAddresses::default().set_eh_frame(*addr);
                let fde = eh
                    .fde_for_address(&bases, pc, gimli::EhFrame::cie_from_offset)
                    .map_err(|_| "no call frame information for this address".to_string())?;
                fde.unwind_info_for_address(&eh, &bases, &mut ctx, pc)
                    .map_err(|e| e.to_string())?
                    .clone()
            }
        };
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
                let (low, high) = match low {
                    Some(low) => (
                        low,
                        match e.attr_value(gimli::DW_AT_high_pc).ok().flatten() {
                            Some(AttributeValue::Addr(a)) => a,
                            Some(v) => low + v.udata_value().unwrap_or(0),
                            None => low,
                        },
                    ),
                    // Code in several ranges (a hot part, then a .cold one): the first
                    // range is the entry.
                    None => match e.attr_value(gimli::DW_AT_ranges).ok().flatten() {
                        Some(_) => {
                            let mut first = None;
                            if let Ok(mut it) = dwarf.die_ranges(unit, e) {
                                if let Ok(Some(r)) = it.next() {
                                    first = Some((r.begin, r.end));
                                }
                            }
                            match first {
                                Some(r) => r,
                                None => continue,
                            }
                        }
                        None => continue,
                    },
                };
                let mut name = tr.name(unit, e);
                let mut decl = decl_of(dwarf, unit, e);
                if let Some(o) = origin(unit, e) {
                    if name.is_empty() {
                        name = tr.name(unit, &o);
                    }
                    if decl.0.is_empty() {
                        decl = decl_of(dwarf, unit, &o);
                    }
                }
                let frame_cfa = matches!(
                    e.attr_value(gimli::DW_AT_frame_base).ok().flatten(),
                    Some(AttributeValue::Exprloc(x)) if x.0.slice() == [0x9c]
                );
                let ret = match origin(unit, e) {
                    Some(o) if e.attr_value(gimli::DW_AT_type).ok().flatten().is_none() => {
                        tr.type_ref(uid, unit, &o)
                    }
                    _ => tr.type_ref(uid, unit, e),
                };
                out.push(Func {
                    name,
                    low,
                    high,
                    vars: Vec::new(),
                    inlined_at: None,
                    decl,
                    ret,
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
                // A block with no code (optimized away): its variables are nowhere.
                if ranges.is_empty() {
                    ranges.push((0, 0));
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
                    None => const_value(e).map_or(Loc::Missing, Loc::Expr),
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
                let (name, decl) = origin(unit, e)
                    .map(|o| (tr.name(unit, &o), decl_of(dwarf, unit, &o)))
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
                    decl,
                    ret: 0,
                    frame_cfa,
                });
                funcs.push((depth, out.len() - 1));
                // Its variables are in scope over its own ranges, and at its entry pc,
                // which GCC may place just before them.
                let mut scope = ranges;
                if !scope.iter().any(|(b, e)| *b <= low && low < *e) {
                    scope.push((low, low + 1));
                }
                blocks.push((depth, scope));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The declaration file and line of a function's entry (empty if not recorded).
fn decl_of<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    e: &gimli::DebuggingInformationEntry<R<'a>>,
) -> (String, u64) {
    let file = match e.attr_value(gimli::DW_AT_decl_file).ok().flatten() {
        Some(AttributeValue::FileIndex(i)) => file_name(dwarf, unit, i),
        Some(v) => v.udata_value().and_then(|i| file_name(dwarf, unit, i)),
        None => None,
    };
    (
        file.unwrap_or_default(),
        TypeReader::udata(e, gimli::DW_AT_decl_line).unwrap_or(0),
    )
}

/// The path of file `index` of a unit's line program: its name, under its directory
/// unless that is the compilation directory.
pub(crate) fn file_name<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    index: u64,
) -> Option<String> {
    let header = unit.line_program.as_ref()?.header();
    file_path(dwarf, unit, header, header.file(index)?)
}

fn file_path<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    header: &gimli::LineProgramHeader<R<'a>>,
    file: &gimli::FileEntry<R<'a>>,
) -> Option<String> {
    let string = |v| {
        dwarf
            .attr_string(unit, v)
            .ok()
            .and_then(|s| s.to_string().ok().map(|s| s.to_string()))
    };
    let name = string(file.path_name())?;
    // Directory 0 is the compilation directory: an absolute one (the kernel's build tree)
    // is left out, so files are named from the tree's top (`fs/read_write.c`); a relative
    // one (`./stdio-common`, in a Debian package built with its prefix mapped) stays, as
    // SystemTap shows it (`./stdio-common/printf.c`).
    let dir0_absolute = || {
        file.directory(header)
            .and_then(string)
            .is_none_or(|d| d.starts_with('/'))
    };
    if name.starts_with('/') || (file.directory_index() == 0 && dir0_absolute()) {
        return Some(name);
    }
    match file.directory(header).and_then(string) {
        Some(dir) if !dir.is_empty() && dir != "." => {
            Some(format!("{}/{}", dir.trim_end_matches('/'), name))
        }
        _ => Some(name),
    }
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
    let mut names: HashMap<u64, String> = HashMap::new();
    while let Some((header, row)) = rows.next_row().map_err(|e| e.to_string())? {
        if !row.is_stmt() || row.end_sequence() {
            continue;
        }
        let Some(line) = row.line() else { continue };
        let Some(file) = row.file(header) else {
            continue;
        };
        let name = names
            .entry(row.file_index())
            .or_insert_with(|| file_path(dwarf, unit, header, file).unwrap_or_default());
        out.push(Line {
            file: name.clone(),
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

    /// Whether the DWARF says where the variable is at `pc` (a location list may start
    /// later, after the code that sets it).
    pub fn located_at(&self, pc: u64) -> bool {
        match &self.loc {
            Loc::Expr(_) => true,
            Loc::List(l) => l.iter().any(|(b, e, _)| *b <= pc && pc < *e),
            Loc::Missing => false,
        }
    }
}

/// A variable GCC made a constant (`DW_AT_const_value`, as a clone's parameter that is
/// always 3) as the location expression `DW_OP_consts K; DW_OP_stack_value`.
fn const_value<R: gimli::Reader>(e: &gimli::DebuggingInformationEntry<R>) -> Option<Vec<u8>> {
    let k: i64 = match e.attr_value(gimli::DW_AT_const_value).ok()?? {
        AttributeValue::Sdata(v) => v,
        AttributeValue::Udata(v) => v as i64,
        AttributeValue::Data1(v) => v as i64,
        AttributeValue::Data2(v) => v as i64,
        AttributeValue::Data4(v) => v as i64,
        AttributeValue::Data8(v) => v as i64,
        _ => return None,
    };
    let mut out = vec![gimli::DW_OP_consts.0];
    let mut v = k;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
        out.push(if done { byte } else { byte | 0x80 });
        if done {
            break;
        }
    }
    out.push(gimli::DW_OP_stack_value.0);
    Some(out)
}

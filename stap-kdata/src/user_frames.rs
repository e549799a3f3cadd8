//! The tables user backtraces need of one user-space ELF file: its loadable segments, its
//! function symbols (the file's `.symtab`, its separate debug file's, or its `.dynsym`),
//! and its call frame rows (`.eh_frame`, else `.debug_frame`), compacted to what an x86-64
//! unwinder without frame pointers follows: where the CFA is (`%rsp` or `%rbp` plus an
//! offset) and where `%rbp` was saved.

use gimli::{CfaRule, LittleEndian, RegisterRule, UnwindSection, X86_64};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};
use stap_sema::user_frames::{Cfa, FrameRow, UserModule};
use std::collections::BTreeMap;
use std::path::Path;

/// Reads the tables of the ELF file at `path` (a canonical path).
pub fn read_user_module(path: &str) -> Result<UserModule, String> {
    let data = crate::read_regular(Path::new(path))
        .map_err(|e| format!("cannot read '{}': {}", path, e))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("'{}' is not an ELF program or library: {}", path, e))?;
    let debug = crate::user::debug_file(path)
        .filter(|d| d != path)
        .and_then(|d| crate::read_regular(Path::new(&d)).ok());
    let debug_file = debug.as_deref().and_then(|d| object::File::parse(d).ok());
    let segments = file
        .segments()
        .map(|s| (s.file_range().0, s.address(), s.file_range().1))
        .collect();
    let symbols = match (&debug_file, file.symbol_table().is_some()) {
        (_, true) => symbols(file.symbols()),
        (Some(d), false) if d.symbol_table().is_some() => symbols(d.symbols()),
        _ => symbols(file.dynamic_symbols()),
    };
    let mut frames = Vec::new();
    if let Some(eh) = file.section_by_name(".eh_frame") {
        let data = eh.data().map_err(|e| e.to_string())?;
        let section = gimli::EhFrame::new(data, LittleEndian);
        let mut bases = gimli::BaseAddresses::default().set_eh_frame(eh.address());
        if let Some(text) = file.section_by_name(".text") {
            bases = bases.set_text(text.address());
        }
        if let Some(got) = file.section_by_name(".got") {
            bases = bases.set_got(got.address());
        }
        rows(&section, &bases, &mut frames).map_err(|e| format!("{}: .eh_frame: {}", path, e))?;
    } else if let Some(df) = [Some(&file), debug_file.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|f| f.section_by_name(".debug_frame"))
    {
        let data = df.data().map_err(|e| e.to_string())?;
        let mut section = gimli::DebugFrame::new(data, LittleEndian);
        section.set_address_size(8);
        rows(&section, &gimli::BaseAddresses::default(), &mut frames)
            .map_err(|e| format!("{}: .debug_frame: {}", path, e))?;
    }
    Ok(UserModule {
        path: path.to_string(),
        size: data.len() as u64,
        segments,
        symbols,
        frames: compact(frames),
    })
}

/// Function symbols by address: where several name one address, the last in the table
/// (SystemTap's choice: a global after the local aliases, the versioned name after the
/// plain one); each symbol's size reaches to the next symbol's address (its own for the
/// last).
fn symbols<'d>(syms: impl Iterator<Item = impl ObjectSymbol<'d>>) -> Vec<(u64, u64, String)> {
    let mut by_addr: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    for s in syms {
        if s.kind() != SymbolKind::Text || s.is_undefined() || s.address() == 0 {
            continue;
        }
        if let Ok(name) = s.name() {
            if !name.is_empty() {
                by_addr.insert(s.address(), (s.size(), name.to_string()));
            }
        }
    }
    let addrs: Vec<u64> = by_addr.keys().copied().collect();
    by_addr
        .into_iter()
        .enumerate()
        .map(|(i, (a, (size, name)))| {
            let size = addrs.get(i + 1).map_or(size, |next| next - a);
            (a, size, name)
        })
        .collect()
}

/// Every FDE's rows, as (start, end, row), in the section's order.
fn rows<R, S>(
    section: &S,
    bases: &gimli::BaseAddresses,
    out: &mut Vec<(u64, u64, FrameRow)>,
) -> gimli::Result<()>
where
    R: gimli::Reader<Offset = usize>,
    S: UnwindSection<R>,
{
    let mut ctx = Box::new(gimli::UnwindContext::new());
    let mut entries = section.entries(bases);
    while let Some(entry) = entries.next()? {
        let gimli::CieOrFde::Fde(partial) = entry else {
            continue;
        };
        let Ok(fde) = partial.parse(S::cie_from_offset) else {
            continue;
        };
        let mut table = fde.rows(section, bases, &mut ctx)?;
        while let Some(row) = table.next_row()? {
            out.push((row.start_address(), row.end_address(), frame_row(row)));
        }
    }
    Ok(())
}

/// One row of the CFI table, as the unwinder follows it.
fn frame_row(row: &gimli::UnwindTableRow<usize>) -> FrameRow {
    let start = row.start_address();
    let unknown = FrameRow {
        start,
        cfa: Cfa::Unknown,
        rbp_at: None,
    };
    let offset = |o: i64| i32::try_from(o).ok();
    let cfa = match row.cfa() {
        CfaRule::RegisterAndOffset {
            register,
            offset: o,
        } => match (*register, offset(*o)) {
            (X86_64::RSP, Some(o)) => Cfa::Rsp(o),
            (X86_64::RBP, Some(o)) => Cfa::Rbp(o),
            _ => return unknown,
        },
        CfaRule::Expression(_) => return unknown,
    };
    let cfa = match row.register(X86_64::RA) {
        RegisterRule::Undefined => Cfa::Outermost,
        RegisterRule::Offset(-8) => cfa,
        _ => return unknown,
    };
    let rbp_at = match row.register(X86_64::RBP) {
        RegisterRule::Undefined | RegisterRule::SameValue => None,
        RegisterRule::Offset(o) => match offset(o) {
            Some(o) => Some(o),
            None => return unknown,
        },
        _ => return unknown,
    };
    FrameRow { start, cfa, rbp_at }
}

/// The rows sorted by address, with an `Unknown` row where one FDE ends before the next
/// begins, and a row dropped where it repeats the one before.
fn compact(mut rows: Vec<(u64, u64, FrameRow)>) -> Vec<FrameRow> {
    rows.sort_by_key(|(start, _, _)| *start);
    let mut out: Vec<FrameRow> = Vec::with_capacity(rows.len());
    let mut end = 0;
    for (start, stop, row) in rows {
        if start < end {
            continue; // overlapping FDEs: the first wins
        }
        if start > end && !out.is_empty() {
            out.push(FrameRow {
                start: end,
                cfa: Cfa::Unknown,
                rbp_at: None,
            });
        }
        if out
            .last()
            .is_none_or(|l| (l.cfa, l.rbp_at) != (row.cfa, row.rbp_at))
        {
            out.push(row);
        }
        end = stop;
    }
    if !out.is_empty() {
        out.push(FrameRow {
            start: end,
            cfa: Cfa::Unknown,
            rbp_at: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start: u64, cfa: Cfa) -> (u64, u64, FrameRow) {
        (
            start,
            0,
            FrameRow {
                start,
                cfa,
                rbp_at: None,
            },
        )
    }

    #[test]
    fn rows_are_sorted_merged_and_gaps_marked() {
        let mut a = row(0x10, Cfa::Rsp(8));
        a.1 = 0x14;
        let mut b = row(0x14, Cfa::Rsp(8));
        b.1 = 0x20;
        let mut c = row(0x30, Cfa::Rsp(16));
        c.1 = 0x40;
        let out = compact(vec![c, a, b]);
        let got: Vec<(u64, Cfa)> = out.iter().map(|r| (r.start, r.cfa)).collect();
        assert_eq!(
            got,
            vec![
                (0x10, Cfa::Rsp(8)),
                (0x20, Cfa::Unknown),
                (0x30, Cfa::Rsp(16)),
                (0x40, Cfa::Unknown)
            ]
        );
    }

    #[test]
    fn a_program_of_this_machine_has_rows_and_symbols() {
        let exe = std::fs::canonicalize("/proc/self/exe").unwrap();
        let m = read_user_module(exe.to_str().unwrap()).unwrap();
        assert!(m.frames.len() > 100, "{}", m.frames.len());
        assert!(m.symbols.windows(2).all(|w| w[0].0 + w[0].1 == w[1].0));
        assert!(m.frames.windows(2).all(|w| w[0].start < w[1].start));
    }
}

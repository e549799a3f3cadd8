//! An index of the kernel's own DWARF (the debug vmlinux of `linux-image-KVER-dbg`): which
//! compilation units define each function, and which hold inlined copies of it.
//!
//! The debug vmlinux carries some 170 MB of `.debug_info`; reading all of it for every run
//! would cost seconds.  The index is built once by one pass over every unit's entries
//! (names only: no types, no locations), then kept in the cache directory under the
//! image's build ID, so later runs only parse the few units a script's probes name.

use gimli::{AttributeValue, EndianSlice, LittleEndian, UnitOffset};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

type R<'a> = EndianSlice<'a, LittleEndian>;

/// Bumped whenever the cache file's layout or contents change.
const FORMAT: &str = "stap-rs kernel DWARF index 2";

/// Which units hold what, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KernelIndex {
    /// Each unit's offset in `.debug_info` and its source file name.
    pub units: Vec<(u64, String)>,
    /// Function name -> units with its out-of-line code.
    pub functions: BTreeMap<String, Vec<u32>>,
    /// Function name -> units with inlined copies of it.
    pub inlined: BTreeMap<String, Vec<u32>>,
}

fn push_unit(map: &mut BTreeMap<String, Vec<u32>>, name: String, unit: u32) {
    let v = map.entry(name).or_default();
    if v.last() != Some(&unit) {
        v.push(unit);
    }
}

impl KernelIndex {
    /// Builds the index by reading every unit's entries.
    pub fn build(dwarf: &gimli::Dwarf<R<'_>>) -> Result<KernelIndex, String> {
        let mut ix = KernelIndex::default();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next().map_err(|e| e.to_string())? {
            let off = header
                .offset()
                .as_debug_info_offset()
                .map(|o| o.0 as u64)
                .unwrap_or(0);
            let unit = dwarf.unit(header).map_err(|e| e.to_string())?;
            let uid = ix.units.len() as u32;
            let cu_name = unit
                .name
                .and_then(|n| n.to_string().ok().map(str::to_string))
                .unwrap_or_default();
            ix.units.push((off, cu_name));
            // Named subprograms by offset, then what refers to them.
            let mut names: HashMap<UnitOffset, String> = HashMap::new();
            let mut concrete: Vec<(UnitOffset, Option<String>)> = Vec::new();
            let mut inlined: Vec<UnitOffset> = Vec::new();
            let mut entries = unit.entries();
            while let Some((_, e)) = entries.next_dfs().map_err(|e| e.to_string())? {
                match e.tag() {
                    gimli::DW_TAG_subprogram => {
                        let name = e
                            .attr_value(gimli::DW_AT_name)
                            .ok()
                            .flatten()
                            .and_then(|v| dwarf.attr_string(&unit, v).ok())
                            .and_then(|s| s.to_string().ok().map(str::to_string));
                        let code = e.attr_value(gimli::DW_AT_low_pc).ok().flatten().is_some()
                            || e.attr_value(gimli::DW_AT_ranges).ok().flatten().is_some();
                        let origin = match e.attr_value(gimli::DW_AT_abstract_origin) {
                            Ok(Some(AttributeValue::UnitRef(o))) => Some(o),
                            _ => match e.attr_value(gimli::DW_AT_specification) {
                                Ok(Some(AttributeValue::UnitRef(o))) => Some(o),
                                _ => None,
                            },
                        };
                        if let Some(n) = &name {
                            names.insert(e.offset(), n.clone());
                        }
                        if code {
                            concrete.push((origin.unwrap_or(e.offset()), name));
                        }
                    }
                    gimli::DW_TAG_inlined_subroutine => {
                        if let Ok(Some(AttributeValue::UnitRef(o))) =
                            e.attr_value(gimli::DW_AT_abstract_origin)
                        {
                            inlined.push(o);
                        }
                    }
                    _ => {}
                }
            }
            for (o, name) in concrete {
                if let Some(n) = name.or_else(|| names.get(&o).cloned()) {
                    push_unit(&mut ix.functions, n, uid);
                }
            }
            for o in inlined {
                if let Some(n) = names.get(&o) {
                    push_unit(&mut ix.inlined, n.clone(), uid);
                }
            }
        }
        Ok(ix)
    }

    /// Writes the index to `path` (atomically: a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        writeln!(w, "{}", FORMAT)?;
        for (off, name) in &self.units {
            writeln!(w, "U {} {}", off, name)?;
        }
        for (tag, map) in [("F", &self.functions), ("I", &self.inlined)] {
            for (name, units) in map {
                let list: Vec<String> = units.iter().map(|u| u.to_string()).collect();
                writeln!(w, "{} {} {}", tag, name, list.join(","))?;
            }
        }
        w.flush()?;
        drop(w);
        std::fs::rename(&tmp, path)
    }

    /// Reads an index [`save`](Self::save) wrote; `None` if it is missing or not ours.
    pub fn load(path: &Path) -> Option<KernelIndex> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        if lines.next()? != FORMAT {
            return None;
        }
        let mut ix = KernelIndex::default();
        for line in lines {
            let (tag, rest) = line.split_once(' ')?;
            match tag {
                "U" => {
                    let (off, name) = rest.split_once(' ').unwrap_or((rest, ""));
                    ix.units.push((off.parse().ok()?, name.to_string()));
                }
                "F" | "I" => {
                    let (name, list) = rest.rsplit_once(' ')?;
                    let units = list
                        .split(',')
                        .map(|u| u.parse().ok())
                        .collect::<Option<Vec<u32>>>()?;
                    if units.iter().any(|u| *u as usize >= ix.units.len()) {
                        return None;
                    }
                    let map = if tag == "F" {
                        &mut ix.functions
                    } else {
                        &mut ix.inlined
                    };
                    map.insert(name.to_string(), units);
                }
                _ => return None,
            }
        }
        Some(ix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_survives_a_round_trip_through_its_cache_file() {
        let mut ix = KernelIndex::default();
        ix.units.push((0, "fs/read_write.c".into()));
        ix.units.push((4096, "mm/filemap.c".into()));
        ix.functions.insert("vfs_read".into(), vec![0]);
        ix.functions.insert("init".into(), vec![0, 1]);
        ix.inlined.insert("file_ppos".into(), vec![0]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ix");
        ix.save(&p).unwrap();
        assert_eq!(KernelIndex::load(&p), Some(ix));
        std::fs::write(&p, "something else\n").unwrap();
        assert_eq!(KernelIndex::load(&p), None);
    }
}

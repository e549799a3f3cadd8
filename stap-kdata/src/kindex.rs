//! An index of the kernel's own DWARF (the debug vmlinux of `linux-image-KVER-dbg`): which
//! compilation units define each function, and which hold inlined copies of it, with the
//! file each is declared in (so `FUNC@FILE` reads only the units that can match).
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
const FORMAT: &str = "stap-rs kernel DWARF index 3";

/// Which units hold what, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KernelIndex {
    /// Each unit's offset in `.debug_info` and its source file name.
    pub units: Vec<(u64, String)>,
    /// The declaration files sites name, each once ([`Site::file`] indexes it).
    pub files: Vec<String>,
    /// Function name -> the units with its out-of-line code.
    pub functions: BTreeMap<String, Vec<Site>>,
    /// Function name -> the units with inlined copies of it.
    pub inlined: BTreeMap<String, Vec<Site>>,
}

/// A unit holding a function (or copies of it), and the file the function is declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// The unit, an index into [`KernelIndex::units`].
    pub unit: u32,
    /// The declaration file, an index into [`KernelIndex::files`]; [`Site::NO_FILE`] when
    /// the DWARF records none.
    pub file: u32,
}

impl Site {
    /// No declaration file recorded.
    pub const NO_FILE: u32 = u32::MAX;
}

/// Adds `site` under `name` once.  A unit's sites are pushed together, so only the run of
/// the same unit at the end can already hold it.
fn push_site(map: &mut BTreeMap<String, Vec<Site>>, name: String, site: Site) {
    let v = map.entry(name).or_default();
    if !v
        .iter()
        .rev()
        .take_while(|s| s.unit == site.unit)
        .any(|s| *s == site)
    {
        v.push(site);
    }
}

/// Interns file names: each name gets one id, in order of first use.
#[derive(Default)]
struct Files {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Files {
    fn id(&mut self, name: String) -> u32 {
        if let Some(id) = self.ids.get(&name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.clone(), id);
        self.names.push(name);
        id
    }
}

impl KernelIndex {
    /// Builds the index by reading every unit's entries.
    pub fn build(dwarf: &gimli::Dwarf<R<'_>>) -> Result<KernelIndex, String> {
        let mut ix = KernelIndex::default();
        let mut files = Files::default();
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
            // Named subprograms by offset (with their declaration file), then what refers
            // to them.  A unit's file indices are resolved once each.
            let mut names: HashMap<UnitOffset, (String, u32)> = HashMap::new();
            let mut unit_files: HashMap<u64, u32> = HashMap::new();
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
                            let file = decl_file(dwarf, &unit, e, &mut unit_files, &mut files);
                            names.insert(e.offset(), (n.clone(), file));
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
                // A concrete copy names its declaration through its abstract origin.
                let file = names.get(&o).map_or(Site::NO_FILE, |(_, f)| *f);
                if let Some(n) = name.or_else(|| names.get(&o).map(|(n, _)| n.clone())) {
                    push_site(&mut ix.functions, n, Site { unit: uid, file });
                }
            }
            for o in inlined {
                if let Some((n, file)) = names.get(&o) {
                    push_site(
                        &mut ix.inlined,
                        n.clone(),
                        Site {
                            unit: uid,
                            file: *file,
                        },
                    );
                }
            }
        }
        ix.files = files.names;
        Ok(ix)
    }

    /// The declaration file of `site`, if recorded.
    pub fn file_of(&self, site: Site) -> Option<&str> {
        self.files.get(site.file as usize).map(String::as_str)
    }

    /// Writes the index to `path` (atomically: a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        writeln!(w, "{}", FORMAT)?;
        for (off, name) in &self.units {
            writeln!(w, "U {} {}", off, name)?;
        }
        for name in &self.files {
            writeln!(w, "P {}", name)?;
        }
        for (tag, map) in [("F", &self.functions), ("I", &self.inlined)] {
            for (name, sites) in map {
                let list: Vec<String> = sites
                    .iter()
                    .map(|s| format!("{}:{}", s.unit, s.file))
                    .collect();
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
                "P" => ix.files.push(rest.to_string()),
                "F" | "I" => {
                    let (name, list) = rest.rsplit_once(' ')?;
                    let units = list
                        .split(',')
                        .map(|s| {
                            let (u, f) = s.split_once(':')?;
                            Some(Site {
                                unit: u.parse().ok()?,
                                file: f.parse().ok()?,
                            })
                        })
                        .collect::<Option<Vec<Site>>>()?;
                    let bad = |s: &Site| {
                        s.unit as usize >= ix.units.len()
                            || (s.file != Site::NO_FILE && s.file as usize >= ix.files.len())
                    };
                    if units.iter().any(bad) {
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

/// The interned declaration file of subprogram `e` ([`Site::NO_FILE`] if none).
fn decl_file<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    unit: &gimli::Unit<R<'a>>,
    e: &gimli::DebuggingInformationEntry<R<'a>>,
    seen: &mut HashMap<u64, u32>,
    files: &mut Files,
) -> u32 {
    let index = match e.attr_value(gimli::DW_AT_decl_file).ok().flatten() {
        Some(AttributeValue::FileIndex(i)) => i,
        Some(v) => match v.udata_value() {
            Some(i) => i,
            None => return Site::NO_FILE,
        },
        None => return Site::NO_FILE,
    };
    if let Some(id) = seen.get(&index) {
        return *id;
    }
    let id = crate::dwarf::file_name(dwarf, unit, index).map_or(Site::NO_FILE, |n| files.id(n));
    seen.insert(index, id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_survives_a_round_trip_through_its_cache_file() {
        let mut ix = KernelIndex::default();
        ix.units.push((0, "fs/read_write.c".into()));
        ix.units.push((4096, "mm/filemap.c".into()));
        ix.files.push("fs/read_write.c".into());
        ix.files.push("include/linux/fs.h".into());
        let site = |unit, file| Site { unit, file };
        ix.functions.insert("vfs_read".into(), vec![site(0, 0)]);
        ix.functions
            .insert("init".into(), vec![site(0, 0), site(1, Site::NO_FILE)]);
        ix.inlined.insert("file_ppos".into(), vec![site(0, 1)]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ix");
        ix.save(&p).unwrap();
        assert_eq!(KernelIndex::load(&p), Some(ix));
        std::fs::write(&p, "something else\n").unwrap();
        assert_eq!(KernelIndex::load(&p), None);
    }
}

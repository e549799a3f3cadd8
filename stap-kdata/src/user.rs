//! User-space programs: where a `process("NAME")` point's executable is, and what its ELF
//! file holds: functions (from its symbol tables), SDT markers, PLT entries, the libraries
//! it needs, and where each address is in the file (the offset a uprobe takes).

use crate::glob;
use object::{
    Object, ObjectSection, ObjectSegment, ObjectSymbol, ObjectSymbolTable, SegmentFlags, SymbolKind,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The executable `name` names, as SystemTap finds it: a name without a `/` is looked up
/// in `$PATH`, then in the current directory; a name that exists becomes its canonical absolute path (symbolic links
/// resolved); one that does not is kept as written.
pub fn find_executable(name: &str) -> String {
    let found: Option<PathBuf> = if name.contains('/') {
        Some(PathBuf::from(name))
    } else {
        std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| is_executable(p))
            })
            // Not in $PATH: a file of that name in the current directory.
            .or_else(|| Some(PathBuf::from(name)).filter(|p| p.is_file()))
    };
    found
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| name.to_string())
}

/// The executables a `process("PATTERN")` names: a pattern with `*`, `?` or `[` in a
/// path's components is matched against the files there (each canonical, once);
/// anything else is [`find_executable`]'s one path.
pub fn find_executables(name: &str) -> Vec<String> {
    if !name.starts_with('/') || !name.contains(['*', '?', '[']) {
        return vec![find_executable(name)];
    }
    let mut found: Vec<PathBuf> = vec![PathBuf::from("/")];
    for part in name.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for dir in &found {
            if !part.contains(['*', '?', '[']) {
                next.push(dir.join(part));
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| glob(part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        found = next;
    }
    let mut out: Vec<String> = Vec::new();
    for p in found.iter().filter(|p| p.is_file()) {
        if let Some(c) = std::fs::canonicalize(p)
            .ok()
            .and_then(|c| c.to_str().map(str::to_string))
        {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// The executable of process `pid` (`/proc/PID/exe`): what `process(PID)` and `-x PID`
/// name.
pub fn executable_of(pid: i64) -> Option<String> {
    std::fs::read_link(format!("/proc/{}/exe", pid))
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Where the DWARF of the ELF file at `path` is: the file itself, or its separate debug
/// file (`objcopy --only-keep-debug`) found by build ID as `.build-id/XX/REST.debug` under
/// each directory of `$SYSTEMTAP_DEBUGINFO_PATH` and `/usr/lib/debug`; `None` without.
pub fn debug_file(path: &str) -> Option<String> {
    let data = crate::read_regular(Path::new(path)).ok()?;
    let file = object::File::parse(&*data).ok()?;
    if file.section_by_name(".debug_info").is_some() {
        return Some(path.to_string());
    }
    let id = file.build_id().ok()??;
    if id.len() < 2 {
        return None;
    }
    let hex: String = id.iter().map(|b| format!("{:02x}", b)).collect();
    crate::kdwarf::debug_dirs()
        .into_iter()
        .map(|d| {
            d.join(".build-id")
                .join(&hex[..2])
                .join(format!("{}.debug", &hex[2..]))
        })
        .find(|p| p.is_file())
        .and_then(|p| p.to_str().map(str::to_string))
}

/// A program's or library's ELF file: its functions and its loadable segments.
pub struct UserElf {
    /// Function symbols (`.symtab`, then `.dynsym`): name to address.
    functions: BTreeMap<String, u64>,
    /// Executable `PT_LOAD` segments: address, size in memory, file offset.
    code: Vec<(u64, u64, u64)>,
    /// Every `PT_LOAD` segment: address, size in the file, file offset.
    loaded: Vec<(u64, u64, u64)>,
    /// Every defined symbol (functions and data): name to address, for SDT operands.
    symbols: HashMap<String, u64>,
    /// The SDT markers (`.note.stapsdt`), in the notes' order.
    markers: Vec<crate::sdt::Marker>,
    /// The PLT's entries: the function each calls, to the entry's address.
    plt: BTreeMap<String, u64>,
    /// The libraries it needs (`DT_NEEDED`), as named there.
    needed: Vec<String>,
    /// Where it has them looked for first (`DT_RUNPATH` or `DT_RPATH`, `$ORIGIN` replaced).
    runpath: Vec<String>,
}

/// ELF's `PF_X`: an executable segment.
const PF_X: u32 = 1;

impl UserElf {
    /// Reads the ELF file at `path`.
    pub fn read(path: &str) -> Result<UserElf, String> {
        let data = crate::read_regular(Path::new(path))
            .map_err(|e| format!("cannot read '{}': {}", path, e))?;
        let file = object::File::parse(&*data)
            .map_err(|e| format!("'{}' is not an ELF program or library: {}", path, e))?;
        let mut functions = BTreeMap::new();
        let mut symbols = HashMap::new();
        for sym in file.symbols().chain(file.dynamic_symbols()) {
            if !sym.is_undefined() {
                if let Ok(name) = sym.name() {
                    symbols.entry(name.to_string()).or_insert(sym.address());
                }
            }
            if sym.kind() != SymbolKind::Text || sym.is_undefined() || sym.address() == 0 {
                continue;
            }
            match sym.name() {
                Ok(name) if !name.is_empty() => {
                    functions.entry(name.to_string()).or_insert(sym.address());
                }
                _ => {}
            }
        }
        let code = file
            .segments()
            .filter(|s| matches!(s.flags(), SegmentFlags::Elf { p_flags } if p_flags & PF_X != 0))
            .map(|s| (s.address(), s.size(), s.file_range().0))
            .collect();
        let loaded = file
            .segments()
            .map(|s| (s.address(), s.file_range().1, s.file_range().0))
            .collect();
        let markers = match file.section_by_name(".note.stapsdt") {
            Some(notes) => crate::sdt::parse_notes(
                notes.data().unwrap_or(&[]),
                file.section_by_name(".stapsdt.base").map(|b| b.address()),
            ),
            None => Vec::new(),
        };
        let (needed, runpath) = dynamic_strings(&data, path);
        Ok(UserElf {
            functions,
            code,
            loaded,
            symbols,
            markers,
            plt: plt_entries(&file),
            needed,
            runpath,
        })
    }

    /// The PLT's entries, by the name of the function each calls.
    pub fn plt(&self) -> &BTreeMap<String, u64> {
        &self.plt
    }

    /// The libraries it needs, and where it has them looked for first.
    pub fn needed(&self) -> (&[String], &[String]) {
        (&self.needed, &self.runpath)
    }

    /// The SDT markers.
    pub fn markers(&self) -> &[crate::sdt::Marker] {
        &self.markers
    }

    /// The address of symbol `name` (a function or data).
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).copied()
    }

    /// Where the bytes at `addr` are in the file (a marker's semaphore), if loaded from it.
    pub fn data_offset(&self, addr: u64) -> Option<u64> {
        self.loaded
            .iter()
            .find(|(start, size, _)| (*start..start + size).contains(&addr))
            .map(|(start, _, off)| addr - start + off)
    }

    /// The functions' names, in order.
    pub fn function_names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(|k| k.as_str())
    }

    /// The address of function `name`.
    pub fn function(&self, name: &str) -> Option<u64> {
        self.functions.get(name).copied()
    }

    /// Where the code at `addr` is in the file (uprobes take file offsets).
    pub fn file_offset(&self, addr: u64) -> Option<u64> {
        self.code
            .iter()
            .find(|(start, size, _)| (*start..start + size).contains(&addr))
            .map(|(start, _, off)| addr - start + off)
    }
}

/// The PLT entries of an x86-64 ELF file: its `.rela.plt` relocations name the functions
/// in order, and entry `k` is 16 bytes long at `.plt.sec + 16k` (with IBT) or at
/// `.plt + 16(k+1)` (after the resolver's entry), as the linker lays them out.
fn plt_entries(file: &object::File) -> BTreeMap<String, u64> {
    const RELA_SIZE: usize = 24;
    const R_X86_64_JUMP_SLOT: u64 = 7;
    let mut out = BTreeMap::new();
    let (Some(rela), Some(dynsym)) = (
        file.section_by_name(".rela.plt"),
        file.dynamic_symbol_table(),
    ) else {
        return out;
    };
    let (base, first) = match file.section_by_name(".plt.sec") {
        Some(sec) => (sec.address(), 0),
        None => match file.section_by_name(".plt") {
            Some(plt) => (plt.address(), 1),
            None => return out,
        },
    };
    let data = rela.data().unwrap_or(&[]);
    for (k, r) in data.chunks_exact(RELA_SIZE).enumerate() {
        let info = u64::from_le_bytes(r[8..16].try_into().unwrap_or_default());
        if info & 0xffff_ffff != R_X86_64_JUMP_SLOT {
            continue;
        }
        let sym = dynsym.symbol_by_index(object::SymbolIndex((info >> 32) as usize));
        if let Some(name) = sym.ok().and_then(|s| s.name().ok().map(str::to_string)) {
            out.entry(name).or_insert(base + 16 * (k as u64 + first));
        }
    }
    out
}

/// An ELF file's `DT_NEEDED` names and its `DT_RUNPATH` (or else `DT_RPATH`) directories,
/// `$ORIGIN` being the file's directory.
fn dynamic_strings(data: &[u8], path: &str) -> (Vec<String>, Vec<String>) {
    use object::elf;
    use object::read::elf::{Dyn, ElfFile64};
    let Ok(file) = ElfFile64::<object::Endianness>::parse(data) else {
        return Default::default();
    };
    let endian = file.endian();
    let sections = file.elf_section_table();
    let Ok(Some((dyns, link))) = sections.dynamic(endian, data) else {
        return Default::default();
    };
    let Ok(strings) = sections.strings(endian, data, link) else {
        return Default::default();
    };
    let text = |d: &elf::Dyn64<object::Endianness>| {
        strings
            .get(d.d_val(endian) as u32)
            .ok()
            .map(|s| String::from_utf8_lossy(s).into_owned())
    };
    let origin = Path::new(path)
        .parent()
        .and_then(|p| p.to_str())
        .unwrap_or("/")
        .to_string();
    let (mut needed, mut runpath, mut rpath) = (Vec::new(), Vec::new(), Vec::new());
    for d in dyns {
        let tag = d.d_tag(endian) as u32;
        let dirs = |s: String| -> Vec<String> {
            s.split(':')
                .filter(|d| !d.is_empty())
                .map(|d| d.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin))
                .collect()
        };
        match (tag, text(d)) {
            (elf::DT_NEEDED, Some(s)) => needed.push(s),
            (elf::DT_RUNPATH, Some(s)) => runpath.extend(dirs(s)),
            (elf::DT_RPATH, Some(s)) => rpath.extend(dirs(s)),
            _ => {}
        }
    }
    if runpath.is_empty() {
        runpath = rpath;
    }
    (needed, runpath)
}

/// The programs a session's probe points name, each read once.
#[derive(Default)]
pub struct Programs {
    read: RefCell<HashMap<String, Rc<Result<UserElf, String>>>>,
    /// Each program's DWARF file ([`debug_file`]), once looked up.
    debug: RefCell<HashMap<String, Option<String>>>,
}

impl Programs {
    /// The file at `path` (canonical), read on first use.
    pub fn get(&self, path: &str) -> Rc<Result<UserElf, String>> {
        self.read
            .borrow_mut()
            .entry(path.to_string())
            .or_insert_with(|| Rc::new(UserElf::read(path)))
            .clone()
    }

    /// The DWARF file of the file at `path` ([`debug_file`]), looked up once.
    pub fn debug_file_of(&self, path: &str) -> Option<String> {
        self.debug
            .borrow_mut()
            .entry(path.to_string())
            .or_insert_with(|| debug_file(path))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{find_executable, UserElf};

    /// The offsets of a program's functions: those of the same bytes in the file.
    #[test]
    fn function_offsets_are_where_their_code_is_in_the_file() {
        let exe = std::env::current_exe().unwrap();
        let path = exe.to_str().unwrap();
        let elf = UserElf::read(path).unwrap();
        let data = std::fs::read(path).unwrap();
        let file = object::File::parse(&*data).unwrap();
        use object::{Object, ObjectSection, ObjectSymbol};
        let text = file.section_by_name(".text").unwrap();
        let (text_off, _) = text.file_range().unwrap();
        let sym = file
            .symbols()
            .find(|s| s.name().is_ok_and(|n| n == "main"))
            .unwrap();
        let want = sym.address() - text.address() + text_off;
        assert_eq!(elf.file_offset(elf.function("main").unwrap()), Some(want));
        assert!(elf.function_names().count() > 100);
    }

    /// A device or a FIFO is refused at once, not read for ever.
    #[test]
    fn only_regular_files_are_read() {
        let e = UserElf::read("/dev/zero").err().unwrap();
        assert!(e.contains("not a regular file"), "{}", e);
        assert!(super::debug_file("/dev/zero").is_none());
    }

    #[test]
    fn path_patterns_match_files() {
        let sh = super::find_executables("/usr/bin/[d]as?");
        assert_eq!(sh, vec![find_executable("dash")]);
        assert!(super::find_executables("/no/such/dir*/x").is_empty());
    }

    #[test]
    fn names_are_found_in_path_and_canonicalized() {
        let sh = find_executable("sh");
        assert!(sh.starts_with('/'), "{}", sh);
        assert_eq!(
            std::fs::canonicalize("/bin/sh").unwrap().to_str().unwrap(),
            sh
        );
        assert_eq!(
            find_executable("no-such-program-here"),
            "no-such-program-here"
        );
        assert_eq!(find_executable("./no/such/../x"), "./no/such/../x");
    }
}

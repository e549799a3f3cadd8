//! User-space programs: where a `process("NAME")` point's executable is, its functions
//! (from its symbol tables), and where each goes in the file (the offset a uprobe takes).

use crate::glob;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SegmentFlags, SymbolKind};
use stap_sema::ir::{
    PointArg, ProbePoint, ResolvedTarget, TargetOp, TargetResult, TargetSource, UserSite,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The executable `name` names, as SystemTap finds it: a name without a `/` is looked up
/// in `$PATH`; a name that exists becomes its canonical absolute path (symbolic links
/// resolved); one that does not is kept as written.
pub fn find_executable(name: &str) -> String {
    let found: Option<PathBuf> = if name.contains('/') {
        Some(PathBuf::from(name))
    } else {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| is_executable(p))
        })
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
    let data = std::fs::read(path).ok()?;
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
}

/// ELF's `PF_X`: an executable segment.
const PF_X: u32 = 1;

impl UserElf {
    /// Reads the ELF file at `path`.
    pub fn read(path: &str) -> Result<UserElf, String> {
        let data = std::fs::read(path).map_err(|e| format!("cannot read '{}': {}", path, e))?;
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
        Ok(UserElf {
            functions,
            code,
            loaded,
            symbols,
            markers,
        })
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

/// The programs a session's probe points name, each read once.
#[derive(Default)]
pub struct Programs {
    read: RefCell<HashMap<String, Rc<Result<UserElf, String>>>>,
    /// Each program's DWARF file ([`debug_file`]), once looked up.
    debug: RefCell<HashMap<String, Option<String>>>,
}

fn string_arg(p: &ProbePoint, i: usize) -> Option<&str> {
    match p.components.get(i).map(|c| &c.arg) {
        Some(Some(PointArg::String(s))) => Some(s),
        _ => None,
    }
}

impl Programs {
    /// A concrete `process("PATH").function("NAME")[.return]` point as the module point
    /// `module("DWARF").function("NAME")[.return]`, DWARF being the program or its debug
    /// file: a program's DWARF is read as a module's (its addresses are final), for its
    /// functions' target variables.
    pub fn as_module_point(&self, point: &ProbePoint) -> Option<ProbePoint> {
        let names: Vec<&str> = point.components.iter().map(|c| c.name.as_str()).collect();
        if !matches!(names.as_slice(), ["process", "function", ..]) {
            return None;
        }
        let path = string_arg(point, 0).filter(|p| p.starts_with('/'))?;
        let dwarf = self
            .debug
            .borrow_mut()
            .entry(path.to_string())
            .or_insert_with(|| debug_file(path))
            .clone()
            .unwrap_or_else(|| path.to_string());
        let mut m = point.clone();
        m.components[0].name = "module".into();
        m.components[0].arg = Some(PointArg::String(dwarf));
        Some(m)
    }

    /// The program at `path` (canonical), read on first use.
    pub fn get(&self, path: &str) -> Rc<Result<UserElf, String>> {
        self.read
            .borrow_mut()
            .entry(path.to_string())
            .or_insert_with(|| Rc::new(UserElf::read(path)))
            .clone()
    }

    /// Expands `process("PATH").function("PATTERN")[.call|.return]` into one point per
    /// function of the program whose name matches, with the program's canonical path.
    pub fn resolve_functions(&self, point: &ProbePoint) -> Result<Vec<ProbePoint>, String> {
        let name = string_arg(point, 0).unwrap_or("");
        let pat = string_arg(point, 1).unwrap_or("");
        if pat.contains(['@', ':']) {
            return Err(format!(
                "cannot resolve '{}' yet: a function pattern with a source file needs the program's DWARF, which stap-rs does not read yet",
                point
            ));
        }
        let paths = find_executables(name);
        let mut found: Vec<ProbePoint> = Vec::new();
        let mut last_err = format!("cannot resolve '{}': no file matches '{}'", point, name);
        for path in paths {
            let elf = self.get(&path);
            let elf = match &*elf {
                Ok(e) => e,
                Err(e) => {
                    last_err = format!("cannot resolve '{}': {}", point, e);
                    continue;
                }
            };
            let before = found.len();
            found.extend(
                elf.function_names()
                    .filter(|f| glob(pat, f))
                    .filter(|f| elf.function(f).and_then(|a| elf.file_offset(a)).is_some())
                    .map(|f| {
                        let mut p = point.clone();
                        p.components[0].arg = Some(PointArg::String(path.clone()));
                        p.components[1].arg = Some(PointArg::String(f.to_string()));
                        p
                    }),
            );
            if found.len() == before {
                last_err = crate::resolve::no_match(
                    point,
                    pat,
                    elf.function_names(),
                    &format!("function of {}", path),
                );
            }
        }
        // A path pattern takes the files that have matching functions.
        if found.is_empty() {
            return Err(last_err);
        }
        Ok(found)
    }

    /// Where a concrete `process("PATH").function("NAME")` point's uprobe goes: the
    /// program's path and the function's offset in it.
    pub fn site(&self, point: &ProbePoint) -> Option<(String, u64)> {
        let path = string_arg(point, 0)?;
        let func = string_arg(point, 1)?;
        let func = func.split('@').next().unwrap_or(func);
        let elf = self.get(path);
        let elf = elf.as_ref().as_ref().ok()?;
        let off = elf.file_offset(elf.function(func)?)?;
        Some((path.to_string(), off))
    }
}

/// A `process("PATH")[.provider("P")].mark("NAME")` point's parts: the file, the
/// provider pattern and the name pattern.
fn mark_parts(point: &ProbePoint) -> Option<(&str, Option<&str>, &str)> {
    let names: Vec<&str> = point.components.iter().map(|c| c.name.as_str()).collect();
    match names.as_slice() {
        ["process", "mark"] => Some((string_arg(point, 0)?, None, string_arg(point, 1)?)),
        ["process", "provider", "mark"] => Some((
            string_arg(point, 0)?,
            Some(string_arg(point, 1)?),
            string_arg(point, 2)?,
        )),
        _ => None,
    }
}

/// Whether `point` is an SDT marker's.
pub fn is_mark(point: &ProbePoint) -> bool {
    mark_parts(point).is_some()
}

fn long_target(source: TargetSource, ops: Vec<TargetOp>, result: TargetResult) -> ResolvedTarget {
    let c_type = match result {
        TargetResult::Long => "long",
        _ => "string",
    };
    ResolvedTarget {
        source,
        ops,
        result,
        c_type: c_type.into(),
        pretty: Vec::new(),
        pretty_deep: Vec::new(),
    }
}

impl Programs {
    /// Expands an SDT marker point into one point per marker of the file whose provider
    /// and name match, in name order (a name used at several places has one point per
    /// place, told apart by their `instance`).
    pub fn resolve_marks(&self, point: &ProbePoint) -> Result<Vec<ProbePoint>, String> {
        let (name, provider, pat) = mark_parts(point).ok_or("not a marker")?;
        let mut found = Vec::new();
        let mut last_err = format!("cannot resolve '{}': no file matches '{}'", point, name);
        for path in find_executables(name) {
            let elf = self.get(&path);
            let elf = match &*elf {
                Ok(e) => e,
                Err(e) => {
                    last_err = format!("cannot resolve '{}': {}", point, e);
                    continue;
                }
            };
            let mut marks: Vec<&crate::sdt::Marker> = elf
                .markers()
                .iter()
                .filter(|m| provider.is_none_or(|p| glob(p, &m.provider)) && glob(pat, &m.name))
                .collect();
            marks.sort_by(|a, b| a.name.cmp(&b.name));
            if marks.is_empty() {
                last_err = crate::resolve::no_match(
                    point,
                    pat,
                    elf.markers().iter().map(|m| m.name.as_str()),
                    &format!("SDT marker of {}", path),
                );
            }
            let mark_at = point.components.len() - 1;
            let mut last: Option<&str> = None;
            let mut instance = 0;
            for m in marks {
                instance = if last == Some(m.name.as_str()) {
                    instance + 1
                } else {
                    0
                };
                last = Some(&m.name);
                let mut p = point.clone();
                p.components[0].arg = Some(PointArg::String(path.clone()));
                p.components[mark_at].arg = Some(PointArg::String(m.name.clone()));
                p.instance = instance;
                found.push(p);
            }
        }
        if found.is_empty() {
            return Err(last_err);
        }
        Ok(found)
    }

    /// The marker a concrete marker point names, with its file.
    fn marker(&self, point: &ProbePoint) -> Option<(Rc<Result<UserElf, String>>, usize)> {
        let (path, provider, name) = mark_parts(point)?;
        let elf = self.get(path);
        let i = {
            let e = elf.as_ref().as_ref().ok()?;
            e.markers()
                .iter()
                .enumerate()
                .filter(|(_, m)| provider.is_none_or(|p| glob(p, &m.provider)) && m.name == name)
                .nth(point.instance as usize)?
                .0
        };
        Some((elf, i))
    }

    /// Where a concrete point's uprobe goes: a function's entry, or a marker (with its
    /// semaphore).
    pub fn user_site(&self, point: &ProbePoint) -> Option<UserSite> {
        if !is_mark(point) {
            let (path, offset) = self.site(point)?;
            return Some(UserSite {
                path,
                offset,
                semaphore: 0,
                marker: None,
            });
        }
        let (elf, i) = self.marker(point)?;
        let e = elf.as_ref().as_ref().ok()?;
        let m = &e.markers()[i];
        let semaphore = match m.semaphore {
            0 => 0,
            a => e.data_offset(a)?,
        };
        Some(UserSite {
            path: string_arg(point, 0)?.to_string(),
            offset: e.file_offset(m.addr)?,
            semaphore,
            marker: Some(m.addr),
        })
    }

    /// A marker's `$argN` (a long), `$$name`, `$$provider`, and `$$parms` or `$$vars`
    /// (`$arg1=0x.. $arg2=0x..`).
    pub fn mark_target(
        &self,
        point: &ProbePoint,
        name: &str,
        components: &[Option<&str>],
    ) -> Result<ResolvedTarget, String> {
        let (elf, i) = self
            .marker(point)
            .ok_or_else(|| format!("no SDT marker for '{}'", point))?;
        let e = elf.as_ref().as_ref().map_err(|e| e.clone())?;
        let m = &e.markers()[i];
        let arg = |n: usize| crate::sdt::operand(&m.args[n], m.addr, &|s| e.symbol(s));
        let text = |t: &str| {
            long_target(
                TargetSource::Text(t.into()),
                Vec::new(),
                TargetResult::String { max: 0 },
            )
        };
        let target = match name {
            "$$name" => text(&m.name),
            "$$provider" => text(&m.provider),
            "$$parms" | "$$vars" => {
                let mut pairs = Vec::new();
                for n in 0..m.args.len() {
                    let (src, ops) = arg(n)?;
                    let src = Box::new(src);
                    pairs.push((format!("$arg{}", n + 1), TargetSource::Operand { src, ops }));
                }
                long_target(
                    TargetSource::Pairs(pairs),
                    Vec::new(),
                    TargetResult::String { max: 0 },
                )
            }
            "$$locals" => long_target(
                TargetSource::Pairs(Vec::new()),
                Vec::new(),
                TargetResult::String { max: 0 },
            ),
            _ => {
                let n = name
                    .strip_prefix("$arg")
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| (1..=m.args.len()).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "unable to find '{}' at SDT marker {}.{}, which has {} argument{}",
                            name,
                            m.provider,
                            m.name,
                            m.args.len(),
                            if m.args.len() == 1 { "" } else { "s" }
                        )
                    })?;
                let (src, ops) = arg(n - 1)?;
                long_target(src, ops, TargetResult::Long)
            }
        };
        if !components.is_empty() {
            return Err(format!(
                "'{}' of an SDT marker is a {}: it has no fields or elements (use @cast)",
                name, target.c_type
            ));
        }
        Ok(target)
    }

    /// A marker's arguments, as `-L` lists them.
    pub fn mark_variables(&self, point: &ProbePoint) -> Vec<(String, String)> {
        let Some((elf, i)) = self.marker(point) else {
            return Vec::new();
        };
        let Ok(e) = elf.as_ref() else {
            return Vec::new();
        };
        (1..=e.markers()[i].args.len())
            .map(|n| (format!("$arg{}", n), "long".to_string()))
            .collect()
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

//! Points in user programs' code: `process("PATH")[.library("LIB")]` followed by
//! `.function("PAT")[.call|.return]`, `[.provider("P")].mark("NAME")` or
//! `.plt[("PAT")][.return]`: how each expands into concrete points, where each goes in its
//! file (a uprobe's site), and an SDT marker's arguments.

use crate::glob;
use crate::user::{find_executables, Programs, UserElf};
use stap_sema::ir::{
    PointArg, ProbePoint, ResolvedTarget, TargetOp, TargetResult, TargetSource, UserSite,
};
use std::rc::Rc;

/// What a point names in its file's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code<'a> {
    /// A function (its name, possibly decorated `NAME@FILE:LINE`).
    Function(&'a str),
    /// An SDT marker.
    Mark {
        /// The provider pattern, when given.
        provider: Option<&'a str>,
        /// The name.
        name: &'a str,
    },
    /// A PLT entry, by the function it calls.
    Plt(&'a str),
    /// A statement (`FUNCTION@FILE:LINE`), from the DWARF.
    Statement(&'a str),
}

/// A point in user code, taken apart.
#[derive(Clone, Copy, Debug)]
struct CodePoint<'a> {
    /// `process("PATH")`'s PATH.
    program: &'a str,
    /// `.library("LIB")`'s LIB.
    library: Option<&'a str>,
    /// What in the file.
    code: Code<'a>,
    /// The component whose argument names it.
    name_at: usize,
}

impl CodePoint<'_> {
    /// The file the code is in: the library, else the program.
    fn file(&self) -> &str {
        self.library.unwrap_or(self.program)
    }
}

fn string_arg(p: &ProbePoint, i: usize) -> Option<&str> {
    match p.components.get(i).map(|c| &c.arg) {
        Some(Some(PointArg::String(s))) => Some(s),
        _ => None,
    }
}

fn code_point(point: &ProbePoint) -> Option<CodePoint<'_>> {
    let names: Vec<&str> = point.components.iter().map(|c| c.name.as_str()).collect();
    if names.first() != Some(&"process") {
        return None;
    }
    let program = string_arg(point, 0)?;
    let (library, i) = match names.get(1) {
        Some(&"library") => (Some(string_arg(point, 1)?), 2),
        _ => (None, 1),
    };
    let arg = |k: usize| string_arg(point, k);
    let (code, name_at) = match &names[i..] {
        ["function", rest @ ..]
            if rest
                .iter()
                .all(|r| matches!(*r, "call" | "return" | "inline")) =>
        {
            (Code::Function(arg(i)?), i)
        }
        ["statement"] => (Code::Statement(arg(i)?), i),
        ["mark"] => (
            Code::Mark {
                provider: None,
                name: arg(i)?,
            },
            i,
        ),
        ["provider", "mark"] => (
            Code::Mark {
                provider: Some(arg(i)?),
                name: arg(i + 1)?,
            },
            i + 1,
        ),
        ["plt"] | ["plt", "return"] => (Code::Plt(arg(i).unwrap_or("*")), i),
        _ => return None,
    };
    Some(CodePoint {
        program,
        library,
        code,
        name_at,
    })
}

/// Whether `point` is one in a program's code that stap-rs places (a function, an SDT
/// marker or a PLT entry, in the program or one of its libraries).
pub fn is_code(point: &ProbePoint) -> bool {
    code_point(point).is_some()
}

/// Whether `point` is an SDT marker's.
pub fn is_mark(point: &ProbePoint) -> bool {
    matches!(code_point(point), Some(c) if matches!(c.code, Code::Mark { .. }))
}

/// Whether `point` is a PLT entry's.
pub fn is_plt(point: &ProbePoint) -> bool {
    matches!(code_point(point), Some(c) if matches!(c.code, Code::Plt(_)))
}

/// The component naming a function point's function.
pub fn function_at(point: &ProbePoint) -> Option<usize> {
    code_point(point)
        .filter(|c| matches!(c.code, Code::Function(_)))
        .map(|c| c.name_at)
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

/// Directories the dynamic linker searches after a file's run path (`/etc/ld.so.conf`'s,
/// then the defaults).
fn system_lib_dirs() -> Vec<String> {
    let mut dirs = Vec::new();
    let mut confs = vec![std::path::PathBuf::from("/etc/ld.so.conf")];
    if let Ok(rd) = std::fs::read_dir("/etc/ld.so.conf.d") {
        let mut more: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        more.sort();
        confs.extend(
            more.into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "conf")),
        );
    }
    for c in confs {
        let text = std::fs::read_to_string(c).unwrap_or_default();
        dirs.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| l.starts_with('/'))
                .map(str::to_string),
        );
    }
    for d in [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ] {
        dirs.push(d.to_string());
    }
    dirs
}

impl Programs {
    /// The libraries `program` loads (what it needs, and what those need, found as the
    /// dynamic linker finds them), canonical, whose file name or path matches `pat`.
    pub fn libraries(&self, program: &str, pat: &str) -> Vec<String> {
        if pat.starts_with('/') {
            return find_executables(pat);
        }
        let system = system_lib_dirs();
        let mut seen: Vec<String> = Vec::new();
        let mut todo = vec![program.to_string()];
        let mut out = Vec::new();
        while let Some(file) = todo.pop() {
            let elf = self.get(&file);
            let Ok(e) = elf.as_ref() else { continue };
            let (needed, runpath) = e.needed();
            for name in needed {
                let found = runpath
                    .iter()
                    .chain(&system)
                    .map(|d| std::path::Path::new(d).join(name))
                    .find(|p| p.is_file())
                    .and_then(|p| std::fs::canonicalize(p).ok())
                    .and_then(|p| p.to_str().map(str::to_string));
                let Some(path) = found else { continue };
                if seen.contains(&path) {
                    continue;
                }
                seen.push(path.clone());
                let base = path.rsplit('/').next().unwrap_or(&path);
                if glob(pat, name) || glob(pat, base) {
                    out.push(path.clone());
                }
                todo.push(path);
            }
        }
        out
    }

    /// What in `elf` a code point's pattern matches: names, each with its address (a
    /// marker's name once per marker).
    fn matches(elf: &UserElf, code: Code) -> Vec<(String, u64)> {
        match code {
            Code::Function(pat) => elf
                .function_names()
                .filter(|f| glob(pat, f))
                .filter_map(|f| Some((f.to_string(), elf.function(f)?)))
                .collect(),
            Code::Plt(pat) => elf
                .plt()
                .iter()
                .filter(|(f, _)| glob(pat, f))
                .map(|(f, a)| (f.clone(), *a))
                .collect(),
            Code::Statement(_) => Vec::new(),
            Code::Mark { provider, name } => {
                let mut m: Vec<(String, u64)> = elf
                    .markers()
                    .iter()
                    .filter(|m| {
                        provider.is_none_or(|p| glob(p, &m.provider)) && glob(name, &m.name)
                    })
                    .map(|m| (m.name.clone(), m.addr))
                    .collect();
                m.sort_by(|a, b| a.0.cmp(&b.0));
                m
            }
        }
    }

    /// Expands a point in user code into one point per function, marker or PLT entry
    /// that matches, in each program (and library) that matches, named by canonical
    /// paths. A marker name used at several places has one point per place, told apart
    /// by their `instance`.
    ///
    /// Functions and statements of a file with DWARF come from it (`dwarf` resolves the
    /// module point of the same code in the DWARF file): named as there (a GCC clone by
    /// its function's name), with inlined copies and lines; the symbol tables add the
    /// functions the DWARF does not describe.
    pub fn resolve_code(
        &self,
        point: &ProbePoint,
        dwarf: &dyn Fn(&ProbePoint) -> Result<Vec<ProbePoint>, String>,
    ) -> Result<Vec<ProbePoint>, String> {
        let cp = code_point(point).ok_or("not a point in user code")?;
        let (pat, what) = match cp.code {
            Code::Function(p) => (p, "function"),
            Code::Mark { name, .. } => (name, "SDT marker"),
            Code::Plt(p) => (p, "PLT entry"),
            Code::Statement(p) => (p, "statement"),
        };
        let mut found = Vec::new();
        let mut last_err = format!(
            "cannot resolve '{}': no file matches '{}'",
            point,
            cp.file()
        );
        for program in find_executables(cp.program) {
            let files = match cp.library {
                Some(lib) => self.libraries(&program, lib),
                None => vec![program.clone()],
            };
            if files.is_empty() {
                last_err = format!(
                    "cannot resolve '{}': {} loads no library that matches '{}'",
                    point,
                    program,
                    cp.file()
                );
            }
            for file in files {
                let elf = self.get(&file);
                let elf = match &*elf {
                    Ok(e) => e,
                    Err(e) => {
                        last_err = format!("cannot resolve '{}': {}", point, e);
                        continue;
                    }
                };
                let mut named = point.clone();
                named.components[0].arg = Some(PointArg::String(program.clone()));
                if cp.library.is_some() {
                    named.components[1].arg = Some(PointArg::String(file.clone()));
                }
                let covered =
                    self.from_dwarf(&named, &file, cp.name_at, dwarf, &mut found, &mut last_err);
                if needs_dwarf(point) {
                    continue;
                }
                // The symbol tables: what the DWARF did not name (a GCC clone `f.isra.0`
                // is its function f).
                let hits: Vec<(String, u64)> = Self::matches(elf, cp.code)
                    .into_iter()
                    .filter(|(_, a)| elf.file_offset(*a).is_some())
                    .filter(|(n, _)| {
                        !covered
                            .iter()
                            .any(|c| c == n.split('.').next().unwrap_or(n))
                    })
                    .collect();
                if hits.is_empty() && covered.is_empty() {
                    let names: Vec<String> = Self::matches(elf, wildcard(cp.code))
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect();
                    last_err = crate::resolve::no_match(
                        point,
                        pat,
                        names.iter().map(|s| s.as_str()),
                        &format!("{} of {}", what, file),
                    );
                }
                let mut last: Option<String> = None;
                let mut instance = 0;
                for (name, _) in hits {
                    instance = if last.as_ref() == Some(&name) {
                        instance + 1
                    } else {
                        0
                    };
                    let mut p = point.clone();
                    p.components[0].arg = Some(PointArg::String(program.clone()));
                    if cp.library.is_some() {
                        p.components[1].arg = Some(PointArg::String(file.clone()));
                    }
                    p.components[cp.name_at].arg = Some(PointArg::String(name.clone()));
                    p.instance = instance;
                    last = Some(name);
                    found.push(p);
                }
            }
        }
        if found.is_empty() {
            return Err(last_err);
        }
        Ok(found)
    }

    /// The points of `named` (a code point in `file`, of the concrete program) that the
    /// file's DWARF resolves, into `found`; the functions they name.
    fn from_dwarf(
        &self,
        named: &ProbePoint,
        file: &str,
        name_at: usize,
        dwarf: &dyn Fn(&ProbePoint) -> Result<Vec<ProbePoint>, String>,
        found: &mut Vec<ProbePoint>,
        last_err: &mut String,
    ) -> Vec<String> {
        let mut covered = Vec::new();
        let module = match self.as_module_point(named) {
            Some(m) if self.debug_file_of(file).is_some() => m,
            _ => {
                if needs_dwarf(named) {
                    *last_err = format!(
                        "cannot resolve '{}': {} has no DWARF (in itself or in a debug file found by build ID)",
                        named, file
                    );
                }
                return covered;
            }
        };
        match dwarf(&module) {
            Ok(points) => {
                for m in points {
                    if let Some(Some(PointArg::String(f))) = m.components.get(1).map(|c| &c.arg) {
                        covered.push(f.split('@').next().unwrap_or(f).to_string());
                    }
                    let mut p = ProbePoint {
                        components: named.components[..name_at].to_vec(),
                        instance: m.instance,
                    };
                    p.components.extend(m.components[1..].iter().cloned());
                    found.push(p);
                }
            }
            Err(e) => *last_err = e,
        }
        covered
    }

    /// A concrete function point as the module point `module("DWARF").function("NAME")
    /// [.return]`, DWARF being its file or that file's debug file: a program's DWARF is
    /// read as a module's (its addresses are final), for its functions' target variables.
    pub fn as_module_point(&self, point: &ProbePoint) -> Option<ProbePoint> {
        let cp = code_point(point)?;
        if !matches!(cp.code, Code::Function(_) | Code::Statement(_)) || !cp.file().starts_with('/')
        {
            return None;
        }
        let dwarf = self
            .debug_file_of(cp.file())
            .unwrap_or_else(|| cp.file().to_string());
        let mut m = ProbePoint {
            components: point.components[cp.name_at - 1..].to_vec(),
            instance: point.instance,
        };
        m.components[0].name = "module".into();
        m.components[0].arg = Some(PointArg::String(dwarf));
        Some(m)
    }

    /// The marker a concrete marker point names, with its file.
    fn marker(&self, point: &ProbePoint) -> Option<(Rc<Result<UserElf, String>>, usize)> {
        let cp = code_point(point)?;
        let Code::Mark { provider, name } = cp.code else {
            return None;
        };
        let elf = self.get(cp.file());
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

    /// The address of function symbol `name` in the file at `path`.
    pub fn symbol_address(&self, path: &str, name: &str) -> Option<u64> {
        self.get(path).as_ref().as_ref().ok()?.function(name)
    }

    /// Where the code at `addr` of the file at `path` is in the file.
    pub fn offset_in(&self, path: &str, addr: u64) -> Option<u64> {
        self.get(path).as_ref().as_ref().ok()?.file_offset(addr)
    }

    /// The file a point in code is in (its library's, else its program's).
    pub fn file_of<'p>(&self, point: &'p ProbePoint) -> Option<&'p str> {
        code_point(point).map(|c| c.library.unwrap_or(c.program))
    }

    /// Where a concrete point's uprobe goes: a function's entry, a PLT entry, or a marker
    /// (with its semaphore).  A probe in a library fires in every process that maps it,
    /// the program's or not, as in SystemTap 4.8.
    pub fn user_site(&self, point: &ProbePoint) -> Option<UserSite> {
        let cp = code_point(point)?;
        let elf = self.get(cp.file());
        let e = elf.as_ref().as_ref().ok()?;
        let (addr, semaphore, statement) = match cp.code {
            Code::Function(name) => (e.function(name.split('@').next()?)?, 0, None),
            Code::Statement(_) => return None,
            Code::Plt(name) => {
                let a = *e.plt().get(name)?;
                (a, 0, Some(a))
            }
            Code::Mark { .. } => {
                let (_, i) = self.marker(point)?;
                let m = &e.markers()[i];
                let sem = match m.semaphore {
                    0 => 0,
                    a => e.data_offset(a)?,
                };
                (m.addr, sem, Some(m.addr))
            }
        };
        Some(UserSite {
            path: cp.file().to_string(),
            offset: e.file_offset(addr)?,
            semaphore,
            statement,
        })
    }

    /// A PLT entry's `$$name`: the function it calls.
    pub fn plt_target(&self, point: &ProbePoint, name: &str) -> Result<ResolvedTarget, String> {
        match code_point(point).map(|c| c.code) {
            Some(Code::Plt(f)) if name == "$$name" => Ok(long_target(
                TargetSource::Text(f.to_string()),
                Vec::new(),
                TargetResult::String { max: 0 },
            )),
            _ => Err(format!(
                "'{}' is not available at a PLT entry: it has $$name only",
                name
            )),
        }
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
        let string = |src| long_target(src, Vec::new(), TargetResult::String { max: 0 });
        let target = match name {
            "$$name" => string(TargetSource::Text(m.name.clone())),
            "$$provider" => string(TargetSource::Text(m.provider.clone())),
            "$$parms" | "$$vars" => {
                let mut pairs = Vec::new();
                for n in 0..m.args.len() {
                    let (src, ops) = arg(n)?;
                    let src = Box::new(src);
                    pairs.push((format!("$arg{}", n + 1), TargetSource::Operand { src, ops }));
                }
                string(TargetSource::Pairs(pairs))
            }
            "$$locals" => string(TargetSource::Pairs(Vec::new())),
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

/// The same kind of code, any name (for the names a no-match error suggests).
fn wildcard(code: Code) -> Code {
    match code {
        Code::Function(_) => Code::Function("*"),
        Code::Plt(_) => Code::Plt("*"),
        Code::Mark { provider, .. } => Code::Mark {
            provider,
            name: "*",
        },
        Code::Statement(_) => Code::Statement("*"),
    }
}

/// Whether a point needs its file's DWARF to be placed: a statement, an inlined copy, or a
/// function named with its file (`F@FILE[:LINE]`).
pub fn needs_dwarf(point: &ProbePoint) -> bool {
    match code_point(point).map(|c| c.code) {
        Some(Code::Statement(_)) => true,
        Some(Code::Function(f)) => {
            f.contains('@') || point.components.iter().any(|x| x.name == "inline")
        }
        _ => false,
    }
}

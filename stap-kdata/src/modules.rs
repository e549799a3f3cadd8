//! `module("M").function("PATTERN")` and `module("M").statement("FUNC@FILE:LINE")` probes,
//! resolved from the module's own DWARF (a `.ko` built with `-g`): the kprobe's symbol and
//! offset, and target variables (parameters and locals) from their location expressions.
//!
//! `M` is a module name, looked up under `/usr/lib/modules/KVER/`, or the path of a `.ko`.

use crate::dwarf::{Func, ModuleDwarf, Var, VarLoc};
use crate::glob;
use crate::resolve::{walk_from, At};
use stap_sema::ir::{PointArg, PointComponent, ProbePoint, ResolvedTarget, TargetOp, TargetSource};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The modules a session's probes name, each read once.
pub(crate) struct Modules {
    release: String,
    loaded: RefCell<HashMap<String, Rc<ModuleDwarf>>>,
}

fn string_arg(c: &PointComponent) -> Option<&str> {
    match &c.arg {
        Some(PointArg::String(s)) => Some(s),
        _ => None,
    }
}

/// `FUNC@FILE:LINE` split into its parts.
fn parse_statement(spec: &str) -> Option<(&str, &str, u64)> {
    let (func, rest) = spec.split_once('@')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some((func, file, line.parse().ok()?))
}

fn find_ko(dir: &Path, file: &str, depth: usize) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() && depth < 8 {
            if let Some(f) = find_ko(&p, file, depth + 1) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == file) {
            return Some(p);
        }
    }
    None
}

impl Modules {
    pub(crate) fn new(release: &str) -> Modules {
        Modules {
            release: release.to_string(),
            loaded: RefCell::new(HashMap::new()),
        }
    }

    /// The module a `module("M")` names: a path, or a name under /usr/lib/modules/KVER.
    pub(crate) fn module(&self, spec: &str) -> Result<Rc<ModuleDwarf>, String> {
        if let Some(m) = self.loaded.borrow().get(spec) {
            return Ok(m.clone());
        }
        let path = if spec.contains('/') || spec.ends_with(".ko") {
            PathBuf::from(spec)
        } else {
            let root = PathBuf::from(format!("/usr/lib/modules/{}", self.release));
            [spec.to_string(), spec.replace('_', "-")]
                .iter()
                .find_map(|n| find_ko(&root, &format!("{}.ko", n), 0))
                .ok_or_else(|| {
                    format!(
                        "no module '{}' under {} (give the path of its .ko)",
                        spec,
                        root.display()
                    )
                })?
        };
        let m = Rc::new(ModuleDwarf::load(&path)?);
        let mut loaded = self.loaded.borrow_mut();
        loaded.insert(spec.to_string(), m.clone());
        loaded.insert(m.name.clone(), m.clone());
        Ok(m)
    }

    /// The function a concrete point probes and the address it probes at.
    fn site_of<'m>(&self, m: &'m ModuleDwarf, point: &ProbePoint) -> Option<(&'m Func, u64)> {
        let c = point.components.get(1)?;
        let arg = string_arg(c)?;
        match c.name.as_str() {
            "function" if is_inline(point) => {
                // NAME@FILE:LINE: the copy inlined at that call site.
                let (func, file, line) = parse_statement(arg)?;
                let f = m.functions.iter().find(|f| {
                    f.name == func
                        && f.inlined_at
                            .as_ref()
                            .is_some_and(|(cf, cl)| *cl == line && same_file(cf, file))
                })?;
                Some((f, f.low))
            }
            "function" => {
                let f = m
                    .functions
                    .iter()
                    .find(|f| f.name == arg && f.inlined_at.is_none())?;
                Some((f, f.low))
            }
            "statement" => {
                let (func, file, line) = parse_statement(arg)?;
                let f = m
                    .functions
                    .iter()
                    .find(|f| f.name == func && f.inlined_at.is_none())?;
                line_addr(m, f, file, line).map(|a| (f, a))
            }
            _ => None,
        }
    }

    /// Expands a `module(...)` point into concrete points, one per function (or line).
    pub(crate) fn resolve(&self, point: &ProbePoint) -> Result<Vec<ProbePoint>, String> {
        let spec = string_arg(&point.components[0]).unwrap_or("");
        let m = self.module(spec)?;
        let c = &point.components[1];
        let arg = string_arg(c).unwrap_or("");
        let concrete = |comp: &str, arg: String| {
            let mut p = point.clone();
            p.components[0].arg = Some(PointArg::String(m.name.clone()));
            p.components[1].name = comp.to_string();
            p.components[1].arg = Some(PointArg::String(arg));
            p
        };
        let inline = is_inline(point);
        let mut names: Vec<&str> = m
            .functions
            .iter()
            .filter(|f| f.inlined_at.is_some() == inline)
            .map(|f| f.name.as_str())
            .collect();
        names.sort();
        names.dedup();
        let out: Vec<ProbePoint> = match c.name.as_str() {
            "function" if inline => {
                // One point per inlined copy, named by its call site.
                let pat = arg.split('@').next().unwrap_or("");
                m.functions
                    .iter()
                    .filter(|f| glob(pat, &f.name))
                    .filter_map(|f| {
                        let (file, line) = f.inlined_at.as_ref()?;
                        let base = Path::new(file).file_name()?.to_string_lossy();
                        Some(concrete(
                            "function",
                            format!("{}@{}:{}", f.name, base, line),
                        ))
                    })
                    .collect()
            }
            "function" => {
                let pat = arg.split('@').next().unwrap_or("");
                names
                    .iter()
                    .filter(|n| glob(pat, n))
                    .map(|n| concrete("function", n.to_string()))
                    .collect()
            }
            "statement" => {
                let (func, file, line) = parse_statement(arg)
                    .ok_or_else(|| format!("'{}': a statement is FUNCTION@FILE:LINE", point))?;
                m.functions
                    .iter()
                    .filter(|f| f.inlined_at.is_none() && glob(func, &f.name))
                    .filter(|f| line_addr(&m, f, file, line).is_some())
                    .map(|f| concrete("statement", format!("{}@{}:{}", f.name, file, line)))
                    .collect()
            }
            other => {
                return Err(format!(
                    "module(...).{} probes are not supported yet",
                    other
                ))
            }
        };
        if out.is_empty() {
            let near = stap_sema::similar(arg, names.iter().copied());
            return Err(format!(
                "probe point mismatch: nothing in module {} matches '{}'{}",
                m.name,
                arg,
                if near.is_empty() {
                    String::new()
                } else {
                    format!(" (similar: {})", near.join(", "))
                }
            ));
        }
        Ok(out)
    }

    /// The kprobe's `MODULE:SYMBOL` and offset for a concrete point.
    pub(crate) fn site(&self, point: &ProbePoint) -> Option<(String, u64)> {
        let m = self.module(string_arg(&point.components[0])?).ok()?;
        let (_, pc) = self.site_of(&m, point)?;
        let (sym, off) = m.symbol_at(pc)?;
        Some((format!("{}:{}", m.name, sym), off))
    }

    /// `$name` (then `components`) at a concrete point, from its DWARF location there.
    pub(crate) fn target(
        &self,
        point: &ProbePoint,
        name: &str,
        components: &[Option<&str>],
    ) -> Result<ResolvedTarget, String> {
        let spec = string_arg(&point.components[0]).unwrap_or("");
        let m = self.module(spec)?;
        let (f, pc) = self
            .site_of(&m, point)
            .ok_or_else(|| format!("'{}' has no code in {}", point, m.name))?;
        if point.components.iter().any(|c| c.name == "return") {
            return Err("module .return probes have no target variables in stap-rs yet".into());
        }
        let visible: Vec<&Var> = f.vars.iter().filter(|v| v.in_scope(pc)).collect();
        match name {
            "$$parms" | "$$locals" | "$$vars" => {
                let want = |v: &&&Var| match name {
                    "$$parms" => v.param,
                    "$$locals" => !v.param,
                    _ => true,
                };
                let pairs = visible
                    .iter()
                    .filter(want)
                    .filter_map(|v| match m.var_location(f, v, pc) {
                        Ok(VarLoc::Reg(r)) => Some((v.name.clone(), TargetSource::DwarfReg(r))),
                        _ => None,
                    })
                    .collect();
                return Ok(ResolvedTarget {
                    source: TargetSource::Pairs(pairs),
                    ops: Vec::new(),
                    result: stap_sema::ir::TargetResult::String { max: 0 },
                    c_type: "string".into(),
                    pretty: Vec::new(),
                    pretty_deep: Vec::new(),
                });
            }
            _ => {}
        }
        let bare = name.trim_start_matches('$');
        let v = visible
            .iter()
            .rev()
            .find(|v| v.name == bare)
            .ok_or_else(|| {
                let known: Vec<String> = visible.iter().map(|v| format!("${}", v.name)).collect();
                format!(
                    "'{}' is not a parameter or local of {} here: it has {}",
                    name,
                    f.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            })?;
        match m.var_location(f, v, pc)? {
            VarLoc::Reg(r) => walk_from(
                &m.types,
                TargetSource::DwarfReg(r),
                At::Value(v.ty),
                components,
            ),
            VarLoc::RegValue(r, off) => {
                let mut t = walk_from(
                    &m.types,
                    TargetSource::DwarfReg(r),
                    At::Value(v.ty),
                    components,
                )?;
                t.ops.insert(0, TargetOp::Add(off));
                Ok(t)
            }
            VarLoc::Const(c) => walk_from(
                &m.types,
                TargetSource::Const(c),
                At::Value(v.ty),
                components,
            ),
            VarLoc::RegOffset(r, off) => {
                let mut t = walk_from(
                    &m.types,
                    TargetSource::DwarfReg(r),
                    At::Memory(v.ty, None),
                    components,
                )?;
                t.ops.insert(0, TargetOp::Add(off));
                Ok(t)
            }
        }
    }

    /// The variables at a concrete point with their C types (for `-L`).
    pub(crate) fn variables(&self, point: &ProbePoint) -> Vec<(String, String)> {
        let Some(m) = string_arg(&point.components[0]).and_then(|s| self.module(s).ok()) else {
            return Vec::new();
        };
        let Some((f, pc)) = self.site_of(&m, point) else {
            return Vec::new();
        };
        f.vars
            .iter()
            .filter(|v| v.in_scope(pc))
            .map(|v| (format!("${}", v.name), m.types.c_name(v.ty)))
            .collect()
    }
}

/// A `.inline` point (inlined copies of a function).
fn is_inline(point: &ProbePoint) -> bool {
    point.components.iter().any(|c| c.name == "inline")
}

/// Whether DWARF's path `path` is the file a script names (a path suffix or base name).
fn same_file(path: &str, file: &str) -> bool {
    path == file
        || path.ends_with(&format!("/{}", file))
        || Path::new(path).file_name().is_some_and(|n| n == file)
}

/// The first statement address of `file:line` inside function `f`.
fn line_addr(m: &ModuleDwarf, f: &Func, file: &str, line: u64) -> Option<u64> {
    m.lines
        .iter()
        .filter(|l| l.line == line && f.low <= l.addr && l.addr < f.high)
        .filter(|l| same_file(&l.file, file))
        .map(|l| l.addr)
        .min()
}

//! DWARF probe points: `module("M").function("PATTERN")`, `module("M").statement(...)` and
//! their `kernel.` forms with a source file or line (or `.inline`), resolved from DWARF (a
//! `.ko` built with `-g`, or the kernel's debug vmlinux): the kprobe's symbol and offset,
//! and target variables (parameters and locals) from their location expressions.
//!
//! `M` is a module name, looked up under `/usr/lib/modules/KVER/`, or the path of a `.ko`.
//! A point's pattern is `FUNC[@FILE[:LINE | :* | :FIRST-LAST | +OFFSET]]`, as in
//! stapprobes(3stap); each part may hold wildcards.

use crate::dwarf::{Base, Func, ModuleDwarf, Var, VarLoc};
use crate::glob;
use crate::kdwarf::{self, KernelDwarf};
use crate::kindex::Site;
use crate::point_spec::{
    blacklisted_file, declared, declared_like, file_matches, line_addr, lines_of, parse_spec,
    shown, Lines, Spec,
};
use crate::walk::{walk_from, At};
use stap_sema::ir::{PointArg, PointComponent, ProbePoint, ResolvedTarget, TargetOp, TargetSource};
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The modules a session's probes name, each read once, and the kernel's own DWARF.
pub(crate) struct Modules {
    release: String,
    cache: PathBuf,
    loaded: RefCell<HashMap<String, Rc<ModuleDwarf>>>,
    kernel: OnceCell<Result<KernelDwarf, String>>,
    /// The target kernel's modules by name ([`Modules::ko_index`]).
    ko_index: OnceCell<BTreeMap<String, PathBuf>>,
    /// Which files were read (for `-v`).
    read: RefCell<Vec<String>>,
}

fn string_arg(c: &PointComponent) -> Option<&str> {
    match &c.arg {
        Some(PointArg::String(s)) => Some(s),
        _ => None,
    }
}

/// The `.ko` files under `dir`, by module name (`-` as `_`), into `out` (a name already
/// there keeps its file).  Links are not followed: `build` and `source` lead into the
/// kernel's headers, thousands of directories with no module in them.
fn ko_files(dir: &Path, depth: usize, out: &mut BTreeMap<String, PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(kind) = e.file_type() else { continue };
        let p = e.path();
        if kind.is_dir() && depth < 8 {
            ko_files(&p, depth + 1, out);
        } else if let Some(stem) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".ko"))
        {
            out.entry(stem.replace('-', "_")).or_insert(p);
        }
    }
}

impl Modules {
    /// `module("PATTERN")` with wildcards: each installed module whose name matches and
    /// whose DWARF is at hand (its debug file, or a module built with -g).
    fn resolve_modules(
        &self,
        point: &ProbePoint,
        pattern: &str,
        with_inline: bool,
    ) -> Result<Vec<ProbePoint>, String> {
        let names = self.ko_index();
        let matching: Vec<&String> = names.keys().filter(|n| glob(pattern, n)).collect();
        if matching.is_empty() {
            return Err(format!(
                "probe point mismatch: no module of {} matches '{}'",
                self.release, pattern
            ));
        }
        let mut out = Vec::new();
        let mut without = 0;
        for name in &matching {
            let mut p = point.clone();
            p.components[0].arg = Some(PointArg::String(name.to_string()));
            match self.resolve(&p, with_inline) {
                Ok(v) => out.extend(v),
                Err(e) if e.contains("has no DWARF") => without += 1,
                Err(_) => {}
            }
        }
        if out.is_empty() {
            return Err(format!(
                "probe point mismatch: nothing matches '{}' in the {} modules matching '{}'{}",
                point.components[1]
                    .arg
                    .as_ref()
                    .map(|a| match a {
                        PointArg::String(s) => s.clone(),
                        PointArg::Number(n) => n.to_string(),
                    })
                    .unwrap_or_default(),
                matching.len(),
                pattern,
                if without > 0 {
                    format!(
                        " ({} of them have no DWARF: install linux-image-{}-dbg)",
                        without, self.release
                    )
                } else {
                    String::new()
                }
            ));
        }
        Ok(out)
    }

    pub(crate) fn new(release: &str, cache: &Path) -> Modules {
        Modules {
            release: release.to_string(),
            cache: cache.to_path_buf(),
            loaded: RefCell::new(HashMap::new()),
            kernel: OnceCell::new(),
            ko_index: OnceCell::new(),
            read: RefCell::new(Vec::new()),
        }
    }

    /// The DWARF files read so far, one line each (for `-v`).
    pub(crate) fn read_notes(&self) -> Vec<String> {
        let mut notes = self.read.borrow().clone();
        if let Some(Ok(k)) = self.kernel.get() {
            notes.push(format!(
                "kernel DWARF: {} of {} units read",
                k.units_read(),
                k.index.units.len()
            ));
        }
        notes
    }

    /// The target kernel's modules by name: each module's debug file (linux-image-KVER-dbg's,
    /// with its DWARF) before the installed module (with DWARF if it was built with it).
    /// Listed once per run.
    fn ko_index(&self) -> &BTreeMap<String, PathBuf> {
        self.ko_index.get_or_init(|| {
            let mut out = BTreeMap::new();
            for d in kdwarf::debug_dirs() {
                ko_files(
                    &d.join(format!("lib/modules/{}", self.release)),
                    0,
                    &mut out,
                );
            }
            let installed = PathBuf::from(format!("/usr/lib/modules/{}", self.release));
            ko_files(&installed, 0, &mut out);
            out
        })
    }

    /// The module a `module("M")` names: a path, or a name under /usr/lib/modules/KVER.
    pub(crate) fn module(&self, spec: &str) -> Result<Rc<ModuleDwarf>, String> {
        if let Some(m) = self.loaded.borrow().get(spec) {
            return Ok(m.clone());
        }
        let path = if spec.contains('/') || spec.ends_with(".ko") {
            PathBuf::from(spec)
        } else {
            self.ko_index()
                .get(&spec.replace('-', "_"))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "no module '{}' under /usr/lib/modules/{} (give the path of its .ko)",
                        spec, self.release
                    )
                })?
        };
        let m = Rc::new(ModuleDwarf::load(&path)?);
        self.read
            .borrow_mut()
            .push(format!("module DWARF: {} ({})", m.name, path.display()));
        let mut loaded = self.loaded.borrow_mut();
        loaded.insert(spec.to_string(), m.clone());
        loaded.insert(m.name.clone(), m.clone());
        Ok(m)
    }

    /// The kernel's debug vmlinux, opened (and indexed) on first use.
    pub(crate) fn kernel(&self) -> Result<&KernelDwarf, String> {
        self.kernel
            .get_or_init(|| match kdwarf::find(&self.release) {
                Some(p) => KernelDwarf::open(&p, &self.cache),
                None => Err(format!(
                    "the kernel's DWARF is not installed: install linux-image-{}-dbg (or put \
                     its vmlinux under $SYSTEMTAP_DEBUGINFO_PATH)",
                    self.release
                )),
            })
            .as_ref()
            .map_err(|e| e.clone())
    }

    /// Whether the kernel's DWARF is installed and readable (opened on first use).
    pub(crate) fn has_kernel_dwarf(&self) -> bool {
        self.kernel().is_ok()
    }

    /// The DWARF a point's functions may be in: the module's, or the kernel units holding
    /// functions (out of line, or inlined copies) whose names match.
    fn candidates(
        &self,
        point: &ProbePoint,
        spec: &Spec,
        outline: bool,
        inline: bool,
    ) -> Result<Vec<Rc<ModuleDwarf>>, String> {
        if point.components[0].name == "module" {
            return Ok(vec![
                self.module(string_arg(&point.components[0]).unwrap_or(""))?
            ]);
        }
        let k = self.kernel()?;
        // With @FILE, a site is taken when the function is declared in a matching file (a
        // header's inline functions are found in the units that include it), or, when
        // the DWARF records no declaration, when the unit itself is that file.
        let wanted = |s: &Site| match spec.file {
            None => true,
            Some(file) => match k.index.file_of(*s) {
                Some(decl) => file_matches(decl, file),
                None => file_matches(&k.index.units[s.unit as usize].1, file),
            },
        };
        let mut units = BTreeSet::new();
        for (map, want) in [(&k.index.functions, outline), (&k.index.inlined, inline)] {
            if !want {
                continue;
            }
            let mut take = |sites: &Vec<Site>| {
                units.extend(sites.iter().filter(|s| wanted(s)).map(|s| s.unit));
            };
            if spec.func.contains(['*', '?', '[']) {
                for (name, sites) in map {
                    if glob(spec.func, name) {
                        take(sites);
                    }
                }
            } else if let Some(sites) = map.get(spec.func) {
                take(sites);
            }
        }
        units.into_iter().map(|u| k.unit(u)).collect()
    }

    /// Whether function (or inlined copy) `f` may be probed: not a lock function the
    /// runtime takes, and in the kernel not code the kernel refuses to kprobe nor the probe
    /// machinery's own.  An inlined copy is judged by the function it was inlined into,
    /// too: a lock helper inlined into a lock function is that lock function.
    fn allowed(&self, f: &Func, kernel: bool) -> bool {
        let kernel_ok = |k: &KernelDwarf| {
            k.forbidden(f.low).is_none()
                && k.symbol_at(f.low)
                    .is_none_or(|(s, _)| crate::point_spec::runtime_unsafe(s).is_none())
        };
        crate::point_spec::runtime_unsafe(&f.name).is_none()
            && (!kernel
                || (!blacklisted_file(&f.decl.0) && self.kernel().map(kernel_ok).unwrap_or(true)))
    }

    /// The functions (by index) a concrete point may probe in `m`, and the address each
    /// would be probed at, in the order resolution made the points (the sites `allowed`
    /// refuses are not counted there, so they are not here).
    fn sites_in(&self, m: &ModuleDwarf, point: &ProbePoint) -> Vec<(usize, u64)> {
        let kernel = point.components[0].name == "kernel";
        let Some(c) = point.components.get(1) else {
            return Vec::new();
        };
        let Some(spec) = string_arg(c).and_then(|a| parse_spec(a).ok()) else {
            return Vec::new();
        };
        let fs = m.functions.iter().enumerate();
        // Named sites first, then the (costlier) check that resolution allowed them.
        let allowed = |f: &Func| self.allowed(f, kernel);
        match (c.name.as_str(), spec.lines) {
            // NAME@FILE:LINE: the copies inlined at that call site.
            ("function", Lines::Exact(line)) if is_inline(point) => fs
                .filter(|(_, f)| {
                    f.name == spec.func
                        && f.inlined_at.as_ref().is_some_and(|(cf, cl)| {
                            *cl == line && spec.file.is_some_and(|p| file_matches(cf, p))
                        })
                        && allowed(f)
                })
                .map(|(i, f)| (i, f.low))
                .collect(),
            ("function", _) if is_inline(point) => Vec::new(),
            // A return probe takes the return address where the call left it: at entry.
            ("function", _) => fs
                .filter(|(_, f)| f.inlined_at.is_none() && declared(f, &spec) && allowed(f))
                .map(|(i, f)| match is_return(point) {
                    true => (i, f.low),
                    false => (i, m.probe_address(f)),
                })
                .collect(),
            ("statement", Lines::Exact(line)) => {
                let Some(file) = spec.file else {
                    return Vec::new();
                };
                m.functions_named(spec.func)
                    .iter()
                    .map(|&i| (i, &m.functions[i]))
                    .filter(|(_, f)| f.inlined_at.is_none() && allowed(f))
                    .filter_map(|(i, f)| line_addr(m, f, file, line).map(|a| (i, a)))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// The DWARF, function and address of a concrete point (its `instance`-th site).
    fn locate(&self, point: &ProbePoint) -> Result<(Rc<ModuleDwarf>, usize, u64), String> {
        let c = &point.components[1];
        if let Some(PointArg::Number(addr)) = c.arg {
            return self.locate_address(point, addr as u64);
        }
        let spec = parse_spec(string_arg(c).unwrap_or(""))?;
        let inline = is_inline(point);
        let mut skip = point.instance as usize;
        for m in self.candidates(point, &spec, !inline, inline)? {
            let sites = self.sites_in(&m, point);
            if skip < sites.len() {
                let (i, pc) = sites[skip];
                return Ok((m.clone(), i, pc));
            }
            skip -= sites.len();
        }
        Err(format!("'{}' has no code in the DWARF read", point))
    }

    /// The kernel function holding `addr` (a `kernel.statement(ADDR)`), from its symbol.
    fn locate_address(
        &self,
        point: &ProbePoint,
        addr: u64,
    ) -> Result<(Rc<ModuleDwarf>, usize, u64), String> {
        if is_absolute(point) {
            return Err(".absolute probes have no target variables".into());
        }
        let k = self.kernel()?;
        let (sym, _) = k
            .symbol_at(addr)
            .ok_or_else(|| format!("no kernel function holds address {:#x}", addr))?;
        // GCC's clones (f.isra.0, f.constprop.0) are f in DWARF.
        let name = sym.split('.').next().unwrap_or(sym);
        for site in k.index.functions.get(name).into_iter().flatten() {
            let m = k.unit(site.unit)?;
            if let Some(i) = m
                .functions
                .iter()
                .position(|f| f.inlined_at.is_none() && f.low <= addr && addr < f.high)
            {
                return Ok((m, i, addr));
            }
        }
        Err(format!(
            "no DWARF describes the code at {:#x} ({})",
            addr, sym
        ))
    }

    /// Expands a DWARF point into concrete points: one per function, inlined copy or line.
    /// `with_inline`: a plain `.function` also takes the function's inlined copies.
    pub(crate) fn resolve(
        &self,
        point: &ProbePoint,
        with_inline: bool,
    ) -> Result<Vec<ProbePoint>, String> {
        let kernel = point.components[0].name == "kernel";
        if let Some(pattern) = string_arg(&point.components[0]) {
            if !kernel && !pattern.contains('/') && pattern.contains(['*', '?', '[']) {
                return self.resolve_modules(point, pattern, with_inline);
            }
        }
        let c = &point.components[1];
        let arg = string_arg(c).unwrap_or("");
        let spec = parse_spec(arg)?;
        let concrete = |comp: &str, arg: String, m: &ModuleDwarf, inline: bool| {
            let mut p = point.clone();
            if !kernel {
                p.components[0].arg = Some(PointArg::String(m.name.clone()));
            }
            p.components[1].name = comp.to_string();
            p.components[1].arg = Some(PointArg::String(arg));
            if inline && !is_inline(&p) {
                p.components.push(PointComponent {
                    name: "inline".into(),
                    arg: None,
                });
            }
            p
        };
        let inline_only = is_inline(point);
        let statement = c.name == "statement";
        let want_inline = inline_only || (with_inline && !statement);
        let units = self.candidates(point, &spec, !inline_only, want_inline)?;
        // The kernel refuses kprobes in some code, and the probe machinery's own files
        // are off limits: never offer those points.
        let refused = std::cell::Cell::new(0usize);
        let allowed = |f: &Func| {
            let ok = self.allowed(f, kernel);
            if !ok {
                refused.set(refused.get() + 1);
            }
            ok
        };
        let mut out: Vec<ProbePoint> = Vec::new();
        for m in &units {
            for f in &m.functions {
                if !glob(spec.func, &f.name) {
                    continue;
                }
                match (&f.inlined_at, statement) {
                    (Some((file, line)), false) if want_inline => {
                        // FILE:LINE names a call site (as concrete points do); FILE alone
                        // the file the function is declared in.
                        let place_ok = match (spec.file, spec.lines) {
                            (Some(p), Lines::Exact(n)) => *line == n && file_matches(file, p),
                            (Some(p), _) => file_matches(&f.decl.0, p),
                            (None, _) => true,
                        };
                        if !place_ok || !allowed(f) {
                            continue;
                        }
                        out.push(concrete(
                            "function",
                            format!("{}@{}:{}", f.name, shown(file), line),
                            m,
                            true,
                        ));
                    }
                    (None, false) if !inline_only && declared_like(f, &spec) && allowed(f) => {
                        let name = if kernel || spec.file.is_some() {
                            format!("{}@{}:{}", f.name, shown(&f.decl.0), f.decl.1)
                        } else {
                            f.name.clone()
                        };
                        out.push(concrete("function", name, m, false));
                    }
                    (None, true) if allowed(f) => {
                        let file = spec.file.ok_or_else(|| {
                            format!("'{}': a statement is FUNCTION@FILE:LINE", point)
                        })?;
                        for line in lines_of(m, f, file, spec.lines) {
                            out.push(concrete(
                                "statement",
                                format!("{}@{}:{}", f.name, shown(&line.0), line.1),
                                m,
                                false,
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        // Points named alike are distinct sites (inlined copies of one call site in
        // several callers, or a header's static function in several units).
        let mut seen: HashMap<String, u32> = HashMap::new();
        for p in &mut out {
            let n = seen.entry(p.to_string()).or_insert(0);
            p.instance = *n;
            *n += 1;
        }
        if out.is_empty() && refused.get() > 0 {
            return Err(format!(
                "'{}': every match is code the kernel refuses to kprobe or the probe \
                 machinery's own (blacklisted)",
                point
            ));
        }
        if out.is_empty() {
            let names: BTreeSet<&str> = units
                .iter()
                .flat_map(|m| m.functions.iter().map(|f| f.name.as_str()))
                .collect();
            // The function is there, but not in that file or at that line: say where it is.
            let found: BTreeSet<String> = units
                .iter()
                .flat_map(|m| m.functions.iter())
                .filter(|f| f.inlined_at.is_none() && glob(spec.func, &f.name))
                .map(|f| format!("{}@{}:{}", f.name, shown(&f.decl.0), f.decl.1))
                .take(8)
                .collect();
            if spec.file.is_some() && !found.is_empty() {
                return Err(format!(
                    "probe point mismatch: nothing matches '{}': the functions of that name \
                     are at {}",
                    arg,
                    found.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            let near = stap_sema::similar(spec.func, names.iter().copied());
            let place = if kernel {
                "the kernel's DWARF".to_string()
            } else {
                format!(
                    "module {}",
                    units.first().map(|m| m.name.as_str()).unwrap_or("")
                )
            };
            return Err(format!(
                "probe point mismatch: nothing in {} matches '{}'{}",
                place,
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

    /// The address of a concrete point's code (in a user program's DWARF: final).
    pub(crate) fn address(&self, point: &ProbePoint) -> Option<u64> {
        self.locate(point).ok().map(|(_, _, pc)| pc)
    }

    /// The kprobe's `[MODULE:]SYMBOL` and offset for a concrete point.
    pub(crate) fn site(&self, point: &ProbePoint) -> Option<(String, u64)> {
        let (m, _, pc) = self.locate(point).ok()?;
        let (sym, off) = m.symbol_at(pc)?;
        if point.components[0].name == "kernel" {
            Some((sym.to_string(), off))
        } else {
            Some((format!("{}:{}", m.name, sym), off))
        }
    }

    /// `$name` (then `components`) at a concrete point, from its DWARF location there.
    pub(crate) fn target(
        &self,
        point: &ProbePoint,
        name: &str,
        components: &[Option<&str>],
    ) -> Result<ResolvedTarget, String> {
        let (m, fi, pc) = self.locate(point)?;
        let m = &*m;
        let f = &m.functions[fi];
        if point.components.iter().any(|c| c.name == "return") {
            // At the return, the value is in the return register; the rest of the frame is
            // gone (use @entry($param) or a .call probe for parameters).
            return match name {
                "$return" if f.ret != 0 => {
                    walk_from(&m.types, TargetSource::Return, At::Value(f.ret), components)
                }
                "$return" => Err(format!("'$return': {} returns void", f.name)),
                // "return=VALUE", or empty for a function without a value (as SystemTap).
                "$$return" => Ok(ResolvedTarget {
                    source: TargetSource::Pairs(if f.ret != 0 {
                        vec![("return".into(), TargetSource::Return)]
                    } else {
                        Vec::new()
                    }),
                    ops: Vec::new(),
                    result: stap_sema::ir::TargetResult::String { max: 0 },
                    c_type: "string".into(),
                    pretty: Vec::new(),
                    pretty_deep: Vec::new(),
                }),
                _ => self.entry_param(m, f, name, components),
            };
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
                        Ok(VarLoc::Reg(r)) => Some((
                            v.name.clone(),
                            crate::walk::narrowed(&m.types, v.ty, TargetSource::DwarfReg(r)),
                        )),
                        // In memory (a frame slot of unoptimized code) or computed: its
                        // value read or worked out, when it is a number.
                        Ok(VarLoc::Computed {
                            base,
                            mut ops,
                            memory,
                        }) => {
                            let (size, signed) = crate::walk::scalar(&m.types, v.ty)?;
                            if memory {
                                ops.push(TargetOp::Load { size, signed });
                            } else if size < 8 {
                                ops.push(TargetOp::Narrow { size, signed });
                            }
                            let src = Box::new(match base {
                                crate::dwarf::Base::Reg(r) => TargetSource::DwarfReg(r),
                                crate::dwarf::Base::Const(k) => TargetSource::Const(k),
                            });
                            Some((v.name.clone(), TargetSource::Operand { src, ops }))
                        }
                        Err(_) => None,
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
            VarLoc::Computed { base, ops, memory } => {
                let source = match base {
                    Base::Reg(r) => TargetSource::DwarfReg(r),
                    Base::Const(c) => TargetSource::Const(c),
                };
                let at = if memory {
                    At::Memory(v.ty, None)
                } else {
                    At::Value(v.ty)
                };
                let mut t = walk_from(&m.types, source, at, components)?;
                t.ops.splice(0..0, ops);
                Ok(t)
            }
        }
    }

    /// `$param` in a `.return` probe: its value at entry, when DWARF has it in an argument
    /// register there (which the kretprobe's entry handler saved).
    fn entry_param(
        &self,
        m: &ModuleDwarf,
        f: &Func,
        name: &str,
        components: &[Option<&str>],
    ) -> Result<ResolvedTarget, String> {
        let bare = name.trim_start_matches('$');
        let v = f
            .vars
            .iter()
            .find(|v| v.param && v.name == bare)
            .ok_or_else(|| {
                format!(
                    "'{}' is not a parameter of {} (a .return probe has its parameters, at \
                     their entry values, and $return)",
                    name, f.name
                )
            })?;
        // x86-64's argument registers in DWARF's numbering: rdi, rsi, rdx, rcx, r8, r9.
        const ARGS: [u16; 6] = [5, 4, 1, 2, 8, 9];
        let saved = |r: u16| {
            ARGS.iter()
                .position(|a| *a == r)
                .map(|i| TargetSource::Param(i as u32))
        };
        let unsaved = || {
            format!(
                "'{}' is not in an argument register at {}'s entry: its value there was not saved",
                name, f.name
            )
        };
        match m.var_location(f, v, f.low)? {
            VarLoc::Reg(r) => walk_from(
                &m.types,
                saved(r).ok_or_else(unsaved)?,
                At::Value(v.ty),
                components,
            ),
            VarLoc::Computed {
                base: Base::Reg(r),
                ops,
                memory: false,
            } if !ops.iter().any(|o| matches!(o, TargetOp::Load { .. })) => {
                let mut t = walk_from(
                    &m.types,
                    saved(r).ok_or_else(unsaved)?,
                    At::Value(v.ty),
                    components,
                )?;
                t.ops.splice(0..0, ops);
                Ok(t)
            }
            _ => Err(unsaved()),
        }
    }

    /// The variables at a concrete point with their C types (for `-L`).
    pub(crate) fn variables(&self, point: &ProbePoint) -> Vec<(String, String)> {
        let Ok((m, fi, pc)) = self.locate(point) else {
            return Vec::new();
        };
        m.functions[fi]
            .vars
            .iter()
            // As SystemTap lists them: the parameters, and the locals located here.
            .filter(|v| v.in_scope(pc) && (v.param || v.located_at(pc)))
            .map(|v| (format!("${}", v.name), m.types.c_name(v.ty)))
            .collect()
    }
}

/// A `.absolute` point (a raw address).
fn is_absolute(point: &ProbePoint) -> bool {
    point.components.iter().any(|c| c.name == "absolute")
}

/// A `.inline` point (inlined copies of a function).
fn is_return(point: &ProbePoint) -> bool {
    point.components.iter().any(|c| c.name == "return")
}

fn is_inline(point: &ProbePoint) -> bool {
    point.components.iter().any(|c| c.name == "inline")
}

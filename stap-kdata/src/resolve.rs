//! [`BtfResolver`]: pass 2's kernel resolver over [`KernelData`].

use crate::btf::TypeId;
use crate::walk::{cast_target, is_module_name, walk, walk_from, At};
use crate::{glob, KernelData};
use stap_sema::ir::{
    Family, PointArg, PointComponent, ProbePoint, ResolvedTarget, TargetResult, TargetSource,
};
use stap_sema::{similar, KernelResolver, NoKernelData};
use std::cell::{OnceCell, RefCell};
use std::path::PathBuf;

/// Functions never probed by wildcards: the probe machinery's own code, exception and NMI
/// entry, and what they call.  The kernel refuses the rest of its blacklist at registration.
fn blacklisted(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "notifier_call_chain",
        "atomic_notifier_call_chain",
        "oops_begin",
        "oops_end",
        "__die",
        "die",
        "do_int3",
        "do_debug",
        "sync_regs",
        "fixup_exception",
        "preempt_count_add",
        "preempt_count_sub",
        "get_kprobe",
        "__switch_to",
        "__switch_to_asm",
    ];
    const PARTS: &[&str] = &[
        "kprobe",
        "kretprobe",
        "_nmi",
        "nmi_",
        "int3",
        "ftrace",
        "exc_",
        "irqentry",
        "lockdep",
        "trace_hardirqs",
        "native_",
        "__sanitizer",
        "__x86_",
        "rcu_nmi",
    ];
    EXACT.contains(&name)
        || PARTS.iter().any(|p| name.contains(p))
        || name.starts_with("__bpf_trace")
}

/// A [`KernelResolver`] that reads the target kernel's BTF the first time a kernel probe
/// point needs it.
pub struct BtfResolver {
    release: String,
    cache: PathBuf,
    data: OnceCell<Result<KernelData, String>>,
    /// Tracepoint name to subsystem, from the build tree's trace headers.
    trace_systems: OnceCell<std::collections::HashMap<String, String>>,
    notes: RefCell<Vec<String>>,
    modules: crate::modules::Modules,
    /// The user-space programs process points name.
    programs: crate::user::Programs,
    /// The `-c` command's or `-x` process's program, for points in code that name none
    /// (`process.function("F")`).
    target_program: Option<String>,
}

impl BtfResolver {
    /// A resolver for kernel `release`, caching extracted data under `cache`.
    pub fn new(release: &str, cache: PathBuf) -> BtfResolver {
        BtfResolver {
            release: release.to_string(),
            cache: cache.clone(),
            data: OnceCell::new(),
            trace_systems: OnceCell::new(),
            notes: RefCell::new(Vec::new()),
            modules: crate::modules::Modules::new(release, &cache),
            programs: crate::user::Programs::default(),
            target_program: None,
        }
    }

    /// Sets the target process's program (`-c CMD`: the command's, `-x PID`: the
    /// process's executable): `process.function("F")` and the like probe it.
    pub fn with_target_program(mut self, program: Option<String>) -> BtfResolver {
        self.target_program = program;
        self
    }

    /// The kernel's data, loaded on first use.
    pub fn data(&self) -> Result<&KernelData, String> {
        self.data
            .get_or_init(|| {
                let d = KernelData::load(&self.release, &self.cache);
                if let Ok(k) = &d {
                    self.notes
                        .borrow_mut()
                        .push(format!("kernel data: {}", k.source));
                }
                d
            })
            .as_ref()
            .map_err(|e| e.clone())
    }

    fn note(&self, n: String) {
        self.notes.borrow_mut().push(n);
    }

    /// A target variable from BTF (or, for DWARF points, DWARF).
    fn target_of(
        &self,
        point: &ProbePoint,
        family: Family,
        name: &str,
        components: &[Option<&str>],
    ) -> Result<ResolvedTarget, String> {
        let n = names(point);
        if family == Family::KernelDwarf && dwarf_point(point) {
            // Functions' parameters at entry (and $return) from BTF as elsewhere; the rest
            // from DWARF.
            let outline = n.first() == Some(&"kernel") && n.get(1) == Some(&"function");
            if outline && !n.contains(&"inline") {
                let mut bare = point.clone();
                let f = string_arg(&point.components[1]).unwrap_or("");
                bare.components[1].arg = Some(PointArg::String(
                    f.split('@').next().unwrap_or("").to_string(),
                ));
                if let Ok(t) = self.target_of(&bare, family, name, components) {
                    return Ok(t);
                }
            }
            return self.modules.target(point, name, components);
        }
        let fname = point.components.get(1).and_then(string_arg).unwrap_or("");
        let k = self.data()?;
        let (params, ret, is_return, source_of): (
            Vec<(String, TypeId)>,
            TypeId,
            bool,
            fn(u32) -> TargetSource,
        ) = match family {
            Family::KernelDwarf if n.get(1) == Some(&"function") => {
                let (p, r) = k
                    .function_proto(fname)
                    .ok_or_else(|| format!("no prototype for '{}' in the kernel's BTF", fname))?;
                (p, r, n.contains(&"return"), TargetSource::Param)
            }
            Family::Tracepoint => {
                let a = k
                    .tracepoint_args(fname)
                    .ok_or_else(|| format!("no arguments known for tracepoint '{}'", fname))?;
                (a, 0, false, TargetSource::TracepointArg)
            }
            _ => {
                return Err(format!(
                    "'{}' probes have no target variables in stap-rs yet",
                    point
                ))
            }
        };
        let pairs = |list: &[(String, TypeId)], start: u32| {
            TargetSource::Pairs(
                list.iter()
                    .enumerate()
                    .map(|(i, (pn, ty))| {
                        (
                            pn.clone(),
                            crate::walk::narrowed(&k.btf, *ty, source_of(start + i as u32)),
                        )
                    })
                    .collect(),
            )
        };
        let string = |source| ResolvedTarget {
            source,
            ops: Vec::new(),
            result: TargetResult::String { max: 0 },
            c_type: "string".into(),
            pretty: Vec::new(),
            pretty_deep: Vec::new(),
        };
        match name {
            "$$parms" | "$$vars" => return Ok(string(pairs(&params, 0))),
            "$$locals" => return Ok(string(TargetSource::Pairs(Vec::new()))),
            "$$return" if is_return && ret != 0 => {
                return Ok(string(TargetSource::Pairs(vec![(
                    "return".into(),
                    TargetSource::Return,
                )])))
            }
            // A function without a value has an empty $$return, as in SystemTap.
            "$$return" if is_return => return Ok(string(TargetSource::Pairs(Vec::new()))),
            "$return" if is_return && ret != 0 => {
                return walk(&k.btf, TargetSource::Return, ret, components)
            }
            _ => {}
        }
        let bare = name.trim_start_matches('$');
        let idx = params.iter().position(|(pn, _)| pn == bare).or_else(|| {
            (family == Family::Tracepoint)
                .then(|| {
                    bare.strip_prefix("arg")?
                        .parse::<usize>()
                        .ok()?
                        .checked_sub(1)
                })
                .flatten()
                .filter(|i| *i < params.len())
        });
        match idx {
            Some(i) => walk(&k.btf, source_of(i as u32), params[i].1, components),
            None => {
                let mut known: Vec<String> =
                    params.iter().map(|(p, _)| format!("${}", p)).collect();
                if is_return && ret != 0 {
                    known.push("$return".into());
                }
                let mut msg = format!(
                    "'{}' is not a parameter of {}: it has {}",
                    name,
                    fname,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                );
                if family == Family::KernelDwarf {
                    msg.push_str(
                        " (locals need the kernel's DWARF; BTF describes parameters only)",
                    );
                }
                Err(msg)
            }
        }
    }

    /// Why the kernel refuses kprobes on function `name`, when its symbol table (the debug
    /// vmlinux) is installed.
    fn forbidden(&self, name: &str) -> Option<&'static str> {
        crate::point_spec::runtime_unsafe(name)
            .or_else(|| self.modules.kernel().ok()?.forbidden_function(name))
    }

    /// A kernel point resolved from the kernel's DWARF, saying (once) which image served.
    fn dwarf_points(
        &self,
        point: &ProbePoint,
        with_inline: bool,
    ) -> Result<Vec<ProbePoint>, String> {
        let k = self
            .modules
            .kernel()
            .map_err(|e| format!("cannot resolve '{}': {}", point, e))?;
        let note = format!(
            "kernel DWARF: {} (index {})",
            k.path.display(),
            k.index_source
        );
        if !self.notes.borrow().contains(&note) {
            self.note(note);
        }
        self.modules.resolve(point, with_inline)
    }

    /// `kernel.statement(ADDR)` (an address in the image, found again by symbol and offset
    /// whatever KASLR did) or `.absolute` (a raw address of the running kernel, guru mode).
    fn address_point(&self, point: &ProbePoint) -> Result<Vec<ProbePoint>, String> {
        let Some(PointArg::Number(addr)) = point.components[1].arg else {
            return Ok(vec![point.clone()]);
        };
        if names(point).contains(&"absolute") {
            return Ok(vec![point.clone()]);
        }
        let k = self.modules.kernel().map_err(|e| {
            format!(
                "cannot resolve '{}': an address needs the kernel's symbol table: {}",
                point, e
            )
        })?;
        match k.symbol_at(addr as u64) {
            Some((f, _)) if crate::point_spec::runtime_unsafe(f).is_some() => Err(format!(
                "'{}' is in {}: {}",
                point,
                f,
                crate::point_spec::runtime_unsafe(f).unwrap_or_default()
            )),
            Some(_) => Ok(vec![point.clone()]),
            None => Err(format!(
                "probe point mismatch: no kernel function holds address {:#x} ({})",
                addr, point
            )),
        }
    }
}

/// Whether a kernel point is one only DWARF describes: a statement, an inlined copy, or
/// a function named with its source file.
fn dwarf_point(point: &ProbePoint) -> bool {
    let n = names(point);
    n.first() == Some(&"module")
        || n.get(1) == Some(&"statement")
        || n.contains(&"inline")
        || point
            .components
            .get(1)
            .and_then(string_arg)
            .is_some_and(|a| a.contains('@'))
}

fn string_arg(c: &PointComponent) -> Option<&str> {
    match &c.arg {
        Some(PointArg::String(s)) => Some(s),
        _ => None,
    }
}

fn with_arg(point: &ProbePoint, i: usize, name: &str) -> ProbePoint {
    let mut p = point.clone();
    p.components[i].arg = Some(PointArg::String(name.to_string()));
    p
}

fn names(point: &ProbePoint) -> Vec<&str> {
    point.components.iter().map(|c| c.name.as_str()).collect()
}

impl BtfResolver {
    /// Points of functions found by symbol (`printf`) whose code the DWARF describes under
    /// another name (`__printf`, of which `printf` is an alias) renamed as SystemTap names
    /// them, `__printf@FILE:LINE`, once however many aliases matched.
    fn named_by_dwarf(&self, points: Vec<ProbePoint>) -> Vec<ProbePoint> {
        let mut out: Vec<ProbePoint> = Vec::new();
        for mut p in points {
            if let Some(d) = self.dwarf_name(&p) {
                let at = crate::user_points::function_at(&p).unwrap_or(1);
                p.components[at].arg = Some(PointArg::String(d));
            }
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }

    /// The DWARF function (`NAME@FILE:LINE`) whose code starts at a symbol-found
    /// function point's address.
    fn dwarf_name(&self, p: &ProbePoint) -> Option<String> {
        let at = crate::user_points::function_at(p)?;
        let name = string_arg(&p.components[at])?;
        if name.contains('@') || crate::user_points::needs_dwarf(p) {
            return None;
        }
        let file = self.programs.file_of(p)?;
        let addr = self.programs.symbol_address(file, name)?;
        let md = self
            .modules
            .module(&self.programs.debug_file_of(file)?)
            .ok()?;
        let f = md
            .functions
            .iter()
            .find(|f| f.inlined_at.is_none() && f.low == addr && f.name != name)?;
        Some(format!("{}@{}:{}", f.name, f.decl.0, f.decl.1))
    }

    /// A program's function point named as SystemTap names it when the program has DWARF:
    /// `NAME@FILE:LINE`, where it is declared.
    fn with_decl(&self, mut p: ProbePoint) -> ProbePoint {
        let at = crate::user_points::function_at(&p);
        let decl = self.programs.as_module_point(&p).and_then(|m| {
            let md = self.modules.module(string_arg(&m.components[0])?).ok()?;
            let name = string_arg(&p.components[at?])?;
            let f = md
                .functions_named(name)
                .iter()
                .map(|&i| &md.functions[i])
                .find(|f| f.inlined_at.is_none())?;
            Some(format!("{}@{}:{}", name, f.decl.0, f.decl.1))
        });
        if let (Some(d), Some(at)) = (decl, at) {
            p.components[at].arg = Some(PointArg::String(d));
        }
        p
    }
}

impl KernelResolver for BtfResolver {
    fn resolve(&self, point: &ProbePoint, family: Family) -> Result<Vec<ProbePoint>, String> {
        let n = names(point);
        let data = || {
            self.data()
                .map_err(|e| format!("cannot resolve '{}': {}", point, e))
        };
        match (family, n.as_slice()) {
            (Family::KernelDwarf, ["kernel", "function", rest @ ..])
                if rest.iter().all(|r| {
                    matches!(*r, "call" | "return" | "maxactive" | "exported" | "inline")
                }) =>
            {
                let pat = string_arg(&point.components[1]).unwrap_or("");
                let entry_only = rest.iter().any(|r| matches!(*r, "call" | "return"));
                if pat.contains('@') || rest.contains(&"inline") {
                    return self.dwarf_points(point, !entry_only);
                }
                let found = functions(data()?, point, pat, &|f| self.forbidden(f));
                if !self.modules.has_kernel_dwarf() {
                    return found;
                }
                // A function BTF leaves out (a compiler's clone, finish_task_switch.isra.0,
                // whose prototype changed) is in the DWARF, under its clone's symbol.
                if let Err(e) = found {
                    return self.dwarf_points(point, !entry_only).map_err(|_| e);
                }
                // Functions also take their inlined copies, as in SystemTap, when the
                // kernel's DWARF is installed (.call and .return keep to out-of-line code).
                if entry_only {
                    return found;
                }
                let mut inline = point.clone();
                inline.components.push(PointComponent {
                    name: "inline".into(),
                    arg: None,
                });
                match (found, self.dwarf_points(&inline, false)) {
                    (Ok(mut f), Ok(i)) => {
                        f.extend(i);
                        Ok(f)
                    }
                    (Ok(f), Err(_)) => Ok(f),
                    (Err(_), Ok(i)) => Ok(i),
                    (Err(e), Err(_)) => Err(e),
                }
            }
            (Family::KernelDwarf | Family::Kprobe, [_, "statement", ..])
                if matches!(point.components[1].arg, Some(PointArg::Number(_))) =>
            {
                self.address_point(point)
            }
            (Family::KernelDwarf, ["kernel", "statement", ..]) => self.dwarf_points(point, false),
            (Family::KernelDwarf, ["module", "function" | "statement", rest @ ..]) => {
                let entry_only = rest.iter().any(|r| matches!(*r, "call" | "return"));
                self.modules.resolve(point, !entry_only)
            }
            (Family::Kprobe, ["kprobe", "function", ..]) => {
                let name = string_arg(&point.components[1]).unwrap_or("");
                functions(data()?, point, name, &|f| self.forbidden(f))
            }
            (Family::Tracepoint, [_, "trace" | "mark", ..]) => {
                // "SYSTEM:EVENT" names the event's subsystem too (a glob, as the event):
                // BTF knows events by name only, the build tree's trace headers say which
                // subsystem each is in; an event they do not name matches only "*:".
                let name = string_arg(&point.components[1]).unwrap_or("");
                let (system, name) = name
                    .rsplit_once(':')
                    .map_or((None, name), |(s, e)| (Some(s), e));
                let systems = system.map(|_| {
                    self.trace_systems
                        .get_or_init(|| crate::trace_systems::trace_systems(&self.release))
                });
                let in_system = |t: &str| match (system, systems) {
                    (Some(sys), Some(map)) => match map.get(t) {
                        Some(s) => glob(sys, s),
                        None => sys == "*",
                    },
                    _ => true,
                };
                let k = data()?;
                let found: Vec<ProbePoint> = k
                    .tracepoints
                    .iter()
                    .filter(|t| glob(name, t) && in_system(t))
                    .map(|t| {
                        let mut p = with_arg(point, 1, t);
                        p.components[1].name = "trace".into();
                        p.components.truncate(2);
                        p
                    })
                    .collect();
                if found.is_empty() {
                    return Err(no_match(
                        point,
                        name,
                        k.tracepoints.iter().map(|s| s.as_str()),
                        "tracepoint",
                    ));
                }
                if n[1] == "mark" {
                    self.note(format!(
                        "kernel.mark(\"{}\"): markers are gone from Linux; using the tracepoint of that name",
                        name
                    ));
                }
                Ok(found)
            }
            // A lifecycle point's executable, found as SystemTap finds it.
            (Family::Process, ["process", "begin" | "end" | "thread", ..]) => {
                match string_arg(&point.components[0]) {
                    Some(name) => Ok(vec![with_arg(
                        point,
                        0,
                        &crate::user::find_executable(name),
                    )]),
                    None => Ok(vec![point.clone()]),
                }
            }
            // A point in code of the target's program (-c, -x), which it does not name, or
            // of a process's (`process(PID)`: its executable, as SystemTap 4.8 takes it).
            (Family::Process, ["process", next, ..])
                if !matches!(point.components[0].arg, Some(PointArg::String(_)))
                    && [
                        "function",
                        "mark",
                        "provider",
                        "plt",
                        "library",
                        "statement",
                    ]
                    .contains(next) =>
            {
                let program = match &point.components[0].arg {
                    Some(PointArg::Number(pid)) => crate::user::executable_of(*pid).ok_or_else(|| {
                        format!(
                            "cannot resolve '{}': no process {} is running here",
                            point, pid
                        )
                    })?,
                    _ => self.target_program.clone().ok_or_else(|| {
                        format!(
                            "cannot resolve '{}': it names no program, and there is no target process (-c CMD or -x PID) to take it from",
                            point
                        )
                    })?,
                };
                let mut named = point.clone();
                named.components[0].arg = Some(PointArg::String(program.clone()));
                self.resolve(&named, family)
            }
            // A program's (or its library's) functions, SDT markers and PLT entries,
            // from its symbol tables and notes (uprobes).
            (Family::Process, _) if crate::user_points::is_code(point) => {
                let entry_only = names(point).iter().any(|r| matches!(*r, "call" | "return"));
                let dwarf = |m: &ProbePoint| self.modules.resolve(m, !entry_only);
                let found = self.programs.resolve_code(point, &dwarf)?;
                Ok(self
                    .named_by_dwarf(found)
                    .into_iter()
                    .map(|p| self.with_decl(p))
                    .collect())
            }
            _ => NoKernelData.resolve(point, family),
        }
    }

    fn target(
        &self,
        point: &ProbePoint,
        family: Family,
        name: &str,
        components: &[Option<&str>],
    ) -> Result<ResolvedTarget, String> {
        if family == Family::Process && crate::user_points::is_mark(point) {
            return self.programs.mark_target(point, name, components);
        }
        if family == Family::Process && crate::user_points::is_plt(point) {
            return self.programs.plt_target(point, name);
        }
        if family == Family::Process {
            return match self.programs.as_module_point(point) {
                Some(m) => self.modules.target(&m, name, components),
                None => NoKernelData.target(point, family, name, components),
            };
        }
        let found = self.target_of(point, family, name, components);
        // A function's locals (and what BTF cannot say) from the kernel's DWARF, when
        // it is installed.
        let n = names(point);
        if found.is_err()
            && family == Family::KernelDwarf
            && n.starts_with(&["kernel", "function"])
            && !n.contains(&"return")
            && !dwarf_point(point)
            && self.modules.has_kernel_dwarf()
        {
            return match self.modules.target(point, name, components) {
                Ok(t) => Ok(t),
                // DWARF knows the variable but cannot read it here: say why.
                Err(e) if !e.contains("is not a parameter or local") => Err(e),
                Err(_) => found,
            };
        }
        found
    }

    fn cast_type(&self, ty: &str, module: Option<&str>) -> Result<(), String> {
        if let Some(m) = module.filter(|m| is_module_name(m)) {
            let md = self.modules.module(m)?;
            return cast_target(&md.types, ty.trim().trim_end_matches('*'), None)
                .map(|_| ())
                .map_err(|_| format!("type definition '{}' not found in module '{}'", ty, m));
        }
        let k = self.data()?;
        cast_target(&k.btf, ty.trim().trim_end_matches('*'), module).map(|_| ())
    }

    fn cast(
        &self,
        ty: &str,
        module: Option<&str>,
        components: &[Option<&str>],
    ) -> Result<ResolvedTarget, String> {
        if let Some(m) = module.filter(|m| is_module_name(m)) {
            // A module's types, from its DWARF.
            let md = self.modules.module(m)?;
            let t = cast_target(&md.types, ty, None)
                .map_err(|_| format!("type definition '{}' not found in module '{}'", ty, m))?;
            return walk_from(
                &md.types,
                TargetSource::Value,
                At::Memory(t, None),
                components,
            );
        }
        let k = self.data()?;
        let t = cast_target(&k.btf, ty, module)?;
        walk_from(&k.btf, TargetSource::Value, At::Memory(t, None), components)
    }

    fn site(&self, point: &ProbePoint, family: Family) -> Option<(String, u64)> {
        if let Some(PointArg::Number(addr)) = point.components.get(1).and_then(|c| c.arg.clone()) {
            if names(point).contains(&"absolute") {
                return None;
            }
            let k = self.modules.kernel().ok()?;
            let (sym, off) = k.symbol_at(addr as u64)?;
            return Some((sym.to_string(), off));
        }
        match (family, names(point).first()) {
            (Family::KernelDwarf, _) if dwarf_point(point) => self.modules.site(point),
            _ => None,
        }
    }

    fn user_site(&self, point: &ProbePoint) -> Option<stap_sema::ir::UserSite> {
        if !crate::user_points::needs_dwarf(point) {
            return self.programs.user_site(point);
        }
        // Statements, inlined copies and functions named with their file: where the
        // DWARF places them.
        let pc = self
            .modules
            .address(&self.programs.as_module_point(point)?)?;
        let path = self.programs.file_of(point)?;
        Some(stap_sema::ir::UserSite {
            path: path.to_string(),
            offset: self.programs.offset_in(path, pc)?,
            semaphore: 0,
            statement: None,
        })
    }

    fn variables(&self, point: &ProbePoint, family: Family) -> Vec<(String, String)> {
        if family == Family::Process && crate::user_points::is_mark(point) {
            return self.programs.mark_variables(point);
        }
        if family == Family::Process {
            return self
                .programs
                .as_module_point(point)
                .map(|m| self.modules.variables(&m))
                .unwrap_or_default();
        }
        let n = names(point);
        if family == Family::KernelDwarf
            && (dwarf_point(point)
                || (n.starts_with(&["kernel", "function"])
                    && !n.contains(&"return")
                    && self.modules.has_kernel_dwarf()))
        {
            let v = self.modules.variables(point);
            if !v.is_empty() || dwarf_point(point) {
                return v;
            }
        }
        let Ok(k) = self.data() else {
            return Vec::new();
        };
        let n = names(point);
        let fname = point.components.get(1).and_then(string_arg).unwrap_or("");
        let (params, ret) = match family {
            Family::KernelDwarf | Family::Kprobe if n.get(1) == Some(&"function") => {
                match k.function_proto(fname) {
                    Some(p) if family == Family::KernelDwarf => p,
                    _ => return Vec::new(),
                }
            }
            Family::Tracepoint => match k.tracepoint_args(fname) {
                Some(a) => (a, 0),
                None => return Vec::new(),
            },
            _ => return Vec::new(),
        };
        let mut out: Vec<(String, String)> = params
            .iter()
            .map(|(p, t)| (format!("${}", p), k.btf.c_name(*t)))
            .collect();
        if n.contains(&"return") && ret != 0 {
            out.push(("$return".into(), k.btf.c_name(ret)));
        }
        out
    }

    fn notes(&self) -> Vec<String> {
        let mut n = self.notes.borrow().clone();
        n.extend(self.modules.read_notes());
        n
    }
}

/// The functions `pat` names (wildcards skip blacklisted ones), as points, or a mismatch.
/// `forbidden` says why the kernel refuses a function, when its symbol table is at hand.
fn functions(
    k: &KernelData,
    point: &ProbePoint,
    pat: &str,
    forbidden: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<Vec<ProbePoint>, String> {
    let wild = pat.contains(['*', '?', '[']);
    if !wild {
        if let Some(why) = forbidden(pat) {
            return Err(format!("'{}': no kprobes on {} ({})", point, pat, why));
        }
    }
    let found: Vec<ProbePoint> = if !wild {
        // An exact name: one lookup, not a scan (the system call tapset has hundreds).
        k.function(pat)
            .map(|_| with_arg(point, 1, pat))
            .into_iter()
            .collect()
    } else {
        k.functions
            .iter()
            .filter(|(f, _)| glob(pat, f) && !(blacklisted(f) || forbidden(f).is_some()))
            .map(|(f, _)| with_arg(point, 1, f))
            .collect()
    };
    if found.is_empty() {
        return Err(no_match(
            point,
            pat,
            k.functions.iter().map(|(f, _)| f.as_str()),
            "function",
        ));
    }
    Ok(found)
}

pub(crate) fn no_match<'a>(
    point: &ProbePoint,
    pat: &str,
    all: impl Iterator<Item = &'a str>,
    what: &str,
) -> String {
    let near = similar(pat, all);
    let mut m = format!(
        "probe point mismatch: no {} matches '{}' in {}",
        what, pat, point
    );
    if !near.is_empty() {
        m.push_str(&format!(" (did you mean: {}?)", near.join(", ")));
    }
    m
}

//! Elaboration: which files take part, which probes exist, which names mean what.
//!
//! The user's files are always in.  A tapset file joins (whole, like SystemTap) the first
//! time something it defines is needed: a function, a global, or a probe alias; its own
//! probes then join the session too.  Probe points resolve against probe aliases (with
//! wildcards, `**`, and alias suffixes) and the built-in families of the [`Registry`];
//! kernel families go through a [`KernelResolver`].

use crate::ir::*;
use crate::registry::{Registry, WrittenComponent};
use crate::{KernelResolver, Options};
use stap_syntax::ast;
use stap_syntax::diag::{Diagnostic, Pass};
use stap_syntax::preprocess::glob_match;
use stap_syntax::source::Span;
use std::collections::HashMap;

/// Limit on alias-of-alias expansion (catches recursive aliases).
const MAX_ALIAS_DEPTH: usize = 32;

pub(crate) fn sem_error(code: &'static str, msg: impl Into<String>, span: Span) -> Diagnostic {
    Diagnostic::error(Pass::Semantic, code, msg, span)
}

/// A probe point on the way to being concrete: components plus what aliases added.
#[derive(Clone)]
pub(crate) struct Derived<'a> {
    pub point: ProbePoint,
    pub family: Family,
    pub kind: ProbeKind,
    /// Alias prologues (outermost last) and epilogues, with their files.
    pub prologues: Vec<(FileIx, &'a ast::Block)>,
    pub epilogues: Vec<(FileIx, &'a ast::Block)>,
    /// The outermost alias it came through, as matched (`syscall.read`), if any.
    pub alias_point: Option<ProbePoint>,
}

/// A file's place among the elaboration's inputs: the user's files first, then the
/// tapset library's (its index in `Elab::files`).
pub(crate) type FileIx = Id<ast::File>;

/// The elaborator's state.
pub(crate) struct Elab<'a> {
    pub files: IdVec<ast::File, &'a ast::File>,
    pub n_user: usize,
    pub included: IdVec<ast::File, bool>,
    pub opts: &'a Options,
    pub registry: &'a Registry,
    pub resolver: &'a dyn KernelResolver,
    pub prog: Program,
    /// (file for privates, name) -> global.
    pub globals_by_name: HashMap<(Option<FileIx>, String), GlobalId>,
    /// (file for privates, name) -> overloads.
    pub funcs_by_name: HashMap<(Option<FileIx>, String), Vec<FuncId>>,
    /// Source of each function, for lowering.
    pub func_src: Vec<(FileIx, &'a ast::Function)>,
    pub func_lowered: Vec<bool>,
    /// The autocast type each lowered function returns, if one (see `autocast.rs`).
    pub func_rich: HashMap<FuncId, Option<crate::autocast::Rich>>,
    /// Library indexes: name -> files defining it.
    pub lib_funcs: HashMap<&'a str, Vec<FileIx>>,
    pub lib_globals: HashMap<&'a str, Vec<FileIx>>,
    /// Files whose probes still need deriving.
    pub pending_probe_files: Vec<FileIx>,
    /// Arity of each array global and where it was first seen.
    pub arity: HashMap<GlobalId, (usize, Span)>,
    pub diags: Vec<Diagnostic>,
    pub user_probe_count: usize,
    /// Every alias name of every file as written components (file, alias, name), made
    /// once: a tapset of hundreds of aliases is matched against each point.
    pub alias_names: Vec<(FileIx, usize, Vec<WrittenComponent>)>,
}

impl<'a> Elab<'a> {
    pub fn new(
        user: &'a [ast::File],
        library: &'a [ast::File],
        opts: &'a Options,
        registry: &'a Registry,
        resolver: &'a dyn KernelResolver,
    ) -> Elab<'a> {
        let files: IdVec<ast::File, &ast::File> = user.iter().chain(library.iter()).collect();
        let n_user = user.len();
        let mut lib_funcs: HashMap<&str, Vec<FileIx>> = HashMap::new();
        let mut lib_globals: HashMap<&str, Vec<FileIx>> = HashMap::new();
        for (i, f) in files.enumerate().skip(n_user) {
            for func in &f.functions {
                if !func.private {
                    lib_funcs.entry(&func.name.name).or_default().push(i);
                }
            }
            for g in &f.globals {
                if !g.private {
                    lib_globals.entry(&g.name.name).or_default().push(i);
                }
            }
        }
        Elab {
            included: IdVec::filled(files.len(), false),
            files,
            n_user,
            opts,
            registry,
            resolver,
            prog: Program::default(),
            globals_by_name: HashMap::new(),
            funcs_by_name: HashMap::new(),
            func_src: Vec::new(),
            func_lowered: Vec::new(),
            func_rich: HashMap::new(),
            lib_funcs,
            lib_globals,
            pending_probe_files: Vec::new(),
            arity: HashMap::new(),
            diags: Vec::new(),
            user_probe_count: 0,
            alias_names: Vec::new(),
        }
    }

    pub fn is_tapset(&self, file: FileIx) -> bool {
        file.index() >= self.n_user
    }

    /// Brings a file into the session: its globals, functions and embedded code are
    /// declared; its probes are derived later.
    pub fn include(&mut self, file: FileIx) {
        if self.included[file] {
            return;
        }
        self.included[file] = true;
        let f = self.files[file];
        let tapset = self.is_tapset(file);
        for e in &f.embeds {
            self.prog.embeds.push(Embed {
                code: e.code.clone(),
                span: e.span,
            });
        }
        for g in &f.globals {
            let key = (g.private.then_some(file), g.name.name.clone());
            if self.globals_by_name.contains_key(&key) {
                if !tapset {
                    self.diags.push(sem_error(
                        "sema.duplicate-global",
                        format!("duplicate global variable '{}'", g.name.name),
                        g.name.span,
                    ));
                }
                continue;
            }
            if let Some(n) = g.size.filter(|&n| n > MAX_ARRAY_SIZE) {
                self.diags.push(sem_error(
                    "sema.array-size",
                    format!(
                        "array size {} of '{}' exceeds the maximum of {} entries",
                        n, g.name.name, MAX_ARRAY_SIZE
                    ),
                    g.name.span,
                ));
            }
            let id = self.prog.globals.next_id();
            self.prog.globals.push(Global {
                name: g.name.name.clone(),
                ty: match &g.init {
                    Some(ast::Literal::Number(_)) => Type::Long,
                    Some(ast::Literal::String(_)) => Type::String,
                    None => Type::Unknown,
                },
                keys: Vec::new(),
                is_array: g.size.is_some() || g.wrap,
                size: g.size,
                wrap: g.wrap,
                hist: None,
                variance_shift: None,
                init: g.init.clone(),
                private: g.private,
                from_tapset: tapset,
                span: g.name.span,
            });
            self.globals_by_name.insert(key, id);
        }
        for func in &f.functions {
            let id = self.prog.functions.next_id();
            let params: Arena<Local> = func
                .params
                .iter()
                .map(|p| Local {
                    name: p.name.name.clone(),
                    ty: match p.ty {
                        Some(ast::TypeName::Long) => Type::Long,
                        Some(ast::TypeName::String) => Type::String,
                        None => Type::Unknown,
                    },
                    span: p.name.span,
                    param: true,
                    declared: true,
                })
                .collect();
            let key = (func.private.then_some(file), func.name.name.clone());
            let overloads = self.funcs_by_name.entry(key).or_default();
            let clash = overloads.iter().any(|&o| {
                let other: &Function = &self.prog.functions[o];
                other.arity == params.len() && other.priority == func.priority.unwrap_or(1)
            });
            if clash {
                if !tapset {
                    self.diags.push(sem_error(
                        "sema.duplicate-function",
                        format!("duplicate function definition '{}'", func.name.name),
                        func.name.span,
                    ));
                }
                continue;
            }
            overloads.push(id);
            self.prog.functions.push(Function {
                name: func.name.name.clone(),
                arity: params.len(),
                locals: params,
                ret: match func.ret {
                    Some(ast::TypeName::Long) => Type::Long,
                    Some(ast::TypeName::String) => Type::String,
                    None => Type::Unknown,
                },
                priority: func.priority.unwrap_or(1),
                body: Body::Script(Block::default()),
                private: func.private,
                from_tapset: tapset,
                span: func.name.span,
            });
            self.func_src.push((file, func));
            self.func_lowered.push(false);
        }
        if tapset {
            self.pending_probe_files.push(file);
        }
    }

    // ------------------------------------------------------------------ probe points

    fn written(pp: &ast::ProbePoint) -> Vec<WrittenComponent> {
        pp.components
            .iter()
            .map(|c| WrittenComponent {
                name: c.name.clone(),
                arg: c.arg.as_ref().map(|a| match a {
                    ast::Literal::Number(n) => PointArg::Number(*n),
                    ast::Literal::String(s) => PointArg::String(s.clone()),
                }),
            })
            .collect()
    }

    /// Matches written components against an alias name; returns how many written
    /// components the name consumed (the rest are a suffix).
    fn match_alias_name(w: &[WrittenComponent], name: &[WrittenComponent]) -> Option<usize> {
        fn go(w: &[WrittenComponent], n: &[WrittenComponent]) -> Option<usize> {
            if n.is_empty() {
                return Some(0);
            }
            let first = w.first()?;
            if first.name == "**" {
                // `**` eats one or more name components.
                for k in 1..=n.len() {
                    if let Some(r) = go(&w[1..], &n[k..]) {
                        return Some(r + 1);
                    }
                }
                return None;
            }
            if first.arg != n[0].arg || !glob_match(&first.name, &n[0].name) {
                return None;
            }
            go(&w[1..], &n[1..]).map(|r| r + 1)
        }
        go(w, name)
    }

    /// The point an alias named `name` was matched as, with the written `suffix`.
    fn concrete(name: &[WrittenComponent], suffix: &[WrittenComponent]) -> ProbePoint {
        ProbePoint {
            components: name
                .iter()
                .chain(suffix)
                .map(|c| PointComponent {
                    name: c.name.clone(),
                    arg: c.arg.clone(),
                })
                .collect(),
            instance: 0,
        }
    }

    /// Resolves one written point (as components) into concrete derived points.
    pub fn resolve_point(
        &mut self,
        w: &[WrittenComponent],
        span: Span,
        depth: usize,
    ) -> Result<Vec<Derived<'a>>, Diagnostic> {
        if depth > MAX_ALIAS_DEPTH {
            return Err(sem_error(
                "sema.alias-recursion",
                "probe alias expansion too deep (recursive alias?)",
                span,
            ));
        }
        let mut out = Vec::new();
        // Aliases, in every file (tapset files join when one of theirs matches).
        if self.alias_names.is_empty() {
            for (fi, f) in self.files.enumerate() {
                for (ai, a) in f.aliases.iter().enumerate() {
                    for n in &a.names {
                        self.alias_names.push((fi, ai, Self::written(n)));
                    }
                }
            }
        }
        // (index into alias_names, components used)
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for (k, (_, _, nw)) in self.alias_names.iter().enumerate() {
            if let Some(used) = Self::match_alias_name(w, nw) {
                hits.push((k, used));
            }
        }
        // A longer alias wins over a shorter one with a suffix (`syscall.read.return` is
        // that alias, not `syscall.read` with `.return`; `a.tp.return` is `a.tp` with
        // `.return`, not `a` with `.tp.return`), as SystemTap's probe tree has it.
        let names = &self.alias_names;
        let shadowed = |k: usize, used: usize| {
            let n = &names[k].2;
            hits.iter().any(|&(k2, used2)| {
                used2 > used && names[k2].2.len() > n.len() && names[k2].2[..n.len()] == n[..]
            })
        };
        let alias_hits: Vec<(FileIx, usize, usize, usize)> = hits
            .iter()
            .filter(|&&(k, used)| !shadowed(k, used))
            .map(|&(k, used)| (names[k].0, names[k].1, used, k))
            .collect();
        for (fi, ai, used, k) in alias_hits {
            let f = self.files[fi];
            if a_private_elsewhere(f.aliases[ai].private) {
                continue;
            }
            self.include(fi);
            let alias = &f.aliases[ai];
            let suffix = &w[used..];
            for target in &alias.points {
                let mut tw = Self::written(target);
                tw.extend(suffix.iter().cloned());
                let subs = match self.resolve_point(&tw, target.span, depth + 1) {
                    Ok(s) => s,
                    // A recursive alias is an error even through `?` (each level would
                    // otherwise try every branch again: exponential).
                    Err(e) if e.code == "sema.alias-recursion" => return Err(e),
                    Err(_) if target.optional => continue,
                    Err(e) => return Err(e),
                };
                for mut d in subs {
                    // Set at every level: the outermost alias, done last, stays.
                    d.alias_point = Some(Self::concrete(&self.alias_names[k].2, suffix));
                    if alias.epilogue {
                        d.epilogues.push((fi, &alias.body));
                    } else {
                        d.prologues.push((fi, &alias.body));
                    }
                    if let Some(e) = &alias.also_epilogue {
                        d.epilogues.push((fi, e));
                    }
                    out.push(d);
                }
                if target.sufficient && !out.is_empty() {
                    break;
                }
            }
        }
        // Built-in families.  Of a wildcard's matches, those with values the family refuses
        // (timer.*s(5): timer.ns(5) is below the hrtimer minimum) are left out, unless
        // none is left.
        let matches = self.registry.matches(w);
        let many = matches.len() > 1;
        let mut refused = None;
        for (pp, family) in matches {
            let fam = crate::families::of(family);
            let concrete = if fam.uses_resolver() {
                match self.resolver.resolve(&pp, family) {
                    Ok(v) => v,
                    Err(msg) => {
                        if out.is_empty() {
                            return Err(sem_error("sema.probe-resolve", msg, span));
                        }
                        continue;
                    }
                }
            } else {
                vec![pp]
            };
            for point in concrete {
                let cx = crate::families::BuildCx {
                    span,
                    guru: self.opts.guru,
                    has_target: self.opts.has_target,
                    resolver: self.resolver,
                };
                let kind = match fam.build(&point, &cx) {
                    Ok(k) => k,
                    Err(r) if r.hard || !many => return Err(r.diag),
                    Err(r) => {
                        refused.get_or_insert(r.diag);
                        continue;
                    }
                };
                out.push(Derived {
                    point,
                    family,
                    kind,
                    prologues: Vec::new(),
                    epilogues: Vec::new(),
                    alias_point: None,
                });
            }
        }
        match refused {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// Derives the probes of one `probe` declaration.
    pub fn derive_probe(&mut self, file: FileIx, probe: &'a ast::Probe) {
        let origin = self.user_probe_count;
        self.user_probe_count += 1;
        let written_text = probe
            .points
            .iter()
            .map(stap_syntax::printer::print_probe_point)
            .collect::<Vec<_>>()
            .join(",");
        for pp in &probe.points {
            let w = Self::written(pp);
            let derived = match self.resolve_point(&w, pp.span, 0) {
                Ok(d) => d,
                Err(e) => {
                    if !pp.optional {
                        self.diags.push(e);
                    }
                    continue;
                }
            };
            if derived.is_empty() {
                if !pp.optional {
                    let similar = self.similar_points(&w);
                    let mut msg = "probe point mismatch".to_string();
                    if !similar.is_empty() {
                        msg.push_str(&format!(" (similar: {})", similar.join(", ")));
                    }
                    self.diags.push(
                        sem_error("sema.probe-mismatch", msg, pp.span).with_primary_message(
                            format!(
                                "while resolving probe point '{}'",
                                stap_syntax::printer::print_probe_point(pp)
                            ),
                        ),
                    );
                }
                continue;
            }
            for d in derived {
                if self.opts.runtime_user && !d.family.user_runtime_ok() {
                    self.diags.push(sem_error(
                        "sema.runtime-user",
                        format!(
                            "probe point '{}' needs the kernel runtime; --runtime=user supports begin, end, error, never and timer probes",
                            d.point
                        ),
                        pp.span,
                    ));
                    continue;
                }
                self.lower_probe(file, probe, pp, d, origin, &written_text);
            }
            if pp.sufficient {
                break;
            }
        }
    }

    fn similar_points(&self, w: &[WrittenComponent]) -> Vec<String> {
        let first = w.first().map(|c| c.name.as_str()).unwrap_or("");
        let mut names: Vec<String> = self
            .registry
            .first_components()
            .into_iter()
            .map(String::from)
            .collect();
        for f in self.files.iter() {
            for a in &f.aliases {
                for n in &a.names {
                    if let Some(c) = n.components.first() {
                        names.push(c.name.clone());
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        crate::similar(first, names.iter().map(|s| s.as_str()))
    }
}

fn a_private_elsewhere(private: bool) -> bool {
    // Private aliases are usable only inside their own file; user scripts never see a
    // tapset's private alias.
    private
}

/// The most entries an array may be declared with; the runtime preallocates them all.
pub const MAX_ARRAY_SIZE: i64 = 1 << 24;

//! The target kernel's data for pass 2: its functions, tracepoints and types, read from BTF.
//!
//! [`KernelData::load`] finds the BTF of a kernel release: `/sys/kernel/btf/vmlinux` when that
//! kernel is the running one, else the `.BTF` section of the debug vmlinux
//! (`linux-image-KVER-dbg`), else the `.BTF` section of the vmlinux inside
//! `/boot/vmlinuz-KVER` (decompressed once and cached).  [`BtfResolver`] implements pass 2's
//! [`KernelResolver`] with it: `kernel.function` wildcards, `kprobe.function` names,
//! `kernel.trace`/`kernel.mark` tracepoints, and target variables from prototypes and types.

#![warn(missing_docs)]

pub mod btf;
pub mod bzimage;
pub mod dwarf;
mod dwarf_sections;
mod dwarf_types;
mod kdwarf;
pub mod kindex;
mod modules;
mod point_spec;
mod pretty;
mod resolve;

/// Reads a whole file that a script names (a program, a library, a module's DWARF): only
/// a regular file, so that a device or a FIFO (`process("/dev/zero")`) is an error, not a
/// read that never ends.
pub(crate) fn read_regular(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    std::fs::read(path)
}
pub mod sdt;
mod source;
pub mod syscalls;
mod trace_systems;
pub mod user;
pub mod user_frames;
pub mod user_points;
mod walk;

pub use resolve::BtfResolver;

use btf::{Btf, Kind, TypeId};
use std::collections::HashMap;

/// What pass 2 knows of one kernel.
pub struct KernelData {
    /// Where the data came from (for `-v`).
    pub source: String,
    /// The types.
    pub btf: Btf,
    /// Function names, sorted, with the FUNC type of each.
    pub functions: Vec<(String, TypeId)>,
    /// Tracepoint names, sorted.
    pub tracepoints: Vec<String>,
    func_index: HashMap<String, TypeId>,
}

impl KernelData {
    /// Loads the data of kernel `release`, caching extracted BTF under `cache`.
    pub fn load(release: &str, cache: &std::path::Path) -> Result<KernelData, String> {
        let (bytes, source) = source::btf_bytes(release, cache)?;
        let btf = Btf::parse(&bytes).map_err(|e| format!("{}: {}", source, e))?;
        Ok(Self::from_btf(btf, source))
    }

    /// Indexes parsed BTF.
    pub fn from_btf(btf: Btf, source: String) -> KernelData {
        let mut functions: Vec<(String, TypeId)> = btf
            .iter()
            .filter(|(_, t)| t.kind == Kind::Func)
            .map(|(id, t)| (t.name.clone(), id))
            .collect();
        functions.sort();
        functions.dedup_by(|a, b| a.0 == b.0);
        let mut tracepoints: Vec<String> = btf
            .iter()
            .filter(|(_, t)| t.kind == Kind::Typedef)
            .filter_map(|(_, t)| t.name.strip_prefix("btf_trace_").map(str::to_string))
            .collect();
        tracepoints.sort();
        tracepoints.dedup();
        let func_index = functions.iter().cloned().collect();
        KernelData {
            source,
            btf,
            functions,
            tracepoints,
            func_index,
        }
    }

    /// The FUNC type of a function.
    pub fn function(&self, name: &str) -> Option<TypeId> {
        self.func_index.get(name).copied()
    }

    /// A tracepoint's arguments (name, type), from its BPF trace stub's prototype.
    pub fn tracepoint_args(&self, name: &str) -> Option<Vec<(String, TypeId)>> {
        if self
            .tracepoints
            .binary_search_by(|t| t.as_str().cmp(name))
            .is_err()
        {
            return None;
        }
        let params = self
            .function(&format!("__bpf_trace_{}", name))
            .and_then(|f| match &self.btf.get(self.btf.get(f).ty).kind {
                Kind::FuncProto { params } => Some(params.clone()),
                _ => None,
            });
        let params = match params {
            Some(p) => p,
            // No stub of its own (an event of a class, DEFINE_EVENT): the typedef's
            // prototype has the types but no names; the class's stub has both, so the
            // names come from the one stub whose types are the same.
            None => {
                let td = self
                    .btf
                    .find(&format!("btf_trace_{}", name), |k| *k == Kind::Typedef)?;
                let ptr = self.btf.strip(self.btf.get(td).ty);
                let params = match &self.btf.get(self.btf.get(ptr).ty).kind {
                    Kind::FuncProto { params } => params.clone(),
                    _ => return None,
                };
                self.class_names(name, &params).unwrap_or(params)
            }
        };
        Some(
            params
                .into_iter()
                .skip(1)
                .enumerate()
                .map(|(i, p)| {
                    let n = if p.name.is_empty() {
                        format!("arg{}", i + 1)
                    } else {
                        p.name
                    };
                    (n, p.ty)
                })
                .collect(),
        )
    }

    /// The parameters, with names, of the `__bpf_trace_` stub of event `event`'s class:
    /// of the stubs whose parameter types are `params`, the one whose name shares the
    /// longest start with the event's, a `_template` or `_class` one first
    /// (`sched_process_template` for `sched_process_exit`);
    /// `None` when no stub matches or two different ones tie.
    fn class_names(&self, event: &str, params: &[btf::Param]) -> Option<Vec<btf::Param>> {
        let mut best: Option<((usize, bool), &Vec<btf::Param>)> = None;
        let mut tied = false;
        for (name, f) in &self.functions {
            let Some(class) = name.strip_prefix("__bpf_trace_") else {
                continue;
            };
            let Kind::FuncProto { params: p } = &self.btf.get(self.btf.get(*f).ty).kind else {
                continue;
            };
            if p.len() != params.len()
                || p.iter().zip(params).skip(1).any(|(a, b)| a.ty != b.ty)
                || p.iter().skip(1).any(|a| a.name.is_empty())
            {
                continue;
            }
            // Classes are usually named *_template or *_class: on a tie, those win.
            let common = class
                .bytes()
                .zip(event.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            let score = (
                common,
                class.ends_with("_template") || class.ends_with("_class"),
            );
            match best {
                Some((s, prev)) if s == score => {
                    tied |= prev.iter().zip(p).any(|(a, b)| a.name != b.name);
                }
                Some((s, _)) if s > score => {}
                _ => {
                    best = Some((score, p));
                    tied = false;
                }
            }
        }
        match best {
            Some((_, p)) if !tied => Some(p.clone()),
            _ => None,
        }
    }

    /// A function's parameters (name, type) and return type.
    pub fn function_proto(&self, name: &str) -> Option<(Vec<(String, TypeId)>, TypeId)> {
        let f = self.function(name)?;
        let proto = self.btf.get(f).ty;
        match &self.btf.get(proto).kind {
            Kind::FuncProto { params } => Some((
                params
                    .iter()
                    .filter(|p| !(p.name.is_empty() && p.ty == 0))
                    .map(|p| (p.name.clone(), p.ty))
                    .collect(),
                self.btf.get(proto).ty,
            )),
            _ => None,
        }
    }
}

/// SystemTap's wildcard match: `*` any run, `?` one character, `[...]` a class.
pub fn glob(pattern: &str, name: &str) -> bool {
    fn go<T: Copy + PartialOrd + From<u8>>(p: &[T], n: &[T]) -> bool {
        let c = |b: u8| T::from(b);
        match p.first() {
            None => n.is_empty(),
            Some(x) if *x == c(b'*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some(x) if *x == c(b'?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some(x) if *x == c(b'[') => {
                let Some(end) = p.iter().position(|x| *x == c(b']')) else {
                    return !n.is_empty() && n[0] == c(b'[') && go(&p[1..], &n[1..]);
                };
                let Some(&ch) = n.first() else { return false };
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some(x) if *x == c(b'!') || *x == c(b'^') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == c(b'-') {
                        hit |= class[i] <= ch && ch <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == ch;
                        i += 1;
                    }
                }
                hit != neg && go(&p[end + 1..], &n[1..])
            }
            Some(&x) => n.first() == Some(&x) && go(&p[1..], &n[1..]),
        }
    }
    if !pattern.contains(['*', '?', '[']) {
        return pattern == name;
    }
    // Symbol and file names are ASCII: match bytes; anything else by characters.
    if pattern.is_ascii() && name.is_ascii() {
        return go(pattern.as_bytes(), name.as_bytes());
    }
    let p: Vec<u32> = pattern.chars().map(u32::from).collect();
    let n: Vec<u32> = name.chars().map(u32::from).collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_like_systemtap() {
        assert!(glob("vfs_*", "vfs_read"));
        assert!(!glob("vfs_*", "do_vfs_read"));
        assert!(glob("*_read", "vfs_read"));
        assert!(glob("vfs_rea?", "vfs_read"));
        assert!(glob("sys_[rw]*", "sys_write"));
        assert!(!glob("sys_[!rw]*", "sys_write"));
        assert!(glob("exact", "exact"));
        assert!(glob("caf?", "café"));
        assert!(glob("[a-c]x*", "bxyz"));
        assert!(!glob("[a-c]x*", "dxyz"));
    }
}

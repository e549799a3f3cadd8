//! The kernel's own DWARF: the debug vmlinux of `linux-image-KVER-dbg`, mapped, indexed
//! ([`KernelIndex`], cached across runs) and read one compilation unit at a time, each as a
//! [`ModuleDwarf`] of its own.
//!
//! The image is looked up as elfutils and SystemTap do: under each directory of
//! `$SYSTEMTAP_DEBUGINFO_PATH` (colon-separated; a leading `+` keeps the defaults), then
//! `/usr/lib/debug`, as `boot/vmlinux-KVER`, `lib/modules/KVER/vmlinux` or `vmlinux-KVER`.

use crate::dwarf::{linked_dwarf, symbol_at, text_symbols, ModuleDwarf, Symbol};
use crate::kindex::KernelIndex;
use object::{Object, ObjectSection, ObjectSymbol};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The debug vmlinux of one kernel release.
pub(crate) struct KernelDwarf {
    /// Its path.
    pub path: PathBuf,
    /// How the index was obtained (for `-v`): "cached" or "built".
    pub index_source: &'static str,
    /// Which units hold which functions.
    pub index: KernelIndex,
    map: memmap2::Mmap,
    symbols: Rc<Vec<Symbol>>,
    /// Address ranges the kernel refuses kprobes in, with the reason.
    forbidden: Vec<(u64, u64, &'static str)>,
    debug_frame: Rc<Vec<u8>>,
    units: RefCell<HashMap<u32, Rc<ModuleDwarf>>>,
    by_name: OnceCell<HashMap<String, u64>>,
}

/// The directories debug files are looked up in.
pub(crate) fn debug_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut defaults = true;
    if let Ok(p) = std::env::var("SYSTEMTAP_DEBUGINFO_PATH") {
        defaults = p.starts_with('+');
        dirs.extend(
            p.trim_start_matches('+')
                .split(':')
                .filter(|d| d.starts_with('/'))
                .map(PathBuf::from),
        );
    }
    if defaults {
        dirs.push(PathBuf::from("/usr/lib/debug"));
    }
    dirs
}

/// Where the debug vmlinux of `release` is, if installed.
pub(crate) fn find(release: &str) -> Option<PathBuf> {
    debug_dirs()
        .iter()
        .flat_map(|d| {
            [
                d.join(format!("boot/vmlinux-{}", release)),
                d.join(format!("lib/modules/{}/vmlinux", release)),
                d.join(format!("vmlinux-{}", release)),
            ]
        })
        .find(|p| p.is_file())
}

impl KernelDwarf {
    /// Maps and indexes the image at `path`, keeping the index under `cache`.
    pub(crate) fn open(path: &Path, cache: &Path) -> Result<KernelDwarf, String> {
        let err = |e: &dyn std::fmt::Display| format!("{}: {}", path.display(), e);
        let f = std::fs::File::open(path).map_err(|e| err(&e))?;
        // SAFETY: the image is only read; a debug package replaced under a running
        // translator is the same hazard every debugger accepts.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| err(&e))?;
        let file = object::File::parse(&*map).map_err(|e| err(&e))?;
        if file.section_by_name(".debug_info").is_none() {
            return Err(err(&"no .debug_info (not a debug image)"));
        }
        let key = match file.build_id() {
            Ok(Some(id)) => id.iter().map(|b| format!("{:02x}", b)).collect::<String>(),
            _ => {
                use std::os::unix::fs::MetadataExt;
                let md = f.metadata().map_err(|e| err(&e))?;
                format!("{}-{}", md.len(), md.mtime())
            }
        };
        let cache_file = cache.join(format!("kdwarf-{}.idx", key));
        let (index, index_source) = match KernelIndex::load(&cache_file) {
            Some(ix) => (ix, "cached"),
            None => {
                let dwarf = linked_dwarf(&file)?;
                let ix = KernelIndex::build(&dwarf).map_err(|e| err(&e))?;
                // A cache that cannot be written only costs the next run the same scan.
                let _ = std::fs::create_dir_all(cache).and_then(|_| ix.save(&cache_file));
                (ix, "built")
            }
        };
        let symbols = Rc::new(text_symbols(&file, false));
        let forbidden = forbidden_ranges(&file, &symbols);
        let debug_frame = Rc::new(
            file.section_by_name(".debug_frame")
                .and_then(|s| s.data().ok())
                .map(|d| d.to_vec())
                .unwrap_or_default(),
        );
        drop(file);
        Ok(KernelDwarf {
            path: path.to_path_buf(),
            index_source,
            index,
            map,
            symbols,
            forbidden,
            debug_frame,
            units: RefCell::new(HashMap::new()),
            by_name: OnceCell::new(),
        })
    }

    /// How many units have been read so far.
    pub(crate) fn units_read(&self) -> usize {
        self.units.borrow().len()
    }

    /// Unit `uid` of the index, read on first use.
    pub(crate) fn unit(&self, uid: u32) -> Result<Rc<ModuleDwarf>, String> {
        if let Some(m) = self.units.borrow().get(&uid) {
            return Ok(m.clone());
        }
        let (off, _) = self
            .index
            .units
            .get(uid as usize)
            .ok_or_else(|| format!("no unit {} in the kernel's DWARF index", uid))?;
        let file = object::File::parse(&*self.map).map_err(|e| e.to_string())?;
        let m = Rc::new(ModuleDwarf::load_units(
            "kernel",
            &file,
            &[*off],
            self.symbols.clone(),
            self.debug_frame.clone(),
        )?);
        self.units.borrow_mut().insert(uid, m.clone());
        Ok(m)
    }

    /// Why the kernel refuses a kprobe on function `name`, if it does.
    pub(crate) fn forbidden_function(&self, name: &str) -> Option<&'static str> {
        let by_name = self.by_name.get_or_init(|| {
            self.symbols
                .iter()
                .map(|(n, a, _)| (n.clone(), *a))
                .collect()
        });
        self.forbidden(*by_name.get(name)?)
    }

    /// Why the kernel refuses a kprobe at `addr`, if it does.
    pub(crate) fn forbidden(&self, addr: u64) -> Option<&'static str> {
        self.forbidden
            .iter()
            .find(|(a, b, _)| *a <= addr && addr < *b)
            .map(|(_, _, why)| *why)
    }

    /// The function symbol holding `addr` and the offset into it.
    pub(crate) fn symbol_at(&self, addr: u64) -> Option<(&str, u64)> {
        symbol_at(&self.symbols, addr)
    }
}

/// What the kernel refuses to kprobe (`within_kprobe_blacklist()`): the sections of
/// noinstr, kprobes and entry code, and the functions `NOKPROBE_SYMBOL()` lists in the
/// `_kprobe_blacklist` table (their start addresses, read from the image); and `.init.text`,
/// gone once the kernel has booted.
fn forbidden_ranges(file: &object::File, symbols: &[Symbol]) -> Vec<(u64, u64, &'static str)> {
    // The section bounds the linker script defines, found in one pass over the symbols.
    let bounds: HashMap<&str, u64> = file
        .symbols()
        .filter_map(|s| {
            let n = s.name().ok()?;
            (n.starts_with("__") && (n.ends_with("_start") || n.ends_with("_end"))
                || n.ends_with("_kprobe_blacklist")
                || n == "_sinittext"
                || n == "_einittext")
                .then(|| (n, s.address()))
        })
        .collect();
    let addr = |name: &str| bounds.get(name).copied();
    let mut out = Vec::new();
    for (start, end, why) in [
        ("__noinstr_text_start", "__noinstr_text_end", "noinstr text"),
        ("__kprobes_text_start", "__kprobes_text_end", "kprobes text"),
        ("__entry_text_start", "__entry_text_end", "entry text"),
        (
            "__irqentry_text_start",
            "__irqentry_text_end",
            "irq entry text",
        ),
        (
            "__softirqentry_text_start",
            "__softirqentry_text_end",
            "softirq entry text",
        ),
        ("_sinittext", "_einittext", "init text, freed after boot"),
    ] {
        if let (Some(a), Some(b)) = (addr(start), addr(end)) {
            out.push((a, b, why));
        }
    }
    let (Some(a), Some(b)) = (
        addr("__start_kprobe_blacklist"),
        addr("__stop_kprobe_blacklist"),
    ) else {
        return out;
    };
    let table = file.sections().find_map(|s| {
        let (lo, size) = (s.address(), s.size());
        if lo <= a && b <= lo + size {
            let data = s.data().ok()?;
            data.get((a - lo) as usize..(b - lo) as usize)
        } else {
            None
        }
    });
    for entry in table.unwrap_or(&[]).chunks_exact(8) {
        let f = u64::from_le_bytes(entry.try_into().unwrap_or([0; 8]));
        let at = symbols.partition_point(|s| s.1 < f);
        if let Some((_, start, size)) = symbols.get(at).filter(|s| s.1 == f) {
            out.push((*start, start + (*size).max(1), "the kprobe blacklist"));
        }
    }
    out
}

//! The target kernel's system calls: names, numbers, and each argument's C type and name.
//!
//! The kernel keeps this itself: every `SYSCALL_DEFINEn` makes a `struct syscall_metadata`
//! (`CONFIG_FTRACE_SYSCALLS`) holding the call's name (`"sys_openat"`), its argument count,
//! and two arrays of strings, the arguments' types as written (`"const char __user *"`) and
//! their names.  They are read here from the kernel image (the debug vmlinux when installed,
//! else the vmlinux inside `/boot/vmlinuz-KVER`): the image has no symbol table, so the
//! structures are found by their shape (a pointer to a `"sys_"` string, the number -1 the
//! kernel sets at boot, an argument count of 0 to 6, two arrays of that many string
//! pointers).  The numbers come from the kernel's own `unistd_64.h` in its build tree.
//! The result is cached by image, so only the first run pays for decompressing the image.

use object::{Object, ObjectSection, SectionKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One system call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    /// The name without `sys_` (`openat`).
    pub name: String,
    /// Its number on x86_64, when the build tree's `unistd_64.h` lists it.
    pub nr: Option<u32>,
    /// Each argument: its C type as the kernel wrote it, and its name.
    pub args: Vec<(String, String)>,
}

/// The allocated sections of an ELF image, to read its memory by link-time address.
struct Memory<'d> {
    sections: Vec<(u64, &'d [u8])>,
}

impl<'d> Memory<'d> {
    fn new(file: &object::File<'d>) -> Memory<'d> {
        let mut sections: Vec<(u64, &[u8])> = file
            .sections()
            .filter(|s| {
                matches!(
                    s.kind(),
                    SectionKind::Data | SectionKind::ReadOnlyData | SectionKind::ReadOnlyString
                ) && s.address() != 0
            })
            .filter_map(|s| Some((s.address(), s.data().ok()?)))
            .collect();
        sections.sort_by_key(|s| s.0);
        Memory { sections }
    }

    fn bytes(&self, addr: u64, len: usize) -> Option<&'d [u8]> {
        let i = self
            .sections
            .partition_point(|s| s.0 <= addr)
            .checked_sub(1)?;
        let (base, data) = self.sections[i];
        let off = usize::try_from(addr - base).ok()?;
        data.get(off..off.checked_add(len)?)
    }

    fn u64(&self, addr: u64) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(addr, 8)?.try_into().ok()?))
    }

    /// A NUL-terminated string of printable ASCII, at most 80 bytes.
    fn string(&self, addr: u64) -> Option<String> {
        let i = self
            .sections
            .partition_point(|s| s.0 <= addr)
            .checked_sub(1)?;
        let (base, data) = self.sections[i];
        let rest = data.get(usize::try_from(addr - base).ok()?..)?;
        let end = rest.iter().take(81).position(|&b| b == 0)?;
        let s = &rest[..end];
        if s.is_empty() || !s.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        Some(String::from_utf8_lossy(s).into_owned())
    }

    fn strings(&self, array: u64, n: usize) -> Option<Vec<String>> {
        (0..n)
            .map(|i| self.string(self.u64(array + 8 * i as u64)?))
            .collect()
    }
}

/// Reads one `struct syscall_metadata` at `addr`, if what is there has its shape.
fn metadata_at(mem: &Memory, data: &[u8], off: usize, addr: u64) -> Option<Syscall> {
    let word = |o: usize| u64::from_le_bytes(data[off + o..off + o + 8].try_into().unwrap());
    let nr = i32::from_le_bytes(data[off + 8..off + 12].try_into().unwrap());
    let nb = i32::from_le_bytes(data[off + 12..off + 16].try_into().unwrap());
    if nr != -1 || !(0..=6).contains(&nb) {
        return None;
    }
    let _ = addr;
    let name = mem.string(word(0))?;
    let name = name.strip_prefix("sys_")?.to_string();
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let n = nb as usize;
    let (types, names) = if n == 0 {
        (Vec::new(), Vec::new())
    } else {
        (mem.strings(word(16), n)?, mem.strings(word(24), n)?)
    };
    Some(Syscall {
        name,
        nr: None,
        args: types.into_iter().zip(names).collect(),
    })
}

/// Every system call's metadata in an ELF kernel image.
pub fn from_image(image: &[u8]) -> Result<Vec<Syscall>, String> {
    let file = object::File::parse(image).map_err(|e| format!("not an ELF image: {}", e))?;
    let mem = Memory::new(&file);
    let mut found = BTreeMap::new();
    for s in file.sections() {
        if s.kind() != SectionKind::Data || s.address() == 0 {
            continue;
        }
        let Ok(data) = s.data() else { continue };
        let base = s.address();
        let mut off = 0;
        while off + 32 <= data.len() {
            if let Some(sc) = metadata_at(&mem, data, off, base + off as u64) {
                found.entry(sc.name.clone()).or_insert(sc);
            }
            off += 8;
        }
    }
    if found.is_empty() {
        return Err(
            "the image has no system call metadata (a kernel built without \
                    CONFIG_FTRACE_SYSCALLS)"
                .into(),
        );
    }
    Ok(found.into_values().collect())
}

/// The numbers of `unistd_64.h` (`#define __NR_openat 257`).
pub fn numbers(unistd: &str) -> BTreeMap<String, u32> {
    unistd
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next()? == "#define").then_some(())?;
            let name = w.next()?.strip_prefix("__NR_")?;
            Some((name.to_string(), w.next()?.parse().ok()?))
        })
        .collect()
}

fn to_text(calls: &[Syscall]) -> String {
    let mut out = String::new();
    for c in calls {
        out.push_str(&c.name);
        for (t, n) in &c.args {
            out.push('\t');
            out.push_str(t);
            out.push('\t');
            out.push_str(n);
        }
        out.push('\n');
    }
    out
}

fn from_text(text: &str) -> Vec<Syscall> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let name = f.next()?.to_string();
            let rest: Vec<&str> = f.collect();
            let args = rest
                .chunks(2)
                .filter(|c| c.len() == 2)
                .map(|c| (c[0].to_string(), c[1].to_string()))
                .collect();
            Some(Syscall {
                name,
                nr: None,
                args,
            })
        })
        .collect()
}

fn image_of(release: &str) -> Result<(PathBuf, bool), String> {
    if let Some(dbg) = crate::kdwarf::find(release) {
        return Ok((dbg, false));
    }
    let image = PathBuf::from(format!("/boot/vmlinuz-{}", release));
    if image.is_file() {
        return Ok((image, true));
    }
    Err(format!(
        "no image of kernel {}: {} does not exist (install linux-image-{})",
        release,
        image.display(),
        release
    ))
}

/// The system calls of kernel `release`, read from its image and cached under `cache`;
/// numbered from `build`'s `unistd_64.h` when given, under the name `number_name` gives.
pub fn syscalls(
    release: &str,
    build: Option<&Path>,
    number_name: &dyn Fn(&str) -> String,
    cache: &Path,
) -> Result<Vec<Syscall>, String> {
    let (path, compressed) = image_of(release)?;
    let cached = crate::source::image_cache_name("syscalls", &path).map(|k| cache.join(k));
    let mut calls = match cached
        .as_ref()
        .and_then(|c| std::fs::read_to_string(c).ok())
    {
        Some(text) => from_text(&text),
        None => {
            let err = |e: &dyn std::fmt::Display| format!("{}: {}", path.display(), e);
            let calls = if compressed {
                let raw = std::fs::read(&path).map_err(|e| err(&e))?;
                let elf = crate::bzimage::vmlinux(&raw).map_err(|e| err(&e))?;
                from_image(&elf).map_err(|e| err(&e))?
            } else {
                let f = std::fs::File::open(&path).map_err(|e| err(&e))?;
                // SAFETY: read only, as for the image's BTF and DWARF.
                let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| err(&e))?;
                from_image(&map).map_err(|e| err(&e))?
            };
            if let Some(c) = &cached {
                let _ = std::fs::create_dir_all(cache);
                let tmp = c.with_extension("tmp");
                if std::fs::write(&tmp, to_text(&calls)).is_ok() {
                    let _ = std::fs::rename(&tmp, c);
                }
            }
            calls
        }
    };
    if let Some(b) = build {
        let unistd = b.join("arch/x86/include/generated/uapi/asm/unistd_64.h");
        if let Ok(text) = std::fs::read_to_string(unistd) {
            let nrs = numbers(&text);
            let mut numbered = std::collections::HashSet::new();
            for c in &mut calls {
                c.nr = nrs
                    .get(&c.name)
                    .or_else(|| nrs.get(&number_name(&c.name)))
                    .copied();
                numbered.extend(c.nr);
            }
            // Numbers the kernel keeps for calls it no longer implements (_sysctl,
            // lookup_dcookie) have no metadata: they come without arguments.
            for (name, nr) in &nrs {
                if !numbered.contains(nr) {
                    calls.push(Syscall {
                        name: name.clone(),
                        nr: Some(*nr),
                        args: Vec::new(),
                    });
                }
            }
        }
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unistd_numbers_are_read() {
        let n = numbers("#ifndef X\n#define __NR_read 0\n#define __NR_openat 257\n#define X 1\n");
        assert_eq!(n.get("read"), Some(&0));
        assert_eq!(n.get("openat"), Some(&257));
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn the_cache_text_round_trips() {
        let calls = vec![
            Syscall {
                name: "getpid".into(),
                nr: None,
                args: vec![],
            },
            Syscall {
                name: "openat".into(),
                nr: None,
                args: vec![
                    ("int".into(), "dfd".into()),
                    ("const char __user *".into(), "filename".into()),
                ],
            },
        ];
        assert_eq!(from_text(&to_text(&calls)), calls);
    }
}

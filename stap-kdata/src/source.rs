//! Where a kernel's BTF comes from, in order: the running kernel's `/sys/kernel/btf/vmlinux`
//! (when it is the target), the debug vmlinux of `linux-image-KVER-dbg`, or the vmlinux
//! inside `/boot/vmlinuz-KVER`, decompressed once and its `.BTF` cached.

use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};

fn running_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The `.BTF` section of an ELF image.
fn elf_btf(data: &[u8]) -> Result<Vec<u8>, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an ELF image: {}", e))?;
    let sec = file
        .section_by_name(".BTF")
        .ok_or("the image has no .BTF section (a kernel built without CONFIG_DEBUG_INFO_BTF)")?;
    sec.data()
        .map(|d| d.to_vec())
        .map_err(|e| format!("cannot read .BTF: {}", e))
}

/// The cache file name of what is read out of `image`: `PREFIX-NAME-SIZE-MTIME`, so a
/// replaced image is read again.
pub(crate) fn image_cache_name(prefix: &str, image: &Path) -> Option<String> {
    let md = std::fs::metadata(image).ok()?;
    use std::os::unix::fs::MetadataExt;
    Some(format!(
        "{}-{}-{}-{}",
        prefix,
        image.file_name()?.to_string_lossy(),
        md.len(),
        md.mtime()
    ))
}

/// The BTF bytes of kernel `release` and a description of where they came from.
pub fn btf_bytes(release: &str, cache: &Path) -> Result<(Vec<u8>, String), String> {
    if release == running_release() {
        if let Ok(b) = std::fs::read("/sys/kernel/btf/vmlinux") {
            return Ok((
                b,
                "BTF of the running kernel (/sys/kernel/btf/vmlinux)".into(),
            ));
        }
    }
    let dbg = crate::kdwarf::find(release);
    if let Some(Ok(f)) = dbg.as_ref().map(std::fs::File::open) {
        // SAFETY: read only; only the .BTF section's pages are touched.
        if let Ok(d) = unsafe { memmap2::Mmap::map(&f) } {
            if let Ok(b) = elf_btf(&d) {
                let shown = dbg
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                return Ok((b, format!("BTF of {}", shown)));
            }
        }
    }
    let image = PathBuf::from(format!("/boot/vmlinuz-{}", release));
    if !image.is_file() {
        return Err(format!(
            "no data for kernel {}: neither {} nor its debug vmlinux exists (install linux-image-{})",
            release,
            image.display(),
            release
        ));
    }
    let cached = image_cache_name("btf", &image).map(|n| cache.join(n));
    if let Some(c) = &cached {
        if let Ok(b) = std::fs::read(c) {
            return Ok((
                b,
                format!("BTF of {} (cached in {})", image.display(), c.display()),
            ));
        }
    }
    let raw =
        std::fs::read(&image).map_err(|e| format!("cannot read {}: {}", image.display(), e))?;
    let vmlinux =
        crate::bzimage::vmlinux(&raw).map_err(|e| format!("{}: {}", image.display(), e))?;
    let b = elf_btf(&vmlinux).map_err(|e| format!("{}: {}", image.display(), e))?;
    if let Some(c) = &cached {
        let _ = std::fs::create_dir_all(cache);
        let tmp = c.with_extension("tmp");
        if std::fs::write(&tmp, &b).is_ok() {
            let _ = std::fs::rename(&tmp, c);
        }
    }
    Ok((b, format!("BTF of {}", image.display())))
}

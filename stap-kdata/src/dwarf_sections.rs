//! The sections of an ELF file that DWARF is read from: decompressed when the file keeps
//! them compressed, and, in a relocatable `.ko`, relocated (each allocated section gets a
//! base address of its own, `index << 32`).

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};
use std::collections::HashMap;

/// Whether a section is loaded (`SHF_ALLOC`): one whose addresses a relocation may name.
fn is_alloc(s: &object::Section) -> bool {
    matches!(s.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0)
}

/// The base address given to section `index` of a relocatable file.
pub(crate) fn base_of(index: usize) -> u64 {
    (index as u64) << 32
}

/// A section's bytes, decompressed when the file keeps it compressed (`SHF_COMPRESSED`,
/// zlib or zstd: Debian's debug files, such as libc's, do).
fn section_bytes(sec: &object::Section) -> Result<Vec<u8>, String> {
    use object::CompressionFormat;
    use std::io::Read;
    let c = sec.compressed_data().map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(c.uncompressed_size as usize);
    let read = match c.format {
        CompressionFormat::None => return Ok(c.data.to_vec()),
        CompressionFormat::Zlib => flate2::read::ZlibDecoder::new(c.data).read_to_end(&mut out),
        CompressionFormat::Zstandard => ruzstd::decoding::StreamingDecoder::new(c.data)
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|mut d| d.read_to_end(&mut out)),
        _ => return Err("compressed in a format stap-rs does not read".into()),
    };
    read.map_err(|e| e.to_string())?;
    if out.len() as u64 != c.uncompressed_size {
        return Err(format!(
            "decompressed to {} bytes where {} were announced",
            out.len(),
            c.uncompressed_size
        ));
    }
    Ok(out)
}

/// The debug sections of `file`, relocated.
pub(crate) fn sections(file: &object::File) -> Result<HashMap<String, Vec<u8>>, String> {
    let mut out = HashMap::new();
    for sec in file.sections() {
        let name = sec.name().unwrap_or("");
        if !name.starts_with(".debug_") {
            continue;
        }
        let mut data = section_bytes(&sec).map_err(|e| format!("{}: {}", name, e))?;
        for (off, rel) in sec.relocations() {
            let RelocationTarget::Symbol(si) = rel.target() else {
                continue;
            };
            let Ok(sym) = file.symbol_by_index(si) else {
                continue;
            };
            let base = match sym.section_index() {
                Some(i) => match file.section_by_index(i) {
                    Ok(s) if is_alloc(&s) => base_of(i.0),
                    _ => 0,
                },
                None => 0,
            };
            let v = (base + sym.address()).wrapping_add(rel.addend() as u64);
            let off = off as usize;
            match rel.size() {
                64 if off + 8 <= data.len() => data[off..off + 8].copy_from_slice(&v.to_le_bytes()),
                32 if off + 4 <= data.len() => {
                    data[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes())
                }
                _ => {}
            }
        }
        out.insert(name.to_string(), data);
    }
    Ok(out)
}

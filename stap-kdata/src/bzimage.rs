//! The vmlinux inside an x86 bzImage (`/boot/vmlinuz-KVER`), in any compression Debian's
//! kernels use: xz (6.1), zstd (6.12), gzip and lz4.
//!
//! The boot protocol's header (`Documentation/arch/x86/boot.rst`) says where the compressed
//! payload is (`payload_offset`, `payload_length`, from protocol 2.08); its first bytes name
//! the compression.  Older or odd images without the header fields are searched for the
//! formats' magic numbers instead.

use std::io::Read;

/// A compression format the kernel's `CONFIG_KERNEL_*` choices produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// `CONFIG_KERNEL_XZ`.
    Xz,
    /// `CONFIG_KERNEL_ZSTD`.
    Zstd,
    /// `CONFIG_KERNEL_GZIP`.
    Gzip,
    /// `CONFIG_KERNEL_LZ4` (the legacy lz4 frame, as `lz4 -l` writes it).
    Lz4Legacy,
}

impl Compression {
    const ALL: [Compression; 4] = [
        Compression::Xz,
        Compression::Zstd,
        Compression::Gzip,
        Compression::Lz4Legacy,
    ];

    fn magic(self) -> &'static [u8] {
        match self {
            Compression::Xz => &[0xfd, b'7', b'z', b'X', b'Z', 0],
            Compression::Zstd => &[0x28, 0xb5, 0x2f, 0xfd],
            Compression::Gzip => &[0x1f, 0x8b, 0x08],
            Compression::Lz4Legacy => &[0x02, 0x21, 0x4c, 0x18],
        }
    }

    /// The format whose magic starts `data`.
    pub fn of(data: &[u8]) -> Option<Compression> {
        Compression::ALL
            .into_iter()
            .find(|c| data.starts_with(c.magic()))
    }

    /// Its name, as the kernel's configuration spells it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::Lz4Legacy => "lz4",
        }
    }

    /// Decompresses one stream at the start of `data`; bytes after it are ignored (the
    /// kernel appends the decompressed size).
    pub fn decompress(self, data: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let res = match self {
            Compression::Xz => return xz_one_stream(data),
            Compression::Zstd => ruzstd::decoding::StreamingDecoder::new(data)
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|mut d| d.read_to_end(&mut out).map(|_| ())),
            Compression::Gzip => flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .map(|_| ()),
            Compression::Lz4Legacy => return lz4_legacy(data),
        };
        res.map_err(|e| format!("{} stream: {}", self.name(), e))?;
        Ok(out)
    }
}

/// One xz stream, stopping at its end (the reader type rejects the bytes after it).
fn xz_one_stream(data: &[u8]) -> Result<Vec<u8>, String> {
    let err = |e: xz2::stream::Error| format!("xz stream: {}", e);
    let mut stream = xz2::stream::Stream::new_stream_decoder(u64::MAX, 0).map_err(err)?;
    let mut out = Vec::with_capacity(data.len() * 4);
    loop {
        let at = stream.total_in() as usize;
        if out.len() == out.capacity() {
            out.reserve(out.len());
        }
        match stream.process_vec(&data[at..], &mut out, xz2::stream::Action::Finish) {
            Ok(xz2::stream::Status::StreamEnd) => return Ok(out),
            Ok(_) if stream.total_in() as usize == at && out.len() < out.capacity() => {
                return Err("xz stream: truncated".into())
            }
            Ok(_) => {}
            Err(e) => return Err(err(e)),
        }
    }
}

/// The legacy lz4 frame: the magic, then blocks of a 32-bit little-endian compressed size
/// and that many bytes, each decompressing to at most 8 MiB.  It has no end mark: the
/// kernel's image ends it with the 32-bit decompressed size, which reads as a block size
/// past the end of the data (or a block that does not decode).
fn lz4_legacy(data: &[u8]) -> Result<Vec<u8>, String> {
    const BLOCK_MAX: usize = 8 << 20;
    const LZ4_LEGACY_MAGIC: u32 = 0x184c_2102;
    let mut out = Vec::new();
    let mut at = 4;
    while at + 4 <= data.len() {
        let size = u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
        if size == LZ4_LEGACY_MAGIC {
            at += 4; // concatenated frames
            continue;
        }
        let size = size as usize;
        let Some(block) = data.get(at + 4..at + 4 + size) else {
            break;
        };
        let start = out.len();
        out.resize(start + BLOCK_MAX, 0);
        match lz4_flex::block::decompress_into(block, &mut out[start..]) {
            Ok(n) => out.truncate(start + n),
            Err(_) if start > 0 => {
                out.truncate(start);
                break;
            }
            Err(e) => return Err(format!("lz4 stream: {}", e)),
        }
        at += 4 + size;
    }
    Ok(out)
}

/// Where the boot header says the payload is, when it says so (protocol 2.08 and later).
fn payload_by_header(image: &[u8]) -> Option<&[u8]> {
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_le_bytes(image.get(o..o + 4)?.try_into().ok()?))
    };
    if image.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let version = u16::from_le_bytes(image.get(0x206..0x208)?.try_into().ok()?);
    if version < 0x0208 {
        return None;
    }
    let setup_sects = match *image.get(0x1f1)? {
        0 => 4,
        n => n as usize,
    };
    let pm_start = (setup_sects + 1) * 512;
    let offset = pm_start + u32_at(0x248)? as usize;
    let length = u32_at(0x24c)? as usize;
    image.get(offset..offset.checked_add(length)?)
}

/// The uncompressed vmlinux (an ELF image) inside a bzImage.
pub fn vmlinux(image: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(payload) = payload_by_header(image) {
        if let Some(c) = Compression::of(payload) {
            let out = c.decompress(payload)?;
            if out.starts_with(b"\x7fELF") {
                return Ok(out);
            }
            return Err(format!("the {} payload is not an ELF image", c.name()));
        }
    }
    // No usable header: try every place a known magic appears.
    for c in Compression::ALL {
        let magic = c.magic();
        let mut start = 0;
        while let Some(at) = image[start..].windows(magic.len()).position(|w| w == magic) {
            let at = start + at;
            if let Ok(out) = c.decompress(&image[at..]) {
                if out.starts_with(b"\x7fELF") {
                    return Ok(out);
                }
            }
            start = at + 1;
        }
    }
    Err("no vmlinux found in the image (looked for xz, zstd, gzip and lz4 payloads)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn fake_vmlinux() -> Vec<u8> {
        let mut v = b"\x7fELF".to_vec();
        for i in 0..200_000u32 {
            v.extend_from_slice(&(i % 251).to_le_bytes());
        }
        v
    }

    /// A bzImage header with `payload` at `payload_offset`, then the decompressed size.
    fn fake_bzimage(payload: &[u8]) -> Vec<u8> {
        let setup_sects = 3usize;
        let pm_start = (setup_sects + 1) * 512;
        let mut img = vec![0u8; pm_start + 0x100];
        img[0x1f1] = setup_sects as u8;
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
        img[0x248..0x24c].copy_from_slice(&0x100u32.to_le_bytes());
        img[0x24c..0x250].copy_from_slice(&(payload.len() as u32 + 4).to_le_bytes());
        img.extend_from_slice(payload);
        img.extend_from_slice(&(fake_vmlinux().len() as u32).to_le_bytes());
        img.extend_from_slice(&[0u8; 64]);
        img
    }

    fn xz(d: &[u8]) -> Vec<u8> {
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    fn gzip(d: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    fn zstd(d: &[u8]) -> Vec<u8> {
        ruzstd::encoding::compress_to_vec(d, ruzstd::encoding::CompressionLevel::Fastest)
    }

    fn lz4(d: &[u8]) -> Vec<u8> {
        let mut out = Compression::Lz4Legacy.magic().to_vec();
        // Two blocks, as a large kernel has many.
        for part in [&d[..d.len() / 2], &d[d.len() / 2..]] {
            let b = lz4_flex::block::compress(part);
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(&b);
        }
        out
    }

    #[test]
    fn every_compression_by_header() {
        let want = fake_vmlinux();
        for (name, packed) in [
            ("xz", xz(&want)),
            ("gzip", gzip(&want)),
            ("zstd", zstd(&want)),
            ("lz4", lz4(&want)),
        ] {
            let img = fake_bzimage(&packed);
            assert_eq!(Compression::of(&packed).unwrap().name(), name);
            assert_eq!(vmlinux(&img).unwrap(), want, "{}", name);
        }
    }

    #[test]
    fn without_a_header_the_magic_is_searched() {
        let want = fake_vmlinux();
        let mut img = vec![0x55u8; 3000];
        img.extend_from_slice(&zstd(&want));
        img.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(vmlinux(&img).unwrap(), want);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut img = fake_bzimage(&[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3]);
        assert!(vmlinux(&img).is_err());
        img.truncate(0x210);
        assert!(vmlinux(&img).is_err());
        assert!(vmlinux(&[]).is_err());
    }
}

//! The user-space files' tables for user backtraces (`runtime-c/linux/stp_ustack.h`): per
//! file its segments, symbols and call frame rows, then the list the runtime looks the
//! files up from at load.  Written only when the program uses a user-stack function
//! (`/* pragma:ustack */`), for the kernel backend.

use crate::c_str;
use stap_sema::user_frames::{Cfa, UserModule};
use std::fmt::Write;

/// Writes the tables of `mods` (possibly none) after the runtime's ustack header.
pub(crate) fn write(o: &mut String, mods: &[UserModule]) {
    o.push_str("#include \"stp_ustack.h\"\n\n");
    for (i, m) in mods.iter().enumerate() {
        let _ = writeln!(o, "/* user file {} */", i);
        table(o, "stp_useg", i, m.segments.len(), |o| {
            for (off, addr, size) in &m.segments {
                let _ = writeln!(
                    o,
                    "\t{{ 0x{:x}ULL, 0x{:x}ULL, 0x{:x}ULL }},",
                    off, addr, size
                );
            }
        });
        table(o, "stp_usym", i, m.symbols.len(), |o| {
            for (addr, size, name) in &m.symbols {
                let _ = writeln!(
                    o,
                    "\t{{ 0x{:x}ULL, 0x{:x}ULL, {} }},",
                    addr,
                    size,
                    c_str(name)
                );
            }
        });
        table(o, "stp_ucfi", i, m.frames.len(), |o| {
            for r in &m.frames {
                let (kind, off) = match r.cfa {
                    Cfa::Rsp(off) => ("STP_CFA_RSP", off),
                    Cfa::Rbp(off) => ("STP_CFA_RBP", off),
                    Cfa::Outermost => ("STP_CFA_OUTERMOST", 0),
                    Cfa::Unknown => ("STP_CFA_UNKNOWN", 0),
                };
                let _ = writeln!(
                    o,
                    "\t{{ 0x{:x}ULL, {}, {}, {}, {} }},",
                    r.start,
                    off,
                    r.rbp_at.unwrap_or(0),
                    kind,
                    r.rbp_at.is_some() as u8
                );
            }
        });
    }
    let _ = writeln!(
        o,
        "static struct stp_umod stp_umods[{}] = {{",
        mods.len().max(1)
    );
    for (i, m) in mods.iter().enumerate() {
        let name = m.path.rsplit('/').next().unwrap_or(&m.path);
        let arr = |kind: &str, n: usize| {
            if n == 0 {
                "NULL, 0".to_string()
            } else {
                format!("{}_{}, {}", kind, i, n)
            }
        };
        let _ = writeln!(
            o,
            "\t{{ {}, {}, {}, {}, {} }},",
            c_str(&m.path),
            c_str(name),
            arr("stp_useg", m.segments.len()),
            arr("stp_usym", m.symbols.len()),
            arr("stp_ucfi", m.frames.len())
        );
    }
    let _ = writeln!(o, "}};\n#define STP_NUM_UMODS {}\n", mods.len());
}

/// `static const struct KIND KIND_I[] = { ... };`, unless it would be empty.
fn table(o: &mut String, kind: &str, i: usize, n: usize, rows: impl FnOnce(&mut String)) {
    if n == 0 {
        return;
    }
    let _ = writeln!(o, "static const struct {} {}_{}[] = {{", kind, kind, i);
    rows(o);
    o.push_str("};\n");
}

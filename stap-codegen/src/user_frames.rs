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
        let arr = |kind: &str, n: usize| {
            if n == 0 {
                "NULL, 0".to_string()
            } else {
                format!("{}_{}, {}", kind, i, n)
            }
        };
        let _ = writeln!(
            o,
            "\t{{ {}, 0x{:x}ULL, {}, {}, {} }},",
            c_str(&m.path),
            m.size,
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

#[cfg(test)]
mod tests {
    use super::*;
    use stap_sema::user_frames::FrameRow;

    #[test]
    fn a_file_becomes_its_three_tables_and_an_entry() {
        let m = UserModule {
            path: "/opt/a \"b\"".into(),
            size: 0x3a98,
            segments: vec![(0, 0, 0x650)],
            symbols: vec![(0x1190, 0x10, "leaf".into())],
            frames: vec![
                FrameRow {
                    start: 0x1190,
                    cfa: Cfa::Rsp(8),
                    rbp_at: None,
                },
                FrameRow {
                    start: 0x11a0,
                    cfa: Cfa::Rbp(16),
                    rbp_at: Some(-16),
                },
                FrameRow {
                    start: 0x11b0,
                    cfa: Cfa::Unknown,
                    rbp_at: None,
                },
            ],
        };
        let mut o = String::new();
        write(&mut o, &[m]);
        assert_eq!(
            o,
            "#include \"stp_ustack.h\"\n\n\
             /* user file 0 */\n\
             static const struct stp_useg stp_useg_0[] = {\n\t{ 0x0ULL, 0x0ULL, 0x650ULL },\n};\n\
             static const struct stp_usym stp_usym_0[] = {\n\t{ 0x1190ULL, 0x10ULL, \"leaf\" },\n};\n\
             static const struct stp_ucfi stp_ucfi_0[] = {\n\
             \t{ 0x1190ULL, 8, 0, STP_CFA_RSP, 0 },\n\
             \t{ 0x11a0ULL, 16, -16, STP_CFA_RBP, 1 },\n\
             \t{ 0x11b0ULL, 0, 0, STP_CFA_UNKNOWN, 0 },\n};\n\
             static struct stp_umod stp_umods[1] = {\n\
             \t{ \"/opt/a \\\"b\\\"\", 0x3a98ULL, stp_useg_0, 1, stp_usym_0, 1, stp_ucfi_0, 3 },\n};\n\
             #define STP_NUM_UMODS 1\n\n"
        );
    }

    #[test]
    fn no_files_is_an_empty_list() {
        let mut o = String::new();
        write(&mut o, &[]);
        assert!(
            o.ends_with("static struct stp_umod stp_umods[1] = {\n};\n#define STP_NUM_UMODS 0\n\n")
        );
    }
}

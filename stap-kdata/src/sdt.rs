//! SDT markers (`sys/sdt.h`, USDT): the `.note.stapsdt` notes of a program or library, and
//! their arguments' operand strings (`-4@%edi`, `8@-24(%rbp)`, `-4@counter(%rip)`,
//! `-4@$5`) as steps from a register, the marker's address or a constant.

use stap_sema::ir::{ArithOp, TargetOp, TargetSource};

/// One marker of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    /// Its provider (`STAP_PROBE(provider, name)`).
    pub provider: String,
    /// Its name.
    pub name: String,
    /// Its address (the `nop` the probe replaces), in the file's own numbering.
    pub addr: u64,
    /// Its semaphore's address (0: none).
    pub semaphore: u64,
    /// Its arguments' operand strings, in order.
    pub args: Vec<String>,
}

/// The note type of an SDT marker (owner `stapsdt`).
const NT_STAPSDT: u32 = 3;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The markers in the contents of a `.note.stapsdt` section (x86-64: little-endian,
/// 8-byte addresses). `base` is the address of the file's `.stapsdt.base` section: each
/// note records the address it had when linked, and a file moved since (prelink) has
/// its markers and semaphores moved by the same amount.
pub fn parse_notes(notes: &[u8], base: Option<u64>) -> Vec<Marker> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let align = |n: usize| (n + 3) & !3;
    while let (Some(namesz), Some(descsz), Some(ty)) = (
        u32_at(notes, at),
        u32_at(notes, at + 4),
        u32_at(notes, at + 8),
    ) {
        let name_at = at + 12;
        let desc_at = name_at + align(namesz as usize);
        let next = desc_at + align(descsz as usize);
        let owner = notes.get(name_at..name_at + namesz as usize).unwrap_or(&[]);
        let desc = notes.get(desc_at..desc_at + descsz as usize).unwrap_or(&[]);
        if ty == NT_STAPSDT && owner == b"stapsdt\0" {
            if let Some(m) = marker(desc, base) {
                out.push(m);
            }
        }
        if next <= at || next > notes.len() {
            break;
        }
        at = next;
    }
    out
}

fn marker(desc: &[u8], base: Option<u64>) -> Option<Marker> {
    let (pc, note_base, sem) = (u64_at(desc, 0)?, u64_at(desc, 8)?, u64_at(desc, 16)?);
    let mut strings = desc.get(24..)?.split(|b| *b == 0);
    let mut text = || {
        strings
            .next()
            .map(|s| String::from_utf8_lossy(s).into_owned())
    };
    let (provider, name, args) = (text()?, text()?, text().unwrap_or_default());
    let moved = |a: u64| match base {
        Some(b) if a != 0 => a.wrapping_add(b).wrapping_sub(note_base),
        _ => a,
    };
    Some(Marker {
        provider,
        name,
        addr: moved(pc),
        semaphore: moved(sem),
        args: args.split_whitespace().map(str::to_string).collect(),
    })
}

/// An x86-64 register name (without `%`): its DWARF number, and for `%ah`..`%dh` the
/// shift to its byte.
fn register(name: &str) -> Option<(u16, u8)> {
    const R64: [&str; 16] = [
        "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];
    const R32: [&str; 8] = ["eax", "edx", "ecx", "ebx", "esi", "edi", "ebp", "esp"];
    const R16: [&str; 8] = ["ax", "dx", "cx", "bx", "si", "di", "bp", "sp"];
    const R8: [&str; 8] = ["al", "dl", "cl", "bl", "sil", "dil", "bpl", "spl"];
    const HIGH: [&str; 4] = ["ah", "dh", "ch", "bh"];
    if name == "rip" {
        return Some((16, 0));
    }
    for table in [&R64[..], &R32[..], &R16[..], &R8[..]] {
        if let Some(i) = table.iter().position(|r| *r == name) {
            return Some((i as u16, 0));
        }
    }
    if let Some(i) = HIGH.iter().position(|r| *r == name) {
        return Some((i as u16, 8));
    }
    // r8d, r8w, r8b .. r15d/w/b
    let n = name.strip_prefix('r')?;
    let n = n.strip_suffix(['d', 'w', 'b']).unwrap_or(n);
    let i: u16 = n.parse().ok()?;
    (8..16).contains(&i).then_some((i, 0))
}

fn number(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()? as i64,
        None => s.parse::<u64>().ok()? as i64,
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

fn reg_of(s: &str, arg: &str) -> Result<(u16, u8), String> {
    s.trim()
        .strip_prefix('%')
        .and_then(register)
        .ok_or_else(|| format!("unknown register '{}' in SDT operand '{}'", s, arg))
}

/// The steps computing an SDT argument from its operand string: where the value starts
/// and the steps from there (a narrowing to the argument's size, or the address and a
/// load). `addr` is the marker's address, for operands that name an address in the file
/// (`sym(%rip)`): the probe sees the marker's run-time address in the instruction
/// pointer, so the file's load bias cancels. `symbol` finds a symbol's address.
pub fn operand(
    arg: &str,
    addr: u64,
    symbol: &dyn Fn(&str) -> Option<u64>,
) -> Result<(TargetSource, Vec<TargetOp>), String> {
    // `[-]SIZE@OPERAND`; old notes have no size: a long.
    let (size, signed, op) = match arg.split_once('@') {
        Some((sz, op)) => {
            let n = number(sz).ok_or_else(|| format!("bad SDT operand '{}'", arg))?;
            let size = n.unsigned_abs();
            if ![1, 2, 4, 8].contains(&size) {
                return Err(format!("bad size in SDT operand '{}'", arg));
            }
            (size as u8, n < 0, op)
        }
        None => (8, true, arg),
    };
    let narrow = |ops: &mut Vec<TargetOp>| {
        if size < 8 {
            ops.push(TargetOp::Narrow { size, signed });
        }
    };
    let mut ops = Vec::new();
    if let Some(imm) = op.strip_prefix('$') {
        let v = number(imm).ok_or_else(|| format!("bad constant in SDT operand '{}'", arg))?;
        narrow(&mut ops);
        return Ok((TargetSource::Const(v), ops));
    }
    if op.starts_with('%') {
        let (reg, shift) = reg_of(op, arg)?;
        if shift > 0 {
            ops.push(TargetOp::Arith {
                op: ArithOp::Shr,
                k: shift as i64,
            });
        }
        narrow(&mut ops);
        return Ok((TargetSource::DwarfReg(reg), ops));
    }
    // Memory: DISP(BASE[,INDEX[,SCALE]]) or DISP, DISP being a number, a symbol, or a
    // symbol plus or minus a number.
    let (disp, regs) = match op.split_once('(') {
        Some((d, r)) => (
            d,
            Some(
                r.strip_suffix(')')
                    .ok_or_else(|| format!("bad SDT operand '{}'", arg))?,
            ),
        ),
        None => (op, None),
    };
    let (sym, num) = split_disp(disp).ok_or_else(|| format!("bad SDT operand '{}'", arg))?;
    let sym_addr = match sym {
        Some(s) => Some(symbol(s).ok_or_else(|| {
            format!(
                "SDT operand '{}' names '{}', which is not in the file's symbol table",
                arg, s
            )
        })?),
        None => None,
    };
    let mut parts = regs
        .map(|r| r.split(',').collect::<Vec<_>>())
        .unwrap_or_default();
    parts.resize(3, "");
    let base = match parts[0].trim() {
        "" => None,
        b => Some(reg_of(b, arg)?.0),
    };
    let src = match (sym_addr, base) {
        // At an address in the file (rip-relative, or absolute with a symbol): from the
        // marker's run-time address.
        (Some(a), b) => {
            ops.push(TargetOp::Add(
                a.wrapping_add(num as u64).wrapping_sub(addr) as i64
            ));
            if let Some(b) = b.filter(|b| *b != 16) {
                ops.push(TargetOp::AddReg { reg: b, scale: 1 });
            }
            TargetSource::DwarfReg(16)
        }
        (None, Some(16)) => {
            return Err(format!(
                "SDT operand '{}' is relative to the next instruction, which is not known",
                arg
            ))
        }
        (None, Some(b)) => {
            if num != 0 {
                ops.push(TargetOp::Add(num));
            }
            TargetSource::DwarfReg(b)
        }
        (None, None) => TargetSource::Const(num),
    };
    if !parts[1].trim().is_empty() {
        let (index, _) = reg_of(parts[1], arg)?;
        let scale = match parts[2].trim() {
            "" => 1,
            s => number(s)
                .filter(|s| [1, 2, 4, 8].contains(s))
                .ok_or_else(|| format!("bad scale in SDT operand '{}'", arg))?
                as u8,
        };
        ops.push(TargetOp::AddReg { reg: index, scale });
    }
    ops.push(TargetOp::Load { size, signed });
    Ok((src, ops))
}

/// A displacement: an optional symbol and a number (`-24`, `counter`, `buf+8`).
fn split_disp(d: &str) -> Option<(Option<&str>, i64)> {
    let d = d.trim();
    if d.is_empty() {
        return Some((None, 0));
    }
    if let Some(n) = number(d) {
        return Some((None, n));
    }
    // The symbol ends at the first + or - after its first character.
    match d[1..].find(['+', '-']).map(|i| i + 1) {
        Some(i) => Some((Some(&d[..i]), number(&d[i..])?)),
        None => Some((Some(d), 0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(arg: &str) -> (TargetSource, Vec<TargetOp>) {
        let sym = |s: &str| (s == "counter").then_some(0x4010);
        operand(arg, 0x1100, &sym).unwrap()
    }

    #[test]
    fn registers_constants_and_memory() {
        use TargetOp::*;
        use TargetSource::*;
        let n = |size, signed| Narrow { size, signed };
        assert_eq!(op("-4@%edi"), (DwarfReg(5), vec![n(4, true)]));
        assert_eq!(op("8@%r13"), (DwarfReg(13), vec![]));
        assert_eq!(op("1@%r9b"), (DwarfReg(9), vec![n(1, false)]));
        assert_eq!(
            op("1@%ah"),
            (
                DwarfReg(0),
                vec![
                    Arith {
                        op: ArithOp::Shr,
                        k: 8
                    },
                    n(1, false)
                ]
            )
        );
        assert_eq!(op("-4@$-1"), (Const(-1), vec![n(4, true)]));
        assert_eq!(op("-4@$0x10"), (Const(16), vec![n(4, true)]));
        let load = |size, signed| Load { size, signed };
        assert_eq!(
            op("-8@-24(%rbp)"),
            (DwarfReg(6), vec![Add(-24), load(8, true)])
        );
        assert_eq!(op("4@(%rax)"), (DwarfReg(0), vec![load(4, false)]));
        assert_eq!(
            op("-4@counter(%rip)"),
            (DwarfReg(16), vec![Add(0x4010 - 0x1100), load(4, true)])
        );
        assert_eq!(
            op("-4@counter+8(%rip)"),
            (DwarfReg(16), vec![Add(0x4018 - 0x1100), load(4, true)])
        );
        assert_eq!(
            op("8@16(%rax,%rdx,8)"),
            (
                DwarfReg(0),
                vec![Add(16), AddReg { reg: 1, scale: 8 }, load(8, false)]
            )
        );
        assert_eq!(op("%rsi"), (DwarfReg(4), vec![]));
    }

    #[test]
    fn bad_operands_are_errors() {
        let sym = |_: &str| None;
        for bad in [
            "3@%eax",
            "-4@%xyz",
            "4@nosuch(%rip)",
            "4@8(%rip)",
            "4@8(%rax,%rbx,3)",
        ] {
            assert!(operand(bad, 0, &sym).is_err(), "{}", bad);
        }
    }

    #[test]
    fn notes_are_read_and_moved_with_the_base() {
        let mut desc = Vec::new();
        desc.extend_from_slice(&0x1100u64.to_le_bytes());
        desc.extend_from_slice(&0x2000u64.to_le_bytes());
        desc.extend_from_slice(&0x4040u64.to_le_bytes());
        desc.extend_from_slice(b"prov\0tick\0-4@%edi 8@%rax\0");
        let mut note = Vec::new();
        note.extend_from_slice(&8u32.to_le_bytes());
        note.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        note.extend_from_slice(&3u32.to_le_bytes());
        note.extend_from_slice(b"stapsdt\0");
        note.extend_from_slice(&desc);
        while note.len() % 4 != 0 {
            note.push(0);
        }
        let twice = [note.clone(), note].concat();
        let m = parse_notes(&twice, Some(0x2010));
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].provider, "prov");
        assert_eq!(m[0].name, "tick");
        assert_eq!(m[0].addr, 0x1110);
        assert_eq!(m[0].semaphore, 0x4050);
        assert_eq!(m[0].args, vec!["-4@%edi", "8@%rax"]);
        assert_eq!(parse_notes(&twice[..10], None), vec![]);
    }
}

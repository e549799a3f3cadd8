//! Kernel addresses named in user space: `print_backtrace()` and `print_stack()` capture
//! addresses in the probe and write each one as a marker in the output stream,
//! `ESC ] stp-sym ; KEY ; HEX BEL` (an OSC sequence, which no script prints by accident).
//! stpd replaces each marker with `symbol+0xOFF/0xSIZE [module]`, from `/proc/kallsyms`,
//! read once, on the first marker.  KEY is the session's secret (the module parameter
//! `stp_sym_key`, which stpd picks at random and the kernel does not show in sysfs): data
//! a script prints (a file name, a user's string) cannot forge a marker, and a marker
//! without the key passes through as it came.

use crate::protocol::{STP_SYM_END, STP_SYM_START};

const START: &[u8] = STP_SYM_START;
const END: u8 = STP_SYM_END[0];
/// The longest command `system()` sends (MAXSTRINGLEN less its NUL).
const MAX_COMMAND: usize = 511;
/// The longest marker: the prefix, the key, `;`, `cmd:` and a command in hex (or 16 hex
/// digits of an address), the terminator.
const MAX: usize = START.len() + 16 + 1 + 4 + 2 * MAX_COMMAND + 1;

/// One symbol of the running kernel: address, name, module.
type Sym = (u64, String, Option<String>);

/// Replaces markers in a byte stream, across the reads it arrives in.
#[derive(Default)]
pub struct Symbolizer {
    /// The session's key: only markers carrying it are replaced.
    key: u64,
    /// A tail of the last chunk that may be the start of a marker.
    held: Vec<u8>,
    table: Option<Vec<Sym>>,
    /// Where the symbols come from (tests give their own).
    source: Option<String>,
    /// Commands `system()` sent, in order, not yet taken.
    commands: Vec<String>,
}

/// Parses `/proc/kallsyms` text: every symbol (data ones end the functions before them),
/// sorted by address.
fn parse_kallsyms(text: &str) -> Vec<Sym> {
    let mut syms: Vec<Sym> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let addr = u64::from_str_radix(it.next()?, 16).ok()?;
            let _kind = it.next()?;
            let name = it.next()?.to_string();
            let module = it
                .next()
                .map(|m| m.trim_matches(|c| c == '[' || c == ']').to_string());
            Some((addr, name, module))
        })
        .filter(|(a, _, _)| *a != 0)
        .collect();
    syms.sort_by_key(|s| s.0);
    syms
}

impl Symbolizer {
    /// A symbolizer for the markers of the session with this key.
    pub fn new(key: u64) -> Symbolizer {
        Symbolizer {
            key,
            ..Symbolizer::default()
        }
    }

    /// A symbolizer over the symbols of `kallsyms` text (else `/proc/kallsyms`).
    #[cfg(test)]
    pub fn with_symbols(key: u64, kallsyms: Option<String>) -> Symbolizer {
        Symbolizer {
            key,
            source: kallsyms,
            ..Symbolizer::default()
        }
    }

    /// The address a marker's body (`KEY;HEX`) names, if it carries this session's key.
    fn address(&self, body: &[u8]) -> Option<u64> {
        let body = std::str::from_utf8(body).ok()?;
        let (key, hex) = body.split_once(';')?;
        if u64::from_str_radix(key, 16).ok()? != self.key {
            return None;
        }
        u64::from_str_radix(hex, 16).ok()
    }

    /// The command a marker's body (`KEY;cmd:HEX`) carries, if it has this session's key.
    fn command(&self, body: &[u8]) -> Option<String> {
        let body = std::str::from_utf8(body).ok()?;
        let (key, rest) = body.split_once(';')?;
        let hex = rest.strip_prefix("cmd:")?;
        if u64::from_str_radix(key, 16).ok()? != self.key || hex.len() % 2 != 0 {
            return None;
        }
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
            .collect();
        Some(String::from_utf8_lossy(&bytes?).into_owned())
    }

    /// The commands `system()` sent since the last call, in order.
    pub fn take_commands(&mut self) -> Vec<String> {
        std::mem::take(&mut self.commands)
    }

    /// `name+0xOFF/0xSIZE [module]` for `addr`, or the bare address if no symbol holds it.
    fn name(&mut self, addr: u64) -> String {
        let source = self.source.take();
        let table =
            self.table.get_or_insert_with(|| {
                parse_kallsyms(&source.unwrap_or_else(|| {
                    std::fs::read_to_string("/proc/kallsyms").unwrap_or_default()
                }))
            });
        let i = table.partition_point(|s| s.0 <= addr);
        if i == 0 {
            return format!("0x{:x}", addr);
        }
        let (start, name, module) = &table[i - 1];
        let size = table.get(i).map(|n| n.0 - start).unwrap_or(0);
        // Past the end of the last symbol of a region: not a function.
        if size > 16 << 20 {
            return format!("0x{:x}", addr);
        }
        let mut s = format!("{}+0x{:x}/0x{:x}", name, addr - start, size);
        if let Some(m) = module {
            s.push_str(&format!(" [{}]", m));
        }
        s
    }

    /// The bytes of `chunk` with its markers replaced; a possible marker cut by the chunk's
    /// end is held for the next call.
    pub fn process(&mut self, chunk: &[u8]) -> Vec<u8> {
        if self.held.is_empty() && !chunk.contains(&START[0]) {
            return chunk.to_vec();
        }
        let mut input = std::mem::take(&mut self.held);
        input.extend_from_slice(chunk);
        let mut out = Vec::with_capacity(input.len());
        let mut i = 0;
        while i < input.len() {
            // Output without markers passes in one copy up to the next ESC.
            if input[i] != START[0] {
                let run = input[i..]
                    .iter()
                    .position(|b| *b == START[0])
                    .unwrap_or(input.len() - i);
                out.extend_from_slice(&input[i..i + run]);
                i += run;
                continue;
            }
            let rest = &input[i..];
            let n = rest.len().min(START.len());
            if rest[..n] != START[..n] {
                out.push(input[i]);
                i += 1;
                continue;
            }
            if n < START.len() {
                // The chunk ends inside the prefix.
                self.held = rest.to_vec();
                return out;
            }
            match rest.iter().take(MAX).position(|b| *b == END) {
                Some(e) => {
                    let body = &rest[START.len()..e];
                    if let Some(cmd) = self.command(body) {
                        self.commands.push(cmd);
                    } else {
                        match self.address(body) {
                            Some(addr) => out.extend_from_slice(self.name(addr).as_bytes()),
                            None => out.extend_from_slice(&rest[..=e]),
                        }
                    }
                    i += e + 1;
                }
                None if rest.len() < MAX => {
                    self.held = rest.to_vec();
                    return out;
                }
                None => {
                    out.push(input[i]);
                    i += 1;
                }
            }
        }
        out
    }

    /// What is still held at the end of the stream, as it came.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KALLSYMS: &str = "ffffffff81000000 T _stext\n\
                            ffffffff81367680 T ksys_write\n\
                            ffffffff81367780 t ksys_read\n\
                            ffffffff81400000 D some_data\n\
                            ffffffffc0001000 t stapmod_write\t[stapmod_test]\n\
                            ffffffffc0001100 t stapmod_exit\t[stapmod_test]\n";

    const KEY: u64 = 0x5eed_0123_4567_89ab;

    fn marker_with(key: u64, addr: u64) -> Vec<u8> {
        let mut m = START.to_vec();
        m.extend_from_slice(format!("{:016x};{:016x}", key, addr).as_bytes());
        m.push(END);
        m
    }

    fn marker(addr: u64) -> Vec<u8> {
        marker_with(KEY, addr)
    }

    fn command_marker(key: u64, cmd: &str) -> Vec<u8> {
        let mut m = START.to_vec();
        m.extend_from_slice(format!("{:016x};cmd:", key).as_bytes());
        for b in cmd.bytes() {
            m.extend_from_slice(format!("{:02x}", b).as_bytes());
        }
        m.push(END);
        m
    }

    #[test]
    fn command_markers_are_taken_out_and_kept_in_order_across_chunks() {
        let mut s = Symbolizer::with_symbols(KEY, Some(KALLSYMS.into()));
        let mut stream = b"a\n".to_vec();
        stream.extend(command_marker(KEY, "echo 'hi' > /tmp/x"));
        stream.extend_from_slice(b"b\n");
        stream.extend(command_marker(KEY, "true"));
        let (one, two) = stream.split_at(20);
        let mut out = s.process(one);
        out.extend(s.process(two));
        assert_eq!(out, b"a\nb\n");
        assert_eq!(
            s.take_commands(),
            vec!["echo 'hi' > /tmp/x".to_string(), "true".to_string()]
        );
        assert!(s.take_commands().is_empty());
        // Without the session's key, nothing is run and the bytes pass as they came.
        let forged = command_marker(KEY ^ 1, "reboot");
        assert_eq!(s.process(&forged), forged);
        assert!(s.take_commands().is_empty());
    }

    #[test]
    fn a_marker_without_the_key_passes_as_it_came() {
        let mut s = Symbolizer::with_symbols(KEY, Some(KALLSYMS.into()));
        let forged = marker_with(KEY ^ 1, 0xffffffff81367691);
        assert_eq!(s.process(&forged), forged);
        // The old form without a key is not a marker either.
        let old = b"\x1b]stp-sym;ffffffff81367691\x07".to_vec();
        assert_eq!(s.process(&old), old);
        assert_eq!(
            String::from_utf8(s.process(&marker(0xffffffff81367691))).unwrap(),
            "ksys_write+0x11/0x100"
        );
    }

    #[test]
    fn markers_become_symbol_offset_and_size() {
        let mut s = Symbolizer::with_symbols(KEY, Some(KALLSYMS.into()));
        let mut input = b" 0xffffffff81367691 : ".to_vec();
        input.extend(marker(0xffffffff81367691));
        input.extend_from_slice(b"\n : ");
        input.extend(marker(0xffffffffc0001010));
        input.push(b'\n');
        assert_eq!(
            String::from_utf8(s.process(&input)).unwrap(),
            " 0xffffffff81367691 : ksys_write+0x11/0x100\n : stapmod_write+0x10/0x100 [stapmod_test]\n"
        );
    }

    #[test]
    fn a_marker_split_across_reads_is_joined_and_other_bytes_pass() {
        let mut s = Symbolizer::with_symbols(KEY, Some(KALLSYMS.into()));
        let mut input = b"a\x1bb ".to_vec();
        input.extend(marker(0xffffffff81367780));
        input.extend_from_slice(b" z");
        let mut out = Vec::new();
        for piece in input.chunks(3) {
            out.extend(s.process(piece));
        }
        out.extend(s.finish());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\x1bb ksys_read+0x0/0x98880 z"
        );
        // An address below every symbol stays an address; a cut prefix at the end stays.
        let mut t = Symbolizer::with_symbols(KEY, Some(KALLSYMS.into()));
        let out = t.process(&marker(0x1000));
        assert_eq!(String::from_utf8(out).unwrap(), "0x1000");
        assert!(t.process(b"x\x1b]stp").ends_with(b"x"));
        assert_eq!(t.finish(), b"\x1b]stp");
    }
}

//! printf formats as pass 2 checks them: the argument types each conversion consumes.

use crate::ir::Type;

/// One conversion of a printf format: the argument types it consumes.
pub(crate) fn format_args(fmt: &[u8]) -> Result<Vec<Type>, String> {
    parse(fmt, &mut Vec::new())
}

/// True when a format (one pass 2 accepted) has `%m` or `%M`, which read memory at an
/// address and so can fault.
pub fn reads_memory(fmt: &str) -> bool {
    let mut convs = Vec::new();
    let _ = parse(fmt.as_bytes(), &mut convs);
    convs.iter().any(|c| matches!(c, b'm' | b'M'))
}

/// The argument types of a format's conversions; each conversion's letter goes to `convs`.
fn parse(fmt: &[u8], convs: &mut Vec<u8>) -> Result<Vec<Type>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            i += 1;
            continue;
        }
        i += 1;
        if fmt.get(i) == Some(&b'%') {
            i += 1;
            continue;
        }
        // As SystemTap: a 0 after another flag is the width's first digit, so a `*`
        // after it is no conversion (`%#0*x` is refused).
        let flags_start = i;
        while i < fmt.len() && b"-+ #0".contains(&fmt[i]) && (fmt[i] != b'0' || i == flags_start) {
            i += 1;
        }
        // Width, then an optional `.precision`: each is digits or a `*` argument.
        i = width(fmt, i, &mut out);
        if fmt.get(i) == Some(&b'.') {
            i = width(fmt, i + 1, &mut out);
        }
        // Length modifiers are accepted and ignored, as in SystemTap.
        while i < fmt.len() && b"hlLqjzt".contains(&fmt[i]) {
            i += 1;
        }
        match fmt.get(i) {
            // %m and %M read memory at an address.
            Some(b'd' | b'i' | b'u' | b'o' | b'x' | b'X' | b'p' | b'c' | b'b' | b'm' | b'M') => {
                out.push(Type::Long)
            }
            Some(b's') => out.push(Type::String),
            _ => return Err("invalid or missing conversion specifier in format string".into()),
        }
        convs.push(fmt[i]);
        i += 1;
    }
    Ok(out)
}

/// Skips a width or precision at `i` (digits, or `*` which takes a long argument).
fn width(fmt: &[u8], mut i: usize, out: &mut Vec<Type>) -> usize {
    if fmt.get(i) == Some(&b'*') {
        out.push(Type::Long);
        return i + 1;
    }
    while i < fmt.len() && fmt[i].is_ascii_digit() {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_conversions() {
        assert_eq!(
            format_args(b"%d %s %%\n").unwrap(),
            vec![Type::Long, Type::String]
        );
        assert_eq!(
            format_args(b"%*.*s").unwrap(),
            vec![Type::Long, Type::Long, Type::String]
        );
        assert_eq!(format_args(b"%-10lx%#o%+5i").unwrap(), vec![Type::Long; 3]);
        assert!(format_args(b"%q").is_err());
        assert_eq!(format_args(b"%-05d%0-5d").unwrap(), vec![Type::Long; 2]);
        assert!(format_args(b"%#0*x").is_err());
        assert!(format_args(b"%").is_err());
    }
}

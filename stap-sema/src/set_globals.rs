//! `-G VAR=VALUE`: a global's initial value given on the command line.
//!
//! SystemTap passes these to the module when it loads it; this translator builds the
//! module for the run, so the value becomes the global's initial value here, after types
//! are known: a number for a long global, the text as is for a string one.

use crate::ir::{Program, Type};
use stap_syntax::ast::Literal;
use stap_syntax::diag::{Diagnostic, Pass};

/// Parses a number as SystemTap's literals are written: decimal, `0x` hex or `0` octal,
/// with an optional minus sign.
fn number(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let magnitude = if let Some(h) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse::<u64>().ok()?
    };
    if neg {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        Some(magnitude as i64)
    }
}

/// Sets each `VAR=VALUE` as the initial value of scalar global VAR.
pub fn apply(prog: &mut Program, settings: &[String], diags: &mut Vec<Diagnostic>) {
    for s in settings {
        let err = |m: String| Diagnostic::plain(Pass::Semantic, "sema.set-global", m);
        let Some((name, value)) = s.split_once('=') else {
            diags.push(err(format!("-G {}: expected VAR=VALUE", s)));
            continue;
        };
        let Some(g) = prog
            .globals
            .iter_mut()
            .find(|g| g.name == name && !g.private)
        else {
            // Perhaps elided as unused: nothing to set, but say so (a typo, say).
            diags.push(
                err(format!("-G {}: the script uses no global '{}'", s, name)).into_warning(),
            );
            continue;
        };
        if g.is_array {
            diags.push(err(format!("-G {}: '{}' is an array", s, name)));
            continue;
        }
        g.init = match g.ty {
            Type::String => Some(Literal::String(stap_syntax::lexer::escape_bytes(
                value.as_bytes(),
            ))),
            Type::Long => match number(value) {
                Some(v) => Some(Literal::Number(v)),
                None => {
                    diags.push(err(format!(
                        "-G {}: '{}' is a number, and '{}' is not one",
                        s, name, value
                    )));
                    continue;
                }
            },
            // Untyped: pass 2 reports the global itself.
            _ => continue,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_are_read_as_literals_are() {
        assert_eq!(number("12"), Some(12));
        assert_eq!(number("-12"), Some(-12));
        assert_eq!(number("0x1f"), Some(31));
        assert_eq!(number("017"), Some(15));
        assert_eq!(number("0"), Some(0));
        assert_eq!(number("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(number("abc"), None);
        assert_eq!(number(""), None);
    }
}

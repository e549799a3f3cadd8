//! Syntax check of regular expressions at pass 2 (the grammar of the runtime's matcher,
//! runtime-c/common/stp_regex.h): SystemTap rejects a bad pattern at translation time.

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

/// Program size limit, as the runtime's STP_RE_MAXINST (an estimate: one unit a token).
const MAX_SIZE: usize = 256;

impl P<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn alt(&mut self, size: &mut usize) -> Result<(), String> {
        self.concat(size)?;
        while self.peek() == Some(b'|') {
            self.i += 1;
            *size += 2;
            self.concat(size)?;
        }
        Ok(())
    }

    fn concat(&mut self, size: &mut usize) -> Result<(), String> {
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let before = *size;
            self.atom(size)?;
            while let Some(op) = self.peek() {
                match op {
                    b'*' | b'+' | b'?' => {
                        self.i += 1;
                        *size += 2;
                    }
                    b'{' => {
                        self.i += 1;
                        let min = self.number()?;
                        let mut max = min;
                        if self.peek() == Some(b',') {
                            self.i += 1;
                            max = self.number()?;
                        }
                        if self.peek() != Some(b'}') {
                            return Err("unterminated repetition count".into());
                        }
                        self.i += 1;
                        let Some(min) = min else {
                            return Err("missing repetition count".into());
                        };
                        if max.is_some_and(|m| m < min) {
                            return Err("repetition bounds out of order".into());
                        }
                        let copies = max.unwrap_or(min + 1).max(1);
                        *size += (*size - before + 1) * copies;
                    }
                    _ => break,
                }
            }
            if *size > MAX_SIZE {
                return Err("pattern too large".into());
            }
        }
        Ok(())
    }

    fn number(&mut self) -> Result<Option<usize>, String> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if start == self.i {
            return Ok(None);
        }
        let n: usize = std::str::from_utf8(&self.s[start..self.i])
            .unwrap_or("0")
            .parse()
            .unwrap_or(usize::MAX);
        if n > 255 {
            return Err("repetition count too large".into());
        }
        Ok(Some(n))
    }

    fn atom(&mut self, size: &mut usize) -> Result<(), String> {
        let c = self.peek().ok_or("unexpected end of pattern")?;
        self.i += 1;
        *size += 1;
        match c {
            b'(' => {
                self.alt(size)?;
                if self.peek() != Some(b')') {
                    return Err("missing ')'".into());
                }
                self.i += 1;
            }
            b'[' => {
                if self.peek() == Some(b'^') {
                    self.i += 1;
                }
                let mut first = true;
                loop {
                    match self.peek() {
                        None => return Err("missing ']'".into()),
                        Some(b']') if !first => break,
                        Some(b'\\') => self.i += 2,
                        Some(_) => self.i += 1,
                    }
                    first = false;
                }
                self.i += 1;
            }
            b'\\' => {
                if self.peek().is_none() {
                    return Err("trailing backslash".into());
                }
                self.i += 1;
            }
            b'*' | b'+' | b'?' | b'{' => {
                return Err(format!("'{}' has nothing to repeat", c as char));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Checks a pattern; the error says what is wrong.
pub fn check(pattern: &[u8]) -> Result<(), String> {
    let mut p = P { s: pattern, i: 0 };
    let mut size = 1;
    p.alt(&mut size)?;
    if p.i < pattern.len() {
        return Err("unmatched ')'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_and_rejects() {
        for ok in [
            "abc", "^a.*b$", "(a|b)*c", "[a-z]+", "[]x]", "x{2,3}", "x{2,}", "\\.", "",
        ] {
            assert!(check(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in ["a(b", "a)b", "[abc", "*a", "x{3,2}", "x{", "a\\", "(*)"] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}

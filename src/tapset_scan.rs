//! The lexical scan behind the tapset index (`tapset_index.rs`): what a tapset file defines
//! and mentions.  `build.rs` includes this file too, to index the embedded library at build
//! time, so it uses nothing but `std`.

/// One token of the scan.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok<'a> {
    Ident(&'a str),
    Punct(u8),
}

/// The identifiers and punctuation of `text`, without comments, string literals and
/// embedded C (`%{ ... %}`).
fn tokens(text: &str) -> Vec<Tok<'_>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'#' || (c == b'/' && b.get(i + 1) == Some(&b'/')) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = find(b, i + 2, b"*/").map_or(b.len(), |e| e + 2);
        } else if c == b'%' && b.get(i + 1) == Some(&b'{') {
            i = find(b, i + 2, b"%}").map_or(b.len(), |e| e + 2);
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(&text[start..i]));
        } else {
            if !c.is_ascii_whitespace() {
                out.push(Tok::Punct(c));
            }
            i += 1;
        }
    }
    out
}

fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    (from..b.len().saturating_sub(pat.len() - 1)).find(|&j| b[j..].starts_with(pat))
}

/// What a file defines (names) and mentions (identifiers), and whether a probe point in it
/// starts with a wildcard.
pub struct Scan<'a> {
    /// The names it defines: functions, globals, first components of probe aliases,
    /// macros.
    pub defines: Vec<&'a str>,
    /// Every identifier it mentions, sorted, once each.
    pub mentions: Vec<&'a str>,
    /// Whether a probe point in it starts with a wildcard.
    pub wildcard_point: bool,
}

/// Scans one file.
pub fn scan(text: &str) -> Scan<'_> {
    let toks = tokens(text);
    let mut s = Scan {
        defines: Vec::new(),
        mentions: Vec::new(),
        wildcard_point: false,
    };
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match *t {
            Tok::Punct(b'{') => depth += 1,
            Tok::Punct(b'}') => depth = depth.saturating_sub(1),
            Tok::Ident(w) => {
                s.mentions.push(w);
                if depth > 0 {
                    continue;
                }
                match w {
                    "function" | "global" => {
                        if let Some(Tok::Ident(n)) = toks.get(i + 1) {
                            s.defines.push(n);
                        }
                    }
                    "probe" => probe_header(&toks[i + 1..], &mut s),
                    // `@define NAME`: a macro (a `.stpm` file's are used everywhere).
                    "define" if i > 0 && toks[i - 1] == Tok::Punct(b'@') => {
                        if let Some(Tok::Ident(n)) = toks.get(i + 1) {
                            s.defines.push(n);
                        }
                    }
                    _ => {}
                }
                // `global a, b, c`: the names after commas, up to the next declaration.
                if w == "global" {
                    let mut j = i + 2;
                    while let (Some(Tok::Punct(b',')), Some(Tok::Ident(n))) =
                        (toks.get(j), toks.get(j + 1))
                    {
                        s.defines.push(n);
                        j += 2;
                    }
                }
            }
            _ => {}
        }
    }
    s.mentions.sort_unstable();
    s.mentions.dedup();
    s
}

/// After `probe`: an alias definition (`NAME... =` or `+=` before the body) defines its
/// first component; a probe point list starting with `*` is a wildcard point.
fn probe_header<'a>(rest: &[Tok<'a>], s: &mut Scan<'a>) {
    if rest.first() == Some(&Tok::Punct(b'*')) {
        s.wildcard_point = true;
    }
    let Some(Tok::Ident(first)) = rest.first() else {
        return;
    };
    let mut paren = 0usize;
    for (j, t) in rest.iter().enumerate() {
        match t {
            Tok::Punct(b'(') => paren += 1,
            Tok::Punct(b')') => paren = paren.saturating_sub(1),
            Tok::Punct(b'{') => return,
            Tok::Punct(b'=') if paren == 0 => {
                let next_is_eq = rest.get(j + 1) == Some(&Tok::Punct(b'='));
                let prev_is_op = j > 0 && matches!(rest[j - 1], Tok::Punct(b'!' | b'<' | b'>'));
                if !next_is_eq && !prev_is_op {
                    s.defines.push(first);
                }
                return;
            }
            _ => {}
        }
    }
}

//! The preprocessor: `%( cond %? then %: else %)` conditionals, `@define` macros and
//! command-line argument substitution (`$1`, `@1`, `$#`, `@#`).
//!
//! It runs on the token stream of one file and produces the tokens the parser sees.
//! Only the branches it keeps are substituted and expanded, so a skipped branch may name
//! arguments that were not given.  Macros defined in `.stpm` tapset files form the
//! library table, visible to every file; macros defined elsewhere are local to their file.

use crate::diag::Diagnostic;
use crate::lexer::{escape_bytes, lex, Tok, Token};
use crate::source::{FileKind, SourceMap, Span};
use std::collections::HashMap;

/// The values preprocessor conditions test, taken from the target kernel and the session.
#[derive(Clone, Debug, Default)]
pub struct PpEnv {
    /// Command-line arguments after the script (`$1` is `args[0]`).
    pub args: Vec<String>,
    /// `kernel_v`: the target kernel's version without its local suffix (`6.1.0`).
    pub kernel_v: String,
    /// `kernel_vr`: the full release string (`6.1.0-28-amd64`).
    pub kernel_vr: String,
    /// `arch`: SystemTap's name for the target architecture (`x86_64`, `i386`, `arm64` ...).
    pub arch: String,
    /// `runtime`: `kernel` or `user`.
    pub runtime: String,
    /// `guru_mode`: `-g` given.
    pub guru: bool,
    /// `systemtap_privilege`: `stapdev`, `stapsys` or `stapusr`.
    pub privilege: String,
    /// `systemtap_v`: the language version in force (`--compatible`).
    pub compatible: String,
    /// The target kernel's configuration (`CONFIG_FOO` -> `y`, `m`, `42`, `"text"`).
    pub kconfig: HashMap<String, String>,
}

/// A macro defined with `@define`.
#[derive(Clone, Debug)]
pub struct Macro {
    /// Its name (without `@`).
    pub name: String,
    /// Parameter names (without `@`).
    pub params: Vec<String>,
    /// The body's tokens, unexpanded.
    pub body: Vec<Token>,
    /// Where it was defined.
    pub span: Span,
}

/// One macro expansion, for "in expansion of macro" notes.
#[derive(Clone, Debug)]
pub struct Expansion {
    /// The macro's name.
    pub name: String,
    /// The invocation.
    pub call: Span,
    /// Where the macro was defined.
    pub def: Span,
    /// The expansion the invocation itself came from (0: none).
    pub parent: u32,
}

/// The expansion table shared by every file of a run; entry 0 means "not expanded".
#[derive(Clone, Debug)]
pub struct Expansions(pub Vec<Expansion>);

impl Default for Expansions {
    fn default() -> Self {
        Expansions(vec![Expansion {
            name: String::new(),
            call: Span::default(),
            def: Span::default(),
            parent: 0,
        }])
    }
}

impl Expansions {
    /// Adds "in expansion of macro" labels for a token that came from expansion `idx`.
    pub fn annotate(&self, mut d: Diagnostic, mut idx: u32) -> Diagnostic {
        let mut guard = 0;
        while idx != 0 && guard < 64 {
            let e = &self.0[idx as usize];
            d = d
                .with_label(e.call, format!("in expansion of macro '@{}'", e.name))
                .with_label(e.def, format!("macro '@{}' defined here", e.name));
            idx = e.parent;
            guard += 1;
        }
        d
    }
}

/// Limit on nested macro expansions (catches recursive macros).
const MAX_EXPANSION_DEPTH: usize = 200;
/// Limit on the tokens one file may expand to (catches exponential macros).
const MAX_EXPANDED_TOKENS: usize = 4_000_000;

/// Preprocesses the token streams of one run.
pub struct Preprocessor<'a> {
    sm: &'a mut SourceMap,
    env: &'a PpEnv,
    expansions: &'a mut Expansions,
    library: &'a HashMap<String, std::rc::Rc<Macro>>,
    local: HashMap<String, std::rc::Rc<Macro>>,
    depth: usize,
    produced: usize,
}

impl<'a> Preprocessor<'a> {
    /// A preprocessor for one file, seeing the library macros `library`.
    pub fn new(
        sm: &'a mut SourceMap,
        env: &'a PpEnv,
        expansions: &'a mut Expansions,
        library: &'a HashMap<String, std::rc::Rc<Macro>>,
    ) -> Preprocessor<'a> {
        Preprocessor {
            sm,
            env,
            expansions,
            library,
            local: HashMap::new(),
            depth: 0,
            produced: 0,
        }
    }

    /// Preprocesses a file's tokens into what the parser reads.
    pub fn run(&mut self, toks: &[Token]) -> Result<Vec<Token>, Diagnostic> {
        let mut out = Vec::with_capacity(toks.len());
        self.process(toks, &mut out)?;
        Ok(out)
    }

    /// The macros the file defined (for `.stpm` library files).
    pub fn into_macros(self) -> HashMap<String, std::rc::Rc<Macro>> {
        self.local
    }

    fn err(&self, code: &'static str, msg: impl Into<String>, t: &Token) -> Diagnostic {
        self.expansions
            .annotate(Diagnostic::parse(code, msg, t.span), t.expansion)
    }

    fn text(&self, t: &Token) -> &str {
        self.sm.text(t.span)
    }

    fn process(&mut self, toks: &[Token], out: &mut Vec<Token>) -> Result<(), Diagnostic> {
        let mut i = 0;
        while i < toks.len() {
            let t = toks[i];
            match t.kind {
                Tok::PpOpen => i = self.conditional(toks, i, out)?,
                Tok::PpThen | Tok::PpElse | Tok::PpClose => {
                    return Err(self.err(
                        "parse.pp-marker",
                        format!(
                            "unexpected '{}' outside a preprocessor conditional",
                            self.text(&t)
                        ),
                        &t,
                    ))
                }
                Tok::ArgRef | Tok::ArgCount => {
                    self.substitute_arg(&t, out)?;
                    i += 1;
                }
                Tok::Ident if self.text(&t) == "@define" => i = self.define(toks, i)?,
                Tok::Ident if self.is_macro_call(&t) => i = self.expand(toks, i, out)?,
                _ => {
                    out.push(t);
                    i += 1;
                }
            }
            self.produced += 1;
            if out.len() > MAX_EXPANDED_TOKENS || self.produced > 4 * MAX_EXPANDED_TOKENS {
                return Err(self.err(
                    "parse.too-large",
                    "preprocessor output too large (runaway macro expansion?)",
                    &t,
                ));
            }
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<&std::rc::Rc<Macro>> {
        self.local.get(name).or_else(|| self.library.get(name))
    }

    fn is_macro_call(&self, t: &Token) -> bool {
        let text = self.text(t);
        text.len() > 1 && text.starts_with('@') && self.lookup(&text[1..]).is_some()
    }

    /// Finds the end of a `%( ... %)` group that starts at `open` (an index of `%(`),
    /// returning the index of the matching `%)` and of the top-level `%?` and `%:`.
    fn scan_group(
        &self,
        toks: &[Token],
        open: usize,
    ) -> Result<(usize, Option<usize>, Option<usize>), Diagnostic> {
        let mut depth = 0usize;
        let mut then = None;
        let mut els = None;
        for (j, t) in toks.iter().enumerate().skip(open) {
            match t.kind {
                Tok::PpOpen => depth += 1,
                Tok::PpClose => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok((j, then, els));
                    }
                }
                Tok::PpThen if depth == 1 && then.is_none() => then = Some(j),
                Tok::PpThen if depth == 1 => {
                    return Err(self.err(
                        "parse.pp-marker",
                        "unexpected second '%?' in conditional",
                        t,
                    ))
                }
                Tok::PpElse if depth == 1 && els.is_none() && then.is_some() => els = Some(j),
                Tok::PpElse if depth == 1 => {
                    return Err(self.err("parse.pp-marker", "unexpected '%:' in conditional", t))
                }
                _ => {}
            }
        }
        Err(self.err(
            "parse.pp-incomplete",
            "incomplete conditional: missing '%)' before end of file",
            &toks[open],
        ))
    }

    fn conditional(
        &mut self,
        toks: &[Token],
        i: usize,
        out: &mut Vec<Token>,
    ) -> Result<usize, Diagnostic> {
        let (close, then, els) = self.scan_group(toks, i)?;
        let Some(then) = then else {
            return Err(self.err(
                "parse.pp-expected-then",
                "expected '%?' marker for conditional",
                &toks[i],
            ));
        };
        // The condition may itself use $N, @N, $#, @# and macros.
        let mut cond = Vec::new();
        self.process(&toks[i + 1..then], &mut cond)?;
        let value = CondParser {
            pp: self,
            toks: &cond,
            pos: 0,
            at: toks[then],
        }
        .eval()?;
        let (start, end) = match (value, els) {
            (true, Some(e)) => (then + 1, e),
            (true, None) => (then + 1, close),
            (false, Some(e)) => (e + 1, close),
            (false, None) => (close, close),
        };
        self.process(&toks[start..end], out)?;
        Ok(close + 1)
    }

    fn define(&mut self, toks: &[Token], i: usize) -> Result<usize, Diagnostic> {
        let at = toks[i];
        let mut j = i + 1;
        let name_tok = toks
            .get(j)
            .copied()
            .filter(|t| t.kind == Tok::Ident || t.kind.is_keyword());
        let Some(name_tok) = name_tok else {
            return Err(self.err(
                "parse.macro-name",
                "expected identifier after '@define'",
                toks.get(j).unwrap_or(&at),
            ));
        };
        let name = self.text(&name_tok).to_string();
        if name.starts_with('@') || name.starts_with('$') {
            return Err(self.err(
                "parse.macro-name",
                "expected a plain identifier as macro name",
                &name_tok,
            ));
        }
        if name == "define" {
            return Err(self.err(
                "parse.macro-name",
                "attempt to redefine '@define'",
                &name_tok,
            ));
        }
        j += 1;
        let mut params = Vec::new();
        if toks.get(j).map(|t| t.kind) == Some(Tok::LParen) {
            j += 1;
            loop {
                let Some(t) = toks.get(j).copied() else {
                    return Err(self.err(
                        "parse.macro-params",
                        "expected ')' to end macro parameters",
                        &name_tok,
                    ));
                };
                match t.kind {
                    Tok::RParen if params.is_empty() => {
                        j += 1;
                        break;
                    }
                    Tok::Ident => {
                        let p = self.text(&t).to_string();
                        if p.starts_with('@') || p.starts_with('$') {
                            return Err(self.err(
                                "parse.macro-params",
                                "expected a plain identifier as macro parameter",
                                &t,
                            ));
                        }
                        if params.contains(&p) {
                            return Err(self.err(
                                "parse.macro-params",
                                format!("duplicate macro parameter '{}'", p),
                                &t,
                            ));
                        }
                        params.push(p);
                        j += 1;
                        match toks.get(j).map(|t| t.kind) {
                            Some(Tok::Comma) => j += 1,
                            Some(Tok::RParen) => {
                                j += 1;
                                break;
                            }
                            _ => {
                                return Err(self.err(
                                    "parse.macro-params",
                                    "expected ',' or ')' in macro parameters",
                                    toks.get(j).unwrap_or(&t),
                                ))
                            }
                        }
                    }
                    _ => {
                        return Err(self.err(
                            "parse.macro-params",
                            "expected identifier in macro parameters",
                            &t,
                        ))
                    }
                }
            }
        }
        match toks.get(j) {
            Some(t) if t.kind == Tok::PpOpen => {}
            other => {
                return Err(self.err(
                    "parse.macro-body",
                    "expected '%(' to start the macro body",
                    other.unwrap_or(&name_tok),
                ))
            }
        }
        let (close, _, _) = self.scan_group(toks, j)?;
        if self.local.contains_key(&name) {
            return Err(self.err(
                "parse.macro-redefined",
                format!("attempt to redefine macro '@{}' in the same file", name),
                &name_tok,
            ));
        }
        self.local.insert(
            name.clone(),
            std::rc::Rc::new(Macro {
                name,
                params,
                body: toks[j + 1..close].to_vec(),
                span: at.span.to(name_tok.span),
            }),
        );
        Ok(close + 1)
    }

    fn expand(
        &mut self,
        toks: &[Token],
        i: usize,
        out: &mut Vec<Token>,
    ) -> Result<usize, Diagnostic> {
        let call = toks[i];
        let name = self.text(&call)[1..].to_string();
        // Macros are shared (Rc): an expansion does not copy the definition.
        let Some(m) = self.lookup(&name).cloned() else {
            unreachable!("is_macro_call checked the name");
        };
        let mut j = i + 1;
        let mut args: Vec<&[Token]> = Vec::new();
        if !m.params.is_empty() {
            if toks.get(j).map(|t| t.kind) != Some(Tok::LParen) {
                return Err(self.err(
                    "parse.macro-args",
                    format!(
                        "expected '(' after macro '@{}', which takes {} parameter(s)",
                        name,
                        m.params.len()
                    ),
                    &call,
                ));
            }
            j += 1;
            let mut depth = 0usize;
            let mut start = j;
            loop {
                let Some(t) = toks.get(j) else {
                    return Err(self.err(
                        "parse.macro-args",
                        format!("unterminated arguments of macro '@{}'", name),
                        &call,
                    ));
                };
                match t.kind {
                    Tok::LParen | Tok::LBracket | Tok::LBrace | Tok::PpOpen => depth += 1,
                    Tok::RParen if depth == 0 => {
                        args.push(&toks[start..j]);
                        j += 1;
                        break;
                    }
                    Tok::RParen | Tok::RBracket | Tok::RBrace | Tok::PpClose => {
                        depth = depth.saturating_sub(1)
                    }
                    Tok::Comma if depth == 0 => {
                        args.push(&toks[start..j]);
                        start = j + 1;
                    }
                    _ => {}
                }
                j += 1;
            }
            if args.len() != m.params.len() {
                return Err(self.err(
                    "parse.macro-args",
                    format!(
                        "macro '@{}' takes {} argument(s), but {} were given",
                        name,
                        m.params.len(),
                        args.len()
                    ),
                    &call,
                ));
            }
        }
        if self.depth >= MAX_EXPANSION_DEPTH {
            return Err(self.err(
                "parse.macro-recursion",
                format!("macro '@{}' expands too deeply (recursive macro?)", name),
                &call,
            ));
        }
        self.expansions.0.push(Expansion {
            name: name.clone(),
            call: call.span,
            def: m.span,
            parent: call.expansion,
        });
        let idx = self.expansions.0.len() as u32 - 1;
        let mut body = Vec::with_capacity(m.body.len());
        for t in &m.body {
            let text = self.sm.text(t.span);
            if t.kind == Tok::Ident && text.starts_with('@') {
                if let Some(p) = m.params.iter().position(|p| p == &text[1..]) {
                    body.extend_from_slice(args[p]);
                    continue;
                }
            }
            let mut t = *t;
            t.expansion = idx;
            body.push(t);
        }
        self.depth += 1;
        let r = self.process(&body, out);
        self.depth -= 1;
        r?;
        Ok(j)
    }

    fn substitute_arg(&mut self, t: &Token, out: &mut Vec<Token>) -> Result<(), Diagnostic> {
        let text = self.text(t).to_string();
        let as_string = text.starts_with('@');
        let value = if t.kind == Tok::ArgCount {
            self.env.args.len().to_string()
        } else {
            let Ok(n) = text[1..].parse::<usize>() else {
                return Err(self.err(
                    "parse.arg-number",
                    format!("bad command line argument number in '{}'", text),
                    t,
                ));
            };
            if n == 0 || n > self.env.args.len() {
                let range = if self.env.args.is_empty() {
                    "no arguments were given".to_string()
                } else {
                    format!("[1-{}]", self.env.args.len())
                };
                return Err(self.err(
                    "parse.arg-range",
                    format!("command line argument index {} out of range {}", n, range),
                    t,
                ));
            }
            self.env.args[n - 1].clone()
        };
        let src = if as_string {
            format!("\"{}\"", escape_bytes(value.as_bytes()))
        } else {
            value
        };
        let file = self
            .sm
            .add(format!("<argument {}>", text), src, FileKind::Argument);
        let toks = lex(file, &self.sm.file(file).text)
            .map_err(|d| d.with_label(t.span, format!("in substitution of '{}'", text)))?;
        for mut nt in toks {
            nt.expansion = t.expansion;
            out.push(nt);
        }
        Ok(())
    }
}

/// Evaluates one preprocessor condition.
struct CondParser<'p, 'a> {
    pp: &'p Preprocessor<'a>,
    toks: &'p [Token],
    pos: usize,
    at: Token,
}

#[derive(Debug, PartialEq)]
enum Val {
    Num(i64),
    Str(String),
    /// The value of another CONFIG_ option.
    Cfg(String),
}

impl CondParser<'_, '_> {
    fn eval(&mut self) -> Result<bool, Diagnostic> {
        if self.toks.is_empty() {
            return Err(self.pp.err(
                "parse.pp-condition",
                "expected a preprocessor condition before '%?'",
                &self.at,
            ));
        }
        let v = self.or()?;
        if let Some(t) = self.toks.get(self.pos) {
            return Err(self.pp.err(
                "parse.pp-condition",
                "expected '&&', '||' or '%?' in preprocessor condition",
                t,
            ));
        }
        Ok(v)
    }

    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).map(|t| t.kind)
    }

    fn or(&mut self) -> Result<bool, Diagnostic> {
        let mut v = self.and()?;
        while self.peek() == Some(Tok::OrOr) {
            self.pos += 1;
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, Diagnostic> {
        let mut v = self.atom()?;
        while self.peek() == Some(Tok::AndAnd) {
            self.pos += 1;
            let r = self.atom()?;
            v = v && r;
        }
        Ok(v)
    }

    fn next_tok(&mut self, what: &str) -> Result<Token, Diagnostic> {
        match self.toks.get(self.pos) {
            Some(t) => {
                self.pos += 1;
                Ok(*t)
            }
            None => Err(self.pp.err(
                "parse.pp-condition",
                format!("expected {} in preprocessor condition", what),
                &self.at,
            )),
        }
    }

    fn literal(&mut self) -> Result<(Val, Token), Diagnostic> {
        if let Some(t) = self.toks.get(self.pos).copied() {
            let text = self.pp.text(&t);
            if t.kind == Tok::Ident && text.starts_with("CONFIG_") {
                self.pos += 1;
                let v = self.pp.env.kconfig.get(text).cloned().unwrap_or_default();
                return Ok((Val::Cfg(v), t));
            }
        }
        let mut t = self.next_tok("a number or string")?;
        let neg = t.kind == Tok::Minus;
        if neg {
            t = self.next_tok("a number")?;
        }
        let text = self.pp.text(&t);
        match t.kind {
            Tok::Number => {
                let n = parse_number(text).ok_or_else(|| {
                    self.pp
                        .err("parse.number", "number invalid or out of range", &t)
                })?;
                Ok((Val::Num(if neg { n.wrapping_neg() } else { n }), t))
            }
            Tok::Str if !neg => {
                let b = crate::lexer::decode_string(text)
                    .map_err(|m| self.pp.err("parse.string", m, &t))?;
                Ok((Val::Str(String::from_utf8_lossy(&b).into_owned()), t))
            }
            _ => Err(self.pp.err(
                "parse.pp-condition",
                "expected a number or string in preprocessor condition",
                &t,
            )),
        }
    }

    fn atom(&mut self) -> Result<bool, Diagnostic> {
        let t = *self.toks.get(self.pos).ok_or_else(|| {
            self.pp.err(
                "parse.pp-condition",
                "expected a preprocessor condition",
                &self.at,
            )
        })?;
        let lhs = if t.kind == Tok::Ident {
            self.pos += 1;
            Lhs::Name(self.pp.text(&t).to_string())
        } else {
            Lhs::Val(self.literal()?.0)
        };
        let op_tok = self.next_tok("a comparison operator")?;
        let op = match op_tok.kind {
            Tok::EqEq => Cmp::Eq,
            Tok::Ne => Cmp::Ne,
            Tok::Lt => Cmp::Lt,
            Tok::Le => Cmp::Le,
            Tok::Gt => Cmp::Gt,
            Tok::Ge => Cmp::Ge,
            _ => {
                return Err(self.pp.err(
                    "parse.pp-condition",
                    "expected comparison operator in preprocessor condition",
                    &op_tok,
                ))
            }
        };
        let (rhs, rtok) = self.literal()?;
        let env = self.pp.env;
        let mismatch = |pp: &Preprocessor, what: &str| {
            pp.err(
                "parse.pp-condition",
                format!("expected {} on the right of this comparison", what),
                &rtok,
            )
        };
        match lhs {
            Lhs::Name(name) => match name.as_str() {
                "kernel_v" | "kernel_vr" | "systemtap_v" => {
                    let (Val::Str(r) | Val::Cfg(r)) = rhs else { return Err(mismatch(self.pp, "a version string")) };
                    let l = match name.as_str() {
                        "kernel_v" => &env.kernel_v,
                        "kernel_vr" => &env.kernel_vr,
                        _ => &env.compatible,
                    };
                    if has_glob(&r) && matches!(op, Cmp::Eq | Cmp::Ne) {
                        Ok(glob_match(&r, l) == (op == Cmp::Eq))
                    } else {
                        Ok(op.test(version_cmp(l, &r)))
                    }
                }
                "arch" | "runtime" | "systemtap_privilege" => {
                    let (Val::Str(r) | Val::Cfg(r)) = rhs else { return Err(mismatch(self.pp, "a string")) };
                    let l = match name.as_str() {
                        "arch" => &env.arch,
                        "runtime" => &env.runtime,
                        _ => &env.privilege,
                    };
                    match op {
                        Cmp::Eq => Ok(glob_match(&r, l)),
                        Cmp::Ne => Ok(!glob_match(&r, l)),
                        _ => Err(self.pp.err(
                            "parse.pp-condition",
                            format!("'{}' can only be compared with '==' or '!='", name),
                            &op_tok,
                        )),
                    }
                }
                "guru_mode" => {
                    let Val::Num(r) = rhs else { return Err(mismatch(self.pp, "a number")) };
                    if r != 0 && r != 1 {
                        return Err(mismatch(self.pp, "0 or 1"));
                    }
                    match op {
                        Cmp::Eq => Ok(env.guru == (r == 1)),
                        Cmp::Ne => Ok(env.guru != (r == 1)),
                        _ => Err(self.pp.err(
                            "parse.pp-condition",
                            "'guru_mode' can only be compared with '==' or '!='",
                            &op_tok,
                        )),
                    }
                }
                n if n.starts_with("CONFIG_") => {
                    // Unset options are "" and compare equal to 0.
                    let l = env.kconfig.get(n).cloned().unwrap_or_default();
                    let num = |s: &str| if s.is_empty() { Some(0) } else { parse_number(s) };
                    match rhs {
                        Val::Str(r) => match op {
                            Cmp::Eq => Ok(glob_match(&r, &l)),
                            Cmp::Ne => Ok(!glob_match(&r, &l)),
                            _ => Ok(op.test(l.as_str().cmp(r.as_str()))),
                        },
                        Val::Cfg(r) => match (parse_number(&l), parse_number(&r)) {
                            (Some(a), Some(b)) => Ok(op.test(a.cmp(&b))),
                            _ => Ok(op.test(l.as_str().cmp(r.as_str()))),
                        },
                        Val::Num(r) => {
                            let Some(lv) = num(&l) else {
                                return Err(self.pp.err(
                                    "parse.pp-condition",
                                    format!("{} is '{}' in the kernel configuration, not a number", n, l),
                                    &t,
                                ));
                            };
                            Ok(op.test(lv.cmp(&r)))
                        }
                    }
                }
                _ => Err(self.pp.err(
                    "parse.pp-condition",
                    "expected 'arch', 'kernel_v', 'kernel_vr', 'systemtap_v', 'runtime', 'systemtap_privilege', 'guru_mode', a CONFIG_ option, or a literal",
                    &t,
                )),
            },
            Lhs::Val(Val::Num(l)) => match rhs {
                Val::Num(r) => Ok(op.test(l.cmp(&r))),
                _ => Err(mismatch(self.pp, "a number, as on the left,")),
            },
            Lhs::Val(Val::Str(l) | Val::Cfg(l)) => match rhs {
                Val::Str(r) | Val::Cfg(r) => Ok(op.test(l.cmp(&r))),
                Val::Num(_) => Err(mismatch(self.pp, "a string, as on the left,")),
            },
        }
    }
}

enum Lhs {
    Name(String),
    Val(Val),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Cmp::Eq => o == Equal,
            Cmp::Ne => o != Equal,
            Cmp::Lt => o == Less,
            Cmp::Le => o != Greater,
            Cmp::Gt => o == Greater,
            Cmp::Ge => o != Less,
        }
    }
}

/// Parses a SystemTap integer literal (decimal, `0x` hex, `0` octal), allowing values up
/// to 2^64-1 that wrap into the signed range as SystemTap does.
pub fn parse_number(text: &str) -> Option<i64> {
    let (digits, radix) =
        if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            (h, 16)
        } else if text.len() > 1 && text.starts_with('0') {
            (&text[1..], 8)
        } else {
            (text, 10)
        };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok().map(|v| v as i64)
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Shell-style glob matching (`*`, `?`, `[set]`), as fnmatch(3) without flags.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    // Most patterns (probe point components, alias names) are plain names.
    if !pattern.contains(['*', '?', '[']) {
        return pattern == text;
    }
    if pattern.is_ascii() && text.is_ascii() {
        return glob_at(pattern.as_bytes(), text.as_bytes());
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_at(&p, &t)
}

/// A symbol of a glob's pattern or text: a byte of ASCII text, or a char.
trait GlobSym: Copy + PartialEq + PartialOrd {
    fn is(self, c: u8) -> bool;
}

impl GlobSym for u8 {
    fn is(self, c: u8) -> bool {
        self == c
    }
}

impl GlobSym for char {
    fn is(self, c: u8) -> bool {
        self == c as char
    }
}

fn glob_at<T: GlobSym>(p: &[T], t: &[T]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            let c = p[pi];
            if c.is(b'*') {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            if c.is(b'?') {
                pi += 1;
                ti += 1;
                continue;
            }
            if c.is(b'[') {
                if let Some((matched, next)) = class_match(&p[pi..], t[ti]) {
                    if matched {
                        pi += next;
                        ti += 1;
                        continue;
                    }
                } else if t[ti].is(b'[') {
                    pi += 1;
                    ti += 1;
                    continue;
                }
            } else if c == t[ti] {
                pi += 1;
                ti += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c.is(b'*'))
}

/// Matches `c` against the bracket expression at the start of `p`; returns whether it
/// matched and the expression's length, or None when the bracket is not closed.
fn class_match<T: GlobSym>(p: &[T], c: T) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = p.get(1).is_some_and(|x| x.is(b'!') || x.is(b'^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i].is(b']') && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if i + 2 < p.len() && p[i + 1].is(b'-') && !p[i + 2].is(b']') {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// Compares version strings like strverscmp(3): digit runs compare as numbers.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = std::str::from_utf8(&a[si..i])
                .unwrap_or("0")
                .trim_start_matches('0');
            let nb = std::str::from_utf8(&b[sj..j])
                .unwrap_or("0")
                .trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(version_cmp("2.6.30", "2.6.9"), Greater);
        assert_eq!(version_cmp("3.5", "3.5"), Equal);
        assert_eq!(version_cmp("6.1.0", "6.1"), Greater);
        assert_eq!(version_cmp("1.2", "1.10"), Less);
    }

    #[test]
    fn globs_match() {
        assert!(glob_match("i?86", "i686"));
        assert!(glob_match("x86*", "x86_64"));
        assert!(!glob_match("arm*", "x86_64"));
        assert!(glob_match("[ab]c", "bc"));
        assert!(glob_match("", ""));
        // Plain names compare whole; non-ASCII text goes by characters.
        assert!(glob_match("sys_read", "sys_read"));
        assert!(!glob_match("sys_read", "sys_readv"));
        assert!(glob_match("h?llo*", "hällo wörld"));
        assert!(!glob_match("h?llo", "hällo wörld"));
        assert!(glob_match("[!a-c]x", "dx"));
        assert!(!glob_match("[!a-c]x", "bx"));
        assert!(glob_match("a[b", "a[b"));
        assert!(glob_match("*[*", "x[y["));
    }

    #[test]
    fn numbers_parse_with_radix_and_wrap() {
        assert_eq!(parse_number("0x10"), Some(16));
        assert_eq!(parse_number("010"), Some(8));
        assert_eq!(parse_number("18446744073709551615"), Some(-1));
        assert_eq!(parse_number("18446744073709551616"), None);
        assert_eq!(parse_number("08"), None);
        assert_eq!(parse_number("12abc"), None);
    }
}

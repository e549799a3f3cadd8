//! Pass 1 of stap-rs: SystemTap's lexer, preprocessor, parser, AST and `-p1` printer.
//!
//! The flow for one file is [`lexer::lex`] -> [`preprocess::Preprocessor`] ->
//! [`parser::parse_file`]; [`parse_source`] runs all three.  Macros from `.stpm` tapset
//! files are collected first with [`load_library_macros`] and are visible to every file.

#![warn(missing_docs)]

pub mod ast;
pub mod diag;
pub mod lexer;
pub mod locate;
pub mod parser;
pub mod preprocess;
pub mod printer;
pub mod source;

use diag::Diagnostic;
use preprocess::{Expansions, Macro, PpEnv, Preprocessor};
use source::{FileId, SourceMap};
use std::collections::HashMap;

/// The macros every file sees (from `.stpm` files), by name.
pub type MacroTable = HashMap<String, std::rc::Rc<Macro>>;

/// Lexes, preprocesses and parses one file of `sm`.
///
/// Returns the AST (None when the file could not be lexed or preprocessed) and every
/// error found.
pub fn parse_source(
    sm: &mut SourceMap,
    expansions: &mut Expansions,
    env: &PpEnv,
    library: &MacroTable,
    file: FileId,
) -> (Option<ast::File>, Vec<Diagnostic>) {
    let raw = match lexer::lex(file, &sm.file(file).text) {
        Ok(t) => t,
        Err(d) => return (None, vec![d]),
    };
    let toks = {
        let mut pp = Preprocessor::new(sm, env, expansions, library);
        match pp.run(&raw) {
            Ok(t) => t,
            Err(d) => return (None, vec![d]),
        }
    };
    let name = sm.file(file).name.clone();
    let opts = parser::ParseOptions {
        embedded_c: env.guru || sm.file(file).kind == source::FileKind::Tapset,
        autocast: preprocess::version_cmp(&env.compatible, "2.6").is_ge(),
        glue_across_comments: preprocess::version_cmp(&env.compatible, "2.0").is_ge(),
    };
    let (f, errs) = parser::parse_file(sm, expansions, &name, &toks, opts);
    (Some(f), errs)
}

/// Reads the macro definitions of a `.stpm` library file into `into`.
///
/// Such a file may hold only `@define`s (inside conditionals if it likes); anything else
/// is an error.  On error nothing from the file is added.
pub fn load_library_macros(
    sm: &mut SourceMap,
    expansions: &mut Expansions,
    env: &PpEnv,
    into: &mut MacroTable,
    file: FileId,
) -> Result<(), Diagnostic> {
    let raw = lexer::lex(file, &sm.file(file).text)?;
    let empty = MacroTable::new();
    let mut pp = Preprocessor::new(sm, env, expansions, &empty);
    let rest = pp.run(&raw)?;
    if let Some(t) = rest.first() {
        return Err(Diagnostic::parse(
            "parse.stpm-content",
            "a macro library file (.stpm) may only contain @define directives",
            t.span,
        ));
    }
    for (name, m) in pp.into_macros() {
        into.insert(name, m);
    }
    Ok(())
}

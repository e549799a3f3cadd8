//! Pass 1: parse the user script and the tapset library.

use crate::report::Reporter;
use crate::tapsets::TapsetFile;
use stap_syntax::ast;
use stap_syntax::diag::{Diagnostic, Pass};
use stap_syntax::preprocess::{Expansions, PpEnv};
use stap_syntax::source::{FileKind, SourceMap};
use stap_syntax::{load_library_macros, parse_source, MacroTable};

/// A user-supplied script: its name (`<input>` for -e and stdin) and text.
pub struct UserScript {
    /// Name shown in diagnostics and `-p1` output.
    pub name: String,
    /// The text.
    pub text: String,
}

/// What pass 1 produced.
pub struct Parsed {
    /// All source text (diagnostics of later passes point into it).
    pub sm: SourceMap,
    /// The user's files (main script first, then each -E script).
    pub user: Vec<ast::File>,
    /// The tapset files that parsed.
    pub library: Vec<ast::File>,
    /// True when a user file had an error (or a tapset did, under -W).
    pub failed: bool,
}

/// Runs pass 1.  Errors in tapsets are reported as warnings and the tapset is skipped,
/// unless `strict` (-W) makes them errors, as in SystemTap.
pub fn run(
    env: &PpEnv,
    scripts: Vec<UserScript>,
    tapsets: Vec<TapsetFile>,
    strict: bool,
    quiet_warnings: bool,
    rep: &mut Reporter,
) -> Parsed {
    let mut sm = SourceMap::new();
    let mut expansions = Expansions::default();
    let mut failed = false;

    // Macro libraries first: their macros are visible to every file.
    let mut macros = MacroTable::new();
    let mut stp_files = Vec::new();
    for t in tapsets {
        let is_macros = t.is_macro_file();
        let id = sm.add(t.name.clone(), t.text, FileKind::Tapset);
        if !is_macros {
            stp_files.push((t.name, id));
            continue;
        }
        if let Err(d) = load_library_macros(&mut sm, &mut expansions, env, &mut macros, id) {
            tapset_error(
                &sm,
                rep,
                &t.name,
                vec![d],
                strict,
                quiet_warnings,
                &mut failed,
            );
        }
    }

    let mut user = Vec::new();
    for s in scripts {
        let id = sm.add(s.name, s.text, FileKind::User);
        let (file, errors) = parse_source(&mut sm, &mut expansions, env, &macros, id);
        for d in &errors {
            rep.emit(&sm, d);
        }
        if !errors.is_empty() {
            failed = true;
        }
        if let Some(f) = file {
            let empty = f.probes.is_empty()
                && f.functions.is_empty()
                && f.globals.is_empty()
                && f.aliases.is_empty()
                && f.embeds.is_empty();
            if empty && errors.is_empty() {
                let d = Diagnostic::plain(
                    Pass::Parse,
                    "parse.empty-input",
                    format!("input file '{}' is empty or has no declarations", f.name),
                );
                rep.emit(&sm, &d);
                failed = true;
            }
            user.push(f);
        }
    }

    let mut library = Vec::new();
    for (name, id) in stp_files {
        let (file, errors) = parse_source(&mut sm, &mut expansions, env, &macros, id);
        if errors.is_empty() {
            if let Some(f) = file {
                library.push(f);
            }
        } else {
            tapset_error(&sm, rep, &name, errors, strict, quiet_warnings, &mut failed);
        }
    }
    Parsed {
        sm,
        user,
        library,
        failed,
    }
}

fn tapset_error(
    sm: &SourceMap,
    rep: &mut Reporter,
    name: &str,
    errors: Vec<stap_syntax::diag::Diagnostic>,
    strict: bool,
    quiet_warnings: bool,
    failed: &mut bool,
) {
    if strict {
        for d in &errors {
            rep.emit(sm, d);
        }
        *failed = true;
    } else if !quiet_warnings {
        for d in &errors {
            rep.emit(sm, &d.clone().into_warning());
        }
        rep.warning(&format!(
            "tapset \"{}\" has errors, and will be skipped",
            name
        ));
    }
}

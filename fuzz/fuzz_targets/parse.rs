//! Fuzzes passes 1 and 2: lexer + preprocessor + parser + printer, then elaboration.
//!
//! Besides "no panic, no stack overflow", it checks the printer's contract: when an input
//! parses without errors, its `-p1` text parses without errors and prints the same.  A
//! script that parses is then elaborated (plain and with -u), which must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stap_syntax::preprocess::{Expansions, PpEnv};
use stap_syntax::printer::print_file;
use stap_syntax::source::{FileKind, SourceMap};
use stap_syntax::{load_library_macros, parse_source, MacroTable};

fn env() -> PpEnv {
    let mut kconfig = std::collections::HashMap::new();
    kconfig.insert("CONFIG_X".to_string(), "y".to_string());
    kconfig.insert("CONFIG_N".to_string(), "32".to_string());
    PpEnv {
        args: vec!["probe begin".into(), "2".into(), "x y".into()],
        kernel_v: "6.1.0".into(),
        kernel_vr: "6.1.0-28-amd64".into(),
        arch: "x86_64".into(),
        runtime: "kernel".into(),
        guru: true,
        privilege: "stapdev".into(),
        compatible: "5.3".into(),
        kconfig,
    }
}

/// Parses `text`, returning the printed program when it parsed cleanly.
fn p1(text: &str, env: &PpEnv, lib: &MacroTable) -> Option<String> {
    p1_file(text, env, lib).map(|f| print_file(&f))
}

fn p1_file(text: &str, env: &PpEnv, lib: &MacroTable) -> Option<stap_syntax::ast::File> {
    let mut sm = SourceMap::new();
    let mut exp = Expansions::default();
    let id = sm.add("fuzz.stp", text, FileKind::User);
    let (f, errors) = parse_source(&mut sm, &mut exp, env, lib, id);
    for e in &errors {
        // Rendering must not panic either.
        let _ = e.render_text(&sm);
        let _ = e.render_json(&sm);
    }
    match f {
        Some(f) if errors.is_empty() => Some(f),
        _ => None,
    }
}

fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    let env = env();
    // The same bytes as a macro library, then as a script that may use its macros.
    let mut lib = MacroTable::new();
    {
        let mut sm = SourceMap::new();
        let mut exp = Expansions::default();
        let id = sm.add("fuzz.stpm", text.as_str(), FileKind::Tapset);
        let _ = load_library_macros(&mut sm, &mut exp, &env, &mut lib, id);
    }
    if let Some(file) = p1_file(&text, &env, &lib) {
        let out = print_file(&file);
        let again = p1(&out, &env, &MacroTable::new())
            .unwrap_or_else(|| panic!("printed program does not parse:\n{out}"));
        assert_eq!(out, again, "printing is not a fixed point");
        let user = [file];
        for unoptimized in [false, true] {
            let opts = stap_sema::Options {
                unoptimized,
                ..Default::default()
            };
            let r = stap_sema::elaborate(&user, &[], &opts, &stap_sema::NoKernelData);
            if let Some(p) = &r.program {
                let _ = stap_sema::print::print_program(p);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The translator runs on a big stack; so does the fuzzed code.
    let data = data.to_vec();
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || check(&data))
        .unwrap()
        .join()
        .unwrap();
});

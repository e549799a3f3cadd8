//! Pass-1 throughput: lex + preprocess + parse a corpus of real SystemTap scripts.
//!
//! The corpus is every script of the peer suite (`../shared/peer-suite`) that parses
//! cleanly, plus the project's own `-p1` test scripts, repeated to about 1 MiB.
//! Run: `cargo bench -p stap-syntax --bench parse` (criterion prints MiB/s).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use stap_syntax::preprocess::{Expansions, PpEnv};
use stap_syntax::source::{FileKind, SourceMap};
use stap_syntax::{parse_source, MacroTable};
use std::path::Path;

fn env() -> PpEnv {
    PpEnv {
        args: vec!["1".into(), "2".into(), "3".into(), "4".into(), "5".into()],
        kernel_v: "6.1.0".into(),
        kernel_vr: "6.1.0-28-amd64".into(),
        arch: "x86_64".into(),
        runtime: "kernel".into(),
        guru: true,
        privilege: "stapdev".into(),
        compatible: "5.3".into(),
        kconfig: Default::default(),
    }
}

fn parse_all(files: &[String], env: &PpEnv) -> usize {
    let mut sm = SourceMap::new();
    let mut exp = Expansions::default();
    let lib = MacroTable::new();
    let mut items = 0;
    for text in files {
        let id = sm.add("bench.stp", text.as_str(), FileKind::User);
        let (f, _) = parse_source(&mut sm, &mut exp, env, &lib, id);
        if let Some(f) = f {
            items += f.probes.len() + f.functions.len() + f.globals.len();
        }
    }
    items
}

fn corpus(env: &PpEnv) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = vec![root.join("tests/p1")];
    for d in ["parseok", "semok", "semko", "transok", "buildok", "buildko"] {
        dirs.push(root.join("../shared/peer-suite/testsuite").join(d));
    }
    let mut files = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_none_or(|e| e != "stp") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            // Keep only scripts that parse cleanly: the benchmark measures the good path.
            let mut sm = SourceMap::new();
            let mut exp = Expansions::default();
            let id = sm.add("x", text.as_str(), FileKind::User);
            let (f, errs) = parse_source(&mut sm, &mut exp, env, &MacroTable::new(), id);
            if f.is_some() && errs.is_empty() {
                files.push(text);
            }
        }
    }
    let one: usize = files.iter().map(|f| f.len()).sum();
    let copies = (1 << 20) / one.max(1) + 1;
    let mut all = Vec::new();
    for _ in 0..copies {
        all.extend(files.iter().cloned());
    }
    all
}

fn bench(c: &mut Criterion) {
    let env = env();
    let files = corpus(&env);
    let bytes: usize = files.iter().map(|f| f.len()).sum();
    let mut g = c.benchmark_group("pass1");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(20);
    g.bench_function(
        format!("parse {} scripts, {} KiB", files.len(), bytes / 1024),
        |b| b.iter(|| parse_all(&files, &env)),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

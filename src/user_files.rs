//! The user-space files a session's user backtraces and user symbols know (SystemTap's
//! rule): the programs and libraries its probes are in, the target's program (`-c`, `-x`),
//! each `-d` object that is a file, and with `--ldd` the libraries all of them load.  Each
//! is read for its segments, symbols and call frame rows (stap-kdata) and handed to pass 3.

use crate::cli::Cli;
use stap_kdata::user::Programs;
use stap_sema::ir::{ProbeKind, ProcessFilter, Program};
use stap_sema::user_frames::UserModule;

/// The session's user-space files, read; a file that cannot be read is left out with a
/// warning (unless `-w`).
pub fn user_modules(cli: &Cli, program: &Program) -> Vec<UserModule> {
    let mut paths: Vec<String> = Vec::new();
    for p in &program.probes {
        match &p.kind {
            ProbeKind::Uprobe { site, .. } => paths.push(site.path.clone()),
            ProbeKind::Process {
                filter: ProcessFilter::Path(path),
                ..
            } => paths.push(path.clone()),
            _ => {}
        }
    }
    paths.extend(crate::session::target_program(cli));
    for d in &cli.debug_objects {
        // A -d that is no file names a kernel module: kernel symbols come from the kernel.
        if std::path::Path::new(d).is_file() {
            paths.push(d.clone());
        }
    }
    let mut paths: Vec<String> = paths
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .filter_map(|p| p.to_str().map(str::to_string))
        .collect();
    if cli.ldd {
        let programs = Programs::default();
        let libs: Vec<String> = paths
            .iter()
            .flat_map(|p| programs.libraries(p, "*"))
            .collect();
        paths.extend(libs);
    }
    let mut seen = std::collections::HashSet::new();
    paths.retain(|p| seen.insert(p.clone()));
    paths
        .iter()
        .filter_map(|p| match stap_kdata::user_frames::read_user_module(p) {
            Ok(m) => Some(m),
            Err(e) => {
                if !cli.no_warnings {
                    eprintln!("WARNING: no unwind data for user backtraces: {}", e);
                }
                None
            }
        })
        .collect()
}

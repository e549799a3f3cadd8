//! `stap`: the SystemTap translator and driver.

/// mimalloc: pass 1 and 2 allocate many small nodes; it halves their allocation cost.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod kbuild;
mod pass1;
mod pass2;
mod report;
mod session;
mod syscall_tapset;
mod tapset_index;
mod tapset_scan;
mod tapsets;
mod user_files;
mod userbuild;
mod vm;
mod vm_setup;

use clap::Parser as _;
use cli::Cli;
use report::{PassTimer, Reporter};
use std::io::{Read, Write};

/// The translator runs on a thread with a large stack: deep (but bounded) nesting in a
/// script must be an error message, never a stack overflow.
const STACK_SIZE: usize = 256 << 20;

fn main() {
    if session::called_as_stpd() {
        std::process::exit(stpd::main(std::env::args_os()));
    }
    let code = std::thread::Builder::new()
        .name("stap".into())
        .stack_size(STACK_SIZE)
        .spawn(run)
        .map(|h| h.join().unwrap_or(70))
        .unwrap_or(70);
    std::process::exit(code);
}

/// Parses the command line; `Err` is the exit code (help, version, a bad option).
fn parse_cli() -> Result<Cli, i32> {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind::*;
            let code = match e.kind() {
                DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 1,
            };
            let _ = e.print();
            return Err(code);
        }
    };
    if cli.version {
        print!("{}", cli::version_text());
        return Err(0);
    }
    if let Err(msg) = cli.validate().and_then(|_| cli.apply_rlimits()) {
        eprintln!("{}", msg);
        return Err(1);
    }
    Ok(cli)
}

/// True when the options only list or dump what pass 2 knows.
fn needs_only_pass2(cli: &Cli) -> bool {
    cli.list.is_some()
        || cli.list_vars.is_some()
        || cli.dump_functions
        || cli.dump_probe_aliases
        || cli.dump_probe_types
}

/// The user's scripts (`-e`, `-l`/`-L` points, the script file or stdin, `-E`); takes the
/// script file off `positional`.  `Err` is the exit code.
fn user_scripts(cli: &Cli, positional: &mut Vec<String>) -> Result<Vec<pass1::UserScript>, i32> {
    let mut scripts = Vec::new();
    if let Some(s) = &cli.script {
        scripts.push(pass1::UserScript {
            name: "<input>".into(),
            text: s.clone(),
        });
    } else if let Some(p) = cli.list.as_ref().or(cli.list_vars.as_ref()) {
        scripts.push(pass1::UserScript {
            name: "<input>".into(),
            text: format!("probe {} {{}}", p),
        });
    } else if needs_only_pass2(cli) {
        // --dump-* need no script.
    } else if positional.is_empty() {
        eprintln!("A script must be specified.\nTry 'stap --help' for more information.");
        return Err(1);
    } else {
        let file = positional.remove(0);
        let (name, text) = if file == "-" {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                eprintln!("stap: cannot read the script from standard input: {}", e);
                return Err(1);
            }
            ("<input>".to_string(), buf)
        } else {
            match std::fs::read(&file) {
                Ok(b) => (file.clone(), b),
                Err(e) => {
                    eprintln!("stap: cannot open script file '{}': {}", file, e);
                    return Err(1);
                }
            }
        };
        scripts.push(pass1::UserScript {
            name,
            text: tapsets::text_of(text),
        });
    }
    for s in &cli.extra_scripts {
        scripts.push(pass1::UserScript {
            name: "<input>".into(),
            text: s.clone(),
        });
    }
    Ok(scripts)
}

/// The kernel the session targets: `-r`, else the running one, else (with `--vm` and no
/// build tree for the running kernel) the newest installed one.  `Err` is the exit code.
fn target_kernel(cli: &Cli, wants_config: bool) -> Result<session::Kernel, i32> {
    let mut kernel = session::Kernel::locate(cli.release.as_deref(), wants_config);
    if cli.vm && cli.release.is_none() && kernel.build_dir.is_none() {
        // The running kernel has no build tree (a container, a CI runner...): the VM can boot
        // any kernel, so target the newest installed one, installing Debian's if need be.
        match vm_setup::default_kernel() {
            Ok(release) => kernel = session::Kernel::locate(Some(&release), wants_config),
            Err(e) => {
                eprintln!("{}", e);
                return Err(1);
            }
        }
    }
    Ok(kernel)
}

/// `-vv`: which kernel, build tree and configuration the session uses.
fn describe_kernel(kernel: &session::Kernel, arch: &str, wants_config: bool, verbose: u8) {
    if verbose >= 2 {
        eprintln!(
            "Target kernel: {} ({}), build tree: {}, configuration: {}",
            kernel.release,
            arch,
            kernel
                .build_dir
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "not found".into()),
            kernel
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| if wants_config {
                    "not found (CONFIG_* tests see empty values)".into()
                } else {
                    "not read (nothing tests CONFIG_*)".into()
                })
        );
    }
}

/// True when the session can use the system call tapset (kernel runtime, and `syscall` or
/// a family built on it, `kprocess` or `signal`, somewhere in a script or a listed point): only then
/// is it written.
fn wants_syscalls(cli: &Cli, scripts: &[pass1::UserScript], positional: &[String]) -> bool {
    let uses = |t: &str| {
        ["syscall", "kprocess", "signal"]
            .iter()
            .any(|w| t.contains(w))
    };
    // The arguments too: `probe $1` takes its point from the command line.
    cli.runtime == cli::Runtime::Kernel
        && (scripts.iter().any(|s| uses(&s.text))
            || positional.iter().any(|a| uses(a))
            || [&cli.list, &cli.list_vars]
                .iter()
                .any(|l| l.as_ref().is_some_and(|p| uses(p))))
}

fn run() -> i32 {
    let cli = match parse_cli() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut rep = Reporter::new(cli.diagnostics);
    let mut positional = cli.positional.clone();
    let scripts = match user_scripts(&cli, &mut positional) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // The kernel configuration is read only when something can test it (`CONFIG_*`).
    let mut tapset_files = tapsets::collect(&cli.include);
    // Pass 1 parses only the library files the session reaches (tapset_index.rs).
    let mut roots: Vec<String> = scripts.iter().map(|s| s.text.clone()).collect();
    roots.extend(positional.iter().cloned());
    for pattern in [&cli.list, &cli.list_vars].into_iter().flatten() {
        roots.push(format!("probe {} {{}}", pattern));
    }
    let keep_all = cli.dump_functions || cli.dump_probe_aliases || cli.dump_probe_types;
    let needed = |files: &[tapsets::TapsetFile], roots: &[String]| {
        if keep_all {
            return vec![true; files.len()];
        }
        let roots: Vec<&str> = roots.iter().map(|r| r.as_str()).collect();
        tapset_index::Index::new(files).needed(&roots)
    };
    let mut mask = needed(&tapset_files, &roots);
    let wants_config = roots.iter().any(|r| r.contains("CONFIG_"))
        || tapset_files
            .iter()
            .zip(&mask)
            .any(|(t, m)| *m && t.text.contains("CONFIG_"));
    let kernel = match target_kernel(&cli, wants_config) {
        Ok(k) => k,
        Err(code) => return code,
    };
    let env = session::pp_env(&cli, &kernel, positional);
    describe_kernel(&kernel, &env.arch, wants_config, cli.verbose);
    let btf = stap_kdata::BtfResolver::new(&kernel.release, userbuild::cache_root())
        .with_target_program(session::target_program(&cli));
    if wants_syscalls(&cli, &scripts, &cli.positional) {
        match tapsets::syscalls(&kernel, &btf, &tapset_files) {
            Ok(t) => {
                // Not indexed at build time, it is parsed, and what it mentions selects.
                tapset_files.push(t);
                mask = needed(&tapset_files, &roots);
            }
            Err(e) if cli.verbose >= 1 => eprintln!("Pass 1: no syscall tapset: {}", e),
            Err(_) => {}
        }
    }

    let tapset_files = tapset_index::keep(tapset_files, &mask);

    // Pass 1.  The session's data lives until the process exits: it is never dropped
    // (ManuallyDrop), which saves freeing every AST node one by one at the end.
    let timer = PassTimer::start();
    let parsed = std::mem::ManuallyDrop::new(pass1::run(
        &env,
        scripts,
        tapset_files,
        cli.warnings_are_errors,
        cli.no_warnings,
        &mut rep,
    ));
    if cli.verbose >= 1 {
        eprintln!(
            "Pass 1: parsed user script and {} library scripts {}",
            parsed.library.len(),
            timer.finish()
        );
    }
    if parsed.failed {
        rep.summary();
        if cli.diagnostics == cli::DiagFormat::Text {
            eprintln!("Pass 1: parse failed.");
        }
        return 1;
    }
    let last_pass = if needs_only_pass2(&cli) {
        2
    } else {
        cli.pass.unwrap_or(5)
    };
    if last_pass == 1 {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "# parse tree dump");
        for f in &parsed.user {
            let _ = write!(out, "{}", stap_syntax::printer::print_file(f));
        }
        return 0;
    }
    if cli.dump_probe_types || cli.dump_functions || cli.dump_probe_aliases {
        print!("{}", pass2::dumps(&cli, &parsed));
        return 0;
    }

    // Pass 2.
    let timer = PassTimer::start();
    let mut kernel_vars = Vec::new();
    let Some(program) = pass2::run(&cli, &parsed, &mut rep, &btf, &mut kernel_vars)
        .map(std::mem::ManuallyDrop::new)
    else {
        if cli.diagnostics == cli::DiagFormat::Text {
            eprintln!("Pass 2: analysis failed.");
        }
        return 1;
    };
    if cli.verbose >= 1 {
        eprintln!(
            "Pass 2: analyzed script: {} probes, {} functions, {} embeds, {} globals {}",
            program.probes.len(),
            program.functions.len(),
            program.embeds.len(),
            program.globals.len(),
            timer.finish()
        );
    }
    if let Some(listing) = pass2::listing(&cli, &program, &kernel_vars) {
        print!("{}", listing);
        return 0;
    }
    if last_pass == 2 {
        print!("{}", stap_sema::print::print_program(&program));
        return 0;
    }
    let backend = match cli.runtime {
        cli::Runtime::User => stap_codegen::Backend::User,
        cli::Runtime::Kernel => stap_codegen::Backend::Kernel,
    };
    let Some(c_source) = pass3(&cli, &parsed, &program, backend, &mut rep) else {
        return 1;
    };
    if last_pass == 3 {
        print!("{}", c_source);
        return 0;
    }
    let runtime = match backend {
        stap_codegen::Backend::User => stap_sema::ir::Runtime::User,
        stap_codegen::Backend::Kernel => stap_sema::ir::Runtime::Kernel,
    };
    let refused = stap_sema::unsupported(&program, runtime);
    if !refused.is_empty() {
        for d in &refused {
            rep.emit(&parsed.sm, d);
        }
        eprintln!("Pass 4: compilation failed.");
        return 1;
    }
    let Some(artifact) = pass4(&cli, &c_source, &kernel, backend) else {
        return 1;
    };
    if last_pass == 4 {
        println!("{}", artifact.display());
        return 0;
    }
    pass5(&cli, &artifact, &kernel, backend)
}

/// Pass 3: the program as C.  `None` after reporting why not.
fn pass3(
    cli: &Cli,
    parsed: &pass1::Parsed,
    program: &stap_sema::ir::Program,
    backend: stap_codegen::Backend,
    rep: &mut Reporter,
) -> Option<String> {
    let timer = PassTimer::start();
    let cg = stap_codegen::Options {
        backend,
        defines: cli
            .defines
            .iter()
            .cloned()
            .chain(
                cli.suppress_time_limits
                    .then(|| "STAP_SUPPRESS_TIME_LIMITS_ENABLE".to_string()),
            )
            .collect(),
        script_name: parsed
            .user
            .first()
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        user_modules: if backend == stap_codegen::Backend::Kernel
            && stap_codegen::needs_user_frames(program)
        {
            user_files::user_modules(cli, program)
        } else {
            Vec::new()
        },
    };
    match stap_codegen::generate(program, &parsed.sm, &cg) {
        Ok(c) => {
            if cli.verbose >= 1 {
                eprintln!("Pass 3: translated to C {}", timer.finish());
            }
            Some(c)
        }
        Err(d) => {
            rep.emit(&parsed.sm, &d);
            if cli.diagnostics == cli::DiagFormat::Text {
                eprintln!("Pass 3: translation failed.");
            }
            None
        }
    }
}

/// Pass 4: a module with the kernel's Kbuild, or a native program with cc.  `None` after
/// reporting why not.
fn pass4(
    cli: &Cli,
    c_source: &str,
    kernel: &session::Kernel,
    backend: stap_codegen::Backend,
) -> Option<std::path::PathBuf> {
    let timer = PassTimer::start();
    let built = match backend {
        stap_codegen::Backend::Kernel => kbuild::build(&kbuild::Request {
            c_source,
            kernel,
            module_name: cli.module.as_deref(),
            make_vars: &cli.make_vars,
            keep: cli.keep,
            verbose: cli.verbose,
        }),
        stap_codegen::Backend::User => userbuild::build(c_source, cli.keep, cli.verbose),
    };
    match built {
        Ok(p) => {
            if cli.verbose >= 1 {
                eprintln!(
                    "Pass 4: compiled C into \"{}\" {}",
                    p.display(),
                    timer.finish()
                );
            }
            Some(p)
        }
        Err(msg) => {
            eprintln!("{}\nPass 4: compilation failed.", msg);
            None
        }
    }
}

/// Pass 5: the program (or stpd with the module) takes over this process, so signals go
/// straight to it; with `--vm`, a throwaway guest runs the module.
fn pass5(
    cli: &Cli,
    artifact: &std::path::Path,
    kernel: &session::Kernel,
    backend: stap_codegen::Backend,
) -> i32 {
    if backend == stap_codegen::Backend::Kernel && cli.vm {
        if cli.target_pid.is_some() {
            eprintln!("stap --vm: -x names a process of this machine, not of the VM; use -c CMD to start one in the VM");
            return 1;
        }
        return vm::run(&vm::Session {
            ko: artifact,
            kernel,
            timeout: cli.timeout,
            command: cli.command.as_deref(),
            output: cli.output.as_deref().map(std::path::Path::new),
            verbose: cli.verbose,
        });
    }
    let mut cmd = match backend {
        stap_codegen::Backend::User => std::process::Command::new(artifact),
        stap_codegen::Backend::Kernel => session::stpd_command(),
    };
    if let Some(o) = &cli.output {
        cmd.arg("-o").arg(o);
    }
    if let Some(t) = cli.timeout {
        cmd.arg("-T").arg(t.to_string());
    }
    if let Some(c) = &cli.command {
        cmd.arg("-c").arg(c);
    }
    if let Some(x) = cli.target_pid {
        cmd.arg("-x").arg(x.to_string());
    }
    if backend == stap_codegen::Backend::Kernel {
        for _ in 1..cli.verbose {
            cmd.arg("-v");
        }
        cmd.arg(artifact);
    }
    if cli.verbose >= 1 {
        eprintln!("Pass 5: starting run.");
    }
    let _ = std::io::stdout().flush();
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    eprintln!("stap: cannot run {:?}: {}", cmd.get_program(), err);
    1
}

//! `stpd`: loads a stap-rs kernel module, streams its output and unloads it (see `stpd/`).

fn main() {
    std::process::exit(stpd::main(std::env::args_os()));
}

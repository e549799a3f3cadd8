//! Prints the system calls of a kernel: `cargo run -p stap-kdata --example syscalls -- KVER`.
fn main() {
    let rel = std::env::args().nth(1).expect("usage: syscalls KVER");
    let build = std::path::PathBuf::from(format!("/usr/lib/modules/{}/build", rel));
    let cache = std::env::temp_dir().join("stap-kdata-example");
    match stap_kdata::syscalls::syscalls(&rel, Some(&build), &|n| n.to_string(), &cache) {
        Ok(calls) => {
            for c in calls {
                let args: Vec<String> =
                    c.args.iter().map(|(t, n)| format!("{} {}", t, n)).collect();
                println!("{} {:?} ({})", c.name, c.nr, args.join(", "));
            }
        }
        Err(e) => eprintln!("{}", e),
    }
}

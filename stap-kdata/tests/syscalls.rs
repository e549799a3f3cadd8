//! The system calls read from the target kernel's image (`STAP_TEST_KVER`, else every
//! installed `/boot/vmlinuz-*`): the metadata of `SYSCALL_DEFINE` gives each call's
//! arguments exactly, and the build tree's unistd_64.h its number.

use stap_kdata::syscalls::syscalls;

fn installed() -> Vec<String> {
    if let Ok(k) = std::env::var("STAP_TEST_KVER") {
        return vec![k];
    }
    let mut v: Vec<String> = std::fs::read_dir("/boot")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_prefix("vmlinuz-"))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_installed_kernel_lists_its_system_calls_with_their_arguments() {
    let kernels = installed();
    assert!(
        !kernels.is_empty(),
        "no /boot/vmlinuz-* installed (tests/run-all.sh installs them)"
    );
    for k in kernels {
        let cache = tempfile::tempdir().unwrap();
        let build = std::path::PathBuf::from(format!("/usr/lib/modules/{}/build", k));
        let calls = syscalls(&k, Some(&build), &|n| n.to_string(), cache.path())
            .unwrap_or_else(|e| panic!("{}: {}", k, e));
        assert!(calls.len() > 300, "{}: only {} calls", k, calls.len());
        let find = |n: &str| {
            calls
                .iter()
                .find(|c| c.name == n)
                .unwrap_or_else(|| panic!("{}: no {}", k, n))
        };
        let args = |n: &str| -> Vec<(String, String)> { find(n).args.clone() };
        let s = |t: &str, n: &str| (t.to_string(), n.to_string());
        assert_eq!(
            args("openat"),
            vec![
                s("int", "dfd"),
                s("const char *", "filename"),
                s("int", "flags"),
                s("umode_t", "mode")
            ],
            "{}",
            k
        );
        assert_eq!(
            args("read"),
            vec![
                s("unsigned int", "fd"),
                s("char *", "buf"),
                s("size_t", "count")
            ],
            "{}",
            k
        );
        assert_eq!(args("getpid"), vec![], "{}", k);
        if build.is_dir() {
            assert_eq!(find("read").nr, Some(0), "{}", k);
            assert_eq!(find("openat").nr, Some(257), "{}", k);
            assert_eq!(find("exit_group").nr, Some(231), "{}", k);
        }
        // The second read comes from the cache and says the same.
        let again = syscalls(&k, Some(&build), &|n| n.to_string(), cache.path()).unwrap();
        assert_eq!(again, calls, "{}", k);
    }
}

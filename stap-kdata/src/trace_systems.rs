//! Which subsystem each tracepoint belongs to (`kernel.trace("sched:sched_switch")`), read
//! from the target kernel's build tree: every `include/trace/events/*.h` names its
//! `TRACE_SYSTEM` and defines its events with `TRACE_EVENT(name, ...)` and
//! `DEFINE_EVENT(class, name, ...)` (BTF knows events by name only).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The directories holding `include/trace/events` for kernel `release`: its build tree,
/// and the common tree a Debian build tree's Makefile includes.
fn header_roots(release: &str) -> Vec<PathBuf> {
    let build = PathBuf::from(format!("/usr/lib/modules/{}/build", release));
    let mut roots = vec![build.clone()];
    if let Ok(mk) = std::fs::read_to_string(build.join("Makefile")) {
        for line in mk.lines() {
            if let Some(inc) = line.strip_prefix("include ") {
                if let Some(dir) = Path::new(inc.trim()).parent() {
                    roots.push(dir.to_path_buf());
                }
            }
        }
    }
    roots
}

/// The event an event-defining macro line names, if the line starts one.
fn event_of(line: &str) -> Option<&str> {
    const FIRST: &[&str] = &[
        "TRACE_EVENT(",
        "TRACE_EVENT_FN(",
        "TRACE_EVENT_CONDITION(",
        "TRACE_EVENT_FN_COND(",
    ];
    const SECOND: &[&str] = &[
        "DEFINE_EVENT(",
        "DEFINE_EVENT_PRINT(",
        "DEFINE_EVENT_FN(",
        "DEFINE_EVENT_CONDITION(",
    ];
    let line = line.trim_start();
    let (rest, skip) = FIRST
        .iter()
        .find_map(|m| line.strip_prefix(m).map(|r| (r, 0)))
        .or_else(|| {
            SECOND
                .iter()
                .find_map(|m| line.strip_prefix(m).map(|r| (r, 1)))
        })?;
    let name = rest.split(',').nth(skip)?.trim();
    let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some(name)
}

/// The events of one header and the system it names.
fn scan(text: &str, out: &mut HashMap<String, String>) {
    let Some(system) = text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("#define TRACE_SYSTEM")
            .filter(|r| r.starts_with([' ', '\t']))
            .map(|r| r.trim().to_string())
    }) else {
        return;
    };
    for line in text.lines() {
        if let Some(ev) = event_of(line) {
            out.entry(ev.to_string()).or_insert_with(|| system.clone());
        }
    }
}

/// Event name to subsystem, for the events the kernel's trace headers define (empty when
/// the build tree is not installed).
pub fn trace_systems(release: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for root in header_roots(release) {
        let Ok(rd) = std::fs::read_dir(root.join("include/trace/events")) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if let Ok(text) = std::fs::read_to_string(&f) {
                scan(&text, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_get_their_headers_system() {
        let mut m = HashMap::new();
        scan(
            "#undef TRACE_SYSTEM\n#define TRACE_SYSTEM sched\n\
             TRACE_EVENT(sched_kthread_stop,\n\
             DECLARE_EVENT_CLASS(sched_wakeup_template,\n\
             DEFINE_EVENT(sched_wakeup_template, sched_waking,\n\
             TRACE_EVENT_FN(sched_x, a, b)\n",
            &mut m,
        );
        assert_eq!(
            m.get("sched_kthread_stop").map(String::as_str),
            Some("sched")
        );
        assert_eq!(m.get("sched_waking").map(String::as_str), Some("sched"));
        assert_eq!(m.get("sched_x").map(String::as_str), Some("sched"));
        assert!(!m.contains_key("sched_wakeup_template"));
    }
}

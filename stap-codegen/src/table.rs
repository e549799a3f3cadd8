//! The probe table: what each derived probe attaches to, as `struct stp_probe` fields
//! written from its [`ProbeKind`].

use crate::body::c_long;
use crate::c_str;
use stap_sema::ir::*;

/// The table fields describing when a probe fires, one per line.
pub(crate) fn probe_fields(k: &ProbeKind) -> Vec<String> {
    let kind = |k: &str| format!(".kind = STP_PROBE_{},", k);
    match k {
        ProbeKind::Begin { seq } => vec![kind("BEGIN"), format!(".seq = {},", c_long(*seq as i64))],
        ProbeKind::End { seq } => vec![kind("END"), format!(".seq = {},", c_long(*seq as i64))],
        ProbeKind::Error { seq } => vec![kind("ERROR"), format!(".seq = {},", c_long(*seq as i64))],
        ProbeKind::Never => vec![kind("NEVER")],
        ProbeKind::Timer {
            period,
            randomize,
            per_cpu,
        } => {
            let mut f = vec![kind("TIMER")];
            match period {
                TimerPeriod::Ns(ns) => {
                    f.push(format!(".period_ns = {},", c_long(*ns as i64)));
                    if *randomize != 0 {
                        f.push(format!(".randomize_ns = {},", c_long(*randomize as i64)));
                    }
                }
                TimerPeriod::Jiffies(j) => {
                    f.push(format!(".jiffies = {},", c_long(*j as i64)));
                    if *randomize != 0 {
                        f.push(format!(
                            ".randomize_ns = {} * STP_JIFFY_NS,",
                            c_long(*randomize as i64)
                        ));
                    }
                }
            }
            if *per_cpu {
                f.push(".percpu = 1,".to_string());
            }
            f
        }
        // type -1 makes the runtime refuse the forms it does not build, with a WARNING.
        ProbeKind::Perf {
            ty,
            config,
            sample,
            unsupported,
        } => vec![
            kind("PERF"),
            format!(
                ".perf_type = {},",
                c_long(if *unsupported { -1 } else { *ty })
            ),
            format!(".perf_config = {},", c_long(*config as i64)),
            format!(".perf_sample = {},", c_long(*sample as i64)),
        ],
        ProbeKind::Perfmon { handle, ty, config } => vec![
            kind("PERFMON"),
            format!(".perf_type = {},", c_long(*ty as i64)),
            format!(".perf_config = {},", c_long(*config as i64)),
            format!(".perfmon = {},", handle),
        ],
        ProbeKind::Kprobe {
            addr: Some(addr), ..
        } => vec![
            kind("KPROBE"),
            ".symbol = \"\",".to_string(),
            format!(".addr = {:#x}UL,", addr),
        ],
        ProbeKind::Kprobe {
            symbol,
            offset,
            ret,
            maxactive,
            addr: None,
        } => vec![
            kind(if *ret { "KRETPROBE" } else { "KPROBE" }),
            format!(".symbol = {},", c_str(symbol)),
            format!(".offset = {},", offset),
            format!(".maxactive = {},", c_long(*maxactive as i64)),
        ],
        ProbeKind::Tracepoint { name } => {
            vec![kind("TRACEPOINT"), format!(".symbol = {},", c_str(name))]
        }
        ProbeKind::Netfilter { hook, pf, priority } => vec![
            kind("NETFILTER"),
            format!(".nf_hook = {},", hook),
            format!(".nf_pf = {},", pf),
            format!(".nf_priority = {},", priority),
        ],
        ProbeKind::Procfs {
            path,
            write,
            maxsize,
            umask,
        } => vec![
            kind(if *write {
                "PROCFS_WRITE"
            } else {
                "PROCFS_READ"
            }),
            format!(".symbol = {},", c_str(path)),
            format!(".procfs_maxsize = {},", c_long(*maxsize)),
            format!(".procfs_umask = {},", umask),
        ],
        ProbeKind::Process {
            event:
                event @ (ProcessEvent::Begin
                | ProcessEvent::End
                | ProcessEvent::ThreadBegin
                | ProcessEvent::ThreadEnd),
            filter,
        } => {
            let event = match event {
                ProcessEvent::Begin => "BEGIN",
                ProcessEvent::End => "END",
                ProcessEvent::ThreadBegin => "THREAD_BEGIN",
                _ => "THREAD_END",
            };
            let mut f = vec![
                kind("PROCESS"),
                format!(".proc_event = STP_PROC_{},", event),
            ];
            match filter {
                ProcessFilter::Any => f.push(".proc_filter = STP_PROC_ANY,".to_string()),
                ProcessFilter::Pid(pid) => {
                    f.push(".proc_filter = STP_PROC_PID,".to_string());
                    f.push(format!(".proc_pid = {},", c_long(*pid)));
                }
                ProcessFilter::Path(path) => {
                    f.push(".proc_filter = STP_PROC_PATH,".to_string());
                    f.push(format!(".symbol = {},", c_str(path)));
                }
            }
            f
        }
        ProbeKind::Uprobe { site, ret } => {
            let mut f = vec![
                kind(if *ret { "URETPROBE" } else { "UPROBE" }),
                format!(".symbol = {},", c_str(&site.path)),
                format!(".file_offset = {:#x}ULL,", site.offset),
            ];
            if site.semaphore != 0 {
                f.push(format!(".semaphore = {:#x}ULL,", site.semaphore));
            }
            f
        }
        // Points no runtime runs yet: sema refuses them before pass 4
        // (`stap_sema::unsupported`); -p3 still shows their entry.
        ProbeKind::Process { .. } => {
            vec![kind("OTHER")]
        }
    }
}

/// What `pp()` says in a probe: its concrete point, except in user code, where SystemTap
/// names the file the probe is in as the process (`process("LIB").function(..)` for
/// `process("P").library("LIB").function(..)`), and an SDT marker or PLT entry as the
/// statement at its address.
pub(crate) fn pp(p: &stap_sema::ir::Probe) -> String {
    let ProbeKind::Uprobe { site, .. } = &p.kind else {
        return p.point.to_string();
    };
    if let Some(addr) = site.statement {
        return format!("process(\"{}\").statement({:#x})", site.path, addr);
    }
    let mut point = p.point.clone();
    if point.components.get(1).is_some_and(|c| c.name == "library") {
        point.components.remove(1);
        point.components[0].arg = Some(stap_sema::ir::PointArg::String(site.path.clone()));
    }
    point.to_string()
}

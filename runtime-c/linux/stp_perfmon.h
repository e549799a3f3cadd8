/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: perfmon.counter("event") counters.
 *
 * Each event a perfmon probe names is opened once, before the begin probes, as a counting
 * perf event on every online CPU.  Counting events sample nothing, so no overflow handler
 * runs: hardware counters are safe here, unlike sampling ones, whose overflow runs in NMI
 * context.  read_counter(handle) reads the counter of the CPU it runs on, as
 * perf_event_read_local() does: with interrupts off, the PMU's read updates the count when
 * the event is active on this CPU (stp_counters.h, which tapset code sees).  A counter the
 * kernel refuses (no PMU) is a WARNING, and read_counter() of it an ERROR.
 */
#ifndef STP_PERFMON_H
#define STP_PERFMON_H

#include "stp_counters.h"

static void stp_perfmon_open(void)
{
	int i;

	for (i = 0; i < STP_NPROBES; i++) {
		const struct stp_probe *p = &stp_probes[i];
		struct perf_event_attr attr = {
			.type = (u32)p->perf_type,
			.size = sizeof(attr),
			.config = (u64)p->perf_config,
			.pinned = 1,
		};
		struct perf_event **evs;
		int rc;

		if (p->kind != STP_PROBE_PERFMON || p->perfmon < 0 || p->perfmon >= STP_PERFMON_MAX ||
		    stp_perfmon_ev[p->perfmon])
			continue;
		evs = stp_alloc(sizeof(*evs) * nr_cpu_ids);
		if (!evs) {
			stp_kprobe_warn(p, -ENOMEM);
			continue;
		}
		rc = stp_perf_open_all(&attr, NULL, NULL, evs);
		if (rc <= 0) {
			stp_free(evs);
			stp_kprobe_warn(p, rc);
			continue;
		}
		stp_perfmon_ev[p->perfmon] = evs;
	}
}

/* Runs each perfmon probe whose counter opened, once, in script order. */
static void stp_perfmon_run(void)
{
	int i;

	for (i = 0; i < STP_NPROBES; i++) {
		const struct stp_probe *p = &stp_probes[i];

		if (p->kind != STP_PROBE_PERFMON || p->perfmon < 0 || p->perfmon >= STP_PERFMON_MAX ||
		    !stp_perfmon_ev[p->perfmon])
			continue;
		stp_probe_enter();
		stp_run_probe(p);
		stp_probe_exit();
	}
}

static void stp_perfmon_close(void)
{
	int i;

	for (i = 0; i < STP_PERFMON_MAX; i++) {
		if (!stp_perfmon_ev[i])
			continue;
		stp_perf_close_all(stp_perfmon_ev[i]);
		stp_free(stp_perfmon_ev[i]);
		stp_perfmon_ev[i] = NULL;
	}
}

#endif /* STP_PERFMON_H */

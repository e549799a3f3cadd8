/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: the perfmon.counter counters as tapset code reads them (read_counter());
 * stp_perfmon.h opens and closes them.
 */
#ifndef STP_COUNTERS_H
#define STP_COUNTERS_H

#include <linux/perf_event.h>
#include <linux/irqflags.h>

#define STP_PERFMON_MAX 16

/* Per handle: one counting event per CPU (nr_cpu_ids), or NULL if not open. */
static struct perf_event **stp_perfmon_ev[STP_PERFMON_MAX];

/* This CPU's count of counter `h` into *value; -ENOENT if there is no such counter. */
static __maybe_unused int stp_perfmon_read(int64_t h, int64_t *value)
{
	struct perf_event *ev;
	unsigned long flags;
	int cpu;

	if (h < 0 || h >= STP_PERFMON_MAX || !stp_perfmon_ev[h])
		return -ENOENT;
	local_irq_save(flags);
	cpu = smp_processor_id();
	ev = stp_perfmon_ev[h][cpu];
	if (!ev) {
		local_irq_restore(flags);
		return -ENOENT;
	}
	if (ev->state == PERF_EVENT_STATE_ACTIVE && ev->oncpu == cpu)
		ev->pmu->read(ev);
	*value = (int64_t)local64_read(&ev->count);
	local_irq_restore(flags);
	return 0;
}

#endif /* STP_COUNTERS_H */

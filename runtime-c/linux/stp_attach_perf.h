/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: perf events (perf.type(T).config(C).sample(N)): a kernel counter on
 * every online CPU whose overflow (every N events) runs the probe.  Hardware counters
 * overflow in NMI context, where the runtime's locks and output buffers are not safe: there
 * the overflow handler only saves the registers and queues an irq_work on its CPU, which
 * runs the probe in hard-interrupt context right after, as timer probes run.  One overflow
 * per event and CPU waits at a time; another one before it ran counts as a skipped probe.
 * (-D STP_PERF_DEFER_ALL sends every perf probe that way, so the path is tested where
 * there is no PMU.)  The counting events of perfmon.counter share stp_perf_open_all.
 */
#ifndef STP_ATTACH_PERF_H
#define STP_ATTACH_PERF_H

#include <linux/perf_event.h>
#include <linux/irq_work.h>

/* A perf overflow waiting, on one CPU, for its irq_work to run the probe. */
struct stp_perf_deferred {
	struct irq_work work;
	struct stp_kslot *s;
	struct pt_regs regs;
	atomic_t pending;
};

static void stp_perf_deferred_run(struct irq_work *w)
{
	struct stp_perf_deferred *d = container_of(w, struct stp_perf_deferred, work);
	struct stp_args a = { .regs = &d->regs };

	stp_probe_enter();	/* irq_work runs in a thread on PREEMPT_RT */
	stp_run_probe_args(d->s->p, &a);
	stp_probe_exit();
	atomic_set_release(&d->pending, 0);
}

static void stp_perf_overflow(struct perf_event *ev, struct perf_sample_data *data,
			      struct pt_regs *regs)
{
	struct stp_kslot *s = ev->overflow_handler_context;
	struct stp_args a = { .regs = regs };
#ifdef STP_PERF_DEFER_ALL
	const int defer = 1;
#else
	const int defer = in_nmi();
#endif

	if (defer && s->u.perf.deferred) {
		struct stp_perf_deferred *d = &s->u.perf.deferred[smp_processor_id()];

		if (atomic_cmpxchg(&d->pending, 0, 1) != 0) {
			stp_atomic_inc(&stp_session.skipped);
			return;
		}
		d->regs = *regs;
		irq_work_queue(&d->work);
		return;
	}
	stp_run_probe_args(s->p, &a);
}

/*
 * Opens `attr` on every online CPU into evs[cpu] (nr_cpu_ids slots), with overflow handler
 * `fn` (NULL: a counting event); returns how many opened, or the last error if none did.
 */
static int stp_perf_open_all(struct perf_event_attr *attr, perf_overflow_handler_t fn,
			     void *ctx, struct perf_event **evs)
{
	int cpu, n = 0, rc = -ENODEV;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct perf_event *ev = perf_event_create_kernel_counter(attr, cpu, NULL, fn, ctx);

		if (IS_ERR(ev)) {
			rc = (int)PTR_ERR(ev);
			continue;
		}
		evs[cpu] = ev;
		n++;
	}
	cpus_read_unlock();
	return n ? n : rc;
}

/* Releases what stp_perf_open_all opened. */
static void stp_perf_close_all(struct perf_event **evs)
{
	int cpu;

	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		if (evs[cpu])
			perf_event_release_kernel(evs[cpu]);
}

/* The per-CPU event and deferral arrays of a perf probe. */
static int stp_perf_prepare(struct stp_kslot *s)
{
	int cpu;

	s->u.perf.events = stp_alloc(sizeof(*s->u.perf.events) * nr_cpu_ids);
	if (!s->u.perf.events)
		return -ENOMEM;
#ifndef STP_PERF_DEFER_ALL
	if (s->p->perf_type == PERF_TYPE_SOFTWARE)
		return 0;
#endif
	s->u.perf.deferred = stp_alloc(sizeof(*s->u.perf.deferred) * nr_cpu_ids);
	if (!s->u.perf.deferred)
		return -ENOMEM;
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		init_irq_work(&s->u.perf.deferred[cpu].work, stp_perf_deferred_run);
		s->u.perf.deferred[cpu].s = s;
		atomic_set(&s->u.perf.deferred[cpu].pending, 0);
	}
	return 0;
}

static int stp_perf_attach(struct stp_kslot *s)
{
	const struct stp_probe *p = s->p;
	struct perf_event_attr attr = {
		.type = (u32)p->perf_type,
		.size = sizeof(attr),
		.config = (u64)p->perf_config,
		.sample_period = (u64)(p->perf_sample > 0 ? p->perf_sample : 1000000),
		.pinned = 1,
	};
	int rc = stp_perf_open_all(&attr, stp_perf_overflow, s, s->u.perf.events);

	return rc > 0 ? 0 : rc;
}

static void stp_perf_detach(struct stp_kslot *s)
{
	int cpu;

	if (!s->u.perf.events)
		return;
	stp_perf_close_all(s->u.perf.events);
	stp_free(s->u.perf.events);
	s->u.perf.events = NULL;
	/* No overflow can queue work any more: wait for what is queued. */
	if (s->u.perf.deferred) {
		for (cpu = 0; cpu < nr_cpu_ids; cpu++)
			irq_work_sync(&s->u.perf.deferred[cpu].work);
		stp_free(s->u.perf.deferred);
		s->u.perf.deferred = NULL;
	}
}

#endif /* STP_ATTACH_PERF_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: kernel probes.
 *
 * kernel.function("f") and kprobe.function("f") are kprobes on the symbol; their .return
 * forms are kretprobes whose entry handler saves the parameters, so $param reads the value
 * at entry there too.  kernel.trace("t") attaches to the tracepoint found by name, with one
 * callback per argument count: every tracepoint argument is an integer or a pointer, passed
 * in a 64-bit slot on x86-64, and the generated code narrows it to its real type.
 *
 * perf.type(T).config(C).sample(N) opens a kernel counter on every online CPU whose overflow
 * (every N events) runs the probe.  Hardware counters overflow in NMI context, where the
 * runtime's locks and output buffers are not safe: there the overflow handler only saves the
 * registers and queues an irq_work on its CPU, which runs the probe in hard-interrupt
 * context right after, as timer probes run.  One overflow per event and CPU waits at a time;
 * another one before it ran counts as a skipped probe.  (-D STP_PERF_DEFER_ALL sends every
 * perf probe that way, so the path is tested where there is no PMU.)
 *
 * A probe the kernel refuses (blacklisted, not found) is a WARNING; the others still run.
 * Everything registered is unregistered when the session stops, before the end probes.
 */
#ifndef STP_KPROBES_H
#define STP_KPROBES_H

#include <linux/kprobes.h>
#include <linux/ptrace.h>
#include <linux/tracepoint.h>
#include <linux/perf_event.h>
#include <linux/irq_work.h>

/* A perf overflow waiting, on one CPU, for its irq_work to run the probe. */
struct stp_perf_deferred {
	struct irq_work work;
	struct stp_kslot *s;
	struct pt_regs regs;
	atomic_t pending;
};

struct stp_kslot {
	struct kprobe kp;
	struct kretprobe krp;
	struct tracepoint *tp;
	void *tp_fn;
	struct perf_event **events;	/* perf probes: one per CPU (nr_cpu_ids) */
	struct stp_perf_deferred *deferred;	/* perf probes run from irq_work, per CPU */
	const struct stp_probe *p;
	int registered;
};

static struct stp_kslot *stp_kslots;
static int stp_nkslots;

/*
 * x86-64 calling convention: the first six parameters in registers, the rest on the
 * caller's stack (read by stp_arg only when a script uses them; the caller's frame outlives
 * the call, so .return probes read them there too).
 */
static void stp_args_from_regs(struct stp_args *a, struct pt_regs *regs)
{
	a->v[0] = regs->di;
	a->v[1] = regs->si;
	a->v[2] = regs->dx;
	a->v[3] = regs->cx;
	a->v[4] = regs->r8;
	a->v[5] = regs->r9;
	a->stack = regs->sp;
	a->ret = 0;
	a->regs = regs;
}

static int stp_kprobe_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct stp_kslot *s = container_of(kp, struct stp_kslot, kp);
	struct stp_args a;

	stp_args_from_regs(&a, regs);
	stp_run_probe_args(s->p, &a);
	return 0;
}

static int stp_kretprobe_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	stp_args_from_regs((struct stp_args *)ri->data, regs);
	return 0;
}

static int stp_kretprobe_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct kretprobe *rp = get_kretprobe(ri);
	struct stp_kslot *s;
	struct stp_args *a = (struct stp_args *)ri->data;

	if (!rp)
		return 0;
	s = container_of(rp, struct stp_kslot, krp);
	a->ret = regs_return_value(regs);
	a->regs = regs;
	stp_run_probe_args(s->p, a);
	return 0;
}

/*
 * The tracepoint callback: data is the probe's slot.  The first five arguments come in
 * registers.  Later ones are on the caller's stack above the return address, but only
 * for a tracepoint that has them: for one with fewer, those slots belong to the caller,
 * and at the top of an IRQ stack they are past its end.  They are read fault-safely from
 * this function's frame (which __builtin_frame_address gives it), stopping at the first
 * that cannot be read; no target variable refers to one the tracepoint did not pass.
 */
static noinline void stp_tp_callback(void *data, u64 a1, u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct stp_args a = { .v = { a1, a2, a3, a4, a5 } };
	const u64 *stack = (const u64 *)__builtin_frame_address(0) + 2;
	int i;

	if (copy_from_kernel_nofault(&a.v[5], stack, sizeof(u64) * (STP_MAX_ARGS - 5)))
		for (i = 5; i < STP_MAX_ARGS; i++)
			if (copy_from_kernel_nofault(&a.v[i], stack + (i - 5), sizeof(u64)))
				break;
	stp_run_probe_args(((struct stp_kslot *)data)->p, &a);
}

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

	if (defer && s->deferred) {
		struct stp_perf_deferred *d = &s->deferred[smp_processor_id()];

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

static int stp_perf_register(struct stp_kslot *s)
{
	const struct stp_probe *p = s->p;
	struct perf_event_attr attr = {
		.type = (u32)p->perf_type,
		.size = sizeof(attr),
		.config = (u64)p->perf_config,
		.sample_period = (u64)(p->perf_sample > 0 ? p->perf_sample : 1000000),
		.pinned = 1,
	};
	int cpu, rc;

	s->events = stp_alloc(sizeof(*s->events) * nr_cpu_ids);
	if (!s->events)
		return -ENOMEM;
#ifndef STP_PERF_DEFER_ALL
	if (p->perf_type != PERF_TYPE_SOFTWARE)
#endif
	{
		s->deferred = stp_alloc(sizeof(*s->deferred) * nr_cpu_ids);
		if (!s->deferred)
			return -ENOMEM;
		for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
			init_irq_work(&s->deferred[cpu].work, stp_perf_deferred_run);
			s->deferred[cpu].s = s;
			atomic_set(&s->deferred[cpu].pending, 0);
		}
	}
	rc = stp_perf_open_all(&attr, stp_perf_overflow, s, s->events);
	return rc > 0 ? 0 : rc;
}

static void stp_perf_unregister(struct stp_kslot *s)
{
	int cpu;

	if (!s->events)
		return;
	stp_perf_close_all(s->events);
	stp_free(s->events);
	s->events = NULL;
	/* No overflow can queue work any more: wait for what is queued. */
	if (s->deferred) {
		for (cpu = 0; cpu < nr_cpu_ids; cpu++)
			irq_work_sync(&s->deferred[cpu].work);
		stp_free(s->deferred);
		s->deferred = NULL;
	}
}

struct stp_tp_search {
	const char *name;
	struct tracepoint *found;
};

static void stp_tp_match(struct tracepoint *tp, void *priv)
{
	struct stp_tp_search *s = priv;

	if (!s->found && !strcmp(tp->name, s->name))
		s->found = tp;
}

static void stp_kprobe_warn(const struct stp_probe *p, int rc)
{
	char msg[192];

	snprintf(msg, sizeof(msg), "probe %s registration error (rc %d)", p->pp, rc);
	stp_warn(msg);
}

/* Registers every kernel probe; returns how many are active. */
static int stp_kprobes_register(void)
{
	int i, n = 0, active = 0;

	for (i = 0; i < STP_NPROBES; i++)
		if (stp_probes[i].kind == STP_PROBE_KPROBE || stp_probes[i].kind == STP_PROBE_KRETPROBE ||
		    stp_probes[i].kind == STP_PROBE_TRACEPOINT || stp_probes[i].kind == STP_PROBE_PERF)
			n++;
	if (!n)
		return 0;
	stp_kslots = stp_alloc(sizeof(*stp_kslots) * (size_t)n);
	if (!stp_kslots)
		return -ENOMEM;
	for (i = 0; i < STP_NPROBES; i++) {
		const struct stp_probe *p = &stp_probes[i];
		struct stp_kslot *s = &stp_kslots[stp_nkslots];
		int rc = 0;

		if (p->kind != STP_PROBE_KPROBE && p->kind != STP_PROBE_KRETPROBE &&
		    p->kind != STP_PROBE_TRACEPOINT && p->kind != STP_PROBE_PERF)
			continue;
		s->p = p;
		stp_nkslots++;
		if (p->kind == STP_PROBE_KPROBE) {
			if (p->addr) {
				s->kp.addr = (kprobe_opcode_t *)p->addr;
			} else {
				s->kp.symbol_name = p->symbol;
				s->kp.offset = p->offset;
			}
			s->kp.pre_handler = stp_kprobe_pre;
			rc = register_kprobe(&s->kp);
		} else if (p->kind == STP_PROBE_KRETPROBE) {
			s->krp.kp.symbol_name = p->symbol;
			s->krp.entry_handler = stp_kretprobe_entry;
			s->krp.handler = stp_kretprobe_ret;
			s->krp.data_size = sizeof(struct stp_args);
			s->krp.maxactive = (int)p->maxactive;
			rc = register_kretprobe(&s->krp);
		} else if (p->kind == STP_PROBE_PERF) {
			rc = stp_perf_register(s);
			if (rc == -ENOMEM)
				return rc;
		} else {
			struct stp_tp_search q = { .name = p->symbol };

			for_each_kernel_tracepoint(stp_tp_match, &q);
			if (!q.found) {
				rc = -ENOENT;
			} else {
				s->tp = q.found;
				s->tp_fn = stp_tp_callback;
				rc = tracepoint_probe_register(s->tp, s->tp_fn, s);
			}
		}
		if (rc) {
			stp_kprobe_warn(p, rc);
			continue;
		}
		s->registered = 1;
		active++;
	}
	return active;
}

/* Unregisters them all and waits until no handler runs any more. */
static void stp_kprobes_unregister(void)
{
	int i, tps = 0;

	for (i = 0; i < stp_nkslots; i++) {
		struct stp_kslot *s = &stp_kslots[i];

		if (!s->registered)
			continue;
		s->registered = 0;
		if (s->p->kind == STP_PROBE_KPROBE) {
			unregister_kprobe(&s->kp);
		} else if (s->p->kind == STP_PROBE_KRETPROBE) {
			unregister_kretprobe(&s->krp);
		} else if (s->p->kind == STP_PROBE_PERF) {
			stp_perf_unregister(s);
		} else {
			tracepoint_probe_unregister(s->tp, s->tp_fn, s);
			tps++;
		}
	}
	if (tps)
		tracepoint_synchronize_unregister();
}

static void stp_kprobes_free(void)
{
	int i;

	for (i = 0; i < stp_nkslots; i++)
		stp_perf_unregister(&stp_kslots[i]);
	stp_free(stp_kslots);
	stp_kslots = NULL;
	stp_nkslots = 0;
}

#endif /* STP_KPROBES_H */

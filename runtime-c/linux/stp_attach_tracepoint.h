/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: tracepoints (kernel.trace, and kernel.mark mapped to the tracepoint of
 * that name).  The probe attaches to the tracepoint found by name, with one callback for
 * every argument count: every tracepoint argument is an integer or a pointer, passed in a
 * 64-bit slot on x86-64, and the generated code narrows it to its real type.
 */
#ifndef STP_ATTACH_TRACEPOINT_H
#define STP_ATTACH_TRACEPOINT_H

#include <linux/tracepoint.h>

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

static int stp_tracepoint_attach(struct stp_kslot *s)
{
	struct stp_tp_search q = { .name = s->p->symbol };

	for_each_kernel_tracepoint(stp_tp_match, &q);
	if (!q.found)
		return -ENOENT;
	s->u.tp.tp = q.found;
	s->u.tp.fn = stp_tp_callback;
	return tracepoint_probe_register(s->u.tp.tp, s->u.tp.fn, s);
}

static void stp_tracepoint_detach(struct stp_kslot *s)
{
	tracepoint_probe_unregister(s->u.tp.tp, s->u.tp.fn, s);
}

#endif /* STP_ATTACH_TRACEPOINT_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: kernel probes, one attach header per kind behind a small ops table:
 * stp_attach_kprobe.h (kprobes, kretprobes), stp_attach_tracepoint.h, stp_attach_perf.h,
 * stp_attach_netfilter.h, stp_attach_process.h, stp_attach_uprobe.h.
 * Each kernel probe of the probe table gets a slot holding its kind's kernel object.
 *
 * A probe the kernel refuses (blacklisted, not found) is a WARNING; the others still run.
 * Everything registered is unregistered when the session stops, before the end probes.
 */
#ifndef STP_KPROBES_H
#define STP_KPROBES_H

#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <linux/perf_event.h>
#include <linux/netfilter.h>
#include <linux/path.h>
#include <linux/namei.h>
#include <linux/uprobes.h>

struct stp_perf_deferred;

/* One kernel probe: the probe, whether it is registered, and its kind's kernel object. */
struct stp_kslot {
	const struct stp_probe *p;
	int registered;
	union {
		struct kprobe kp;
		struct kretprobe krp;
		struct {
			struct tracepoint *tp;
			void *fn;
		} tp;
		struct {
			struct perf_event **events;	/* one per CPU (nr_cpu_ids) */
			struct stp_perf_deferred *deferred;	/* run from irq_work, per CPU */
		} perf;
		struct nf_hook_ops nf;
		struct {
			struct path path;	/* the executable (STP_PROC_PATH), held */
			struct inode *inode;
			int bit;		/* its bit in stp_proc_seen's masks */
			int held;
		} proc;
		struct {
			struct uprobe_consumer uc;
			struct path path;	/* the program, held */
			struct uprobe *uprobe;	/* 6.12: what uprobe_register returned */
			int held;
		} up;
	} u;
};

/* Every kernel probe's slot (stp_kprobes_register allocates them). */
static struct stp_kslot *stp_kslots;
static int stp_nkslots;

static void stp_kprobe_warn(const struct stp_probe *p, int rc)
{
	char msg[192];

	snprintf(msg, sizeof(msg), "probe %s registration error (rc %d)", p->pp, rc);
	stp_warn(msg);
}

/* Looks up a regular file (a probe's program, in process context) and holds it in *p. */
static int stp_regular_file(const char *name, struct path *p)
{
	int rc = kern_path(name, LOOKUP_FOLLOW, p);

	if (rc)
		return rc;
	if (!d_is_reg(p->dentry)) {
		path_put(p);
		return -EINVAL;
	}
	return 0;
}

#include "stp_attach_kprobe.h"
#include "stp_attach_tracepoint.h"
#include "stp_attach_perf.h"
#include "stp_attach_netfilter.h"
#include "stp_attach_process.h"
#include "stp_attach_uprobe.h"

/*
 * How a kind of kernel probe attaches and detaches.  prepare makes the runtime's own
 * allocations (failing, it ends the session: the machine is out of memory); attach
 * registers with the kernel (failing, the probe is a WARNING and the rest still run).
 */
struct stp_attach_ops {
	enum stp_probe_kind kind;
	int (*prepare)(struct stp_kslot *s);
	int (*attach)(struct stp_kslot *s);
	void (*detach)(struct stp_kslot *s);
	void (*sync)(void);		/* after detaching them all: wait for running handlers */
	void (*release)(struct stp_kslot *s);	/* frees what attach allocated, even if it failed */
};

static const struct stp_attach_ops stp_attach_table[] = {
	{
		.kind = STP_PROBE_KPROBE,
		.attach = stp_kprobe_attach,
		.detach = stp_kprobe_detach,
	},
	{
		.kind = STP_PROBE_KRETPROBE,
		.attach = stp_kretprobe_attach,
		.detach = stp_kretprobe_detach,
	},
	{
		.kind = STP_PROBE_TRACEPOINT,
		.attach = stp_tracepoint_attach,
		.detach = stp_tracepoint_detach,
		.sync = tracepoint_synchronize_unregister,
	},
	{
		.kind = STP_PROBE_PERF,
		.prepare = stp_perf_prepare,
		.attach = stp_perf_attach,
		.detach = stp_perf_detach,
		.release = stp_perf_detach,
	},
	{
		.kind = STP_PROBE_NETFILTER,
		.attach = stp_netfilter_attach,
		.detach = stp_netfilter_detach,
		.sync = synchronize_net,
	},
	{
		.kind = STP_PROBE_PROCESS,
		.attach = stp_process_attach,
		.detach = stp_process_detach,
		.sync = tracepoint_synchronize_unregister,
		.release = stp_process_release,
	},
	{
		.kind = STP_PROBE_UPROBE,
		.attach = stp_uprobe_attach,
		.detach = stp_uprobe_detach,
		.sync = stp_uprobe_sync,
		.release = stp_uprobe_release,
	},
	{
		.kind = STP_PROBE_URETPROBE,
		.attach = stp_uprobe_attach,
		.detach = stp_uprobe_detach,
		.sync = stp_uprobe_sync,
		.release = stp_uprobe_release,
	},
};

/* The ops of a probe kind, or NULL for kinds that are not kernel probes. */
static const struct stp_attach_ops *stp_attach_ops_of(enum stp_probe_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stp_attach_table); i++)
		if (stp_attach_table[i].kind == kind)
			return &stp_attach_table[i];
	return NULL;
}

/* Room for a pointer per slot: kprobes and kretprobes are unregistered in one batch each. */
static void **stp_kbatch;

/* Registers every kernel probe; returns how many are active. */
static int stp_kprobes_register(void)
{
	int i, n = 0, active = 0;

	for (i = 0; i < STP_NPROBES; i++)
		if (stp_attach_ops_of(stp_probes[i].kind))
			n++;
	if (!n)
		return 0;
	stp_kslots = stp_alloc(sizeof(*stp_kslots) * (size_t)n);
	stp_kbatch = stp_alloc(sizeof(*stp_kbatch) * (size_t)n);
	if (!stp_kslots || !stp_kbatch)
		return -ENOMEM;
	for (i = 0; i < STP_NPROBES; i++) {
		const struct stp_probe *p = &stp_probes[i];
		const struct stp_attach_ops *ops = stp_attach_ops_of(p->kind);
		struct stp_kslot *s;
		int rc;

		if (!ops)
			continue;
		s = &stp_kslots[stp_nkslots++];
		s->p = p;
		if (ops->prepare && ops->prepare(s))
			return -ENOMEM;
		rc = ops->attach(s);
		if (rc) {
			stp_kprobe_warn(p, rc);
			continue;
		}
		s->registered = 1;
		active++;
	}
	if (stp_netfilter_start() || stp_process_start())
		return -ENOMEM;
	return active;
}

/*
 * Unregisters the registered kprobes (kind KPROBE) or kretprobes in one call: the kernel
 * then waits for one RCU grace period in all, not one per probe (hundreds of probes from a
 * wildcard would otherwise take seconds to detach).
 */
static void stp_kprobes_unregister_batch(enum stp_probe_kind kind)
{
	int i, n = 0;

	for (i = 0; i < stp_nkslots; i++) {
		struct stp_kslot *s = &stp_kslots[i];

		if (!s->registered || s->p->kind != kind)
			continue;
		s->registered = 0;
		if (kind == STP_PROBE_KPROBE)
			stp_kbatch[n++] = &s->u.kp;
		else
			stp_kbatch[n++] = &s->u.krp;
	}
	if (!n)
		return;
	if (kind == STP_PROBE_KPROBE)
		unregister_kprobes((struct kprobe **)stp_kbatch, n);
	else
		unregister_kretprobes((struct kretprobe **)stp_kbatch, n);
}

/* Unregisters them all and waits until no handler runs any more. */
static void stp_kprobes_unregister(void)
{
	size_t k;
	int i;

	if (stp_kbatch) {
		stp_kprobes_unregister_batch(STP_PROBE_KPROBE);
		stp_kprobes_unregister_batch(STP_PROBE_KRETPROBE);
	}
	stp_netfilter_stop();
	stp_process_stop();
	for (i = 0; i < stp_nkslots; i++) {
		struct stp_kslot *s = &stp_kslots[i];

		if (!s->registered)
			continue;
		s->registered = 0;
		stp_attach_ops_of(s->p->kind)->detach(s);
	}
	for (k = 0; k < ARRAY_SIZE(stp_attach_table); k++) {
		const struct stp_attach_ops *ops = &stp_attach_table[k];

		if (!ops->sync)
			continue;
		for (i = 0; i < stp_nkslots; i++) {
			if (stp_kslots[i].p->kind == ops->kind) {
				ops->sync();
				break;
			}
		}
	}
}

static void stp_kprobes_free(void)
{
	int i;

	for (i = 0; i < stp_nkslots; i++) {
		const struct stp_attach_ops *ops = stp_attach_ops_of(stp_kslots[i].p->kind);

		if (ops->release)
			ops->release(&stp_kslots[i]);
	}
	stp_process_free();
	stp_free(stp_kslots);
	stp_free(stp_kbatch);
	stp_kslots = NULL;
	stp_kbatch = NULL;
	stp_nkslots = 0;
}

#endif /* STP_KPROBES_H */

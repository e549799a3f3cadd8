/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: netfilter hooks (netfilter.hook("H").pf("PF")[.priority("P")]).
 *
 * Each probe is one nf_hook_ops, registered in every network namespace, as SystemTap
 * does: in init_net when the probe attaches (a failure there is the probe's WARNING), and
 * in every other namespace, present or created while the session runs, through one
 * pernet_operations whose per-namespace data records which hooks it registered there, so
 * its exit (a namespace going away, or the session stopping) removes exactly those.
 *
 * The hook runs the probe with $hooknum, $skb, $in, $out and $okfn as its arguments; the
 * probe may set $verdict (under -g), which the hook returns, NF_ACCEPT otherwise.
 */
#ifndef STP_ATTACH_NETFILTER_H
#define STP_ATTACH_NETFILTER_H

#include <linux/netfilter.h>
#include <linux/bitops.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

static unsigned int stp_nf_hook(void *priv, struct sk_buff *skb,
				const struct nf_hook_state *state)
{
	const struct stp_kslot *s = priv;
	unsigned int verdict = NF_ACCEPT;
	struct stp_args a = {
		.v = {
			state->hook,
			(uintptr_t)skb,
			(uintptr_t)state->in,
			(uintptr_t)state->out,
			(uintptr_t)state->okfn,
		},
		.verdict = &verdict,
	};

	/* Hooks run under rcu_read_lock(), which leaves preemption on in a preemptible-RCU
	   kernel: the probe's context is this CPU's, so the CPU must not change. */
	preempt_disable();
	stp_run_probe_args(s->p, &a);
	preempt_enable();
	return verdict;
}

static int stp_netfilter_attach(struct stp_kslot *s)
{
	s->u.nf.hook = stp_nf_hook;
	s->u.nf.priv = s;
	s->u.nf.pf = (u8)s->p->nf_pf;
	s->u.nf.hooknum = (unsigned int)s->p->nf_hook;
	s->u.nf.priority = s->p->nf_priority;
	return nf_register_net_hook(&init_net, &s->u.nf);
}

static void stp_netfilter_detach(struct stp_kslot *s)
{
	nf_unregister_net_hook(&init_net, &s->u.nf);
}

/* The other namespaces: a bit per slot, set where the slot's hook is registered. */
static unsigned int stp_nf_net_id;
static int stp_nf_pernet_registered;

static int stp_nf_net_init(struct net *net)
{
	unsigned long *done = net_generic(net, stp_nf_net_id);
	int i;

	if (net_eq(net, &init_net))
		return 0;
	for (i = 0; i < stp_nkslots; i++) {
		struct stp_kslot *s = &stp_kslots[i];

		if (s->p->kind != STP_PROBE_NETFILTER || !s->registered)
			continue;
		if (!nf_register_net_hook(net, &s->u.nf))
			__set_bit(i, done);
	}
	return 0;
}

static void stp_nf_net_exit(struct net *net)
{
	unsigned long *done = net_generic(net, stp_nf_net_id);
	int i;

	if (net_eq(net, &init_net))
		return;
	for (i = 0; i < stp_nkslots; i++) {
		if (test_bit(i, done))
			nf_unregister_net_hook(net, &stp_kslots[i].u.nf);
	}
}

/* A bit per kernel probe slot (there are at most STP_NPROBES). */
static struct pernet_operations stp_nf_pernet = {
	.init = stp_nf_net_init,
	.exit = stp_nf_net_exit,
	.id = &stp_nf_net_id,
	.size = sizeof(unsigned long) * BITS_TO_LONGS(STP_NPROBES),
};

/* After the slots attached: the hooks in every other namespace.  Fails only for memory. */
static int stp_netfilter_start(void)
{
	int i, any = 0;

	for (i = 0; i < stp_nkslots; i++)
		if (stp_kslots[i].p->kind == STP_PROBE_NETFILTER && stp_kslots[i].registered)
			any = 1;
	if (!any)
		return 0;
	if (register_pernet_subsys(&stp_nf_pernet))
		return -ENOMEM;
	stp_nf_pernet_registered = 1;
	return 0;
}

/* Before the slots detach: the hooks in the other namespaces go. */
static void stp_netfilter_stop(void)
{
	if (!stp_nf_pernet_registered)
		return;
	unregister_pernet_subsys(&stp_nf_pernet);
	stp_nf_pernet_registered = 0;
}

#endif /* STP_ATTACH_NETFILTER_H */

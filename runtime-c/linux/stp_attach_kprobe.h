/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: kprobes and kretprobes (kernel.function, module().function,
 * kernel.statement, kprobe.*).  A kprobe sits on the symbol (plus offset) or, with
 * .absolute, on a raw address; a .return probe is a kretprobe whose entry handler saves
 * the parameters, so $param reads the value at entry there too.
 */
#ifndef STP_ATTACH_KPROBE_H
#define STP_ATTACH_KPROBE_H

#include <linux/kprobes.h>
#include <linux/ptrace.h>

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
	struct stp_kslot *s = container_of(kp, struct stp_kslot, u.kp);
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
	s = container_of(rp, struct stp_kslot, u.krp);
	a->ret = regs_return_value(regs);
	a->regs = regs;
	stp_run_probe_args(s->p, a);
	return 0;
}

static int stp_kprobe_attach(struct stp_kslot *s)
{
	const struct stp_probe *p = s->p;

	if (p->addr) {
		s->u.kp.addr = (kprobe_opcode_t *)p->addr;
	} else {
		s->u.kp.symbol_name = p->symbol;
		s->u.kp.offset = p->offset;
	}
	s->u.kp.pre_handler = stp_kprobe_pre;
	return register_kprobe(&s->u.kp);
}

static void stp_kprobe_detach(struct stp_kslot *s)
{
	unregister_kprobe(&s->u.kp);
}

static int stp_kretprobe_attach(struct stp_kslot *s)
{
	const struct stp_probe *p = s->p;

	s->u.krp.kp.symbol_name = p->symbol;
	s->u.krp.entry_handler = stp_kretprobe_entry;
	s->u.krp.handler = stp_kretprobe_ret;
	s->u.krp.data_size = sizeof(struct stp_args);
	s->u.krp.maxactive = (int)p->maxactive;
	return register_kretprobe(&s->u.krp);
}

static void stp_kretprobe_detach(struct stp_kslot *s)
{
	unregister_kretprobe(&s->u.krp);
}

#endif /* STP_ATTACH_KPROBE_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: uprobes and uretprobes (process("PATH").function("NAME") and .return).
 * The translator found the function's offset in the file; the probe goes on the file's
 * inode, so it fires in every process that maps the program, now or later.  The path is
 * looked up when the probe attaches and held until it is released (the kernel does not
 * hold the inode for us).
 *
 * The kernel's API changed in 6.12: uprobe_register() returns the uprobe, and unregistering
 * is uprobe_unregister_nosync() for each probe, then one uprobe_unregister_sync() before
 * the consumers may go.  Before, uprobe_unregister() waited itself.
 *
 * An SDT marker is a uprobe on its nop; a marker with a semaphore has the kernel count the
 * probes on it (ref_ctr_offset: the semaphore's offset in the file) in each process that
 * maps the file, now or later, so the program computes the marker's arguments only while
 * it is probed.
 *
 * Handlers run in the probed task, preemptible: the probe runs with preemption off, as
 * every other probe does.  The parameters are those of the x86-64 calling convention
 * (registers, then the user stack above the return address); a .return probe has the
 * return value only.
 */
#ifndef STP_ATTACH_UPROBE_H
#define STP_ATTACH_UPROBE_H

#include <linux/uprobes.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/dcache.h>
#include <linux/version.h>

static int stp_uprobe_handler(struct uprobe_consumer *uc, struct pt_regs *regs)
{
	struct stp_kslot *s = container_of(uc, struct stp_kslot, u.up.uc);
	struct stp_args a;

	stp_args_from_regs(&a, regs);
	a.user = 1;
	preempt_disable();
	stp_run_probe_args(s->p, &a);
	preempt_enable();
	return 0;
}

static int stp_uretprobe_handler(struct uprobe_consumer *uc, unsigned long func,
				 struct pt_regs *regs)
{
	struct stp_kslot *s = container_of(uc, struct stp_kslot, u.up.uc);
	struct stp_args a = { .ret = regs_return_value(regs), .regs = regs, .user = 1 };

	preempt_disable();
	stp_run_probe_args(s->p, &a);
	preempt_enable();
	return 0;
}

static int stp_uprobe_attach(struct stp_kslot *s)
{
	struct inode *inode;
	int rc;

	rc = stp_regular_file(s->p->symbol, &s->u.up.path);
	if (rc)
		return rc;
	inode = d_real_inode(s->u.up.path.dentry);
	if (s->p->kind == STP_PROBE_URETPROBE)
		s->u.up.uc.ret_handler = stp_uretprobe_handler;
	else
		s->u.up.uc.handler = stp_uprobe_handler;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	s->u.up.uprobe = uprobe_register(inode, (loff_t)s->p->file_offset,
					 (loff_t)s->p->semaphore, &s->u.up.uc);
	if (IS_ERR(s->u.up.uprobe)) {
		rc = (int)PTR_ERR(s->u.up.uprobe);
		s->u.up.uprobe = NULL;
	}
#else
	rc = uprobe_register_refctr(inode, (loff_t)s->p->file_offset, (loff_t)s->p->semaphore,
				    &s->u.up.uc);
#endif
	if (rc) {
		path_put(&s->u.up.path);
		return rc;
	}
	s->u.up.held = 1;
	return 0;
}

static void stp_uprobe_detach(struct stp_kslot *s)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	uprobe_unregister_nosync(s->u.up.uprobe, &s->u.up.uc);
#else
	uprobe_unregister(d_real_inode(s->u.up.path.dentry), (loff_t)s->p->file_offset,
			  &s->u.up.uc);
#endif
}

/* After detaching them all: no handler runs any more (6.12; before, unregister waited). */
static void stp_uprobe_sync(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	uprobe_unregister_sync();
#endif
}

static void stp_uprobe_release(struct stp_kslot *s)
{
	if (s->u.up.held)
		path_put(&s->u.up.path);
	s->u.up.held = 0;
}

#endif /* STP_ATTACH_UPROBE_H */

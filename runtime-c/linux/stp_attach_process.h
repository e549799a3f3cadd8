/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: process lifecycle probes (process.begin, .end, .thread.begin,
 * .thread.end) for every user process (with -c or -x: the target and its descendants, as
 * in SystemTap), one pid, or one executable, on three scheduler tracepoints:
 *
 *   sched_process_fork  a new process (begin) or thread (thread.begin).  It runs in the
 *                       parent; the probe's task (stp_task: pid(), execname() ...) is
 *                       the child.
 *   sched_process_exec  the old program ends (end), then the new one begins (begin).
 *   sched_process_exit  a thread ends (thread.end), or the group leader does (end).
 *
 * When the session starts, begin and thread.begin probes fire for the processes and
 * threads already running, as in SystemTap.  Kernel threads are never watched.
 *
 * An executable is matched by inode: its path is looked up when the probes attach, and
 * kept until they are released.  By the exit tracepoint a process's mm (and with it its
 * executable) is gone, so the processes whose executable matched are remembered from
 * their begin to their end in a small table (stp_proc_seen), one bit per executable.
 *
 * The tracepoints run with preemption off and the handlers never sleep; the table is
 * under a raw spinlock held for a bounded scan.
 */
#ifndef STP_ATTACH_PROCESS_H
#define STP_ATTACH_PROCESS_H

#include <linux/tracepoint.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/binfmts.h>
#include <linux/rcupdate.h>

/* How many processes running a watched executable are remembered at once. */
#ifndef STP_PROC_SEEN
#define STP_PROC_SEEN 1024
#endif
/* How many process probes may name an executable (one bit each). */
#define STP_PROC_MAX_PATHS 64

struct stp_proc_seen {
	pid_t tgid;		/* 0: a free entry */
	u64 mask;		/* the executables (bits) it runs */
};

static struct stp_proc_seen *stp_proc_seen;
static DEFINE_RAW_SPINLOCK(stp_proc_seen_lock);
static struct stp_kslot **stp_proc_slots;	/* the registered process probes */
static int stp_nproc, stp_proc_npaths;
static int stp_proc_seen_full;			/* warned once */

static struct {
	const char *name;
	void *fn;
	struct tracepoint *tp;
	int registered;
} stp_proc_hooks[3];

/* Which watched executables mm runs (bits); call under rcu_read_lock. */
static u64 stp_proc_exe_mask(struct mm_struct *mm)
{
	struct file *exe;
	struct inode *inode;
	u64 mask = 0;
	int i;

	if (!mm || !stp_proc_npaths)
		return 0;
	exe = rcu_dereference(mm->exe_file);
	if (!exe)
		return 0;
	inode = file_inode(exe);
	for (i = 0; i < stp_nproc; i++) {
		struct stp_kslot *s = stp_proc_slots[i];

		if (s->p->proc_filter == STP_PROC_PATH && s->u.proc.inode == inode)
			mask |= 1ULL << s->u.proc.bit;
	}
	return mask;
}

/* The table: a process's bits (remove: and forget it), or 0. */
static u64 stp_proc_seen_get(pid_t tgid, int remove)
{
	unsigned long flags;
	u64 mask = 0;
	int i;

	if (!stp_proc_npaths)
		return 0;
	raw_spin_lock_irqsave(&stp_proc_seen_lock, flags);
	for (i = 0; i < STP_PROC_SEEN; i++) {
		if (stp_proc_seen[i].tgid != tgid)
			continue;
		mask = stp_proc_seen[i].mask;
		if (remove)
			stp_proc_seen[i].tgid = 0;
		break;
	}
	raw_spin_unlock_irqrestore(&stp_proc_seen_lock, flags);
	return mask;
}

static void stp_proc_seen_put(pid_t tgid, u64 mask)
{
	unsigned long flags;
	int i, free = -1;

	if (!mask)
		return;
	raw_spin_lock_irqsave(&stp_proc_seen_lock, flags);
	for (i = 0; i < STP_PROC_SEEN; i++) {
		if (stp_proc_seen[i].tgid == tgid) {
			free = i;
			break;
		}
		if (free < 0 && !stp_proc_seen[i].tgid)
			free = i;
	}
	if (free >= 0) {
		stp_proc_seen[free].tgid = tgid;
		stp_proc_seen[free].mask = mask;
	}
	raw_spin_unlock_irqrestore(&stp_proc_seen_lock, flags);
	if (free < 0 && !xchg(&stp_proc_seen_full, 1))
		stp_warn("too many processes run a watched executable: the end probes of some "
			 "will not fire (STP_PROC_SEEN)");
}

/* True when t is the session's target or descends from it; call under rcu_read_lock. */
static int stp_proc_in_target(struct task_struct *t)
{
	pid_t target = (pid_t)stp_session.target;
	int depth;

	if (target <= 0)
		return 0;
	for (depth = 0; t && depth < 4096; depth++) {
		if (t->tgid == target)
			return 1;
		if (t->pid == 1 || t == t->real_parent)
			return 0;
		t = rcu_dereference(t->real_parent);
	}
	return 0;
}

/* Runs the probes of one event that watch t (which runs executables mask). */
static void stp_proc_fire(int event, struct task_struct *t, u64 mask)
{
	struct stp_args a = { .task = t };
	int i;

	for (i = 0; i < stp_nproc; i++) {
		const struct stp_kslot *s = stp_proc_slots[i];
		const struct stp_probe *p = s->p;
		int match;

		if (p->proc_event != event)
			continue;
		switch (p->proc_filter) {
		case STP_PROC_ANY:
			match = stp_session.target <= 0 || stp_proc_in_target(t);
			break;
		case STP_PROC_PID:
			match = t->tgid == p->proc_pid;
			break;
		case STP_PROC_PATH:
			match = !!(mask & (1ULL << s->u.proc.bit));
			break;
		default:
			match = 0;
		}
		if (match)
			stp_run_probe_args(p, &a);
	}
}

/* A new (or, at the start, already running) task t: a process begins, or a thread. */
static void stp_proc_task_begins(struct task_struct *t, u64 mask)
{
	if (t->pid == t->tgid) {
		stp_proc_seen_put(t->tgid, mask);
		stp_proc_fire(STP_PROC_BEGIN, t, mask);
	} else {
		stp_proc_fire(STP_PROC_THREAD_BEGIN, t, mask);
	}
}

static void stp_proc_on_fork(void *data, struct task_struct *parent, struct task_struct *child)
{
	if (child->flags & PF_KTHREAD)
		return;
	rcu_read_lock();
	stp_proc_task_begins(child, stp_proc_exe_mask(child->mm));
	rcu_read_unlock();
}

static void stp_proc_on_exec(void *data, struct task_struct *p, pid_t old_pid,
			     struct linux_binprm *bprm)
{
	u64 old, mask;

	if (p->flags & PF_KTHREAD)
		return;
	rcu_read_lock();
	old = stp_proc_seen_get(p->tgid, 1);
	stp_proc_fire(STP_PROC_END, p, old);
	mask = stp_proc_exe_mask(p->mm);
	stp_proc_seen_put(p->tgid, mask);
	stp_proc_fire(STP_PROC_BEGIN, p, mask);
	rcu_read_unlock();
}

static void stp_proc_on_exit(void *data, struct task_struct *p)
{
	int leader = p->pid == p->tgid;
	u64 mask;

	if (p->flags & PF_KTHREAD)
		return;
	rcu_read_lock();
	mask = stp_proc_seen_get(p->tgid, leader);
	stp_proc_fire(leader ? STP_PROC_END : STP_PROC_THREAD_END, p, mask);
	rcu_read_unlock();
}

static void stp_proc_hook_match(struct tracepoint *tp, void *priv)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(stp_proc_hooks); i++)
		if (!stp_proc_hooks[i].tp && !strcmp(tp->name, stp_proc_hooks[i].name))
			stp_proc_hooks[i].tp = tp;
}

/* A process probe: its executable's inode, looked up now (process context). */
static int stp_process_attach(struct stp_kslot *s)
{
	int rc;

	if (s->p->proc_filter != STP_PROC_PATH)
		return 0;
	if (stp_proc_npaths >= STP_PROC_MAX_PATHS)
		return -E2BIG;
	rc = stp_regular_file(s->p->symbol, &s->u.proc.path);
	if (rc)
		return rc;
	s->u.proc.inode = d_inode(s->u.proc.path.dentry);
	s->u.proc.bit = stp_proc_npaths++;
	s->u.proc.held = 1;
	return 0;
}

static void stp_process_detach(struct stp_kslot *s)
{
	(void)s;	/* the hooks go in stp_process_stop, the path in release */
}

static void stp_process_release(struct stp_kslot *s)
{
	if (s->u.proc.held)
		path_put(&s->u.proc.path);
	s->u.proc.held = 0;
}

/* Fires begin and thread.begin for the tasks already running. */
static void stp_proc_existing(void)
{
	struct task_struct *g, *t;

	rcu_read_lock();
	for_each_process_thread(g, t) {
		u64 mask;

		if (t->flags & (PF_KTHREAD | PF_EXITING))
			continue;
		task_lock(t);
		mask = stp_proc_exe_mask(t->mm);
		task_unlock(t);
		preempt_disable();
		stp_proc_task_begins(t, mask);
		preempt_enable();
	}
	rcu_read_unlock();
}

/*
 * After the probes attached: hooks on the three tracepoints when a process probe is
 * registered, then the tasks already running.  Fails only when out of memory.
 */
static int stp_process_start(void)
{
	size_t k;
	int i, n = 0;

	for (i = 0; i < stp_nkslots; i++)
		if (stp_kslots[i].registered && stp_kslots[i].p->kind == STP_PROBE_PROCESS)
			n++;
	if (!n)
		return 0;
	stp_proc_slots = stp_alloc(sizeof(*stp_proc_slots) * (size_t)n);
	stp_proc_seen = stp_alloc(sizeof(*stp_proc_seen) * STP_PROC_SEEN);
	if (!stp_proc_slots || !stp_proc_seen)
		return -ENOMEM;
	for (i = 0; i < stp_nkslots; i++)
		if (stp_kslots[i].registered && stp_kslots[i].p->kind == STP_PROBE_PROCESS)
			stp_proc_slots[stp_nproc++] = &stp_kslots[i];
	stp_proc_hooks[0].name = "sched_process_fork";
	stp_proc_hooks[0].fn = stp_proc_on_fork;
	stp_proc_hooks[1].name = "sched_process_exec";
	stp_proc_hooks[1].fn = stp_proc_on_exec;
	stp_proc_hooks[2].name = "sched_process_exit";
	stp_proc_hooks[2].fn = stp_proc_on_exit;
	for_each_kernel_tracepoint(stp_proc_hook_match, NULL);
	for (k = 0; k < ARRAY_SIZE(stp_proc_hooks); k++) {
		int rc = -ENOENT;

		if (stp_proc_hooks[k].tp)
			rc = tracepoint_probe_register(stp_proc_hooks[k].tp, stp_proc_hooks[k].fn, NULL);
		if (rc) {
			char msg[128];

			snprintf(msg, sizeof(msg), "process probes: cannot hook %s (rc %d)",
				 stp_proc_hooks[k].name, rc);
			stp_warn(msg);
			continue;
		}
		stp_proc_hooks[k].registered = 1;
	}
	stp_proc_existing();
	return 0;
}

/* Unhooks; the caller then waits for running hooks (tracepoint_synchronize_unregister). */
static void stp_process_stop(void)
{
	size_t k;

	for (k = 0; k < ARRAY_SIZE(stp_proc_hooks); k++) {
		if (!stp_proc_hooks[k].registered)
			continue;
		tracepoint_probe_unregister(stp_proc_hooks[k].tp, stp_proc_hooks[k].fn, NULL);
		stp_proc_hooks[k].registered = 0;
	}
}

static void stp_process_free(void)
{
	stp_free(stp_proc_slots);
	stp_free(stp_proc_seen);
	stp_proc_slots = NULL;
	stp_proc_seen = NULL;
	stp_nproc = 0;
	stp_proc_npaths = 0;
}

#endif /* STP_ATTACH_PROCESS_H */

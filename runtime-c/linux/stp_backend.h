/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: the kernel module around the generated probes.
 *
 * Module init runs the begin probes and arms the timers (hrtimers); exit(), a "exit"
 * written to the control file, or module unload runs the end probes from a workqueue.
 * Output travels to the loader (stpd) through two rings read from procfs:
 *   /proc/stap_<module>/out   the script's output
 *   /proc/stap_<module>/err   ERROR and WARNING lines
 *   /proc/stap_<module>/ctl   read: "<state> <readers>", the state being "running",
 *                             "stopping" or "done" and readers the number of open "out"
 *                             files; write "exit" to stop
 * Reads block until data arrives or the session is done; nothing written before "done"
 * is lost, and a full ring drops (and counts) rather than blocking a probe.  When the last
 * reader of "out" closes it (stpd exited or was killed) the session stops by itself, so a
 * module whose loader died is left quiescent ("done 0") for the next stpd to unload.
 *
 * The module parameter stp_target is what target() returns (-x PID, or -c CMD's PID).
 * timer.jiffies probes run on timer_list timers, every other timer.* unit on hrtimers.
 */
#ifndef STP_BACKEND_H
#define STP_BACKEND_H

#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/hrtimer.h>
#include <linux/timer.h>
#include <linux/jiffies.h>
#include <linux/cpu.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("stap-rs probe module");

static long stp_target;
module_param(stp_target, long, 0400);
MODULE_PARM_DESC(stp_target, "target(): the -x PID or the PID of -c CMD");

/* The session's symbol-marker key (stpd's secret; not shown in sysfs): see stp_platform.h. */
module_param(stp_sym_key, ulong, 0);
MODULE_PARM_DESC(stp_sym_key, "the key stpd accepts symbol markers with");

#ifndef STP_RING_SIZE
#define STP_RING_SIZE (1 << 20)
#endif

struct stp_ring {
	char *buf;
	size_t head, tail;	/* head: next write, tail: next read (monotonic) */
	uint64_t dropped;
	stp_mutex_t lock;	/* probes write from any context: never a sleeping lock */
};

static struct stp_ring stp_out_ring, stp_err_ring;
static DECLARE_WAIT_QUEUE_HEAD(stp_readers);
static int stp_done;
static atomic_t stp_nreaders = ATOMIC_INIT(0);

/*
 * Appends what fits and counts the rest as dropped.  Wakes nobody: a probe may run under
 * the scheduler's, a wait queue's or a timer base's lock, where a wake-up deadlocks; the
 * service timer wakes the readers instead.
 */
static void stp_ring_write(struct stp_ring *r, const char *b, size_t n)
{
	unsigned long flags;
	size_t room, at, first;

	flags = stp_mutex_lock(&r->lock);
	room = STP_RING_SIZE - (r->head - r->tail);
	if (n > room) {
		r->dropped += n - room;
		n = room;
	}
	at = r->head % STP_RING_SIZE;
	first = n < STP_RING_SIZE - at ? n : STP_RING_SIZE - at;
	memcpy(r->buf + at, b, first);
	memcpy(r->buf, b + first, n - first);
	WRITE_ONCE(r->head, r->head + n);
	stp_mutex_unlock(&r->lock, flags);
}

static int stp_ring_empty(const struct stp_ring *r)
{
	return READ_ONCE(r->head) == READ_ONCE(r->tail);
}

static void stp_output_write(const char *buf, size_t len)
{
	stp_ring_write(&stp_out_ring, buf, len);
}

static void stp_error_write(const char *buf, size_t len)
{
	stp_ring_write(&stp_err_ring, buf, len);
}

static ssize_t stp_ring_read(struct stp_ring *r, char __user *ubuf, size_t n)
{
	char bounce[256];
	size_t done = 0;

	if (wait_event_interruptible(stp_readers, !stp_ring_empty(r) || READ_ONCE(stp_done)))
		return -ERESTARTSYS;
	while (done < n) {
		unsigned long flags;
		size_t k = 0;

		flags = stp_mutex_lock(&r->lock);
		while (k < sizeof(bounce) && done + k < n && r->tail != r->head)
			bounce[k++] = r->buf[r->tail++ % STP_RING_SIZE];
		stp_mutex_unlock(&r->lock, flags);
		if (!k)
			break;
		if (copy_to_user(ubuf + done, bounce, k))
			return -EFAULT;
		done += k;
	}
	return (ssize_t)done;
}

static ssize_t stp_out_read(struct file *f, char __user *b, size_t n, loff_t *off)
{
	return stp_ring_read(&stp_out_ring, b, n);
}

static ssize_t stp_err_read(struct file *f, char __user *b, size_t n, loff_t *off)
{
	return stp_ring_read(&stp_err_ring, b, n);
}

/*
 * A reader of "out" pins the module: rmmod cannot remove it under a running session
 * (proc_ops has no owner to do this).  stpd unloads it after its readers have closed.
 */
static int stp_out_open(struct inode *inode, struct file *f)
{
	if (!try_module_get(THIS_MODULE))
		return -ENODEV;
	atomic_inc(&stp_nreaders);
	return 0;
}

/* The loader went away (exited or killed): stop the session rather than run unread. */
static int stp_out_release(struct inode *inode, struct file *f)
{
	if (atomic_dec_and_test(&stp_nreaders) && !READ_ONCE(stp_done))
		stp_request_exit();
	module_put(THIS_MODULE);
	return 0;
}

/* ---------------------------------------------------------------- stopping */

static struct hrtimer *stp_timers;
static const struct stp_probe **stp_timer_probes;
static int stp_ntimers;
static int *stp_timer_cpus;	/* the CPU a timer.profile timer belongs to, or -1 */
static int stp_timer_capacity;
static struct timer_list *stp_jtimers;
static const struct stp_probe **stp_jtimer_probes;
static int stp_njtimers;
static void stp_stop(struct work_struct *w);
static DECLARE_WORK(stp_stop_work, stp_stop);
static DEFINE_MUTEX(stp_stop_mutex);

/* exit() only marks the session (stp_request_exit); the service timer starts the stop. */
static void stp_on_exit_requested(void)
{
}

/*
 * The service timer.  Probes never wake a reader or queue work themselves: they may run
 * in NMI, in hard IRQ, or under the locks wake_up() and schedule_work() take (probes on
 * the scheduler, on wait queues, on the workqueue machinery).  Every STP_SERVICE_MS this
 * timer, in softirq context, wakes the readers when a ring has data and starts the stop
 * work once exit was requested.
 */
#ifndef STP_SERVICE_MS
#define STP_SERVICE_MS 10
#endif
static struct timer_list stp_service_timer;
static int stp_service_off;

static void stp_service(struct timer_list *t)
{
	if (!stp_ring_empty(&stp_out_ring) || !stp_ring_empty(&stp_err_ring))
		wake_up_interruptible(&stp_readers);
	if (stp_exit_requested() && !READ_ONCE(stp_done))
		schedule_work(&stp_stop_work);
	if (!READ_ONCE(stp_service_off))
		mod_timer(t, jiffies + msecs_to_jiffies(STP_SERVICE_MS));
}

static void stp_service_start(void)
{
	timer_setup(&stp_service_timer, stp_service, 0);
	mod_timer(&stp_service_timer, jiffies + msecs_to_jiffies(STP_SERVICE_MS));
}

/* No service after this returns: the handler sees the flag and does not re-arm. */
static void stp_service_stop(void)
{
	WRITE_ONCE(stp_service_off, 1);
	timer_delete_sync(&stp_service_timer);
}

#include "stp_kprobes.h"
#include "stp_perfmon.h"
#include "stp_procfs.h"

static void stp_run_kind(enum stp_probe_kind kind)
{
	stp_run_table_kind(stp_probes, STP_NPROBES, kind);
}


/* Ends the session once: timers off, end probes, summary, then readers see "done". */
static void stp_stop(struct work_struct *w)
{
	int i;

	mutex_lock(&stp_stop_mutex);
	if (READ_ONCE(stp_done)) {
		mutex_unlock(&stp_stop_mutex);
		return;
	}
	stp_request_exit();
	for (i = 0; i < stp_ntimers; i++)
		hrtimer_cancel(&stp_timers[i]);
	for (i = 0; i < stp_njtimers; i++)
		timer_delete_sync(&stp_jtimers[i]);
	stp_kprobes_unregister();
	stp_procfs_stop();
	stp_run_kind(stp_shutdown_kind());
	stp_atomic_set(&stp_session.state, STP_STOPPED);
	for (i = 0; i < stp_ncpus(); i++)
		stp_flush_print(i);
	stp_print_summary();
	if (stp_out_ring.dropped || stp_err_ring.dropped) {
		char msg[96];

		snprintf(msg, sizeof(msg), "There were %llu bytes of output dropped (a ring was full)",
			 (unsigned long long)(stp_out_ring.dropped + stp_err_ring.dropped));
		stp_warn(msg);
	}
	WRITE_ONCE(stp_done, 1);
	wake_up_interruptible(&stp_readers);
	mutex_unlock(&stp_stop_mutex);
}

static ssize_t stp_ctl_read(struct file *f, char __user *b, size_t n, loff_t *off)
{
	const char *state = READ_ONCE(stp_done) ? STP_STATE_DONE :
			    stp_atomic_read(&stp_session.state) == STP_RUNNING ? STP_STATE_RUNNING :
			    STP_STATE_STOPPING;
	char s[32];
	size_t len = (size_t)snprintf(s, sizeof(s), "%s %d\n", state, atomic_read(&stp_nreaders));

	if (*off >= len)
		return 0;
	if (n > len - *off)
		n = len - *off;
	if (copy_to_user(b, s + *off, n))
		return -EFAULT;
	*off += n;
	return (ssize_t)n;
}

static ssize_t stp_ctl_write(struct file *f, const char __user *b, size_t n, loff_t *off)
{
	char cmd[16] = { 0 };

	if (copy_from_user(cmd, b, n < sizeof(cmd) - 1 ? n : sizeof(cmd) - 1))
		return -EFAULT;
	if (!strncmp(cmd, STP_CTL_EXIT, sizeof(STP_CTL_EXIT) - 1))
		stp_request_exit();
	return (ssize_t)n;
}

static const struct proc_ops stp_out_ops = {
	.proc_open = stp_out_open,
	.proc_read = stp_out_read,
	.proc_release = stp_out_release,
};
static const struct proc_ops stp_err_ops = { .proc_read = stp_err_read };
static const struct proc_ops stp_ctl_ops = { .proc_read = stp_ctl_read, .proc_write = stp_ctl_write };
static struct proc_dir_entry *stp_proc_dir;

/* ---------------------------------------------------------------- timers */

static enum hrtimer_restart stp_timer_fire(struct hrtimer *t)
{
	int i = (int)(t - stp_timers);
	const struct stp_probe *p = stp_timer_probes[i];
	int64_t period = p->period_ns > 0 ? p->period_ns : STP_JIFFY_NS * (p->jiffies > 0 ? p->jiffies : 1);

	if (stp_atomic_read(&stp_session.state) != STP_RUNNING)
		return HRTIMER_NORESTART;
	stp_run_probe(p);
	if (p->randomize_ns > 0)
		period += (int64_t)(stp_random() % (uint64_t)(2 * p->randomize_ns + 1)) - p->randomize_ns;
	hrtimer_forward_now(t, ns_to_ktime(period > 0 ? period : 1));
	return HRTIMER_RESTART;
}

/* timer.jiffies(N): a timer_list re-armed N jiffies (plus the randomization) ahead. */
static void stp_jtimer_fire(struct timer_list *t)
{
	int i = (int)(t - stp_jtimers);
	const struct stp_probe *p = stp_jtimer_probes[i];
	long period = p->jiffies > 0 ? (long)p->jiffies : 1;
	long spread = (long)(p->randomize_ns / STP_JIFFY_NS);

	if (stp_atomic_read(&stp_session.state) != STP_RUNNING)
		return;
	stp_probe_enter();	/* a thread's softirq on PREEMPT_RT */
	stp_run_probe(p);
	stp_probe_exit();
	if (spread > 0)
		period += (long)(stp_random() % (uint64_t)(2 * spread + 1)) - spread;
	if (stp_atomic_read(&stp_session.state) == STP_RUNNING)
		mod_timer(t, jiffies + (period > 0 ? period : 1));
}

/* The k-th online CPU, counting round: timers spread over the CPUs so probes run concurrently. */
static int stp_nth_online_cpu(int k)
{
	int cpu, n = (int)num_online_cpus();

	k %= n > 0 ? n : 1;
	for_each_online_cpu(cpu)
		if (k-- == 0)
			return cpu;
	return raw_smp_processor_id();
}

/* Runs on the chosen CPU: a pinned hrtimer stays there. */
static void stp_arm_hrtimer(void *info)
{
	long i = (long)info;
	const struct stp_probe *p = stp_timer_probes[i];
	int64_t period = p->period_ns > 0 ? p->period_ns : STP_JIFFY_NS * (p->jiffies > 0 ? p->jiffies : 1);

	hrtimer_start(&stp_timers[i], ns_to_ktime(period), HRTIMER_MODE_REL_PINNED_HARD);
}

/*
 * Arms every timer probe: timer i on the i-th online CPU, and a timer.profile probe on
 * every online CPU (as hrtimers at the tick's period).  Under stp_stop_mutex, and only
 * while the session runs, so a concurrent stop either sees no timer or cancels them all.
 */
static void stp_arm_timers(void)
{
	int i, cpu, nh = 0, nj = 0, k;
	mutex_lock(&stp_stop_mutex);
	cpus_read_lock();
	for (i = 0; i < STP_NPROBES; i++) {
		const struct stp_probe *p = &stp_probes[i];

		if (p->kind != STP_PROBE_TIMER)
			continue;
		if (p->percpu) {
			for_each_online_cpu(cpu) {
				if (nh >= stp_timer_capacity)
					break;
				stp_timer_probes[nh] = p;
				stp_timer_cpus[nh] = cpu;
				hrtimer_init(&stp_timers[nh], CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
				stp_timers[nh].function = stp_timer_fire;
				nh++;
			}
		} else if (p->period_ns <= 0 && p->jiffies > 0) {
			stp_jtimer_probes[nj] = p;
			timer_setup(&stp_jtimers[nj], stp_jtimer_fire, TIMER_PINNED);
			nj++;
		} else if (nh < stp_timer_capacity) {
			stp_timer_probes[nh] = p;
			stp_timer_cpus[nh] = -1;
			hrtimer_init(&stp_timers[nh], CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
			stp_timers[nh].function = stp_timer_fire;
			nh++;
		}
	}
	stp_ntimers = nh;
	stp_njtimers = nj;
	if (!stp_exit_requested()) {
		for (i = 0, k = 0; i < nh; i++) {
			cpu = stp_timer_cpus[i] >= 0 ? stp_timer_cpus[i] : stp_nth_online_cpu(k++);
			smp_call_function_single(cpu, stp_arm_hrtimer, (void *)(long)i, 1);
		}
		for (i = 0; i < nj; i++) {
			stp_jtimers[i].expires = jiffies + (unsigned long)stp_jtimer_probes[i]->jiffies;
			add_timer_on(&stp_jtimers[i], stp_nth_online_cpu(k++));
		}
	}
	cpus_read_unlock();
	mutex_unlock(&stp_stop_mutex);
}

/* ---------------------------------------------------------------- module */

static void stp_teardown(void)
{
	if (stp_proc_dir)
		proc_remove(stp_proc_dir);
	stp_cleanup();
	stp_kprobes_free();
	stp_procfs_free();
	stp_perfmon_close();
	stp_free(stp_timers);
	stp_free(stp_timer_probes);
	stp_free(stp_timer_cpus);
	stp_free(stp_jtimers);
	stp_free(stp_jtimer_probes);
	stp_free(stp_pbufs);
	stp_free(stp_out_ring.buf);
	stp_free(stp_err_ring.buf);
#ifdef STAP_NEED_USTACK
	stp_umods_exit();
#endif
}

static int __init stp_module_init(void)
{
	char name[64];
	int i, n = 0;

	raw_spin_lock_init(&stp_out_ring.lock);
	raw_spin_lock_init(&stp_err_ring.lock);
	stp_out_ring.buf = stp_alloc(STP_RING_SIZE);
	stp_err_ring.buf = stp_alloc(STP_RING_SIZE);
	stp_pbufs = stp_alloc(sizeof(*stp_pbufs) * (size_t)stp_ncpus());
	for (i = 0; i < STP_NPROBES; i++)
		if (stp_probes[i].kind == STP_PROBE_TIMER)
			n += stp_probes[i].percpu ? (int)nr_cpu_ids : 1;
	stp_timer_capacity = n;
	stp_timers = stp_alloc(sizeof(*stp_timers) * (size_t)(n + 1));
	stp_timer_probes = stp_alloc(sizeof(*stp_timer_probes) * (size_t)(n + 1));
	stp_timer_cpus = stp_alloc(sizeof(*stp_timer_cpus) * (size_t)(n + 1));
	stp_jtimers = stp_alloc(sizeof(*stp_jtimers) * (size_t)(n + 1));
	stp_jtimer_probes = stp_alloc(sizeof(*stp_jtimer_probes) * (size_t)(n + 1));
	stp_session.target = stp_target;
	if (!stp_out_ring.buf || !stp_err_ring.buf || !stp_pbufs || !stp_timers || !stp_timer_probes ||
	    !stp_timer_cpus ||
	    !stp_jtimers || !stp_jtimer_probes || stp_init() != 0) {
		stp_teardown();
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), STP_PROC_PREFIX "%s", KBUILD_MODNAME);
	stp_proc_dir = proc_mkdir(name, NULL);
	if (!stp_proc_dir || !proc_create(STP_PROC_OUT, 0400, stp_proc_dir, &stp_out_ops) ||
	    !proc_create(STP_PROC_ERR, 0400, stp_proc_dir, &stp_err_ops) ||
	    !proc_create(STP_PROC_CTL, 0600, stp_proc_dir, &stp_ctl_ops)) {
		stp_teardown();
		return -ENOMEM;
	}
#ifdef STAP_NEED_USTACK
	stp_umods_init(stp_umods, STP_NUM_UMODS);
#endif
	stp_service_start();
	stp_atomic_set(&stp_session.state, STP_STARTING);
	stp_perfmon_open();
	stp_perfmon_run();
	stp_run_kind(STP_PROBE_BEGIN);
	if (stp_exit_requested())
		return 0;	/* the service timer starts the stop */
	stp_atomic_set(&stp_session.state, STP_RUNNING);
	mutex_lock(&stp_stop_mutex);
	if (!stp_exit_requested() && stp_kprobes_register() == -ENOMEM) {
		mutex_unlock(&stp_stop_mutex);
		stp_error_line("ERROR: ", "cannot allocate the kernel probes", NULL);
		stp_request_exit();
		return 0;
	}
	if (!stp_exit_requested() && stp_procfs_start()) {
		mutex_unlock(&stp_stop_mutex);
		stp_error_line("ERROR: ", "cannot make the procfs probes' files", NULL);
		stp_request_exit();
		return 0;
	}
	mutex_unlock(&stp_stop_mutex);
	stp_arm_timers();
	return 0;
}

/* Unload: no service timer, no stop work queued or running, then the stop itself. */
static void __exit stp_module_exit(void)
{
	stp_service_stop();
	cancel_work_sync(&stp_stop_work);
	stp_stop(NULL);
	stp_teardown();
}

module_init(stp_module_init);
module_exit(stp_module_exit);

#endif /* STP_BACKEND_H */

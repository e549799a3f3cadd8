/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: the kernel platform layer.
 *
 * The same names as runtime-c/user/stp_platform.h, over kernel primitives: vzalloc at
 * start-up, real CPUs (probe handlers run with preemption off), an atomic try-only
 * reader/writer lock, raw spinlocks that save IRQ flags for output, ktime for time, the current task for
 * identity, and the module's output rings (stp_backend.h) for the script's output.
 */
#ifndef STP_PLATFORM_H
#define STP_PLATFORM_H

#include <linux/version.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/types.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/spinlock.h>
#include <linux/smp.h>
#include <linux/cpumask.h>
#include <linux/string.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/cred.h>
#include <linux/random.h>
#include <linux/sort.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/timex.h>
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/uaccess.h>
#include <linux/stacktrace.h>
#include <linux/sched/signal.h>

#define STP_KERNEL 1

#include "stp_protocol.h"

/*
 * Addresses for stpd to name are written as the symbol marker of stp_protocol.h, KEY being
 * this module parameter, a random secret stpd passes at load: only the runtime can write
 * a marker stpd accepts, never data a script prints.
 */
static unsigned long stp_sym_key;

#ifndef PRId64
#define PRId64 "lld"
#endif

#ifndef STP_JIFFY_NS
#define STP_JIFFY_NS ((int64_t)(NSEC_PER_SEC / HZ))
#endif

static inline int stp_ncpus(void)
{
	return nr_cpu_ids;
}

static inline int stp_this_cpu(void)
{
	return raw_smp_processor_id();
}

/*
 * Memory: only at start-up and shutdown, never in probe context.  What a script declares
 * (maps of millions of entries) may not fit: such a request fails at once, quietly (no
 * allocation-failure splat, no OOM killer), and the module does not load (stpd says so).
 * No one allocation may take more than half the machine's memory.
 */
static inline void *stp_alloc(size_t size)
{
	if (size / 2 > (size_t)totalram_pages() * (PAGE_SIZE / 4))
		return NULL;
	return __vmalloc(size ? size : 1, GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY);
}

static inline void stp_free(void *p)
{
	vfree(p);
}

/*
 * A reader/writer lock that is only ever try-locked, on one atomic word: readers count it
 * up, a writer holds -1.  It never sleeps and never spins inside, so it is safe wherever a
 * probe runs (hard IRQ, inside the scheduler, on PREEMPT_RT where rwlock_t sleeps); the
 * caller retries MAXTRYLOCK times and then skips the probe.
 */
typedef struct {
	atomic_t v;
} stp_rwlock_t;

static inline void stp_rwlock_init(stp_rwlock_t *l)
{
	atomic_set(&l->v, 0);
}

static inline int stp_rwlock_tryread(stp_rwlock_t *l)
{
	int v = atomic_read(&l->v);

	while (v >= 0)
		if (atomic_try_cmpxchg_acquire(&l->v, &v, v + 1))
			return 1;
	return 0;
}

static inline int stp_rwlock_trywrite(stp_rwlock_t *l)
{
	int unlocked = 0;

	return atomic_try_cmpxchg_acquire(&l->v, &unlocked, -1);
}

static inline void stp_rwlock_unlock_read(stp_rwlock_t *l)
{
	atomic_fetch_sub_release(1, &l->v);
}

static inline void stp_rwlock_unlock_write(stp_rwlock_t *l)
{
	atomic_set_release(&l->v, 0);
}

static inline void stp_cpu_relax(void)
{
	cpu_relax();
}

/* Target variables: kernel memory, read without faulting on a bad address. */
static inline int stp_copy_nofault(void *dst, uint64_t addr, size_t size)
{
	return copy_from_kernel_nofault(dst, (const void *)(uintptr_t)addr, size) ? -1 : 0;
}

/* The user stack of the task a uprobe stopped, read without faulting on a bad address. */
static inline int stp_copy_user_nofault(void *dst, uint64_t addr, size_t size)
{
	return copy_from_user_nofault(dst, (const void __user *)(uintptr_t)addr, size) ? -1 : 0;
}


/*
 * set_kernel_long() and friends: kernel memory, written without faulting on a bad
 * address.  copy_to_kernel_nofault() is not exported to modules: bytes, as it does them.
 */
static inline int stp_store_nofault(uint64_t addr, const void *src, size_t size)
{
	size_t i;

	pagefault_disable();
	for (i = 0; i < size; i++)
		__put_kernel_nofault((u8 *)(uintptr_t)addr + i, (const u8 *)src + i, u8, fault);
	pagefault_enable();
	return 0;
fault:
	pagefault_enable();
	return -1;
}

/* udelay()/mdelay() (guru): a busy wait of us microseconds, a millisecond at a time. */
static inline void stp_busy_delay_us(int64_t us)
{
	while (us >= 1000) {
		mdelay(1);
		us -= 1000;
	}
	if (us > 0)
		udelay((unsigned long)us);
}

/* panic() (guru): the kernel's panic, with the script's message. */
static inline void stp_panic(const char *msg)
{
	panic("%s", msg);
}

/* printk() (guru): a line in the kernel log at level 0 (KERN_EMERG) to 7 (KERN_DEBUG). */
static inline void stp_printk(int64_t level, const char *msg)
{
	char lv[3] = { KERN_SOH_ASCII, (char)('0' + (level < 0 ? 0 : level > 7 ? 7 : level)), '\0' };

	printk("%s%s\n", lv, msg);
}

/* raise(): a signal to the thread the probe runs in. */
static inline int stp_raise_signal(int sig)
{
	return send_sig(sig, current, 0) ? -1 : 0;
}

/* Embedded C's kread()/kwrite(): kernel memory, without faulting on a bad address. */
static inline int stp_embedded_copy(void *dst, const void *src, size_t size)
{
	return copy_from_kernel_nofault(dst, src, size) ? -1 : 0;
}

static inline int stp_embedded_store(void *dst, const void *src, size_t size)
{
	return stp_store_nofault((uint64_t)(uintptr_t)dst, src, size);
}

/* n bytes at addr, of the kernel or of the current process (user), without faulting. */
static inline int stp_copy_nofault_from(void *dst, uint64_t addr, size_t n, int user)
{
	if (user)
		return copy_from_user_nofault(dst, (const void __user *)(uintptr_t)addr, n) ? -1 : 0;
	return copy_from_kernel_nofault(dst, (const void *)(uintptr_t)addr, n) ? -1 : 0;
}

/*
 * A NUL-terminated string of at most max bytes, of the kernel or of the current process
 * (strncpy_from_{kernel,user}_nofault are not exported): aligned 8-byte reads, which
 * never cross a page, else single bytes.
 */
static inline long stp_copy_string_nofault_from(char *dst, uint64_t addr, size_t max, int user)
{
	size_t i = 0, k;

	while (i < max) {
		if (!((addr + i) & 7) && i + 8 <= max) {
			if (stp_copy_nofault_from(dst + i, addr + i, 8, user))
				return -EFAULT;
			for (k = 0; k < 8; k++)
				if (!dst[i + k])
					return (long)(i + k);
			i += 8;
			continue;
		}
		if (stp_copy_nofault_from(dst + i, addr + i, 1, user))
			return -EFAULT;
		if (!dst[i])
			return (long)i;
		i++;
	}
	if (max)
		dst[max - 1] = '\0';
	return (long)max;
}

static inline long stp_copy_string_nofault(char *dst, uint64_t addr, size_t max)
{
	return stp_copy_string_nofault_from(dst, addr, max, 0);
}

/* A NUL-terminated string of at most max bytes of the probed process's memory. */
static inline long stp_copy_user_string_nofault(char *dst, uint64_t addr, size_t max)
{
	return stp_copy_string_nofault_from(dst, addr, max, 1);
}

/* Busy-waits (probe handlers cannot sleep). */
static inline void stp_delay_us(unsigned int us)
{
	udelay(us);
}

/*
 * Output and error lines are written whole, from any context a probe runs in: a raw
 * spinlock (a spinlock_t sleeps on PREEMPT_RT), held only to copy a line, with
 * interrupts off.  While this CPU holds one, probes on it are skipped
 * (stp_runtime_locked): a probe on a function called under the lock (memcpy, vsnprintf,
 * a tracepoint in the kernel's own code) would otherwise take the lock again.
 */
typedef raw_spinlock_t stp_mutex_t;
#define STP_DEFINE_MUTEX(name) static DEFINE_RAW_SPINLOCK(name)

static DEFINE_PER_CPU(int, stp_lock_depth);

static inline unsigned long stp_mutex_lock(stp_mutex_t *m)
{
	unsigned long flags;

	local_irq_save(flags);
	__this_cpu_inc(stp_lock_depth);
	raw_spin_lock(m);
	return flags;
}

static inline void stp_mutex_unlock(stp_mutex_t *m, unsigned long flags)
{
	raw_spin_unlock(m);
	__this_cpu_dec(stp_lock_depth);
	local_irq_restore(flags);
}

/* Whether this CPU is inside one of the runtime's locks (then no probe runs on it). */
static inline int stp_runtime_locked(void)
{
	return __this_cpu_read(stp_lock_depth) != 0;
}

/*
 * A probe that can fire on any event runs with interrupts off, as SystemTap's do: an
 * interrupt inside its handler would find this CPU's context busy and skip its own probes.
 */
typedef unsigned long stp_irqflags_t;

static inline stp_irqflags_t stp_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

static inline void stp_irq_restore(stp_irqflags_t flags)
{
	local_irq_restore(flags);
}

#define stp_atomic_inc(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define stp_atomic_read(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define stp_atomic_set(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define stp_atomic_cmpxchg(p, old, new)                                        \
	__atomic_compare_exchange_n((p), (old), (new), 0, __ATOMIC_SEQ_CST,    \
				    __ATOMIC_SEQ_CST)

static inline int64_t stp_realtime_ns(void)
{
	return ktime_get_real_ns();
}

static inline int64_t stp_monotonic_ns(void)
{
	return ktime_get_ns();
}

/* Sets the register of parameter n (0..5: di si dx cx r8 r9, x86-64's calling convention). */
static inline void stp_platform_set_arg_reg(void *regs, int n, uint64_t v)
{
	struct pt_regs *r = regs;

	switch (n) {
	case 0: r->di = v; break;
	case 1: r->si = v; break;
	case 2: r->dx = v; break;
	case 3: r->cx = v; break;
	case 4: r->r8 = v; break;
	case 5: r->r9 = v; break;
	default: break;
	}
}

/*
 * DWARF register n (x86-64 numbering: rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip) at the
 * probed instruction, for module locals and parameters located by DWARF.
 */
static inline uint64_t stp_platform_dwarf_reg(void *regs, int n)
{
	struct pt_regs *r = regs;

	switch (n) {
	case 0: return r->ax;
	case 1: return r->dx;
	case 2: return r->cx;
	case 3: return r->bx;
	case 4: return r->si;
	case 5: return r->di;
	case 6: return r->bp;
	case 7: return kernel_stack_pointer(r);
	case 8: return r->r8;
	case 9: return r->r9;
	case 10: return r->r10;
	case 11: return r->r11;
	case 12: return r->r12;
	case 13: return r->r13;
	case 14: return r->r14;
	case 15: return r->r15;
	case 16: return r->ip;
	default: return 0;
	}
}

/*
 * The clock of the overload check, read twice per probe hit: only differences on one CPU
 * matter, so the cycle counter serves (one instruction; the scheduler's clock costs
 * dozens), with its rate for the limits.
 */
static inline int64_t stp_ovl_clock(void)
{
#ifdef CONFIG_X86
	return (int64_t)get_cycles();
#else
	return (int64_t)local_clock();
#endif
}

/* Ticks of stp_ovl_clock() per second. */
static inline int64_t stp_ovl_per_sec(void)
{
#ifdef CONFIG_X86
	if (tsc_khz)
		return (int64_t)tsc_khz * 1000;
#endif
	return NSEC_PER_SEC;
}

static inline int64_t stp_cycles(void)
{
	return (int64_t)get_cycles();
}

/* Orders the context's busy mark against the probe's own accesses (one CPU's view). */
#define stp_barrier() __asm__ __volatile__("" ::: "memory")

/* Begin/end/error probes run from process context: pin them to their CPU. */
static inline void stp_probe_enter(void)
{
	preempt_disable();
}

static inline void stp_probe_exit(void)
{
	preempt_enable();
}

/* exit() was called: the backend schedules the end of the session. */
static void stp_on_exit_requested(void);

/* The module's output and error rings (stp_backend.h). */
static void stp_output_write(const char *buf, size_t len);
static void stp_error_write(const char *buf, size_t len);

/*
 * The task a probe is about: current, except in a process.begin or thread.begin probe,
 * which runs in the parent of the new task (or, for the tasks already running when the
 * session starts, in the module's start) and is about the new task.  The runtime sets it
 * for this CPU while such a probe's handler runs (its context is claimed, so nothing
 * else runs a handler on this CPU meanwhile).
 */
static DEFINE_PER_CPU(struct task_struct *, stp_task_of_probe);

static inline struct task_struct *stp_task(void)
{
	struct task_struct *t = this_cpu_read(stp_task_of_probe);

	return t ? t : current;
}

static inline void stp_set_task(void *t)
{
	this_cpu_write(stp_task_of_probe, t);
}

static inline int64_t stp_pid(void)
{
	return stp_task()->tgid;
}

static inline int64_t stp_tid(void)
{
	return stp_task()->pid;
}

static inline int64_t stp_uid(void)
{
	return from_kuid_munged(&init_user_ns, task_uid(stp_task()));
}

static inline void stp_execname(char *buf, size_t len)
{
	strscpy(buf, stp_task()->comm, len);
}

static inline uint64_t stp_random(void)
{
	return get_random_u64();
}

static inline void stp_sort_r(void *base, size_t n, size_t size,
			      int (*cmp)(const void *, const void *, const void *), void *priv)
{
	sort_r(base, n, size, cmp, NULL, priv);
}

#include "stp_counters.h"

#endif /* STP_PLATFORM_H */

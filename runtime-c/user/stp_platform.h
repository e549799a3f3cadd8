/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: the user-space platform layer.
 *
 * Everything the common runtime needs from its platform is defined here: memory
 * (start-up only), "CPUs" (one per runtime thread), locks, atomics, time, output and
 * process identity.  runtime-c/linux/stp_platform.h provides the same names for the
 * kernel module.
 */
#ifndef STP_PLATFORM_H
#define STP_PLATFORM_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wordexp.h>

#define STP_USER 1

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Runtime threads: the main thread is CPU 0, each timer thread its own. */
#ifndef STP_MAXCPUS
#define STP_MAXCPUS 64
#endif

static int stp_ncpus_value = 1;
static __thread int stp_this_cpu_value;

static inline int stp_ncpus(void)
{
	return stp_ncpus_value;
}

static inline int stp_this_cpu(void)
{
	return stp_this_cpu_value;
}

/* Memory: only at start-up and shutdown, never in probe context. */
/* Zeroed and cache-line aligned, like the kernel's vzalloc (page aligned). */
static inline void *stp_alloc(size_t size)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, size ? size : 1))
		return NULL;
	memset(p, 0, size ? size : 1);
	return p;
}

static inline void stp_free(void *p)
{
	free(p);
}

/* Reader/writer locks with try-acquire. */
typedef pthread_rwlock_t stp_rwlock_t;

static inline void stp_rwlock_init(stp_rwlock_t *l)
{
	pthread_rwlock_init(l, NULL);
}

static inline int stp_rwlock_tryread(stp_rwlock_t *l)
{
	return pthread_rwlock_tryrdlock(l) == 0;
}

static inline int stp_rwlock_trywrite(stp_rwlock_t *l)
{
	return pthread_rwlock_trywrlock(l) == 0;
}

static inline void stp_rwlock_unlock_read(stp_rwlock_t *l)
{
	pthread_rwlock_unlock(l);
}

static inline void stp_rwlock_unlock_write(stp_rwlock_t *l)
{
	pthread_rwlock_unlock(l);
}

static inline void stp_cpu_relax(void)
{
	sched_yield();
}

/* No kernel memory to read or write in user space: target variables never run here. */
static inline int stp_copy_nofault(void *dst, uint64_t addr, size_t size)
{
	(void)dst;
	(void)addr;
	(void)size;
	return -1;
}

static inline int stp_copy_user_nofault(void *dst, uint64_t addr, size_t size)
{
	return stp_copy_nofault(dst, addr, size);
}

static inline long stp_copy_user_string_nofault(char *dst, uint64_t addr, size_t max)
{
	(void)dst;
	(void)addr;
	(void)max;
	return -1;
}

static inline int stp_store_nofault(uint64_t addr, const void *src, size_t size)
{
	(void)addr;
	(void)src;
	(void)size;
	return -1;
}

static inline long stp_copy_string_nofault(char *dst, uint64_t addr, size_t max)
{
	(void)dst;
	(void)addr;
	(void)max;
	return -1;
}

/* udelay()/mdelay() (guru): a busy wait of us microseconds. */
static inline void stp_busy_delay_us(int64_t us)
{
	struct timespec t0, t;
	int64_t ns = us > 0 ? us * 1000 : 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < ns);
}

/* panic() (guru): there is no kernel to stop here; the program ends with the message. */
static inline void stp_panic(const char *msg)
{
	fprintf(stderr, "Kernel panic - not syncing: %s\n", msg);
	abort();
}

/* printk() (guru): the program's error stream stands for the kernel log. */
static inline void stp_printk(int64_t level, const char *msg)
{
	(void)level;
	fprintf(stderr, "%s\n", msg);
}

/* raise(): a signal to the runtime thread the probe runs in. */
static inline int stp_raise_signal(int sig)
{
	return pthread_kill(pthread_self(), sig) ? -1 : 0;
}

/*
 * Embedded C's kread()/kwrite(): the program's own memory, through the kernel, so a bad
 * address is an error return, never a SIGSEGV.
 */
static inline int stp_embedded_copy(void *dst, const void *src, size_t size)
{
	struct iovec local = { dst, size };
	struct iovec remote = { (void *)(uintptr_t)src, size };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)size ? 0 : -1;
}

static inline int stp_embedded_store(void *dst, const void *src, size_t size)
{
	struct iovec local = { (void *)(uintptr_t)src, size };
	struct iovec remote = { dst, size };

	return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)size ? 0 : -1;
}

/* Probe threads may sleep: the lock holder gets the CPU meanwhile. */
static inline void stp_delay_us(unsigned int us)
{
	struct timespec t = { 0, (long)us * 1000 };

	nanosleep(&t, NULL);
}

/* A lock for writing output and error lines whole (the kernel's saves IRQ flags). */
typedef pthread_mutex_t stp_mutex_t;
#define STP_DEFINE_MUTEX(name) static pthread_mutex_t name = PTHREAD_MUTEX_INITIALIZER

static inline unsigned long stp_mutex_lock(stp_mutex_t *m)
{
	pthread_mutex_lock(m);
	return 0;
}

static inline void stp_mutex_unlock(stp_mutex_t *m, unsigned long flags)
{
	(void)flags;
	pthread_mutex_unlock(m);
}

#define stp_atomic_inc(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define stp_atomic_read(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define stp_atomic_set(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define stp_atomic_cmpxchg(p, old, new)                                        \
	__atomic_compare_exchange_n((p), (old), (new), 0, __ATOMIC_SEQ_CST,    \
				    __ATOMIC_SEQ_CST)

/* Whether this CPU is inside one of the runtime's locks: no probe interrupts user code. */
static inline int stp_runtime_locked(void)
{
	return 0;
}

/* No interrupts to turn off here. */
typedef int stp_irqflags_t;

static inline stp_irqflags_t stp_irq_save(void)
{
	return 0;
}

static inline void stp_irq_restore(stp_irqflags_t flags)
{
	(void)flags;
}

/* Orders the context's busy mark against the probe's own accesses (one CPU's view). */
#define stp_barrier() __asm__ __volatile__("" ::: "memory")

/* Around begin/end/error probes: nothing to do in user space. */
static inline void stp_probe_enter(void)
{
}

static inline void stp_probe_exit(void)
{
}

/* exit() was called: the main loop notices by itself. */
static inline void stp_on_exit_requested(void)
{
}

/* Time. */
static inline int64_t stp_time_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t stp_realtime_ns(void)
{
	return stp_time_ns(CLOCK_REALTIME);
}

static inline int64_t stp_monotonic_ns(void)
{
	return stp_time_ns(CLOCK_MONOTONIC);
}

/* Parameters' registers exist only at kernel probes. */
static inline void stp_platform_set_arg_reg(void *regs, int n, uint64_t v)
{
	(void)regs;
	(void)n;
	(void)v;
}

/* DWARF registers exist only at kernel probes (module locals). */
static inline uint64_t stp_platform_dwarf_reg(void *regs, int n)
{
	(void)regs;
	(void)n;
	return 0;
}

/* The clock of the overload check: only differences on one CPU matter. */
static inline int64_t stp_ovl_clock(void)
{
	return stp_monotonic_ns();
}

/* Ticks of stp_ovl_clock() per second. */
static inline int64_t stp_ovl_per_sec(void)
{
	return 1000000000;
}

static inline int64_t stp_cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return (int64_t)__builtin_ia32_rdtsc();
#else
	return stp_monotonic_ns();
#endif
}

/* Output: the script's output (stdout or -o FILE) and the error stream. */
static int stp_out_fd = 1;

static inline void stp_write_fd(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static inline void stp_output_write(const char *buf, size_t len)
{
	stp_write_fd(stp_out_fd, buf, len);
}

static inline void stp_error_write(const char *buf, size_t len)
{
	stp_write_fd(2, buf, len);
}

/* The task a probe is about: always the program itself here (no process probes). */
static inline void stp_set_task(void *t)
{
	(void)t;
}

/* Identity of the current process (the probe runs in the stap process itself). */
static inline int64_t stp_pid(void)
{
	return getpid();
}

static inline int64_t stp_tid(void)
{
	return (int64_t)syscall(SYS_gettid);
}

static inline int64_t stp_uid(void)
{
	return getuid();
}

static inline void stp_execname(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/comm", "r");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/* Random numbers for timer randomization and randint(). */
static inline uint64_t stp_random(void)
{
	static __thread uint64_t state;

	if (!state)
		state = (uint64_t)stp_monotonic_ns() ^ ((uint64_t)stp_tid() << 32) ^
			0x9e3779b97f4a7c15ULL;
	/* xorshift64* */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 2685821657736338717ULL;
}

/* Sorting with a context argument: the kernel's sort_r() shape over glibc's qsort_r(). */
struct stp_sort_thunk {
	int (*cmp)(const void *, const void *, const void *);
	const void *priv;
};

static inline int stp_sort_thunk_cmp(const void *a, const void *b, void *t)
{
	const struct stp_sort_thunk *th = t;

	return th->cmp(a, b, th->priv);
}

static inline void stp_sort_r(void *base, size_t n, size_t size,
			      int (*cmp)(const void *, const void *, const void *), void *priv)
{
	struct stp_sort_thunk th = { cmp, priv };

	qsort_r(base, n, size, stp_sort_thunk_cmp, &th);
}

#endif /* STP_PLATFORM_H */

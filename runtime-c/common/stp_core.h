/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: limits, the probe context, errors and the probe runner.
 *
 * Each "CPU" has one preallocated context: the generated code's locals live in it, never
 * on the stack.  A probe runs through stp_run_probe(): it claims the context, counts
 * statements against MAXACTION, and on error prints SystemTap's ERROR line, runs the
 * error probes and asks the session to end.
 */
#ifndef STP_CORE_H
#define STP_CORE_H

/* Every limit can be changed with stap -D NAME=VALUE. */
#ifndef MAXSTRINGLEN
#define MAXSTRINGLEN 512
#endif
#ifndef MAXMAPENTRIES
#define MAXMAPENTRIES 2048
#endif
/* --suppress-time-limits (guru): no statement budget and no overload check. */
#ifdef STAP_SUPPRESS_TIME_LIMITS_ENABLE
#ifndef STP_NO_OVERLOAD
#define STP_NO_OVERLOAD
#endif
#endif
#ifndef MAXNESTING
#define MAXNESTING 10
#endif
#ifndef MAXACTION
#define MAXACTION 1000
#endif
#ifndef MAXACTION_INTERRUPTIBLE
#define MAXACTION_INTERRUPTIBLE (MAXACTION * 10)
#endif
#ifndef MAXTRYLOCK
#define MAXTRYLOCK 100		/* tries to take a global's lock ... */
#endif
#ifndef TRYLOCKDELAY
#define TRYLOCKDELAY 10		/* ... this many microseconds apart, then skip the probe */
#endif
#ifndef STP_OVERLOAD_INTERVAL
#define STP_OVERLOAD_INTERVAL 1000000000LL	/* ns: the window overload is measured over */
#endif
#ifndef STP_OVERLOAD_SAMPLE
#define STP_OVERLOAD_SAMPLE 8		/* the overload check times one hit in this many (a power of 2) */
#endif
#ifndef STP_OVERLOAD_THRESHOLD
#define STP_OVERLOAD_THRESHOLD 500000000LL	/* ns of probe handlers allowed per window and CPU */
#endif
#ifndef MAXERRORS
#define MAXERRORS 0
#endif
#ifndef MAXSKIPPED
#define MAXSKIPPED 100
#endif
#ifndef STP_JIFFY_NS
#define STP_JIFFY_NS 4000000LL	/* one jiffy at HZ=250 */
#endif
#ifndef STP_PRINT_BUFSIZE
#define STP_PRINT_BUFSIZE 8192
#endif

#include "stp_regex.h"

/* Session states. */
enum stp_state {
	STP_STARTING,
	STP_RUNNING,
	STP_STOPPING,
	STP_STOPPED,
};

/* The kinds of probe the platform layer attaches. */
enum stp_probe_kind {
	STP_PROBE_BEGIN,
	STP_PROBE_END,
	STP_PROBE_ERROR,
	STP_PROBE_NEVER,
	STP_PROBE_TIMER,
	STP_PROBE_KPROBE,	/* kernel.function, kprobe.function: entry */
	STP_PROBE_KRETPROBE,	/* ... .return */
	STP_PROBE_TRACEPOINT,	/* kernel.trace */
	STP_PROBE_PERF,		/* perf.type(T).config(C) */
	STP_PROBE_PERFMON,	/* perfmon.counter("event"): runs once, before begin */
	STP_PROBE_NETFILTER,	/* netfilter.hook(H).pf(PF) */
	STP_PROBE_PROCFS_READ,	/* procfs("path").read: a read of the file */
	STP_PROBE_PROCFS_WRITE,	/* procfs("path").write: a write to it */
	STP_PROBE_PROCESS,	/* process.begin, .end, .thread.begin, .thread.end */
	STP_PROBE_UPROBE,	/* process("PATH").function("NAME"): entry */
	STP_PROBE_URETPROBE,	/* ... .return */
	STP_PROBE_OTHER,
};

/* A process probe's event, and which processes it watches. */
enum stp_proc_event {
	STP_PROC_BEGIN,
	STP_PROC_END,
	STP_PROC_THREAD_BEGIN,
	STP_PROC_THREAD_END,
};

enum stp_proc_filter {
	STP_PROC_ANY,		/* every user process; with -c/-x, the target and its descendants */
	STP_PROC_PID,		/* the process proc_pid */
	STP_PROC_PATH,		/* processes running the executable at symbol */
};

/* What a kernel probe saw: the function's parameters (or the tracepoint's arguments) and,
   in .return probes, the return value.  Target variables read it (stp_arg, stp_retval). */
#define STP_MAX_ARGS 12
struct stp_args {
	uint64_t v[STP_MAX_ARGS];
	uint64_t ret;
	void *regs;		/* the probe's pt_regs, or NULL */
	uint64_t stack;		/* function entry: the stack pointer; parameters 7.. are read
				   from the caller's frame above it only when used (0: all in v) */
	unsigned int *verdict;	/* netfilter hooks: what the hook returns ($verdict) */
	struct stp_procfs_buf *procfs;	/* procfs probes: the file's text ($value) */
	void *task;		/* process probes: the task the probe is about (stp_set_task) */
	int user;		/* uprobes: the stack (parameters 7..) is user memory */
};

/* A procfs probe's text: what was written, or what the read probe builds. */
struct stp_procfs_buf {
	char *data;
	size_t cap;		/* its size: it holds cap - 1 bytes (SystemTap counts a NUL) */
	size_t len;
};

struct stp_ctx;

/* One derived probe, as the generated probe table describes it. */
struct stp_probe {
	enum stp_probe_kind kind;
	int64_t seq;		/* begin/end/error sequence number */
	int64_t period_ns;	/* timers */
	int64_t randomize_ns;	/* timers: +/- this much */
	int64_t jiffies;	/* timer.jiffies / timer.hz: 0 unless given */
	int percpu;		/* timer.profile: one timer on every CPU */
	int64_t perf_type, perf_config, perf_sample;	/* perf probes */
	void (*handler)(struct stp_ctx *c);
	int (*lock)(struct stp_ctx *c);		/* take the globals it uses */
	void (*unlock)(struct stp_ctx *c);
	const char *symbol;	/* kernel probes: the function or tracepoint name */
	unsigned int offset;	/* kprobes: into the symbol (a module's statement) */
	unsigned long addr;	/* kprobes: a raw address (.absolute), instead of the symbol */
	int perfmon;		/* perfmon.counter: the counter's handle */
	int64_t maxactive;	/* .return probes: .maxactive(N), or 0 */
	int nf_hook, nf_pf, nf_priority;	/* netfilter probes */
	int64_t procfs_maxsize;	/* procfs read probes: .maxsize(N), or 0 */
	int procfs_umask;	/* procfs probes: .umask(N), or -1 */
	int proc_event, proc_filter;	/* process probes (enum stp_proc_event, _filter) */
	int64_t proc_pid;	/* process probes: the pid of STP_PROC_PID */
	uint64_t file_offset;	/* uprobes: where in the file at symbol */
	uint64_t semaphore;	/* SDT markers: their semaphore's offset in the file (0: none) */
	const char *pp;		/* the probe point, for pp() */
	const char *pn;		/* the point as the script wrote it, for pn() */
	const char *location;	/* file:line:col of the probe */
};

/* The runtime part of a context; the generated context embeds it first. */
struct stp_ctx {
	int busy;
	int cpu;
	int interruptible;	/* begin/end/error probes get a larger budget */
	int64_t actionremaining;
	int nesting;
	const char *last_error;
	const char *last_stmt;	/* "file:line:col" of the statement running */
	const struct stp_probe *probe;
	const struct stp_args *args;	/* kernel probes: what the probe saw */
	int64_t ovl_start, ovl_used;	/* overload: this window's start and handler time */
	unsigned int ovl_hits;		/* overload: hits, to time one in STP_OVERLOAD_SAMPLE */
	int64_t ovl_t0;			/* overload: when the timed hit's handler began */
	char error_buf[MAXSTRINGLEN];
	/* tokenize(): the string being split and where the next token starts. */
	char tok_buf[MAXSTRINGLEN];
	int tok_pos;
	/* =~ and !~: the NFA's work lists. */
	struct stp_re_lists re;
#ifdef STAP_NEED_USTACK
	/* User stacks (linux/stp_ustack.h): the frames, a line, a path and a warning, here
	   rather than on a probe's small stack. */
#define STP_USTACK_MAX 32
	unsigned long ustack_pcs[STP_USTACK_MAX];
	char ustack_line[MAXSTRINGLEN];
	char ustack_path[256];
	char ustack_msg[320];
#endif
};

static inline struct stp_ctx *stp_context_of(int cpu);

static struct {
	int state;
	int exit_requested;
	int error_exit;		/* ending for errors: the error probes run, not the end probes */
	int64_t errors;
	int64_t skipped;
	int64_t warnings;
	int64_t exit_status;
	int64_t target;		/* target(): -x PID or the -c command's PID */
} stp_session;

STP_DEFINE_MUTEX(stp_errlock);

/*
 * Prints a whole line to the error stream.  The line is made in a static buffer under the
 * error lock, not on the stack: probes may run on small exception and IRQ stacks.
 */
static inline void stp_error_line(const char *prefix, const char *msg, const char *where)
{
	static char line[MAXSTRINGLEN * 2 + 512];
	unsigned long flags;
	int n;

	flags = stp_mutex_lock(&stp_errlock);
	if (where && where[0])
		n = snprintf(line, sizeof(line), "%s%s near %s\n", prefix, msg, where);
	else
		n = snprintf(line, sizeof(line), "%s%s\n", prefix, msg);
	if (n >= 0) {
		if ((size_t)n >= sizeof(line))
			n = sizeof(line) - 1;
		stp_error_write(line, (size_t)n);
	}
	stp_mutex_unlock(&stp_errlock, flags);
}

/* What abort() leaves as the context's error: the handler unwinds, uncaught and unreported. */
static const char stp_abort_marker[] = "abort";

/* Records a runtime error in the context; the generated code then unwinds. */
static inline void stp_set_error(struct stp_ctx *c, const char *msg)
{
	size_t n;

	if (c->last_error)
		return;
	for (n = 0; n < sizeof(c->error_buf) - 1 && msg[n]; n++)
		c->error_buf[n] = msg[n];
	c->error_buf[n] = '\0';
	c->last_error = c->error_buf;
}

/* Records an error at a given token ("operator '/' at file:line:col"). */
static inline void stp_error_near(struct stp_ctx *c, const char *msg, const char *near)
{
	if (c->last_error)
		return;
	stp_set_error(c, msg);
	c->last_stmt = near;
}

static inline void stp_set_errorf(struct stp_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void stp_set_errorf(struct stp_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->last_error)
		return;
	va_start(ap, fmt);
	vsnprintf(c->error_buf, sizeof(c->error_buf), fmt, ap);
	va_end(ap);
	c->last_error = c->error_buf;
}

/*
 * Target variables: reads `size` bytes at the address in *v, fault-safely, into *v
 * (sign-extended when `sign`); a bad address is a runtime error, never an oops.
 */
static inline int stp_kread(struct stp_ctx *c, uint64_t *v, int size, int sign, const char *near)
{
	uint64_t addr = *v, out = 0;

	if (size != 1 && size != 2 && size != 4 && size != 8) {
		stp_set_errorf(c, "invalid kernel read size %d", size);
		c->last_stmt = near;
		return -1;
	}
	if (c->args && c->args->user) {
		/* A uprobe's target variables are the probed process's memory. */
		if (stp_copy_user_nofault(&out, addr, (size_t)size)) {
			stp_set_errorf(c, "user read fault at 0x%016llx (addr)", (unsigned long long)addr);
			c->last_stmt = near;
			return -1;
		}
	} else if (stp_copy_nofault(&out, addr, (size_t)size)) {
		stp_set_errorf(c, "kernel read fault at 0x%016llx (addr)", (unsigned long long)addr);
		c->last_stmt = near;
		return -1;
	}
	if (sign && size < 8)
		out = (uint64_t)((int64_t)(out << (64 - 8 * size)) >> (64 - 8 * size));
	*v = out;
	return 0;
}

/*
 * Guru-mode writes to target variables: `size` bytes of v (little-endian, its low ones)
 * at the address, fault-safely; a bad address is a runtime error, never an oops.
 */
static inline int stp_kwrite(struct stp_ctx *c, uint64_t addr, int size, int64_t v, const char *near)
{
	uint64_t u = (uint64_t)v;

	if ((size != 1 && size != 2 && size != 4 && size != 8) ||
	    stp_store_nofault(addr, &u, (size_t)size)) {
		stp_set_errorf(c, "kernel write fault at 0x%016llx (addr)", (unsigned long long)addr);
		c->last_stmt = near;
		return -1;
	}
	return 0;
}

/* A guru-mode write to a parameter ($param = v): what the probed function gets from here
   on, in its register (the first six), and what later reads in this probe see. */
static inline void stp_set_arg(struct stp_ctx *c, int n, int64_t v)
{
	struct stp_args *a = (struct stp_args *)c->args;

	if (!a || n < 0 || n >= 6)
		return;
	a->v[n] = (uint64_t)v;
	if (a->regs)
		stp_platform_set_arg_reg(a->regs, n, (uint64_t)v);
}

/* Target variables: the string (a char array) at addr, at most max bytes. */
static inline int stp_kread_string(struct stp_ctx *c, char *dst, uint64_t addr, size_t max,
				   const char *near)
{
	size_t n = max && max < MAXSTRINGLEN ? max : MAXSTRINGLEN;

	if ((c->args && c->args->user ? stp_copy_user_string_nofault(dst, addr, n)
				      : stp_copy_string_nofault(dst, addr, n)) < 0) {
		dst[0] = '\0';
		stp_set_errorf(c, "kernel string copy fault at 0x%llx [man error::fault]",
			       (unsigned long long)addr);
		c->last_stmt = near;
		return -1;
	}
	dst[n - 1] = '\0';
	return 0;
}

/* $$parms and friends: "name=0x..." pairs. */
static inline void stp_format_pairs(char *dst, const char *const *names, const uint64_t *vals, int n)
{
	size_t len = 0;
	int i;

	dst[0] = '\0';
	for (i = 0; i < n && len < MAXSTRINGLEN; i++)
		len += (size_t)snprintf(dst + len, MAXSTRINGLEN - len, "%s%s=0x%llx", i ? " " : "",
					names[i], (unsigned long long)vals[i]);
}

static inline void stp_warn(const char *msg)
{
	stp_atomic_inc(&stp_session.warnings);
	stp_error_line("WARNING: ", msg, NULL);
}

/* exit(): no more begin or ordinary probes run from now on; end probes follow. */
static inline void stp_request_exit(void)
{
	int s = STP_STARTING;

	stp_atomic_set(&stp_session.exit_requested, 1);
	if (!stp_atomic_cmpxchg(&stp_session.state, &s, STP_STOPPING)) {
		s = STP_RUNNING;
		stp_atomic_cmpxchg(&stp_session.state, &s, STP_STOPPING);
	}
	stp_on_exit_requested();
}

/*
 * The session ends for errors (more than MAXERRORS, too many skipped probes, overload): as
 * in SystemTap, its error probes then run at shutdown instead of its end probes.
 */
static inline void stp_request_error_exit(void)
{
	stp_atomic_set(&stp_session.error_exit, 1);
	stp_request_exit();
}

/* The probes that run at shutdown: end, or error after an error exit. */
static inline enum stp_probe_kind stp_shutdown_kind(void)
{
	return stp_atomic_read(&stp_session.error_exit) ? STP_PROBE_ERROR : STP_PROBE_END;
}

static inline int stp_exit_requested(void)
{
	return stp_atomic_read(&stp_session.exit_requested);
}

/* Counts one statement; returns nonzero (and sets the error) when over budget. */
static inline int stp_count_action(struct stp_ctx *c)
{
#ifdef STAP_SUPPRESS_TIME_LIMITS_ENABLE
	(void)c;
#else
	if (unlikely(--c->actionremaining < 0)) {
		stp_set_error(c, "MAXACTION exceeded");
		return 1;
	}
#endif
	return 0;
}

/*
 * The lock of a global: a reader/writer lock.  A statistics array also has one flag per
 * CPU, each on its own cache line, for its third mode, STP_LOCK_ADD (<<< into elements):
 * an adder marks only its own CPU's flag, so CPUs adding at once share no cache line; the
 * exclusive side takes the writer lock, raises the writer mark and then finds every flag
 * clear (or backs off and tries again).
 */
enum stp_lock_mode {
	STP_LOCK_READ,
	STP_LOCK_WRITE,
	STP_LOCK_ADD,
};

#define STP_FLAG_STRIDE 64

struct stp_glock {
	stp_rwlock_t rw;
	char *adders;	/* statistics arrays: ncpus flags (NULL otherwise) */
	int writer;
};

static inline int *stp_glock_flag(struct stp_glock *l, int cpu)
{
	return (int *)(l->adders + STP_FLAG_STRIDE * (size_t)cpu);
}

static inline int stp_glock_init(struct stp_glock *l, int per_cpu_adders)
{
	stp_rwlock_init(&l->rw);
	l->writer = 0;
	l->adders = per_cpu_adders ? stp_alloc(STP_FLAG_STRIDE * (size_t)stp_ncpus()) : NULL;
	return per_cpu_adders && !l->adders ? -1 : 0;
}

static inline void stp_glock_free(struct stp_glock *l)
{
	stp_free(l->adders);
}

static inline int stp_glock_tryadd(struct stp_glock *l, int cpu)
{
	int *f = stp_glock_flag(l, cpu);

	__atomic_store_n(f, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (likely(!__atomic_load_n(&l->writer, __ATOMIC_RELAXED)))
		return 1;
	__atomic_store_n(f, 0, __ATOMIC_RELEASE);
	return 0;
}

static inline int stp_glock_trywrite(struct stp_glock *l)
{
	int i;

	if (!stp_rwlock_trywrite(&l->rw))
		return 0;
	if (!l->adders)
		return 1;
	__atomic_store_n(&l->writer, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 0; i < stp_ncpus(); i++) {
		if (__atomic_load_n(stp_glock_flag(l, i), __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&l->writer, 0, __ATOMIC_RELEASE);
			stp_rwlock_unlock_write(&l->rw);
			return 0;
		}
	}
	return 1;
}

static inline void stp_lock_release(struct stp_glock *l, enum stp_lock_mode mode, int cpu)
{
	switch (mode) {
	case STP_LOCK_READ:
		stp_rwlock_unlock_read(&l->rw);
		break;
	case STP_LOCK_ADD:
		__atomic_store_n(stp_glock_flag(l, cpu), 0, __ATOMIC_RELEASE);
		break;
	default:
		if (l->adders)
			__atomic_store_n(&l->writer, 0, __ATOMIC_RELEASE);
		stp_rwlock_unlock_write(&l->rw);
		break;
	}
}

/* Takes a lock for a probe, trying at most MAXTRYLOCK times, TRYLOCKDELAY us apart. */
static inline int stp_lock_acquire(struct stp_glock *l, enum stp_lock_mode mode, int cpu)
{
	int i;

	for (i = 0; i < MAXTRYLOCK; i++) {
		int ok;

		switch (mode) {
		case STP_LOCK_READ:
			ok = stp_rwlock_tryread(&l->rw);
			break;
		case STP_LOCK_ADD:
			ok = stp_glock_tryadd(l, cpu);
			break;
		default:
			ok = stp_glock_trywrite(l);
			break;
		}
		if (ok)
			return 1;
		stp_delay_us(TRYLOCKDELAY);
	}
	return 0;
}

static inline void stp_flush_print(int cpu);

/* Runs one probe handler on this CPU's context. */
/*
 * Overload protection, as SystemTap's STP_OVERLOAD: when ordinary probe handlers take more
 * than STP_OVERLOAD_THRESHOLD ns of one CPU within STP_OVERLOAD_INTERVAL ns, the session
 * stops with an error rather than starve the system.  -DSTP_NO_OVERLOAD turns it off.
 * Every kind but begin, end and error is checked; one hit in STP_OVERLOAD_SAMPLE is timed.
 */
#ifndef STP_NO_OVERLOAD
/*
 * Accounts the timed hit that began at c->ovl_t0, and ends the session when overloaded.
 * Out of line and cold: seven hits in eight never come here, and the hot path keeps no
 * timing state in registers across the handler.
 */
static __attribute__((__noinline__, __cold__)) void stp_ovl_account(struct stp_ctx *c)
{
	static int64_t interval, threshold;	/* in stp_ovl_clock() ticks */
	int64_t now = stp_ovl_clock();
	int64_t used = (now - c->ovl_t0) * STP_OVERLOAD_SAMPLE;

	/* Usually this only adds: the window is looked at once the handlers' time since it
	   began passes the threshold (overloaded if that took less than one interval). */
	c->ovl_used += used;
	if (likely(c->ovl_used <= threshold && threshold))
		return;
	if (!interval) {
		int64_t per_ms = stp_ovl_per_sec() / 1000;

		threshold = STP_OVERLOAD_THRESHOLD / 1000 * per_ms / 1000;
		interval = STP_OVERLOAD_INTERVAL / 1000 * per_ms / 1000;
	}
	if (now - c->ovl_start > interval) {
		c->ovl_start = now;
		c->ovl_used = used;
		return;
	}
	if (c->ovl_used > threshold) {
		stp_atomic_inc(&stp_session.errors);
		stp_error_line("ERROR: ", "probe overhead exceeded threshold", NULL);
		stp_request_error_exit();
	}
}
#endif

static inline void stp_run_probe_args(const struct stp_probe *p, const struct stp_args *args);

static inline void stp_run_probe(const struct stp_probe *p)
{
	stp_run_probe_args(p, NULL);
}

/* Target variables: a parameter or tracepoint argument, and the return value. */
static inline uint64_t stp_arg(const struct stp_ctx *c, int n)
{
	uint64_t v = 0;

	if (!c->args || n < 0 || n >= STP_MAX_ARGS)
		return 0;
	if (n < 6 || !c->args->stack)
		return c->args->v[n];
	if (c->args->user ? stp_copy_user_nofault(&v, c->args->stack + 8 * (uint64_t)(n - 5), sizeof(v))
			  : stp_copy_nofault(&v, c->args->stack + 8 * (uint64_t)(n - 5), sizeof(v)))
		return 0;
	return v;
}

static inline uint64_t stp_retval(const struct stp_ctx *c)
{
	return c->args ? c->args->ret : 0;
}

/* A netfilter probe's verdict ($verdict, under -g): what its hook returns. */
static inline uint64_t stp_verdict(const struct stp_ctx *c)
{
	return c->args && c->args->verdict ? *c->args->verdict : 0;
}

static inline void stp_set_verdict(const struct stp_ctx *c, int64_t v)
{
	if (c->args && c->args->verdict)
		*c->args->verdict = (unsigned int)v;
}

/* procfs $value: a write probe reads what was written (as a string, truncated); a read
   probe sets or appends to what the read returns (truncated to the file's maxsize). */
static inline void stp_procfs_value(const struct stp_ctx *c, char *out)
{
	const struct stp_procfs_buf *b = c->args ? c->args->procfs : NULL;
	size_t n = b ? b->len : 0;

	if (n > MAXSTRINGLEN - 1)
		n = MAXSTRINGLEN - 1;
	if (n)
		memcpy(out, b->data, n);
	out[n] = '\0';
}

static inline int stp_procfs_append(struct stp_ctx *c, const char *s)
{
	struct stp_procfs_buf *b = c->args ? c->args->procfs : NULL;
	size_t n = strlen(s);

	if (!b || !b->cap)
		return 0;
	if (b->len + n + 1 > b->cap) {
		/* As SystemTap: what fits is kept, and the probe fails saying what would do. */
		size_t room = b->cap - 1 - b->len;

		memcpy(b->data + b->len, s, room);
		stp_set_errorf(c, "buffer size exceeded, consider .maxsize(%llu).",
			       (unsigned long long)(b->len + n + 1));
		b->len += room;
		return -1;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

static inline int stp_procfs_set(struct stp_ctx *c, const char *s)
{
	if (c->args && c->args->procfs)
		c->args->procfs->len = 0;
	return stp_procfs_append(c, s);
}

/* DWARF register n at the probed instruction, from the registers the probe saved. */
static inline uint64_t stp_dwarf_reg(const struct stp_ctx *c, int n)
{
	return c->args && c->args->regs ? stp_platform_dwarf_reg(c->args->regs, n) : 0;
}

/*
 * begin, end and error probes (and perfmon's, which runs once before begin) may run
 * longer: they get MAXACTION_INTERRUPTIBLE statements and no overload check.  Every other
 * probe, which can fire on any event, gets MAXACTION and the overload check.
 */
static inline int stp_kind_interruptible(enum stp_probe_kind kind)
{
	return kind == STP_PROBE_BEGIN || kind == STP_PROBE_END || kind == STP_PROBE_ERROR ||
	       kind == STP_PROBE_PERFMON;
}

/* Whether a probe of this kind may run in the session's current state. */
static inline int stp_kind_may_run(enum stp_probe_kind kind, int state)
{
	/* As in SystemTap: begin probes run while starting, end and error probes while
	   stopping, everything else only while running. */
	switch (kind) {
	case STP_PROBE_BEGIN:
	case STP_PROBE_PERFMON:
		return state == STP_STARTING;
	case STP_PROBE_END:
	case STP_PROBE_ERROR:
		return state == STP_STOPPING;
	default:
		return state == STP_RUNNING;
	}
}

/* A probe that cannot run now (reentered, NMI, a lock not had): counted as skipped. */
static inline void stp_skip_probe(void)
{
	if (stp_atomic_inc(&stp_session.skipped) == MAXSKIPPED + 1) {
		stp_error_line("ERROR: ", "Skipped too many probes, check MAXSKIPPED or try again with stap -t for more details.", NULL);
		stp_request_error_exit();
	}
}

static inline void stp_run_claimed(struct stp_ctx *c, const struct stp_probe *p,
				   const struct stp_args *args);

/*
 * Runs one probe on this CPU's context.  Its caller has preemption off: kprobe and
 * tracepoint handlers and hard-IRQ timers always do, and the paths that PREEMPT_RT runs
 * in threads (timer_list timers, irq_work) turn it off (stp_probe_enter).  All but the
 * begin, end and error probes run with interrupts off (stp_irq_save).  A probe that
 * fires while this CPU's context is in use (a
 * probe on a function the runtime or another probe calls, an interrupt or NMI inside a
 * probe), or while this CPU holds one of the runtime's locks (so an NMI, or an int3
 * kprobe, which the kernel also runs as an NMI, never spins on a lock its CPU holds), is
 * skipped and counted.  Nothing a probe does wakes, sleeps or queues work, so the rest is
 * safe in NMI context too.
 */
static inline void stp_run_probe_args(const struct stp_probe *p, const struct stp_args *args)
{
	struct stp_ctx *c;
	stp_irqflags_t flags = 0;
	int irqs_off = !stp_kind_interruptible(p->kind);
	int cpu;

	if (!stp_kind_may_run(p->kind, stp_atomic_read(&stp_session.state)))
		return;
	cpu = stp_this_cpu();
	c = stp_context_of(cpu);
	if (irqs_off)
		flags = stp_irq_save();
	/* Interrupts nest and preemption is off: a test and a set cannot interleave with
	   another claim of this context that does not finish first. */
	if (c->busy || stp_runtime_locked()) {
		stp_skip_probe();
	} else {
		c->busy = 1;
		stp_barrier();
		c->cpu = cpu;
		stp_run_claimed(c, p, args);
		stp_barrier();
		c->busy = 0;
	}
	if (irqs_off)
		stp_irq_restore(flags);
}

static inline void stp_run_claimed(struct stp_ctx *c, const struct stp_probe *p,
				   const struct stp_args *args)
{
	c->probe = p;
	c->args = args;
	c->nesting = -1;
	c->last_error = NULL;
	c->last_stmt = p->location;
	c->interruptible = stp_kind_interruptible(p->kind);
	/* Timer probes get the larger budget too, though not the begin probes' freedom from
	   the overload check: SystemTap 4.8 runs a timer.ms probe's 500-iteration loop to the
	   end with MAXACTION 1000. */
	c->actionremaining = c->interruptible || p->kind == STP_PROBE_TIMER ? MAXACTION_INTERRUPTIBLE
									   : MAXACTION;
	if (p->lock && !p->lock(c)) {
		stp_skip_probe();
		return;
	}
#ifndef STP_NO_OVERLOAD
	/* One hit in STP_OVERLOAD_SAMPLE is timed and counts for them all: probes that fire
	   millions of times a second read the clock once in a while.  (No probe runs on this
	   context meanwhile, so the count is the same after the handler.) */
	if (unlikely(!(++c->ovl_hits & (STP_OVERLOAD_SAMPLE - 1))) && !c->interruptible)
		c->ovl_t0 = stp_ovl_clock();
#endif
	if (unlikely(args && args->task)) {
		stp_set_task(args->task);
		p->handler(c);
		stp_set_task(NULL);
	} else {
		p->handler(c);
	}
	if (p->unlock)
		p->unlock(c);
	stp_flush_print(c->cpu);
#ifndef STP_NO_OVERLOAD
	if (unlikely(!(c->ovl_hits & (STP_OVERLOAD_SAMPLE - 1))) && !c->interruptible)
		stp_ovl_account(c);
#endif
	if (unlikely(c->last_error == stp_abort_marker))
		c->last_error = NULL;
	if (unlikely(c->last_error)) {
		int64_t n = stp_atomic_inc(&stp_session.errors);

		stp_error_line("ERROR: ", c->last_error, c->last_stmt);
		c->last_error = NULL;
		if (n > MAXERRORS)
			stp_request_error_exit();
	}
}

/*
 * Runs every probe of one kind from a probe table, in sequence-number order (ties: table
 * order), each between the platform's stp_probe_enter/exit (the kernel disables
 * preemption there).
 */
static inline void stp_run_table_kind(const struct stp_probe *probes, int n, enum stp_probe_kind kind)
{
	int64_t last_seq = -9223372036854775807LL - 1;
	int last = -1, done, i;

	for (done = 0; done < n; done++) {
		int best = -1;

		/* The next probe after (last_seq, last) in (seq, index) order. */
		for (i = 0; i < n; i++) {
			if (probes[i].kind != kind)
				continue;
			if (probes[i].seq < last_seq || (probes[i].seq == last_seq && i <= last))
				continue;
			if (best < 0 || probes[i].seq < probes[best].seq)
				best = i;
		}
		if (best < 0)
			break;
		last_seq = probes[best].seq;
		last = best;
		stp_probe_enter();
		stp_run_probe(&probes[best]);
		stp_probe_exit();
	}
}

/* The closing summary SystemTap prints when something went wrong. */
static inline void stp_print_summary(void)
{
	char line[128];
	int64_t errors = stp_atomic_read(&stp_session.errors);
	int64_t skipped = stp_atomic_read(&stp_session.skipped);

	if (!errors && !skipped)
		return;
	snprintf(line, sizeof(line), "Number of errors: %" PRId64 ", skipped probes: %" PRId64,
		 errors, skipped);
	stp_error_line("WARNING: ", line, NULL);
}

#endif /* STP_CORE_H */

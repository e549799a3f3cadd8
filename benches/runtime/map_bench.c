/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Throughput of the stap-rs runtime's hot paths, next to plain C baselines measured in
 * the same run:
 *   - array updates (a[k] = v): the runtime map under the global's write lock, as
 *     generated code does, against an open-addressing hash map (no lock on one thread,
 *     a mutex on two);
 *   - statistics (s <<< v): the runtime's lock-free per-CPU aggregate, against
 *     a shared count/sum under a mutex;
 *   - statistics arrays (a[k] <<< v): the runtime map under this CPU's flag of the
 *     global's lock, each CPU adding into its own slot, against the open-addressing map
 *     holding a count/sum per key (a mutex on two threads).
 * Usage: map_bench [operations per thread]
 */
#include "stp_platform.h"
#include "stp_runtime.h"

static struct stp_ctx bench_ctx[STP_MAXCPUS];

static inline struct stp_ctx *stp_context_of(int cpu)
{
	return &bench_ctx[cpu];
}

static inline void stp_run_error_probes(void)
{
}

#define KEYS 1000

static long ops = 5000000;
static struct stp_map map, smap;
static struct stp_stat_set stat;
static struct stp_glock lock, slock;

/* ---- baseline: open addressing, int64 -> int64 ---- */
struct base_slot {
	int64_t key, value, sum;
	int used;
};
static struct base_slot base[4096];
static pthread_mutex_t base_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int64_t count, sum;
} base_stat;

/* The slot of key k (claimed if new): open addressing with linear probing. */
static inline struct base_slot *base_slot(int64_t k)
{
	uint64_t h = ((uint64_t)k * 0x9e3779b97f4a7c15ULL) >> 52;

	while (base[h].used && base[h].key != k)
		h = (h + 1) & 4095;
	base[h].used = 1;
	base[h].key = k;
	return &base[h];
}

static inline void base_set(int64_t k, int64_t v)
{
	base_slot(k)->value = v;
}

static inline void base_add(int64_t k, int64_t v)
{
	struct base_slot *s = base_slot(k);

	s->value++;
	s->sum += v;
}

struct job {
	int cpu;
	int which;
	int locked;
};

static void *run(void *arg)
{
	struct job *j = arg;
	struct stp_ctx *c = stp_context_of(j->cpu);
	long i;

	stp_this_cpu_value = j->cpu;
	c->cpu = j->cpu;
	for (i = 0; i < ops; i++) {
		int64_t k = (i * 7919) % KEYS;
		union stp_key key = { .n = k };

		switch (j->which) {
		case 0:	/* runtime map update under the global's write lock */
			while (!stp_lock_acquire(&lock, STP_LOCK_WRITE, c->cpu))
				;	/* a probe would be skipped; the benchmark retries */
			stp_map_set_long(c, &map, &key, i, "bench");
			stp_lock_release(&lock, STP_LOCK_WRITE, c->cpu);
			break;
		case 1:	/* baseline hash map */
			if (j->locked)
				pthread_mutex_lock(&base_mutex);
			base_set(k, i);
			if (j->locked)
				pthread_mutex_unlock(&base_mutex);
			break;
		case 2:	/* runtime <<<: per-CPU and lock-free, as generated code does it */
			stp_stat_set_add(&stat, c->cpu, i);
			break;
		case 3:	/* baseline aggregate */
			if (j->locked)
				pthread_mutex_lock(&base_mutex);
			base_stat.count++;
			base_stat.sum += i;
			if (j->locked)
				pthread_mutex_unlock(&base_mutex);
			break;
		case 4:	/* runtime a[k] <<< v: this CPU's flag of the lock, as generated code does it */
			while (!stp_lock_acquire(&slock, STP_LOCK_ADD, c->cpu))
				;
			stp_map_add_stat(c, &smap, &key, i, "bench");
			stp_lock_release(&slock, STP_LOCK_ADD, c->cpu);
			break;
		default:	/* baseline per-key aggregate */
			if (j->locked)
				pthread_mutex_lock(&base_mutex);
			base_add(k, i);
			if (j->locked)
				pthread_mutex_unlock(&base_mutex);
			break;
		}
	}
	return NULL;
}

static double measure(int which, int threads)
{
	pthread_t t[2];
	struct job jobs[2];
	int64_t t0 = stp_monotonic_ns();
	int i;

	for (i = 0; i < threads; i++) {
		jobs[i].cpu = i;
		jobs[i].which = which;
		jobs[i].locked = threads > 1;
		pthread_create(&t[i], NULL, run, &jobs[i]);
	}
	for (i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return (double)ops * threads / ((double)(stp_monotonic_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
	static const char *names[] = { "array update", "array update", "<<<", "<<<", "a[k] <<<", "a[k] <<<" };
	int threads, which;

	if (argc > 1)
		ops = atol(argv[1]);
	stp_ncpus_value = 2;
	if (stp_glock_init(&lock, 0) || stp_glock_init(&slock, 1))
		return 1;
	if (stp_map_init(&map, "a", 1, (const enum stp_type[]){ STP_LONG }, STP_LONG, 0, 0, NULL, 1) ||
	    stp_map_init(&smap, "s", 1, (const enum stp_type[]){ STP_LONG }, STP_STATS, 0, 0, NULL, 1) ||
	    stp_stat_set_init(&stat, NULL))
		return 1;
	for (threads = 1; threads <= 2; threads++) {
		for (which = 0; which < 6; which += 2) {
			double rt = measure(which, threads);
			double bl = measure(which + 1, threads);

			printf("%-13s %d thread%s: runtime %7.1f M/s, baseline %7.1f M/s, ratio %.2f\n",
			       names[which], threads, threads > 1 ? "s" : " ", rt / 1e6, bl / 1e6, rt / bl);
		}
	}
	return 0;
}

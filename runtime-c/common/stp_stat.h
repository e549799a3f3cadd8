/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: statistics (<<<, @count @sum @min @max @avg @variance) and
 * histograms (@hist_linear, @hist_log), printed in SystemTap's layout.
 *
 * A scalar statistic is per-CPU: <<< touches only this CPU's copy (no global lock on the
 * hot path) and readers merge the copies into this CPU's merge buffer.
 */
#ifndef STP_STAT_H
#define STP_STAT_H

#ifndef HIST_WIDTH
#define HIST_WIDTH 50
#endif
#ifndef HIST_ELISION
#define HIST_ELISION 2
#endif
#define HIST_LOG_BUCKETS 128
#ifndef STP_CACHELINE
#define STP_CACHELINE 64
#endif
#define HIST_LOG_BUCKET0 64

enum stp_hist_kind {
	STP_HIST_NONE,
	STP_HIST_LINEAR,
	STP_HIST_LOG,
};

/* The histogram a statistic keeps, fixed at translation time. */
struct stp_hist_cfg {
	enum stp_hist_kind kind;
	int64_t lo, hi, step;
	int buckets;
};

struct stp_stat {
	int64_t count, sum, min, max;
#ifdef __SIZEOF_INT128__
	__int128 sumsq;
#else
	int64_t sumsq;
#endif
	int64_t hist[];
};

static inline size_t stp_stat_size(const struct stp_hist_cfg *cfg)
{
	size_t n = sizeof(struct stp_stat) + sizeof(int64_t) * (size_t)(cfg ? cfg->buckets : 0);

	return (n + 15) & ~(size_t)15;	/* the 128-bit sum of squares needs 16-byte alignment */
}

static inline int stp_msb64(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

static inline int stp_hist_bucket(const struct stp_hist_cfg *cfg, int64_t v)
{
	if (cfg->kind == STP_HIST_LOG) {
		if (v == 0)
			return HIST_LOG_BUCKET0;
		if (v > 0)
			return HIST_LOG_BUCKET0 + 1 + stp_msb64((uint64_t)v);
		return HIST_LOG_BUCKET0 - 1 - stp_msb64((uint64_t)0 - (uint64_t)v);
	}
	if (v < cfg->lo)
		return 0;
	if (v > cfg->hi)
		return cfg->buckets - 1;
	/* lo <= v <= hi: the unsigned difference is exact, whatever the signs. */
	return 1 + (int)(((uint64_t)v - (uint64_t)cfg->lo) / (uint64_t)cfg->step);
}

static inline int64_t stp_log_bucket_value(int b)
{
	if (b == HIST_LOG_BUCKET0)
		return 0;
	if (b > HIST_LOG_BUCKET0)
		return (int64_t)((uint64_t)1 << (b - HIST_LOG_BUCKET0 - 1));
	return -(int64_t)((uint64_t)1 << (HIST_LOG_BUCKET0 - 1 - b));
}

static inline void stp_stat_add_one(struct stp_stat *s, const struct stp_hist_cfg *cfg, int64_t v)
{
	if (s->count == 0 || v < s->min)
		s->min = v;
	if (s->count == 0 || v > s->max)
		s->max = v;
	s->count++;
	s->sum += v;
	s->sumsq += (__typeof__(s->sumsq))v * v;
	if (cfg && cfg->kind != STP_HIST_NONE)
		s->hist[stp_hist_bucket(cfg, v)]++;
}

static inline void stp_stat_merge_into(struct stp_stat *dst, const struct stp_stat *src,
				const struct stp_hist_cfg *cfg)
{
	int i;

	if (!src->count)
		return;
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->count == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	for (i = 0; cfg && i < cfg->buckets; i++)
		dst->hist[i] += src->hist[i];
}

/* ---------------------------------------------------------------- scalar stats */

/*
 * A scalar statistic is one slot per CPU: a sequence counter, then the statistic, padded
 * to a cache line.  <<< takes no lock: only the owning CPU writes its slot, bumping the
 * counter to odd before and to even after.  A reader copies each slot and tries again if
 * the counter was odd or moved.  A reader never runs on a CPU in the middle of that CPU's
 * own <<< (the CPU's context is busy, so the probe would be skipped), so retries end.
 */
#define STP_SLOT_HDR 16

struct stp_stat_set {
	const struct stp_hist_cfg *cfg;
	size_t size;	/* of one struct stp_stat with its histogram */
	size_t stride;	/* of one slot */
	char *percpu;	/* ncpus slots */
	char *merged;	/* ncpus merge buffers */
	char *copy;	/* ncpus snapshot buffers for readers */
};

static inline uint64_t *stp_slot_seq(struct stp_stat_set *s, int cpu)
{
	return (uint64_t *)(s->percpu + s->stride * (size_t)cpu);
}

static inline struct stp_stat *stp_slot_stat(struct stp_stat_set *s, int cpu)
{
	return (struct stp_stat *)(s->percpu + s->stride * (size_t)cpu + STP_SLOT_HDR);
}

static inline int stp_stat_set_init(struct stp_stat_set *s, const struct stp_hist_cfg *cfg)
{
	s->cfg = cfg;
	s->size = stp_stat_size(cfg);
	/* One cache line (at least) per CPU: no false sharing between CPUs' <<<. */
	s->stride = (STP_SLOT_HDR + s->size + STP_CACHELINE - 1) & ~(size_t)(STP_CACHELINE - 1);
	s->percpu = stp_alloc(s->stride * (size_t)stp_ncpus());
	s->merged = stp_alloc(s->size * (size_t)stp_ncpus());
	s->copy = stp_alloc(s->size * (size_t)stp_ncpus());
	return s->percpu && s->merged && s->copy ? 0 : -1;
}

static inline void stp_stat_set_free(struct stp_stat_set *s)
{
	stp_free(s->percpu);
	stp_free(s->merged);
	stp_free(s->copy);
}

/* <<<: lock-free, on this CPU's slot. */
static inline void stp_stat_set_add(struct stp_stat_set *s, int cpu, int64_t v)
{
	uint64_t *seq = stp_slot_seq(s, cpu);
	uint64_t n = __atomic_load_n(seq, __ATOMIC_RELAXED);

	__atomic_store_n(seq, n + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	stp_stat_add_one(stp_slot_stat(s, cpu), s->cfg, v);
	__atomic_store_n(seq, n + 2, __ATOMIC_RELEASE);
}

/* A consistent copy of one CPU's slot into dst. */
static inline void stp_stat_slot_read(struct stp_stat_set *s, int i, struct stp_stat *dst)
{
	uint64_t *seq = stp_slot_seq(s, i);
	int tries;

	for (tries = 0; tries < 1000000; tries++) {
		uint64_t a = __atomic_load_n(seq, __ATOMIC_ACQUIRE), b;

		if (a & 1) {
			stp_cpu_relax();
			continue;
		}
		memcpy(dst, stp_slot_stat(s, i), s->size);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		b = __atomic_load_n(seq, __ATOMIC_RELAXED);
		if (a == b)
			return;
	}
}

/* The merged statistic, in this CPU's merge buffer. */
static inline struct stp_stat *stp_stat_set_read(struct stp_stat_set *s, int cpu)
{
	struct stp_stat *m = (struct stp_stat *)(s->merged + s->size * (size_t)cpu);
	struct stp_stat *tmp = (struct stp_stat *)(s->copy + s->size * (size_t)cpu);
	int i;

	memset(m, 0, s->size);
	for (i = 0; i < stp_ncpus(); i++) {
		stp_stat_slot_read(s, i, tmp);
		stp_stat_merge_into(m, tmp, s->cfg);
	}
	return m;
}

/* delete: empties every slot (holding the global's write lock, like every reader). */
static inline void stp_stat_set_clear(struct stp_stat_set *s)
{
	int i;

	for (i = 0; i < stp_ncpus(); i++) {
		uint64_t *seq = stp_slot_seq(s, i);
		uint64_t n = __atomic_load_n(seq, __ATOMIC_RELAXED);

		memset(stp_slot_stat(s, i), 0, s->size);
		__atomic_store_n(seq, n + 2 - (n & 1), __ATOMIC_RELEASE);
	}
}

/* ---------------------------------------------------------------- extractors */

/* n / d for a 128-bit n, by long division (no compiler helper: the kernel has none). */
static inline int64_t stp_sdiv128(__typeof__(((struct stp_stat *)0)->sumsq) n, int64_t d)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 un = n < 0 ? -(unsigned __int128)n : (unsigned __int128)n, q = 0, r = 0;
	uint64_t ud = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
	int i;

	if (!ud)
		return 0;
	for (i = 127; i >= 0; i--) {
		r = (r << 1) | ((un >> i) & 1);
		if (r >= ud) {
			r -= ud;
			q |= (unsigned __int128)1 << i;
		}
	}
	return ((n < 0) != (d < 0)) ? -(int64_t)q : (int64_t)q;
#else
	return d ? n / d : 0;
#endif
}

enum stp_stat_op {
	STP_COUNT,
	STP_SUM,
	STP_MIN,
	STP_MAX,
	STP_AVG,
	STP_VARIANCE,
};

static inline int64_t stp_stat_extract(struct stp_ctx *c, const struct stp_stat *s, enum stp_stat_op op,
				const char *near)
{
	if (op == STP_COUNT)
		return s->count;
	if (op == STP_SUM)
		return s->sum;
	if (s->count == 0) {
		stp_error_near(c, "empty aggregate", near);
		return 0;
	}
	switch (op) {
	case STP_MIN:
		return s->min;
	case STP_MAX:
		return s->max;
	case STP_AVG:
		return s->sum / s->count;
	default:
		if (s->count < 2)
			return 0;
		return stp_sdiv128(s->sumsq * s->count - (__typeof__(s->sumsq))s->sum * s->sum,
				   s->count * (s->count - 1));
	}
}

/* One histogram bucket (for @hist_*(s)[i] and foreach over a histogram). */
static inline int64_t stp_hist_index(struct stp_ctx *c, const struct stp_stat *s,
			      const struct stp_hist_cfg *cfg, int64_t i, const char *near)
{
	if (!cfg || i < 0 || i >= cfg->buckets) {
		stp_error_near(c, "histogram index out of range", near);
		return 0;
	}
	return s->hist[i];
}

/* ---------------------------------------------------------------- printing */

static inline int stp_needed_space(int64_t v)
{
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int n = v < 0 ? 2 : 1;

	while (u >= 10) {
		u /= 10;
		n++;
	}
	return n;
}

static inline void stp_print_rep(struct stp_ctx *c, char ch, int n)
{
	while (n-- > 0)
		stp_print_bytes(c->cpu, &ch, 1);
}

static inline void stp_print_long(struct stp_ctx *c, const char *prefix, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%s%" PRId64, prefix, v);

	stp_print_bytes(c->cpu, buf, (size_t)n);
}

/*
 * lo + k * step, the low end of a linear histogram's k-th bucket, in wrapping unsigned
 * arithmetic: k * step alone may not fit in int64_t (lo < 0 < hi), and one step past hi
 * (the width of the overflow row) may not either.
 */
static inline int64_t stp_linear_label(const struct stp_hist_cfg *cfg, int k)
{
	return (int64_t)((uint64_t)cfg->lo + (uint64_t)cfg->step * (uint64_t)(int64_t)k);
}

/* Draws a histogram as SystemTap does. */
static inline void stp_hist_print(struct stp_ctx *c, const struct stp_stat *s, const struct stp_hist_cfg *cfg)
{
	int i, k, low = -1, high = 0, under = 0, over = 0, val_space, cnt_space, eliding = 0;
	int64_t valmax = 0, scale;

	if (!cfg || cfg->kind == STP_HIST_NONE)
		return;
	for (i = 0; i < cfg->buckets; i++) {
		if (s->hist[i] > 0 && low == -1)
			low = i;
		if (s->hist[i] > 0)
			high = i;
		if (s->hist[i] > valmax)
			valmax = s->hist[i];
	}
	if (low == -1)
		low = high = cfg->kind == STP_HIST_LOG ? HIST_LOG_BUCKET0 : 1;
	for (i = 0; i < 2; i++) {
		if (cfg->kind == STP_HIST_LOG) {
			if (low != HIST_LOG_BUCKET0 && low > 0)
				low--;
		} else if (low > 0) {
			low--;
		}
		if (high < cfg->buckets - 1)
			high++;
	}
	if (cfg->kind == STP_HIST_LINEAR) {
		if (low == 0 && s->hist[0] == 0)
			low++;
		if (high == cfg->buckets - 1 && s->hist[high] == 0)
			high--;
		under = low == 0;
		over = high == cfg->buckets - 1;
	}
	scale = valmax <= HIST_WIDTH ? 1 : (valmax + HIST_WIDTH - 1) / HIST_WIDTH;
	cnt_space = stp_needed_space(valmax);
	if (cfg->kind == STP_HIST_LINEAR) {
		i = stp_needed_space(cfg->lo) + under;
		val_space = stp_needed_space(stp_linear_label(cfg, high - 1)) + over;
	} else {
		i = stp_needed_space(stp_log_bucket_value(high));
		val_space = stp_needed_space(stp_log_bucket_value(low));
	}
	if (i > val_space)
		val_space = i;
	if (val_space < 5)
		val_space = 5;
	stp_print_rep(c, ' ', val_space - 5);
	stp_print_str(c, "value |");
	stp_print_rep(c, '-', HIST_WIDTH);
	stp_print_str(c, " count\n");
	for (i = low; i <= high; i++) {
		const char *prefix = "";
		int64_t val, bar;
		int elide = 1;

		for (k = i - HIST_ELISION; k <= i + HIST_ELISION; k++)
			if (k >= low && k <= high && s->hist[k] != 0)
				elide = 0;
		if (elide) {
			eliding = 1;
			continue;
		}
		if (eliding) {
			stp_print_rep(c, ' ', val_space);
			stp_print_str(c, " ~\n");
			eliding = 0;
		}
		if (cfg->kind == STP_HIST_LINEAR) {
			if (i == 0) {
				val = cfg->lo;
				prefix = "<";
			} else if (i == cfg->buckets - 1) {
				val = stp_linear_label(cfg, i - 2);
				prefix = ">";
			} else {
				val = stp_linear_label(cfg, i - 1);
			}
		} else {
			val = stp_log_bucket_value(i);
		}
		stp_print_rep(c, ' ', val_space - stp_needed_space(val) - (int)strlen(prefix));
		stp_print_long(c, prefix, val);
		stp_print_str(c, " |");
		bar = s->hist[i] / scale;
		stp_print_rep(c, '@', (int)bar);
		stp_print_rep(c, ' ', HIST_WIDTH - (int)bar + 1 + cnt_space - stp_needed_space(s->hist[i]));
		stp_print_long(c, "", s->hist[i]);
		stp_print_str(c, "\n");
	}
	stp_print_str(c, "\n");
}

#endif /* STP_STAT_H */

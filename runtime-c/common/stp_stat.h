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

/*
 * The histogram a statistic keeps, and the bit shift of its @variance (SystemTap's
 * @variance(s, b)), fixed at translation time.  A statistic with neither has none.
 */
struct stp_hist_cfg {
	enum stp_hist_kind kind;
	int64_t lo, hi, step;
	int buckets;
	int shift;
};

/*
 * One statistic (one CPU's copy, or the merge of them).  The variance is SystemTap's:
 * Welford's online algorithm in integer arithmetic on values scaled by 2^shift (avg_s, m2,
 * var_s), with a 32-bit difference per value, and the copies merged by the total-variance
 * formula; so @variance(s) of 1..5 is 12, and @variance(s, 1) is 2, as in SystemTap.
 */
struct stp_stat {
	int64_t count, sum, min, max;
	int64_t avg_s, m2, var_s;
	int64_t shift;
	int64_t hist[];
};

static inline size_t stp_stat_size(const struct stp_hist_cfg *cfg)
{
	return sizeof(struct stp_stat) + sizeof(int64_t) * (size_t)(cfg ? cfg->buckets : 0);
}

/* Two's-complement arithmetic, without C's undefined signed overflow. */
static inline int64_t stp_wrap_mul(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a * (uint64_t)b);
}

static inline int64_t stp_wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t stp_shl(int64_t v, int64_t shift)
{
	return (int64_t)((uint64_t)v << shift);
}

/* x / y truncated, 0 for y == 0 (as SystemTap's runtime divides here). */
static inline int64_t stp_div0(int64_t x, int64_t y)
{
	if (y == 0)
		return 0;
	if (y == -1)
		return (int64_t)(0 - (uint64_t)x);
	return x / y;
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
	/* lo <= v: the unsigned difference is exact, whatever the signs.  As SystemTap's,
	   the last bucket is a whole step wide (with lo 0, hi 20, step 10, it holds 20 to
	   29); overflow starts after it. */
	{
		uint64_t k = ((uint64_t)v - (uint64_t)cfg->lo) / (uint64_t)cfg->step;

		return k >= (uint64_t)(cfg->buckets - 2) ? cfg->buckets - 1 : 1 + (int)k;
	}
}

static inline int64_t stp_log_bucket_value(int b)
{
	if (b == HIST_LOG_BUCKET0)
		return 0;
	if (b > HIST_LOG_BUCKET0)
		return (int64_t)((uint64_t)1 << (b - HIST_LOG_BUCKET0 - 1));
	/* In unsigned arithmetic: the lowest bucket is -2^63, which has no positive twin. */
	return (int64_t)(0 - ((uint64_t)1 << (HIST_LOG_BUCKET0 - 1 - b)));
}

static inline void stp_stat_add_one(struct stp_stat *s, const struct stp_hist_cfg *cfg, int64_t v)
{
	int64_t shift = cfg ? cfg->shift : 0;
	int64_t vs = stp_shl(v, shift);

	s->shift = shift;
	if (s->count == 0) {
		s->count = 1;
		s->sum = s->min = s->max = v;
		s->avg_s = vs;
		s->m2 = 0;
	} else {
		/* SystemTap keeps the difference in an int. */
		int64_t delta = (int32_t)(uint32_t)(uint64_t)(vs - (uint64_t)s->avg_s);

		s->count++;
		s->sum = stp_wrap_add(s->sum, v);
		if (v < s->min)
			s->min = v;
		if (v > s->max)
			s->max = v;
		s->avg_s += stp_div0(delta, s->count);
		s->m2 = stp_wrap_add(s->m2, stp_wrap_mul(delta, (int64_t)((uint64_t)vs - (uint64_t)s->avg_s)));
		s->var_s = stp_div0(s->m2, s->count - 1);
	}
	if (cfg && cfg->kind != STP_HIST_NONE)
		s->hist[stp_hist_bucket(cfg, v)]++;
}

/* count, sum, min, max and histogram of src into dst (not the variance). */
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
	dst->sum = stp_wrap_add(dst->sum, src->sum);
	dst->shift = src->shift;
	for (i = 0; cfg && i < cfg->buckets; i++)
		dst->hist[i] += src->hist[i];
}

/* n * (a - b)^2, wrapping. */
static inline int64_t stp_sq_term(int64_t n, int64_t a, int64_t b)
{
	int64_t d = stp_wrap_add(a, -b);

	return stp_wrap_mul(n, stp_wrap_mul(d, d));
}

/*
 * An array element's copies merged pairwise, as SystemTap merges a statistic's per-CPU
 * copies in an array: dst (count n1, scaled mean a1, variance v1) and src give the mean
 * of both and the variance (n1 (a1 - a)^2 + (n1 - 1) v1 + n2 (a2 - a)^2 + (n2 - 1) v2)
 * / (n - 1).
 */
static inline void stp_stat_merge_pair(struct stp_stat *dst, const struct stp_stat *src,
				const struct stp_hist_cfg *cfg)
{
	int64_t n1 = dst->count, a1 = dst->avg_s, v1 = dst->var_s, sum;

	if (!src->count)
		return;
	if (!n1) {
		memcpy(dst, src, stp_stat_size(cfg));
		return;
	}
	stp_stat_merge_into(dst, src, cfg);
	dst->avg_s = stp_div0(stp_shl(dst->sum, src->shift), dst->count);
	sum = stp_sq_term(n1, a1, dst->avg_s);
	sum = stp_wrap_add(sum, stp_wrap_mul(n1 - 1, v1));
	sum = stp_wrap_add(sum, stp_sq_term(src->count, src->avg_s, dst->avg_s));
	sum = stp_wrap_add(sum, stp_wrap_mul(src->count - 1, src->var_s));
	dst->var_s = stp_div0(sum, dst->count - 1);
}

/*
 * The variance of a scalar statistic's n copies, as SystemTap merges them: the mean of
 * all, then (sum of n_i (a_i - a)^2 + sum of (n_i - 1) v_i) / (n - 1) into m->var_s.
 */
static inline void stp_stat_total_variance(struct stp_stat *m, const struct stp_stat *copy, int64_t *s1,
				    int64_t *s2)
{
	if (!copy->count)
		return;
	*s1 = stp_wrap_add(*s1, stp_sq_term(copy->count, copy->avg_s, m->avg_s));
	*s2 = stp_wrap_add(*s2, stp_wrap_mul(copy->count - 1, copy->var_s));
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
	int64_t s1 = 0, s2 = 0;
	int i;

	memset(m, 0, s->size);
	for (i = 0; i < stp_ncpus(); i++) {
		stp_stat_slot_read(s, i, tmp);
		stp_stat_merge_into(m, tmp, s->cfg);
	}
	if (!m->count)
		return m;
	m->avg_s = stp_div0(stp_shl(m->sum, m->shift), m->count);
	for (i = 0; i < stp_ncpus(); i++) {
		stp_stat_slot_read(s, i, tmp);
		stp_stat_total_variance(m, tmp, &s1, &s2);
	}
	m->var_s = stp_div0(stp_wrap_add(s1, s2), m->count - 1);
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
		return s->var_s >> (2 * s->shift);
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

/*
 * Where a histogram is drawn: the probe's output (str == NULL), or a script string of at
 * most MAXSTRINGLEN - 1 bytes (sprint), the rest dropped.
 */
struct stp_hist_sink {
	struct stp_ctx *c;
	char *str;
	size_t len;
};

static inline void stp_hs_bytes(struct stp_hist_sink *o, const char *p, size_t n)
{
	if (!o->str) {
		stp_print_bytes(o->c->cpu, p, n);
		return;
	}
	while (n-- > 0 && o->len < MAXSTRINGLEN - 1)
		o->str[o->len++] = *p++;
	o->str[o->len] = '\0';
}

static inline void stp_hs_str(struct stp_hist_sink *o, const char *p)
{
	stp_hs_bytes(o, p, strlen(p));
}

static inline void stp_hs_rep(struct stp_hist_sink *o, char ch, int n)
{
	while (n-- > 0)
		stp_hs_bytes(o, &ch, 1);
}

static inline void stp_hs_long(struct stp_hist_sink *o, const char *prefix, int64_t v)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%s%" PRId64, prefix, v);

	stp_hs_bytes(o, buf, (size_t)n);
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

/* Draws a histogram as SystemTap does, into o. */
static inline void stp_hist_draw(struct stp_hist_sink *o, const struct stp_stat *s,
				 const struct stp_hist_cfg *cfg)
{
	int i, k, low = -1, high = 0, under = 0, over = 0, val_space, cnt_space, eliding = 0;
	int64_t valmax = 0, scale;

	if (!cfg || cfg->kind == STP_HIST_NONE)
		return;
	if (!s->count) {
		stp_set_error(o->c, "empty aggregate");
		return;
	}
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
	stp_hs_rep(o, ' ', val_space - 5);
	stp_hs_str(o, "value |");
	stp_hs_rep(o, '-', HIST_WIDTH);
	stp_hs_str(o, " count\n");
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
			stp_hs_rep(o, ' ', val_space);
			stp_hs_str(o, " ~\n");
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
		stp_hs_rep(o, ' ', val_space - stp_needed_space(val) - (int)strlen(prefix));
		stp_hs_long(o, prefix, val);
		stp_hs_str(o, " |");
		bar = s->hist[i] / scale;
		stp_hs_rep(o, '@', (int)bar);
		stp_hs_rep(o, ' ', HIST_WIDTH - (int)bar + 1 + cnt_space - stp_needed_space(s->hist[i]));
		stp_hs_long(o, "", s->hist[i]);
		stp_hs_str(o, "\n");
	}
	stp_hs_str(o, "\n");
}

/* print(@hist_*(s)): the histogram to the probe's output. */
static inline void stp_hist_print(struct stp_ctx *c, const struct stp_stat *s, const struct stp_hist_cfg *cfg)
{
	struct stp_hist_sink o = { .c = c };

	stp_hist_draw(&o, s, cfg);
}

/* sprint(@hist_*(s)): the histogram appended to the string str (MAXSTRINGLEN bytes). */
static inline void stp_hist_sprint(struct stp_ctx *c, char *str, const struct stp_stat *s,
				   const struct stp_hist_cfg *cfg)
{
	struct stp_hist_sink o = { .c = c, .str = str, .len = strlen(str) };

	stp_hist_draw(&o, s, cfg);
}

#endif /* STP_STAT_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: associative arrays.
 *
 * A map is a hash table whose entries are all allocated at start-up (MAXMAPENTRIES, or
 * the declared size).  Keys are tuples of up to 9 longs and strings; values are longs,
 * strings or statistics.  Reading a missing key yields 0 or "" and creates nothing.  A
 * full map is an error ("Array overflow"), unless declared with % (wrap), which drops the
 * oldest entry.  Entries stay in insertion order; foreach sorts a per-CPU snapshot.
 *
 * A statistics value is one slot per CPU (each padded to a cache line).  <<< into an
 * array needs only the shared side of the array's lock: each CPU adds into its own slot
 * of the entry, and a key not yet there is inserted under the map's short insertion lock
 * and published to concurrent lookups with a release store.  Readers hold the exclusive
 * side; reading an entry folds the other CPUs' slots into slot 0 first.  Maps declared
 * with % evict entries when full, so their <<< takes the exclusive side too.
 */
#ifndef STP_MAP_H
#define STP_MAP_H

#define STP_MAXKEYS 9

enum stp_type {
	STP_LONG,
	STP_STRING,
	STP_STATS,
};

union stp_key {
	int64_t n;
	const char *s;
};

struct stp_map_entry {
	struct stp_map_entry *hnext;		/* hash chain */
	struct stp_map_entry *prev, *next;	/* insertion order; free list via next */
	uint64_t seq;				/* insertion number, breaks sort ties */
	uint64_t hash;
	/* keys, then the value, follow at STP_ENTRY_HDR (16-byte aligned) */
};

#define STP_ENTRY_HDR ((sizeof(struct stp_map_entry) + 15) & ~(size_t)15)

static inline char *stp_entry_data(struct stp_map_entry *e)
{
	return (char *)e + STP_ENTRY_HDR;
}

struct stp_map {
	const char *name;
	int nkeys;
	enum stp_type keys[STP_MAXKEYS];
	enum stp_type value;
	size_t key_off[STP_MAXKEYS];
	size_t value_off;
	size_t entry_size;
	int capacity;
	int sized;	/* declared with a size (global a[N]), not MAXMAPENTRIES */
	int wrap;
	int count;
	uint64_t seq;
	const struct stp_hist_cfg *cfg;
	unsigned nbuckets;
	struct stp_map_entry **buckets;
	char *pool;
	struct stp_map_entry *free;
	struct stp_map_entry *head, *tail;
	struct stp_map_entry **sortbuf;		/* ncpus * nslots * capacity */
	int nslots;		/* foreach snapshots live at once on one CPU (see foreach_slots.rs) */
	struct stp_stat *empty_stat;		/* what a missing statistics key reads as */
	size_t stat_stride;			/* statistics values: one slot per CPU */
	int ins_lock;				/* held while inserting under the shared lock */
};

#define STP_ENTRY(m, i) ((struct stp_map_entry *)((m)->pool + (m)->entry_size * (size_t)(i)))

static inline size_t stp_align16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* The most entries one map may hold (pass 2 refuses larger declarations). */
#ifndef STP_MAP_MAX_CAPACITY
#define STP_MAP_MAX_CAPACITY (1 << 24)
#endif

static inline int stp_map_init(struct stp_map *m, const char *name, int nkeys, const enum stp_type *keys,
			enum stp_type value, int capacity, int wrap, const struct stp_hist_cfg *cfg,
			int nslots)
{
	size_t off = 0;
	int i;

	memset(m, 0, sizeof(*m));
	m->name = name;
	m->nkeys = nkeys;
	for (i = 0; i < nkeys; i++) {
		m->keys[i] = keys[i];
		m->key_off[i] = off;
		off += keys[i] == STP_STRING ? stp_align16(MAXSTRINGLEN) : 16;
	}
	m->value = value;
	m->value_off = stp_align16(off);
	if (value == STP_STATS)	/* each CPU's slot on cache lines of its own */
		m->value_off = (STP_ENTRY_HDR + off + STP_CACHELINE - 1) / STP_CACHELINE * STP_CACHELINE -
			       STP_ENTRY_HDR;
	off = m->value_off;
	if (value == STP_STRING)
		off += stp_align16(MAXSTRINGLEN);
	else if (value == STP_STATS) {
		m->stat_stride = (stp_stat_size(cfg) + STP_CACHELINE - 1) & ~(size_t)(STP_CACHELINE - 1);
		off += m->stat_stride * (size_t)stp_ncpus();
	}
	else
		off += 8;
	m->entry_size = stp_align16(STP_ENTRY_HDR + off);
	if (value == STP_STATS)
		m->entry_size = (m->entry_size + STP_CACHELINE - 1) & ~(size_t)(STP_CACHELINE - 1);
	m->capacity = capacity > 0 ? capacity : MAXMAPENTRIES;
	m->sized = capacity > 0;
	m->wrap = wrap;
	m->cfg = cfg;
	if (m->capacity <= 0 || m->capacity > STP_MAP_MAX_CAPACITY)
		return -1;
	for (m->nbuckets = 16; (size_t)m->nbuckets < (size_t)m->capacity * 2; m->nbuckets <<= 1)
		;
	m->buckets = stp_alloc(sizeof(*m->buckets) * m->nbuckets);
	m->pool = stp_alloc(m->entry_size * (size_t)m->capacity);
	m->nslots = nslots > 0 ? nslots : 1;
	m->sortbuf = stp_alloc(sizeof(*m->sortbuf) * (size_t)m->capacity * (size_t)stp_ncpus() *
			       (size_t)m->nslots);
	m->empty_stat = stp_alloc(stp_stat_size(cfg));
	if (!m->buckets || !m->pool || !m->sortbuf || !m->empty_stat)
		return -1;
	for (i = 0; i < m->capacity; i++)
		STP_ENTRY(m, i)->next = i + 1 < m->capacity ? STP_ENTRY(m, i + 1) : NULL;
	m->free = STP_ENTRY(m, 0);
	return 0;
}

static inline void stp_map_free(struct stp_map *m)
{
	stp_free(m->buckets);
	stp_free(m->pool);
	stp_free(m->sortbuf);
	stp_free(m->empty_stat);
}

static inline int64_t *stp_key_long_slot(const struct stp_map *m, struct stp_map_entry *e, int i)
{
	return (int64_t *)(stp_entry_data(e) + m->key_off[i]);
}

static inline char *stp_key_str_slot(const struct stp_map *m, struct stp_map_entry *e, int i)
{
	return stp_entry_data(e) + m->key_off[i];
}

static inline int64_t stp_map_key_long(const struct stp_map *m, struct stp_map_entry *e, int i)
{
	return *stp_key_long_slot(m, e, i);
}

static inline const char *stp_map_key_str(const struct stp_map *m, struct stp_map_entry *e, int i)
{
	return stp_key_str_slot(m, e, i);
}

static inline int64_t *stp_value_long_slot(const struct stp_map *m, struct stp_map_entry *e)
{
	return (int64_t *)(stp_entry_data(e) + m->value_off);
}

static inline char *stp_value_str_slot(const struct stp_map *m, struct stp_map_entry *e)
{
	return stp_entry_data(e) + m->value_off;
}

/* CPU cpu's slot of a statistics value. */
static inline struct stp_stat *stp_value_stat_cpu(const struct stp_map *m, struct stp_map_entry *e, int cpu)
{
	return (struct stp_stat *)(stp_entry_data(e) + m->value_off + m->stat_stride * (size_t)cpu);
}

/* Slot 0 of a statistics value: the whole statistic once stp_map_fold_stat() ran. */
static inline struct stp_stat *stp_value_stat_slot(const struct stp_map *m, struct stp_map_entry *e)
{
	return (struct stp_stat *)(stp_entry_data(e) + m->value_off);
}

/* Equality of two strings, bounded by MAXSTRINGLEN (a plain loop: GCC's string
   builtins warn about bounds they cannot see). */
static inline int stp_str_eq(const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < MAXSTRINGLEN - 1; i++) {
		if (a[i] != b[i])
			return 0;
		if (!a[i])
			return 1;
	}
	return 1;
}

static inline uint64_t stp_key_hash(const struct stp_map *m, const union stp_key *keys)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	int i;

	for (i = 0; i < m->nkeys; i++) {
		if (m->keys[i] == STP_STRING) {
			const unsigned char *s = (const unsigned char *)keys[i].s;
			size_t n = 0;

			for (; *s && n < MAXSTRINGLEN - 1; s++, n++)
				h = (h ^ *s) * 0x100000001b3ULL;
			h = (h ^ 0xff) * 0x100000001b3ULL;
		} else {
			uint64_t v = (uint64_t)keys[i].n;
			int b;

			for (b = 0; b < 8; b++, v >>= 8)
				h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
		}
	}
	return h;
}

/* Does entry e match keys, where bit i of wild means "any key i"? */
static inline int stp_map_match(const struct stp_map *m, struct stp_map_entry *e, const union stp_key *keys,
			 unsigned wild)
{
	int i;

	for (i = 0; i < m->nkeys; i++) {
		if (wild & (1u << i))
			continue;
		if (m->keys[i] == STP_STRING) {
			if (!stp_str_eq(stp_key_str_slot(m, e, i), keys[i].s))
				return 0;
		} else if (*stp_key_long_slot(m, e, i) != keys[i].n) {
			return 0;
		}
	}
	return 1;
}

/* The entry for keys, whose hash is h.  Safe against a concurrent insertion (a chain's
   head is published with a release store, after the entry is complete). */
static inline struct stp_map_entry *stp_map_find_h(const struct stp_map *m, const union stp_key *keys,
					    uint64_t h)
{
	struct stp_map_entry *e = __atomic_load_n(&m->buckets[h & (m->nbuckets - 1)], __ATOMIC_ACQUIRE);

	for (; e; e = e->hnext)
		if (e->hash == h && stp_map_match(m, e, keys, 0))
			return e;
	return NULL;
}

static inline struct stp_map_entry *stp_map_find(const struct stp_map *m, const union stp_key *keys)
{
	return stp_map_find_h(m, keys, stp_key_hash(m, keys));
}

static inline void stp_map_unlink(struct stp_map *m, struct stp_map_entry *e)
{
	struct stp_map_entry **pp = &m->buckets[e->hash & (m->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		m->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		m->tail = e->prev;
	e->next = m->free;
	m->free = e;
	m->count--;
}

/* Finds or creates the entry for keys; NULL (with the error set) when full. */
static inline struct stp_map_entry *stp_map_slot(struct stp_ctx *c, struct stp_map *m,
					  const union stp_key *keys, const char *near)
{
	uint64_t h = stp_key_hash(m, keys);
	struct stp_map_entry *e = stp_map_find_h(m, keys, h);
	unsigned b;
	int i;

	if (e)
		return e;
	if (!m->free) {
		if (!m->wrap) {
			char msg[96];

			if (m->sized)
				snprintf(msg, sizeof(msg), "Array overflow, check size limit (%d)", m->capacity);
			else
				snprintf(msg, sizeof(msg), "Array overflow, check MAXMAPENTRIES");
			stp_error_near(c, msg, near);
			return NULL;
		}
		stp_map_unlink(m, m->head);
	}
	e = m->free;
	m->free = e->next;
	memset(stp_entry_data(e), 0, m->entry_size - STP_ENTRY_HDR);
	for (i = 0; i < m->nkeys; i++) {
		if (m->keys[i] == STP_STRING)
			stp_strcpy(stp_key_str_slot(m, e, i), keys[i].s);
		else
			*stp_key_long_slot(m, e, i) = keys[i].n;
	}
	e->hash = h;
	e->seq = ++m->seq;
	b = (unsigned)(e->hash & (m->nbuckets - 1));
	e->hnext = m->buckets[b];
	__atomic_store_n(&m->buckets[b], e, __ATOMIC_RELEASE);
	e->prev = m->tail;
	e->next = NULL;
	if (m->tail)
		m->tail->next = e;
	else
		m->head = e;
	m->tail = e;
	m->count++;
	return e;
}

static inline int64_t stp_map_get_long(const struct stp_map *m, const union stp_key *keys)
{
	struct stp_map_entry *e = stp_map_find(m, keys);

	return e ? *stp_value_long_slot(m, e) : 0;
}

static inline const char *stp_map_get_str(const struct stp_map *m, const union stp_key *keys)
{
	struct stp_map_entry *e = stp_map_find(m, keys);

	return e ? stp_value_str_slot(m, e) : "";
}

/* Folds every CPU's slot of e's statistic into slot 0 (under the exclusive lock), pairwise
 * as SystemTap merges an array's copies. */
static inline struct stp_stat *stp_map_fold_stat(const struct stp_map *m, struct stp_map_entry *e)
{
	struct stp_stat *s0 = stp_value_stat_slot(m, e);
	int i;

	for (i = 1; i < stp_ncpus(); i++) {
		struct stp_stat *si = stp_value_stat_cpu(m, e, i);

		if (si->count) {
			stp_stat_merge_pair(s0, si, m->cfg);
			memset(si, 0, stp_stat_size(m->cfg));
		}
	}
	return s0;
}

static inline const struct stp_stat *stp_map_get_stat(const struct stp_map *m, const union stp_key *keys)
{
	struct stp_map_entry *e = stp_map_find(m, keys);

	return e ? stp_map_fold_stat(m, e) : m->empty_stat;
}

static inline int64_t stp_map_set_long(struct stp_ctx *c, struct stp_map *m, const union stp_key *keys,
				int64_t v, const char *near)
{
	struct stp_map_entry *e = stp_map_slot(c, m, keys, near);

	if (e)
		*stp_value_long_slot(m, e) = v;
	return v;
}

/* The long value of keys' entry, created as 0 when missing, to update in place; NULL
   (with the error set) when the map is full. */
static inline int64_t *stp_map_slot_long(struct stp_ctx *c, struct stp_map *m, const union stp_key *keys,
				  const char *near)
{
	struct stp_map_entry *e = stp_map_slot(c, m, keys, near);

	return e ? stp_value_long_slot(m, e) : NULL;
}

static inline const char *stp_map_set_str(struct stp_ctx *c, struct stp_map *m, const union stp_key *keys,
				   const char *v, const char *near)
{
	struct stp_map_entry *e = stp_map_slot(c, m, keys, near);

	if (!e)
		return "";
	return stp_strcpy(stp_value_str_slot(m, e), v);
}

static inline int64_t stp_map_add_stat(struct stp_ctx *c, struct stp_map *m, const union stp_key *keys,
				int64_t v, const char *near)
{
	struct stp_map_entry *e = stp_map_find(m, keys);

	if (unlikely(!e)) {
		/* Other CPUs may be adding (shared lock): insert under the map's own lock. */
		while (__atomic_exchange_n(&m->ins_lock, 1, __ATOMIC_ACQUIRE))
			stp_cpu_relax();
		e = stp_map_slot(c, m, keys, near);
		__atomic_store_n(&m->ins_lock, 0, __ATOMIC_RELEASE);
		if (!e)
			return v;
	}
	stp_stat_add_one(stp_value_stat_cpu(m, e, c->cpu), m->cfg, v);
	return v;
}

static inline int stp_map_exists(const struct stp_map *m, const union stp_key *keys)
{
	return stp_map_find(m, keys) != NULL;
}

/* [k, *] in a */
static inline int stp_map_exists_slice(const struct stp_map *m, const union stp_key *keys, unsigned wild)
{
	struct stp_map_entry *e;

	for (e = m->head; e; e = e->next)
		if (stp_map_match(m, e, keys, wild))
			return 1;
	return 0;
}

static inline void stp_map_delete(struct stp_map *m, const union stp_key *keys)
{
	struct stp_map_entry *e = stp_map_find(m, keys);

	if (e)
		stp_map_unlink(m, e);
}

static inline void stp_map_delete_slice(struct stp_map *m, const union stp_key *keys, unsigned wild)
{
	struct stp_map_entry *e = m->head, *next;

	for (; e; e = next) {
		next = e->next;
		if (stp_map_match(m, e, keys, wild))
			stp_map_unlink(m, e);
	}
}

static inline void stp_map_clear(struct stp_map *m)
{
	while (m->head)
		stp_map_unlink(m, m->head);
}

/* ---------------------------------------------------------------- foreach */

/* How a foreach sorts: by key column (0..nkeys-1) or by value (nkeys), or not at all. */
struct stp_sort_spec {
	const struct stp_map *m;
	int column;		/* -1: insertion order */
	int dir;		/* +1 ascending, -1 descending */
	enum stp_stat_op op;	/* statistics values sort by this */
};

static inline int64_t stp_sort_stat_value(const struct stp_sort_spec *s, struct stp_map_entry *e)
{
	const struct stp_stat *st = stp_value_stat_slot(s->m, e);

	switch (s->op) {
	case STP_SUM:
		return st->sum;
	case STP_MIN:
		return st->min;
	case STP_MAX:
		return st->max;
	case STP_AVG:
		return st->count ? st->sum / st->count : 0;
	default:
		return st->count;
	}
}

static inline int stp_sort_cmp(const void *pa, const void *pb, const void *priv)
{
	const struct stp_sort_spec *s = priv;
	struct stp_map_entry *a = *(struct stp_map_entry *const *)pa;
	struct stp_map_entry *b = *(struct stp_map_entry *const *)pb;
	const struct stp_map *m = s->m;
	int r = 0;

	if (s->column < m->nkeys) {
		if (m->keys[s->column] == STP_STRING) {
			r = strcmp(stp_key_str_slot(m, a, s->column), stp_key_str_slot(m, b, s->column));
		} else {
			int64_t x = *stp_key_long_slot(m, a, s->column);
			int64_t y = *stp_key_long_slot(m, b, s->column);

			r = (x > y) - (x < y);
		}
	} else if (m->value == STP_STRING) {
		r = strcmp(stp_value_str_slot(m, a), stp_value_str_slot(m, b));
	} else {
		int64_t x = m->value == STP_STATS ? stp_sort_stat_value(s, a) : *stp_value_long_slot(m, a);
		int64_t y = m->value == STP_STATS ? stp_sort_stat_value(s, b) : *stp_value_long_slot(m, b);

		r = (x > y) - (x < y);
	}
	r = r > 0 ? 1 : (r < 0 ? -1 : 0);
	if (r)
		return r * s->dir;
	/* Ties keep insertion order, so output is deterministic. */
	return (a->seq > b->seq) - (a->seq < b->seq);
}

struct stp_map_iter {
	struct stp_map_entry **list;
	int n;
	int i;
};

/*
 * Snapshots (and sorts) the entries matching the slice into this CPU's snapshot `slot`
 * (each foreach statement has its own, so nested loops over one map do not share one);
 * iterate with stp_map_iter_next.
 */
static inline void stp_map_iter_start(struct stp_ctx *c, struct stp_map_iter *it, const struct stp_map *m,
			       int column, int dir, enum stp_stat_op op, int64_t limit,
			       const union stp_key *slice, unsigned wild, int slot)
{
	struct stp_map_entry *e;
	struct stp_sort_spec spec = { m, column, dir, op };
	int n = 0;

	if (slot < 0 || slot >= m->nslots)
		slot = 0;
	it->list = m->sortbuf + (size_t)m->capacity * ((size_t)c->cpu * (size_t)m->nslots + (size_t)slot);
	for (e = m->head; e; e = e->next) {
		if (slice && !stp_map_match(m, e, slice, wild))
			continue;
		if (m->value == STP_STATS)
			stp_map_fold_stat(m, e);
		it->list[n++] = e;
	}
	if (column >= 0 && n > 1)
		stp_sort_r(it->list, (size_t)n, sizeof(*it->list), stp_sort_cmp, &spec);
	if (limit >= 0 && limit < n)
		n = (int)limit;
	it->n = n;
	it->i = 0;
}

static inline struct stp_map_entry *stp_map_iter_next(struct stp_map_iter *it)
{
	return it->i < it->n ? it->list[it->i++] : NULL;
}

#endif /* STP_MAP_H */

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: regular expressions for =~ and !~ (POSIX extended syntax: . [] [^]
 * ranges, * + ? {m,n}, |, (), ^, $, \ escapes).
 *
 * Each pattern is compiled once at start-up into a small program and matched by a
 * Thompson-NFA simulation (a Pike VM): linear in the subject's length, no recursion,
 * nothing on the stack but a few words, so it is safe in probe context.  The match is a
 * search: the pattern may match anywhere unless anchored.
 */
#ifndef STP_REGEX_H
#define STP_REGEX_H

#ifndef STP_RE_MAXINST
#define STP_RE_MAXINST 256
#endif
#define STP_RE_MAXCLASS 32

enum {
	RE_CHAR,
	RE_ANY,
	RE_CLASS,
	RE_SPLIT,
	RE_JMP,
	RE_BOL,
	RE_EOL,
	RE_MATCH,
};

struct stp_re_inst {
	uint8_t op;
	uint8_t c;
	uint16_t x, y;		/* jump targets, or the class index in x */
};

struct stp_regex {
	int n;
	int nclass;
	struct stp_re_inst inst[STP_RE_MAXINST];
	uint8_t cls[STP_RE_MAXCLASS][32];
};

struct stp_re_parser {
	struct stp_regex *re;
	const char *p;
	int err;
};

static inline int stp_re_emit(struct stp_re_parser *ps, int op, int c, int x, int y)
{
	struct stp_regex *re = ps->re;

	if (re->n >= STP_RE_MAXINST) {
		ps->err = 1;
		return re->n;
	}
	re->inst[re->n].op = (uint8_t)op;
	re->inst[re->n].c = (uint8_t)c;
	re->inst[re->n].x = (uint16_t)x;
	re->inst[re->n].y = (uint16_t)y;
	return re->n++;
}

/* Makes room for k instructions at pos; jumps into or past pos move along. */
static inline void stp_re_insert(struct stp_re_parser *ps, int pos, int k)
{
	struct stp_regex *re = ps->re;
	int i;

	if (re->n + k > STP_RE_MAXINST) {
		ps->err = 1;
		return;
	}
	memmove(&re->inst[pos + k], &re->inst[pos], sizeof(re->inst[0]) * (size_t)(re->n - pos));
	re->n += k;
	for (i = 0; i < re->n; i++) {
		struct stp_re_inst *in = &re->inst[i];

		if (in->op == RE_SPLIT || in->op == RE_JMP) {
			if (in->x >= pos && !(i >= pos && i < pos + k))
				in->x += k;
			if (in->op == RE_SPLIT && in->y >= pos && !(i >= pos && i < pos + k))
				in->y += k;
		}
	}
}

/* Appends a copy of the code in [from, to) with its jumps relocated. */
static inline void stp_re_copy(struct stp_re_parser *ps, int from, int to)
{
	struct stp_regex *re = ps->re;
	int delta = re->n - from, i;

	for (i = from; i < to; i++) {
		struct stp_re_inst in = re->inst[i];

		if (in.op == RE_SPLIT || in.op == RE_JMP) {
			in.x = (uint16_t)(in.x + delta);
			if (in.op == RE_SPLIT)
				in.y = (uint16_t)(in.y + delta);
		}
		stp_re_emit(ps, in.op, in.c, in.x, in.y);
	}
}

static inline void stp_re_alt(struct stp_re_parser *ps);

static inline int stp_re_escape(char c)
{
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	default: return (unsigned char)c;
	}
}

static inline void stp_re_class(struct stp_re_parser *ps)
{
	struct stp_regex *re = ps->re;
	uint8_t *set;
	int negate = 0, first = 1, i;

	if (re->nclass >= STP_RE_MAXCLASS) {
		ps->err = 1;
		return;
	}
	set = re->cls[re->nclass];
	memset(set, 0, 32);
	if (*ps->p == '^') {
		negate = 1;
		ps->p++;
	}
	while (*ps->p && (*ps->p != ']' || first)) {
		int lo = (unsigned char)*ps->p++, hi;

		first = 0;
		if (lo == '\\' && *ps->p)
			lo = stp_re_escape(*ps->p++);
		hi = lo;
		if (ps->p[0] == '-' && ps->p[1] && ps->p[1] != ']') {
			hi = (unsigned char)ps->p[1];
			ps->p += 2;
		}
		for (i = lo; i <= hi; i++)
			set[i >> 3] |= (uint8_t)(1 << (i & 7));
	}
	if (*ps->p != ']') {
		ps->err = 1;
		return;
	}
	ps->p++;
	if (negate)
		for (i = 0; i < 32; i++)
			set[i] = (uint8_t)~set[i];
	stp_re_emit(ps, RE_CLASS, 0, re->nclass++, 0);
}

static inline void stp_re_atom(struct stp_re_parser *ps)
{
	char c = *ps->p++;

	switch (c) {
	case '(':
		stp_re_alt(ps);
		if (*ps->p != ')')
			ps->err = 1;
		else
			ps->p++;
		break;
	case '[':
		stp_re_class(ps);
		break;
	case '.':
		stp_re_emit(ps, RE_ANY, 0, 0, 0);
		break;
	case '^':
		stp_re_emit(ps, RE_BOL, 0, 0, 0);
		break;
	case '$':
		stp_re_emit(ps, RE_EOL, 0, 0, 0);
		break;
	case '\\':
		if (!*ps->p) {
			ps->err = 1;
			break;
		}
		stp_re_emit(ps, RE_CHAR, stp_re_escape(*ps->p++), 0, 0);
		break;
	case '*':
	case '+':
	case '?':
	case '{':
		ps->err = 1;
		break;
	default:
		stp_re_emit(ps, RE_CHAR, (unsigned char)c, 0, 0);
		break;
	}
}

/* Applies a repetition operator to the atom compiled at [start, end). */
static inline void stp_re_repeat(struct stp_re_parser *ps, int start, char op, int min, int max)
{
	struct stp_regex *re = ps->re;
	int i, end = re->n;

	switch (op) {
	case '*':
		stp_re_insert(ps, start, 1);
		re->inst[start] = (struct stp_re_inst){ RE_SPLIT, 0, (uint16_t)(start + 1), 0 };
		stp_re_emit(ps, RE_JMP, 0, start, 0);
		re->inst[start].y = (uint16_t)re->n;
		break;
	case '+':
		stp_re_emit(ps, RE_SPLIT, 0, start, re->n + 1);
		break;
	case '?':
		stp_re_insert(ps, start, 1);
		re->inst[start] = (struct stp_re_inst){ RE_SPLIT, 0, (uint16_t)(start + 1), (uint16_t)re->n };
		break;
	default: /* {min,max}; max < 0 is unbounded */
		if (min == 0) {
			/* The atom becomes optional; further copies follow. */
			int len = end - start;

			stp_re_insert(ps, start, 1);
			re->inst[start] = (struct stp_re_inst){ RE_SPLIT, 0, (uint16_t)(start + 1), (uint16_t)re->n };
			if (max < 0) {
				stp_re_emit(ps, RE_JMP, 0, start, 0);
				re->inst[start].y = (uint16_t)re->n;
			} else {
				/* x{0,n}: (x(x(x)?)?)?, every "skip" going to the very end. */
				uint16_t splits[256];
				int ns = 0, k;

				splits[ns++] = (uint16_t)start;
				for (i = 1; i < max && !ps->err && ns < 256; i++) {
					int s = re->n;

					stp_re_copy(ps, start + 1, start + 1 + len);
					stp_re_insert(ps, s, 1);
					re->inst[s] = (struct stp_re_inst){ RE_SPLIT, 0, (uint16_t)(s + 1), 0 };
					splits[ns++] = (uint16_t)s;
				}
				for (k = 0; k < ns; k++)
					re->inst[splits[k]].y = (uint16_t)re->n;
			}
			break;
		}
		for (i = 1; i < min && !ps->err; i++)
			stp_re_copy(ps, start, end);
		if (max < 0) {
			int s = re->n;

			stp_re_copy(ps, start, end);
			stp_re_repeat(ps, s, '*', 0, 0);
		} else {
			for (i = min; i < max && !ps->err; i++) {
				int s = re->n;

				stp_re_copy(ps, start, end);
				stp_re_repeat(ps, s, '?', 0, 0);
			}
		}
		break;
	}
}

static inline int stp_re_number(struct stp_re_parser *ps)
{
	int v = -1;

	while (*ps->p >= '0' && *ps->p <= '9') {
		v = (v < 0 ? 0 : v) * 10 + (*ps->p++ - '0');
		if (v > 255)
			ps->err = 1;
	}
	return v;
}

static inline void stp_re_concat(struct stp_re_parser *ps)
{
	while (*ps->p && *ps->p != '|' && *ps->p != ')' && !ps->err) {
		int start = ps->re->n;

		stp_re_atom(ps);
		while (!ps->err && (*ps->p == '*' || *ps->p == '+' || *ps->p == '?' || *ps->p == '{')) {
			char op = *ps->p++;
			int min = 0, max = 0;

			if (op == '{') {
				min = stp_re_number(ps);
				max = min;
				if (*ps->p == ',') {
					ps->p++;
					max = stp_re_number(ps);
				}
				if (*ps->p != '}' || min < 0 || (max >= 0 && max < min)) {
					ps->err = 1;
					break;
				}
				ps->p++;
			}
			stp_re_repeat(ps, start, op, min, max);
		}
	}
}

static inline void stp_re_alt(struct stp_re_parser *ps)
{
	int start = ps->re->n;

	stp_re_concat(ps);
	while (*ps->p == '|' && !ps->err) {
		int jmp;

		ps->p++;
		/* start: SPLIT start+1, next;  left...;  JMP end;  next: right... */
		stp_re_insert(ps, start, 1);
		jmp = stp_re_emit(ps, RE_JMP, 0, 0, 0);
		ps->re->inst[start] = (struct stp_re_inst){ RE_SPLIT, 0, (uint16_t)(start + 1), (uint16_t)ps->re->n };
		stp_re_concat(ps);
		ps->re->inst[jmp].x = (uint16_t)ps->re->n;
	}
}

/* Compiles a pattern; nonzero when it is invalid or too large. */
static inline int stp_re_compile(struct stp_regex *re, const char *pattern)
{
	struct stp_re_parser ps = { re, pattern, 0 };

	re->n = 0;
	re->nclass = 0;
	stp_re_alt(&ps);
	if (*ps.p)
		ps.err = 1;
	stp_re_emit(&ps, RE_MATCH, 0, 0, 0);
	return ps.err;
}

/* The NFA state lists a match needs (kept in the per-CPU context). */
struct stp_re_lists {
	uint16_t list[2][STP_RE_MAXINST];
	uint16_t stack[STP_RE_MAXINST];
	uint32_t mark[STP_RE_MAXINST];
	uint32_t gen;
};

/* Adds pc and everything reachable from it without reading a character. */
static inline void stp_re_add(const struct stp_regex *re, struct stp_re_lists *l, uint16_t *list,
			      int *n, int pc, const char *s, const char *sp)
{
	int top = 0;

	l->stack[top++] = (uint16_t)pc;
	while (top > 0) {
		int i = l->stack[--top];
		const struct stp_re_inst *in = &re->inst[i];

		if (l->mark[i] == l->gen)
			continue;
		l->mark[i] = l->gen;
		switch (in->op) {
		case RE_JMP:
			l->stack[top++] = in->x;
			break;
		case RE_SPLIT:
			l->stack[top++] = in->y;
			l->stack[top++] = in->x;
			break;
		case RE_BOL:
			if (sp == s)
				l->stack[top++] = (uint16_t)(i + 1);
			break;
		case RE_EOL:
			if (!*sp)
				l->stack[top++] = (uint16_t)(i + 1);
			break;
		default:
			list[(*n)++] = (uint16_t)i;
			break;
		}
	}
}

/* Does the pattern match anywhere in s? */
static inline int stp_re_match(const struct stp_regex *re, struct stp_re_lists *l, const char *s)
{
	int cur = 0, ncur = 0, i;
	const char *sp = s;

	for (;;) {
		int nnext = 0;
		unsigned char c = (unsigned char)*sp;

		/* A new attempt starts at every position (the search is unanchored). */
		l->gen++;
		for (i = 0; i < ncur; i++)
			l->mark[l->list[cur][i]] = l->gen;
		stp_re_add(re, l, l->list[cur], &ncur, 0, s, sp);
		for (i = 0; i < ncur; i++) {
			const struct stp_re_inst *in = &re->inst[l->list[cur][i]];

			if (in->op == RE_MATCH)
				return 1;
		}
		if (!c || sp - s >= MAXSTRINGLEN)
			return 0;
		l->gen++;
		for (i = 0; i < ncur; i++) {
			int pc = l->list[cur][i];
			const struct stp_re_inst *in = &re->inst[pc];
			int ok = (in->op == RE_CHAR && in->c == c) || (in->op == RE_ANY && c != '\n') ||
				 (in->op == RE_CLASS && (re->cls[in->x][c >> 3] & (1 << (c & 7))));

			if (ok)
				stp_re_add(re, l, l->list[1 - cur], &nnext, pc + 1, s, sp + 1);
		}
		cur = 1 - cur;
		ncur = nnext;
		sp++;
	}
}

#endif /* STP_REGEX_H */

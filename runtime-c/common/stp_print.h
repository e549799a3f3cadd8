/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: strings, the per-CPU print buffer and SystemTap's printf.
 *
 * Strings are fixed MAXSTRINGLEN buffers owned by contexts and globals; every operation
 * truncates safely.  Output goes to a per-CPU buffer that is written out whole at the end
 * of each probe (or when it fills), so lines of different probes never interleave.
 */
#ifndef STP_PRINT_H
#define STP_PRINT_H

/* ---------------------------------------------------------------- strings */

/* Copies src into dst (MAXSTRINGLEN bytes), truncating; returns dst. */
static inline char *stp_strcpy(char *dst, const char *src)
{
	size_t n;

	if (dst == src)
		return dst;
	for (n = 0; n < MAXSTRINGLEN - 1 && src[n]; n++)
		dst[n] = src[n];
	dst[n] = '\0';
	return dst;
}

/* Appends at most len bytes of src to dst (MAXSTRINGLEN bytes), truncating; returns dst. */
static inline char *stp_strncat(char *dst, const char *src, size_t len)
{
	size_t have, n;

	for (have = 0; have < MAXSTRINGLEN - 1 && dst[have]; have++)
		;
	for (n = 0; n < len && n < MAXSTRINGLEN - 1 && src[n]; n++)
		;
	len = n;
	if (len > MAXSTRINGLEN - 1 - have)
		len = MAXSTRINGLEN - 1 - have;
	/* Appending a string to itself reads what it writes: copy forward from a snapshot
	   of the length, which never overtakes the source. */
	for (n = 0; n < len; n++)
		dst[have + n] = src[n];
	dst[have + len] = '\0';
	return dst;
}

/* Appends src to dst (MAXSTRINGLEN bytes), truncating; src may be dst; returns dst. */
static inline char *stp_strcat(char *dst, const char *src)
{
	return stp_strncat(dst, src, MAXSTRINGLEN);
}

/* The concatenation a . b into dst; dst may be a or b (or both), with no copy on the stack. */
static inline char *stp_concat(char *dst, const char *a, const char *b)
{
	size_t la, lb;

	for (la = 0; la < MAXSTRINGLEN - 1 && a[la]; la++)
		;
	for (lb = 0; lb < MAXSTRINGLEN - 1 - la && b[lb]; lb++)
		;
	memmove(dst + la, b, lb);	/* first: b may be dst */
	if (dst != a)
		memmove(dst, a, la);
	dst[la + lb] = '\0';
	return dst;
}

/* ---------------------------------------------------------------- buffer */

struct stp_pbuf {
	size_t len;
	char data[STP_PRINT_BUFSIZE];
};

static struct stp_pbuf *stp_pbufs;	/* one per CPU */
STP_DEFINE_MUTEX(stp_outlock);

static inline void stp_flush_print(int cpu)
{
	struct stp_pbuf *b = &stp_pbufs[cpu];
	unsigned long flags;

	if (!b->len)
		return;
	flags = stp_mutex_lock(&stp_outlock);
	stp_output_write(b->data, b->len);
	stp_mutex_unlock(&stp_outlock, flags);
	b->len = 0;
}

/* Appends bytes to this CPU's buffer; a full buffer is written out first. */
static inline void stp_print_bytes(int cpu, const char *s, size_t n)
{
	struct stp_pbuf *b = &stp_pbufs[cpu];

	while (n > 0) {
		size_t room = sizeof(b->data) - b->len;
		size_t k = n < room ? n : room;

		memcpy(b->data + b->len, s, k);
		b->len += k;
		s += k;
		n -= k;
		if (b->len == sizeof(b->data))
			stp_flush_print(cpu);
	}
}

static inline void stp_print_str(struct stp_ctx *c, const char *s)
{
	stp_print_bytes(c->cpu, s, strlen(s));
}

/* ---------------------------------------------------------------- printf */

/* One printf argument: a number or a string. */
union stp_arg {
	int64_t n;
	const char *s;
};

/* A growing output of at most cap bytes (the rest is dropped, counted in len). */
struct stp_out {
	char *buf;
	size_t cap;
	size_t len;
	int faulted;		/* %m/%M: a byte could not be read, at fault */
	uint64_t fault;
};

/* User memory, fault-safely (stp_embedded.h): for %#m and %#M. */
static int stp_user_copy(void *dst, uint64_t addr, size_t n);

static inline void stp_out_char(struct stp_out *o, char ch)
{
	if (o->len < o->cap)
		o->buf[o->len] = ch;
	o->len++;
}

static inline void stp_out_rep(struct stp_out *o, char ch, int n)
{
	while (n-- > 0)
		stp_out_char(o, ch);
}

static inline void stp_out_mem(struct stp_out *o, const char *s, size_t n)
{
	while (n--)
		stp_out_char(o, *s++);
}

enum {
	F_LEFT = 1,
	F_PLUS = 2,
	F_SPACE = 4,
	F_ALT = 8,
	F_ZERO = 16,
};

/* Formats an integer conversion (d i u o x X p). */
static inline void stp_fmt_int(struct stp_out *o, int64_t v, char conv, int flags,
			int width, int prec)
{
	char digits[72];
	const char *set = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned base = 10;
	uint64_t u;
	int neg = 0, nd = 0, pad, zeros = 0;
	const char *prefix = "";

	switch (conv) {
	case 'o':
		base = 8;
		break;
	case 'x':
	case 'X':
		base = 16;
		break;
	case 'p':
		base = 16;
		prefix = "0x";
		break;
	default:
		break;
	}
	if (conv == 'd' || conv == 'i') {
		neg = v < 0;
		u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	} else {
		u = (uint64_t)v;
	}
	/* As SystemTap's: a zero precision still prints a 0, and '#' always prefixes (0x0,
	   00). */
	do {
		digits[nd++] = set[u % base];
		u /= base;
	} while (u);
	if (flags & F_ALT) {
		if (base == 16 && conv != 'p')
			prefix = conv == 'X' ? "0X" : "0x";
		if (base == 8)
			prefix = "0";
	}
	if (prec > nd)
		zeros = prec - nd;
	pad = width - nd - zeros - (int)strlen(prefix) -
	      ((neg || (flags & (F_PLUS | F_SPACE))) && (conv == 'd' || conv == 'i'));
	/* As SystemTap's (the kernel's old number()): '0' pads to the width with a
	   precision too. */
	if ((flags & F_ZERO) && !(flags & F_LEFT)) {
		zeros += pad > 0 ? pad : 0;
		pad = 0;
	}
	if (!(flags & F_LEFT))
		stp_out_rep(o, ' ', pad);
	if (conv == 'd' || conv == 'i') {
		if (neg)
			stp_out_char(o, '-');
		else if (flags & F_PLUS)
			stp_out_char(o, '+');
		else if (flags & F_SPACE)
			stp_out_char(o, ' ');
	}
	stp_out_mem(o, prefix, strlen(prefix));
	stp_out_rep(o, '0', zeros);
	while (nd)
		stp_out_char(o, digits[--nd]);
	if (flags & F_LEFT)
		stp_out_rep(o, ' ', pad);
}

static inline void stp_fmt_str(struct stp_out *o, const char *s, size_t n, int flags, int width)
{
	int pad = width - (int)n;

	if (!(flags & F_LEFT))
		stp_out_rep(o, ' ', pad);
	stp_out_mem(o, s, n);
	if (flags & F_LEFT)
		stp_out_rep(o, ' ', pad);
}

/*
 * SystemTap's printf: %d %i %u %o %x %X %p %s %c %b %m %M %% with flags -+ #0, width,
 * precision and *.  The translator checked the format against the arguments.  Returns
 * the full length (the output is truncated to o->cap).
 */
static inline size_t stp_format(struct stp_out *o, const char *fmt, int nargs, const union stp_arg *args)
{
	int ai = 0;

	while (*fmt) {
		int flags = 0, width = -1, prec = -1;
		char conv;

		if (*fmt != '%') {
			stp_out_char(o, *fmt++);
			continue;
		}
		fmt++;
		if (*fmt == '%') {
			stp_out_char(o, '%');
			fmt++;
			continue;
		}
		for (;; fmt++) {
			if (*fmt == '-')
				flags |= F_LEFT;
			else if (*fmt == '+')
				flags |= F_PLUS;
			else if (*fmt == ' ')
				flags |= F_SPACE;
			else if (*fmt == '#')
				flags |= F_ALT;
			else if (*fmt == '0' && !flags)
				flags |= F_ZERO;	/* after another flag, 0 begins the width (SystemTap's) */
			else
				break;
		}
		if (*fmt == '*') {
			width = ai < nargs ? (int)args[ai++].n : 0;
			/* SystemTap ignores a negative width. */
			if (width < 0)
				width = -1;
			fmt++;
		} else {
			for (width = 0; *fmt >= '0' && *fmt <= '9'; fmt++)
				width = width * 10 + (*fmt - '0');
		}
		if (*fmt == '.') {
			fmt++;
			if (*fmt == '*') {
				prec = ai < nargs ? (int)args[ai++].n : 0;
				fmt++;
			} else {
				for (prec = 0; *fmt >= '0' && *fmt <= '9'; fmt++)
					prec = prec * 10 + (*fmt - '0');
			}
		}
		while (*fmt && strchr("hlLqjzt", *fmt))
			fmt++;
		conv = *fmt;
		if (!conv)
			break;
		fmt++;
		if (width > MAXSTRINGLEN)
			width = MAXSTRINGLEN;
		if (prec > MAXSTRINGLEN)
			prec = MAXSTRINGLEN;
		switch (conv) {
		case 'd':
		case 'i':
		case 'u':
		case 'o':
		case 'x':
		case 'X':
		case 'p':
			stp_fmt_int(o, ai < nargs ? args[ai++].n : 0, conv, flags, width, prec);
			break;
		case 'c': {
			char ch = (char)(ai < nargs ? args[ai++].n : 0);

			stp_fmt_str(o, &ch, 1, flags, width);
			break;
		}
		case 's': {
			const char *s = ai < nargs ? args[ai++].s : "";
			size_t n = strlen(s);

			if (prec >= 0 && (size_t)prec < n)
				n = (size_t)prec;
			/* '#' changes nothing here, as in SystemTap 4.8. */
			stp_fmt_str(o, s, n, flags, width);
			break;
		}
		case 'b': {
			/* The value's bytes, in host order: width 1, 2, 4 or 8 (default 8). */
			int64_t v = ai < nargs ? args[ai++].n : 0;
			int bytes = (width == 1 || width == 2 || width == 4) ? width : 8;
			char raw[8];

			memcpy(raw, &v, sizeof(raw));
			stp_out_mem(o, raw, (size_t)bytes);
			break;
		}
		case 'm':
		case 'M': {
			/* The memory at the address (kernel; user with #): precision bytes
			   (default 1), raw (%m) or in hex (%M), in width.  A byte that cannot be
			   read stops it; the caller reports the fault. */
			uint64_t addr = ai < nargs ? (uint64_t)args[ai++].n : 0;
			int64_t len = prec > 0 ? prec : 1;
			int64_t shown = conv == 'M' ? 2 * len : len;
			int64_t i;

			for (; !(flags & F_LEFT) && shown < width; width--)
				stp_out_char(o, ' ');
			for (i = 0; i < len && o->len < o->cap; i++) {
				unsigned char b;
				int bad = (flags & F_ALT) ? stp_user_copy(&b, addr + (uint64_t)i, 1)
							  : stp_copy_nofault(&b, addr + (uint64_t)i, 1);

				if (bad) {
					o->faulted = 1;
					o->fault = addr + (uint64_t)i;
					break;
				}
				if (conv == 'm') {
					stp_out_char(o, (char)b);
				} else {
					stp_out_char(o, "0123456789abcdef"[b >> 4]);
					stp_out_char(o, "0123456789abcdef"[b & 15]);
				}
			}
			for (; (flags & F_LEFT) && shown < width; width--)
				stp_out_char(o, ' ');
			break;
		}
		default:
			stp_out_char(o, '%');
			stp_out_char(o, conv);
			break;
		}
	}
	return o->len;
}

/* printf: formatted straight into this CPU's print buffer (nothing big on the stack). */
static inline void stp_printf(struct stp_ctx *c, const char *fmt, int nargs, const union stp_arg *args)
{
	struct stp_pbuf *b = &stp_pbufs[c->cpu];
	struct stp_out o = { b->data + b->len, sizeof(b->data) - b->len, 0 };

	stp_format(&o, fmt, nargs, args);
	if (o.len <= o.cap) {
		b->len += o.len;
		return;
	}
	/* It did not fit: write out what is there and format again into the empty buffer. */
	stp_flush_print(c->cpu);
	o.buf = b->data;
	o.cap = sizeof(b->data);
	o.len = 0;
	stp_format(&o, fmt, nargs, args);
	b->len = o.len < o.cap ? o.len : o.cap;
}

/*
 * printf and sprintf of a format with %m or %M, which read memory: a byte that cannot be
 * read is the probe's error, and nothing is printed.  Returns nonzero then.
 */
static inline int stp_mem_fault(struct stp_ctx *c, const struct stp_out *o, const char *near)
{
	char msg[96];

	if (!o->faulted)
		return 0;
	snprintf(msg, sizeof(msg), "read fault [man error::fault] at 0x%llx",
		 (unsigned long long)o->fault);
	stp_error_near(c, msg, near);
	return -1;
}

static inline int stp_printf_mem(struct stp_ctx *c, const char *fmt, int nargs,
				 const union stp_arg *args, const char *near)
{
	struct stp_pbuf *b = &stp_pbufs[c->cpu];
	struct stp_out o = { b->data + b->len, sizeof(b->data) - b->len, 0 };

	stp_format(&o, fmt, nargs, args);
	if (stp_mem_fault(c, &o, near))
		return -1;
	if (o.len <= o.cap) {
		b->len += o.len;
		return 0;
	}
	stp_flush_print(c->cpu);
	o.buf = b->data;
	o.cap = sizeof(b->data);
	o.len = 0;
	stp_format(&o, fmt, nargs, args);
	if (stp_mem_fault(c, &o, near))
		return -1;
	b->len = o.len < o.cap ? o.len : o.cap;
	return 0;
}

static inline int stp_sprintf_mem(struct stp_ctx *c, char *dst, const char *fmt, int nargs,
				  const union stp_arg *args, const char *near)
{
	struct stp_out o = { dst, MAXSTRINGLEN - 1, 0 };

	stp_format(&o, fmt, nargs, args);
	dst[o.len < o.cap ? o.len : o.cap] = '\0';
	return stp_mem_fault(c, &o, near);
}

/* sprintf: into a MAXSTRINGLEN string, truncated. */
static inline char *stp_sprintf(char *dst, const char *fmt, int nargs, const union stp_arg *args)
{
	struct stp_out o = { dst, MAXSTRINGLEN - 1, 0 };

	stp_format(&o, fmt, nargs, args);
	dst[o.len < o.cap ? o.len : o.cap] = '\0';
	return dst;
}

/* Decimal text of a number into dst. */
static inline char *stp_ltoa(char *dst, int64_t v)
{
	snprintf(dst, MAXSTRINGLEN, "%" PRId64, v);
	return dst;
}

/* ---------------------------------------------------------------- text_str */

/*
 * One character of a string as text_str() writes it: a UTF-8 sequence (2 to 4 bytes,
 * well formed, shortest form, no surrogate, at most U+10FFFF) decodes to its code point;
 * any other byte stands for itself.  Returns the bytes taken.
 */
static inline int stp_text_char(const unsigned char *s, int left, uint32_t *cp)
{
	int n = 1, i;
	uint32_t c = s[0];

	if ((s[0] & 0xE0) == 0xC0 && left >= 2)
		n = 2, c = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0 && left >= 3)
		n = 3, c = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0 && left >= 4)
		n = 4, c = s[0] & 0x07;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			break;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (n > 1 && (i < n || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF ||
		      (n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000))) {
		n = 1;
		c = s[0];
	}
	*cp = c;
	return n;
}

/*
 * The escaped form of one character into e (NUL-terminated); returns its length.  As
 * SystemTap's: printable ASCII but '"' and '\\' as is; \a \b \f \n \r \t \v \" \\; other
 * bytes as three octal digits; code points as \uXXXX or \UXXXXXXXX.
 */
static inline int stp_text_escape_one(uint32_t c, int multibyte, char *e)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char shorts[] = "\a\b\f\n\r\t\v\"\\";
	static const char letters[] = "abfnrtv\"\\";
	int i, n;

	if (multibyte) {
		n = c <= 0xFFFF ? 6 : 10;
		e[0] = '\\';
		e[1] = c <= 0xFFFF ? 'u' : 'U';
		for (i = 2; i < n; i++)
			e[i] = hex[(c >> ((n - 1 - i) * 4)) & 0xF];
	} else if (c >= 32 && c < 127 && c != '"' && c != '\\') {
		n = 1;
		e[0] = (char)c;
	} else {
		for (i = 0; i < 9 && shorts[i] != (char)c; i++)
			;
		e[0] = '\\';
		if (c && i < 9) {
			n = 2;
			e[1] = letters[i];
		} else {
			n = 4;
			e[1] = (char)('0' + ((c >> 6) & 3));
			e[2] = (char)('0' + ((c >> 3) & 7));
			e[3] = (char)('0' + (c & 7));
		}
	}
	e[n] = '\0';
	return n;
}

/*
 * text_str(), text_strn() and string_quoted(): in escaped into out (MAXSTRINGLEN bytes),
 * at most len characters (0: MAXSTRINGLEN - 1) and never part of an escape.  Quoted, the
 * text is in double quotes within those len, and a truncated one ends in "... instead,
 * dropping whole escapes to make room, as SystemTap's does.
 */
static inline void stp_text_str(char *out, const char *in, int64_t len, int quoted)
{
	const unsigned char *s = (const unsigned char *)in;
	int left = (int)strnlen(in, MAXSTRINGLEN - 1);
	int room, o = 0, truncated = 0;
	int cut_at = -1, cut_len = 0;	/* the first escape "... could cut in half */

	room = (len <= 0 || len > MAXSTRINGLEN - 1) ? MAXSTRINGLEN - 1 : (int)len;
	if (quoted) {
		room = (room < 5 ? 5 : room) - 2;
		out[o++] = '"';
	}
	while (left > 0) {
		char e[12];
		uint32_t c;
		int n = stp_text_char(s, left, &c), k;

		if (room <= 0) {
			truncated = 1;
			break;
		}
		k = stp_text_escape_one(c, n > 1, e);
		if (k > 1 && cut_at < 0 && room - 3 < k) {
			cut_at = o;
			cut_len = k;
		}
		if (room < k) {
			truncated = 1;
			break;
		}
		memcpy(out + o, e, (size_t)k);
		o += k;
		room -= k;
		s += n;
		left -= n;
	}
	if (quoted) {
		if (truncated) {
			int at = o - 3 + room;

			o = (cut_at >= 0 && cut_at < at && at < cut_at + cut_len) ? cut_at : at;
			memcpy(out + o, "\"...", 4);
			o += 4;
		} else {
			out[o++] = '"';
		}
	}
	out[o] = '\0';
}

#endif /* STP_PRINT_H */

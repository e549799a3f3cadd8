/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: IEEE 754 binary64 arithmetic in integers, for the floating-point
 * tapset (fp_add() and friends), which must run in the kernel where the FPU is not ours.
 *
 * A double travels as the 64 bits of its encoding (a script long).  Every operation is
 * correctly rounded to nearest, ties to even; invalid operations give the x86 default
 * NaN (0xfff8000000000000) and a NaN operand comes back quieted, as the SSE unit does.
 * Only shifts, adds, compares and 64x64->128 multiplies are used (no 128-bit division,
 * which the kernel has no helper for).
 *
 * Inside, a finite value is carried as (sign, exp, sig) meaning sig * 2^(exp - 1084),
 * with sig below 2^63: sig's bit 62 is then the leading bit of a normal result whose
 * biased exponent is exp + 1, and its low 10 bits are the rounding bits.
 */
#ifndef STP_SOFTFLOAT_H
#define STP_SOFTFLOAT_H

#define STP_F64_SIGN (1ULL << 63)
#define STP_F64_QUIET (1ULL << 51)
#define STP_F64_DEFAULT_NAN 0xfff8000000000000ULL
#define STP_F64_INF 0x7ff0000000000000ULL
/* The x86 "integer indefinite" (the kernel has no INT64_MIN). */
#define STP_F64_INT_INDEFINITE ((int64_t)(1ULL << 63))

static inline int stp_f64_is_nan(uint64_t a)
{
	return (a & ~STP_F64_SIGN) > STP_F64_INF;
}

/* a >> dist, with any bit shifted out kept in bit 0 (the sticky bit). */
static inline uint64_t stp_sf_shr_jam(uint64_t a, unsigned int dist)
{
	if (dist == 0)
		return a;
	if (dist >= 63)
		return a != 0;
	return (a >> dist) | ((a << (64 - dist)) != 0);
}

/* Rounds and packs sig * 2^(exp - 1084), sig < 2^63 with its leading bit at 62 or below
   only when the result is tiny. */
static inline uint64_t stp_sf_round_pack(int sign, int64_t exp, uint64_t sig)
{
	uint64_t s = sign ? STP_F64_SIGN : 0;
	unsigned int round_bits;

	if (exp < 0) {
		sig = stp_sf_shr_jam(sig, exp < -64 ? 64 : (unsigned int)-exp);
		exp = 0;
	} else if (exp > 0x7fd || (exp == 0x7fd && sig + 0x200 >= (1ULL << 63))) {
		return s | STP_F64_INF;
	}
	round_bits = sig & 0x3ff;
	sig = (sig + 0x200) >> 10;
	if (round_bits == 0x200)
		sig &= ~1ULL;
	if (!sig)
		exp = 0;
	return s + ((uint64_t)exp << 52) + sig;
}

/* As stp_sf_round_pack, for any sig < 2^63: its leading bit is moved to bit 62 first. */
static inline uint64_t stp_sf_norm_round_pack(int sign, int64_t exp, uint64_t sig)
{
	int shift;

	if (!sig)
		return sign ? STP_F64_SIGN : 0;
	shift = __builtin_clzll(sig) - 1;
	return stp_sf_round_pack(sign, exp - shift, sig << shift);
}

/*
 * A finite, non-zero a as m * 2^(e - 1075) with m's leading bit at 52 (subnormals are
 * normalized, so e may go below 1).
 */
static inline void stp_sf_unpack(uint64_t a, int64_t *e, uint64_t *m)
{
	int64_t exp = (int64_t)((a >> 52) & 0x7ff);
	uint64_t frac = a & ((1ULL << 52) - 1);

	if (exp) {
		*m = frac | (1ULL << 52);
		*e = exp;
	} else {
		int shift = __builtin_clzll(frac) - 11;

		*m = frac << shift;
		*e = 1 - shift;
	}
}

static inline uint64_t stp_sf_nan2(uint64_t a, uint64_t b)
{
	return (stp_f64_is_nan(a) ? a : b) | STP_F64_QUIET;
}

static inline int stp_sf_is_inf(uint64_t a)
{
	return (a & ~STP_F64_SIGN) == STP_F64_INF;
}

static inline int stp_sf_is_zero(uint64_t a)
{
	return (a & ~STP_F64_SIGN) == 0;
}

static inline uint64_t stp_f64_add(uint64_t a, uint64_t b)
{
	int sa = (int)(a >> 63), sb = (int)(b >> 63);
	int64_t ea, eb;
	uint64_t ma, mb, siga, sigb;

	if (stp_f64_is_nan(a) || stp_f64_is_nan(b))
		return stp_sf_nan2(a, b);
	if (stp_sf_is_inf(a) || stp_sf_is_inf(b)) {
		if (stp_sf_is_inf(a) && stp_sf_is_inf(b) && sa != sb)
			return STP_F64_DEFAULT_NAN;
		return stp_sf_is_inf(a) ? a : b;
	}
	if (stp_sf_is_zero(a) || stp_sf_is_zero(b)) {
		if (stp_sf_is_zero(a) && stp_sf_is_zero(b))
			return sa == sb ? a : 0;
		return stp_sf_is_zero(a) ? b : a;
	}
	stp_sf_unpack(a, &ea, &ma);
	stp_sf_unpack(b, &eb, &mb);
	if (ea < eb || (ea == eb && ma < mb)) {
		int st = sa;
		int64_t et = ea;
		uint64_t mt = ma;

		sa = sb;
		sb = st;
		ea = eb;
		eb = et;
		ma = mb;
		mb = mt;
	}
	/* |a| >= |b|: the result has a's sign and exponent scale. */
	siga = ma << 9;
	sigb = stp_sf_shr_jam(mb << 9, (unsigned int)(ea - eb > 64 ? 64 : ea - eb));
	if (sa == sb)
		return stp_sf_norm_round_pack(sa, ea, siga + sigb);
	/* x + -x is +0 when rounding to nearest. */
	if (siga == sigb)
		return 0;
	return stp_sf_norm_round_pack(sa, ea, siga - sigb);
}

static inline uint64_t stp_f64_sub(uint64_t a, uint64_t b)
{
	return stp_f64_add(a, stp_f64_is_nan(b) ? b : b ^ STP_F64_SIGN);
}

static inline uint64_t stp_f64_mul(uint64_t a, uint64_t b)
{
	int sign = (int)((a ^ b) >> 63);
	int64_t ea, eb;
	uint64_t ma, mb;
	unsigned __int128 p;

	if (stp_f64_is_nan(a) || stp_f64_is_nan(b))
		return stp_sf_nan2(a, b);
	if (stp_sf_is_inf(a) || stp_sf_is_inf(b)) {
		if (stp_sf_is_zero(a) || stp_sf_is_zero(b))
			return STP_F64_DEFAULT_NAN;
		return (sign ? STP_F64_SIGN : 0) | STP_F64_INF;
	}
	if (stp_sf_is_zero(a) || stp_sf_is_zero(b))
		return sign ? STP_F64_SIGN : 0;
	stp_sf_unpack(a, &ea, &ma);
	stp_sf_unpack(b, &eb, &mb);
	/* ma * mb is in [2^104, 2^106): its top 62 bits and a sticky bit. */
	p = (unsigned __int128)ma * mb;
	return stp_sf_norm_round_pack(sign, ea + eb - 1066 + 44,
				      (uint64_t)(p >> 44) | ((uint64_t)p & ((1ULL << 44) - 1) ? 1 : 0));
}

static inline uint64_t stp_f64_div(uint64_t a, uint64_t b)
{
	int sign = (int)((a ^ b) >> 63);
	int64_t ea, eb;
	uint64_t ma, mb, q = 0, rem;
	int i;

	if (stp_f64_is_nan(a) || stp_f64_is_nan(b))
		return stp_sf_nan2(a, b);
	if (stp_sf_is_inf(a)) {
		if (stp_sf_is_inf(b))
			return STP_F64_DEFAULT_NAN;
		return (sign ? STP_F64_SIGN : 0) | STP_F64_INF;
	}
	if (stp_sf_is_inf(b))
		return sign ? STP_F64_SIGN : 0;
	if (stp_sf_is_zero(b)) {
		if (stp_sf_is_zero(a))
			return STP_F64_DEFAULT_NAN;
		return (sign ? STP_F64_SIGN : 0) | STP_F64_INF;
	}
	if (stp_sf_is_zero(a))
		return sign ? STP_F64_SIGN : 0;
	stp_sf_unpack(a, &ea, &ma);
	stp_sf_unpack(b, &eb, &mb);
	/* 63 bits of ma / mb (the first one worth 2^0), by long division. */
	rem = ma;
	for (i = 0; i < 63; i++) {
		q <<= 1;
		if (rem >= mb) {
			rem -= mb;
			q |= 1;
		}
		rem <<= 1;
	}
	return stp_sf_norm_round_pack(sign, ea - eb + 1022, q | (rem != 0));
}

/* floor(sqrt(n)) of a 128-bit n, digit by digit. */
static inline uint64_t stp_sf_isqrt128(unsigned __int128 n, int *exact)
{
	unsigned __int128 r = 0, bit = (unsigned __int128)1 << 126;

	while (bit > n)
		bit >>= 2;
	while (bit) {
		if (n >= r + bit) {
			n -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	*exact = n == 0;
	return (uint64_t)r;
}

static inline uint64_t stp_f64_sqrt(uint64_t a)
{
	int64_t e;
	uint64_t m, r;
	int exact;

	if (stp_f64_is_nan(a))
		return a | STP_F64_QUIET;
	if (stp_sf_is_zero(a))
		return a;
	if (a >> 63)
		return STP_F64_DEFAULT_NAN;
	if (stp_sf_is_inf(a))
		return a;
	stp_sf_unpack(a, &e, &m);
	/* a = m * 2^(e - 1075): make the power even, then take sqrt(m * 2^70) (62 bits). */
	e -= 1075;
	if (e & 1) {
		m <<= 1;
		e -= 1;
	}
	r = stp_sf_isqrt128((unsigned __int128)m << 70, &exact);
	return stp_sf_norm_round_pack(0, e / 2 - 35 + 1084, r | !exact);
}

/* The IEEE remainder: a - n * b, n the integer nearest a / b (ties to even); exact. */
static inline uint64_t stp_f64_rem(uint64_t a, uint64_t b)
{
	int sign = (int)(a >> 63), qbit = 0;
	int64_t ea, eb, scale;
	uint64_t ma, mb, r;

	if (stp_f64_is_nan(a) || stp_f64_is_nan(b))
		return stp_sf_nan2(a, b);
	if (stp_sf_is_inf(a) || stp_sf_is_zero(b))
		return STP_F64_DEFAULT_NAN;
	if (stp_sf_is_inf(b) || stp_sf_is_zero(a))
		return a;
	stp_sf_unpack(a, &ea, &ma);
	stp_sf_unpack(b, &eb, &mb);
	if (ea < eb - 1)
		return a;
	/* |a| mod |b|, reduced from a's scale down to b's, then doubled: r ends at scale
	   2^(eb - 1), below 2 * mb; qbit is the quotient's lowest bit. */
	if (ea == eb - 1) {
		r = ma;
	} else {
		r = ma;
		for (scale = ea; scale > eb; scale--) {
			if (r >= mb)
				r -= mb;
			r <<= 1;
		}
		qbit = r >= mb;
		if (qbit)
			r -= mb;
		r <<= 1;
	}
	/* |a| mod |b| is r * 2^(eb - 1 - 1075), below mb * 2: past half of |b|, or at half
	   with an odd quotient, the nearest multiple is the next one. */
	if (r > mb || (r == mb && qbit)) {
		r = 2 * mb - r;
		sign ^= 1;
	}
	if (!r)
		return a >> 63 ? STP_F64_SIGN : 0;
	return stp_sf_norm_round_pack(sign, eb - 1 - 1075 + 1084, r);
}

/* a == b, a <= b, a < b: false with a NaN; -0 equals +0. */
static inline int stp_f64_eq(uint64_t a, uint64_t b)
{
	if (stp_f64_is_nan(a) || stp_f64_is_nan(b))
		return 0;
	return a == b || ((a | b) & ~STP_F64_SIGN) == 0;
}

static inline int stp_f64_lt(uint64_t a, uint64_t b)
{
	int sa = (int)(a >> 63), sb = (int)(b >> 63);

	if (stp_f64_is_nan(a) || stp_f64_is_nan(b))
		return 0;
	if (sa != sb)
		return sa && ((a | b) & ~STP_F64_SIGN) != 0;
	return a != b && ((a < b) ^ sa);
}

static inline int stp_f64_le(uint64_t a, uint64_t b)
{
	return stp_f64_lt(a, b) || stp_f64_eq(a, b);
}

static inline uint64_t stp_i64_to_f64(int64_t v)
{
	int sign = v < 0;
	uint64_t mag = sign ? 0 - (uint64_t)v : (uint64_t)v;

	if (mag >> 63)
		return stp_sf_norm_round_pack(sign, 1085, stp_sf_shr_jam(mag, 1));
	return stp_sf_norm_round_pack(sign, 1084, mag);
}

/* Rounding modes of fp_to_long(), as SystemTap numbers them. */
enum {
	STP_ROUND_NEAR_EVEN = 0,
	STP_ROUND_MIN_MAG = 1,
	STP_ROUND_MIN = 2,
	STP_ROUND_MAX = 3,
	STP_ROUND_NEAR_MAX_MAG = 4,
	STP_ROUND_ODD = 6,
};

/* a rounded to an integer in `mode`; a NaN or an out-of-range value gives
   STP_F64_INT_INDEFINITE. */
static inline int64_t stp_f64_to_i64(uint64_t a, int mode)
{
	int sign = (int)(a >> 63);
	int64_t e;
	uint64_t m, ip, frac = 0, half = 0;
	unsigned int shift;
	int up = 0;

	if (stp_f64_is_nan(a) || stp_sf_is_inf(a))
		return STP_F64_INT_INDEFINITE;
	if (stp_sf_is_zero(a))
		return 0;
	stp_sf_unpack(a, &e, &m);
	if (e >= 1075) {
		if (e - 1075 > 10)
			return STP_F64_INT_INDEFINITE;
		ip = m << (e - 1075);
	} else {
		shift = e < 1075 - 63 ? 64 : (unsigned int)(1075 - e);
		ip = shift >= 64 ? 0 : m >> shift;
		frac = shift >= 64 ? m : m & ((1ULL << shift) - 1);
		half = shift >= 64 ? 0 : 1ULL << (shift - 1);
		/* Below 2^-11 the whole value is less than half: keep it non-zero. */
		if (shift >= 64 && frac)
			frac = 1, half = 2;
	}
	if (frac) {
		switch (mode) {
		case STP_ROUND_MIN_MAG:
			break;
		case STP_ROUND_MIN:
			up = sign;
			break;
		case STP_ROUND_MAX:
			up = !sign;
			break;
		case STP_ROUND_NEAR_MAX_MAG:
			up = frac >= half;
			break;
		case STP_ROUND_ODD:
			ip |= 1;
			break;
		default:
			up = frac > half || (frac == half && (ip & 1));
			break;
		}
	}
	ip += up;
	if (sign) {
		if (ip > (1ULL << 63))
			return STP_F64_INT_INDEFINITE;
		return (int64_t)(0 - ip);
	}
	if (ip >> 63)
		return STP_F64_INT_INDEFINITE;
	return (int64_t)ip;
}

/* The 32 bits of a binary32 widened to binary64 (exact). */
static inline uint64_t stp_f32_to_f64(uint32_t a)
{
	uint64_t s = (uint64_t)(a >> 31) << 63;
	uint32_t exp = (a >> 23) & 0xff, frac = a & 0x7fffff;
	int shift;

	if (exp == 0xff)
		return s | STP_F64_INF | ((uint64_t)frac << 29) | (frac ? STP_F64_QUIET : 0);
	if (exp == 0) {
		if (!frac)
			return s;
		shift = __builtin_clz(frac) - 8;
		frac = (frac << shift) & 0x7fffff;
		return s | ((uint64_t)(1 - shift - 127 + 1023) << 52) | ((uint64_t)frac << 29);
	}
	return s | ((uint64_t)(exp - 127 + 1023) << 52) | ((uint64_t)frac << 29);
}

/*
 * fp_to_string(): a as decimal with `prec` digits after the point (at least 1, as
 * SystemTap's), from the exact binary value, rounded half away from zero.  The integer
 * part must fit a long.  Returns 0, or -1 for NaN, inf and values past a long.
 */
static inline int stp_f64_to_decimal(uint64_t a, int prec, char *out, size_t size)
{
	uint32_t limb[40];
	char digits[64];
	int64_t e;
	uint64_t m, ip;
	unsigned int s, nlimbs, i;
	int d, neg = (int)(a >> 63), carry;

	if (prec < 1)
		prec = 1;
	if (prec > (int)sizeof(digits) - 1)
		prec = (int)sizeof(digits) - 1;
	if (stp_f64_is_nan(a) || stp_sf_is_inf(a))
		return -1;
	if (stp_sf_is_zero(a)) {
		m = 0;
		e = 1075;
	} else {
		stp_sf_unpack(a, &e, &m);
	}
	/* a = m * 2^(e - 1075): the integer part, and the fraction as limb / 2^s. */
	memset(limb, 0, sizeof(limb));
	if (e >= 1075) {
		if (e - 1075 > 10)
			return -1;
		ip = m << (e - 1075);
		s = 0;
	} else {
		s = (unsigned int)(1075 - e);
		ip = s >= 64 ? 0 : m >> s;
		/* The fraction's bits: m's low s bits, placed at bit 0. */
		for (i = 0; i < 64 && i < s; i++)
			if ((m >> i) & 1)
				limb[i / 32] |= 1U << (i % 32);
	}
	if (ip >> 63)
		return -1;
	nlimbs = s / 32 + 2;
	/* Each digit: times 10, then what rose past bit s. */
	for (d = 0; d <= prec; d++) {
		uint64_t c = 0;

		for (i = 0; i < nlimbs; i++) {
			uint64_t v = (uint64_t)limb[i] * 10 + c;

			limb[i] = (uint32_t)v;
			c = v >> 32;
		}
		if (s == 0) {
			digits[d] = 0;
			continue;
		}
		{
			unsigned int w = s / 32, b = s % 32;
			uint64_t hi = ((uint64_t)limb[w + 1] << 32 | limb[w]) >> b;

			digits[d] = (char)(hi & 0xf);
			limb[w] &= b ? (1U << b) - 1 : 0;
			limb[w + 1] = 0;
		}
	}
	/* digits[prec] decides: 5 or more rounds away from zero. */
	carry = digits[prec] >= 5;
	for (d = prec - 1; d >= 0 && carry; d--) {
		digits[d]++;
		carry = digits[d] == 10;
		if (carry)
			digits[d] = 0;
	}
	ip += (uint64_t)carry;
	if (ip >> 63)
		return -1;
	i = (unsigned int)snprintf(out, size, "%s%llu.", neg ? "-" : "", (unsigned long long)ip);
	for (d = 0; d < prec && i + 1 < size; d++)
		out[i++] = (char)('0' + digits[d]);
	if (size)
		out[i < size ? i : size - 1] = '\0';
	return 0;
}

#endif /* STP_SOFTFLOAT_H */

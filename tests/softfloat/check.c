/*
 * Checks runtime-c/common/stp_softfloat.h against the host's SSE arithmetic (IEEE 754,
 * round to nearest even): random and edge operands through every operation; prints the
 * first mismatches and exits 1 if there is any.  Built and run by tests/softfloat.rs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "stp_softfloat.h"

static uint64_t bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	return u;
}

static double dbl(uint64_t u)
{
	double d;

	memcpy(&d, &u, 8);
	return d;
}

static uint64_t state = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

static const uint64_t edges[] = {
	0, 0x8000000000000000ULL, 1, 0x000fffffffffffffULL, 0x0010000000000000ULL,
	0x3ff0000000000000ULL, 0xbff0000000000000ULL, 0x7fefffffffffffffULL,
	0x7ff0000000000000ULL, 0xfff0000000000000ULL, 0x7ff8000000000000ULL,
	0x4000000000000000ULL, 0x3fe0000000000000ULL, 0x3ff0000000000001ULL,
	0x4340000000000000ULL, 0x43e0000000000000ULL, 0xc3e0000000000000ULL,
	0x0000000000000003ULL, 0x7fe0000000000000ULL, 0x3ca0000000000000ULL,
};

/* An operand: an edge, a random encoding, or one near the other's exponent. */
static uint64_t operand(uint64_t near)
{
	uint64_t r = next();

	switch (r % 5) {
	case 0:
		return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return (near & 0xfff0000000000000ULL) ^ (next() & 0x801fffffffffffffULL);
	case 2:
		return next() & 0x801fffffffffffffULL;
	default:
		return next();
	}
}

static int failures;

static void check(const char *op, uint64_t a, uint64_t b, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	/* With two NaN operands the compiler may swap them (x + y as y + x): any NaN. */
	if (stp_f64_is_nan(got) && stp_f64_is_nan(want) && stp_f64_is_nan(a) && stp_f64_is_nan(b))
		return;
	/* A zero remainder has x's sign (IEEE 754); glibc's remainder() sometimes not. */
	if (!strcmp(op, "rem") && !(got << 1) && !(want << 1) && (got >> 63) == (a >> 63))
		return;
	if (failures++ < 20)
		printf("%s(%016llx, %016llx) = %016llx, want %016llx\n", op, (unsigned long long)a,
		       (unsigned long long)b, (unsigned long long)got, (unsigned long long)want);
}

static int64_t host_to_i64(double d, int mode)
{
	double r;

	if (isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
		return INT64_MIN;
	switch (mode) {
	case STP_ROUND_MIN_MAG:
		r = trunc(d);
		break;
	case STP_ROUND_MIN:
		r = floor(d);
		break;
	case STP_ROUND_MAX:
		r = ceil(d);
		break;
	case STP_ROUND_NEAR_MAX_MAG:
		r = round(d);
		break;
	default:
		r = nearbyint(d);
		break;
	}
	if (r >= 9223372036854775808.0 || r < -9223372036854775808.0)
		return INT64_MIN;
	return (int64_t)r;
}

int main(void)
{
	long i, n = 2000000;

	for (i = 0; i < n; i++) {
		uint64_t a = operand(0), b = operand(a);
		double x = dbl(a), y = dbl(b);
		int mode = (int)(next() % 5);
		int64_t v = (int64_t)next() >> (next() % 64);
		uint32_t f = (uint32_t)next();
		float ff;

		check("add", a, b, stp_f64_add(a, b), bits(x + y));
		check("sub", a, b, stp_f64_sub(a, b), bits(x - y));
		check("mul", a, b, stp_f64_mul(a, b), bits(x * y));
		check("div", a, b, stp_f64_div(a, b), bits(x / y));
		check("sqrt", a, 0, stp_f64_sqrt(a), bits(sqrt(x)));
		if (!stp_f64_is_nan(a) && !stp_f64_is_nan(b) && ((a >> 52) & 0x7ff) - ((b >> 52) & 0x7ff) + 2000 < 2200)
			check("rem", a, b, stp_f64_rem(a, b), bits(remainder(x, y)));
		check("eq", a, b, stp_f64_eq(a, b), x == y);
		check("lt", a, b, stp_f64_lt(a, b), x < y);
		check("le", a, b, stp_f64_le(a, b), x <= y);
		check("i64", (uint64_t)v, 0, stp_i64_to_f64(v), bits((double)v));
		check("to_i64", a, mode, (uint64_t)stp_f64_to_i64(a, mode), (uint64_t)host_to_i64(x, mode));
		memcpy(&ff, &f, 4);
		check("f32", f, 0, stp_f32_to_f64(f), bits((double)ff));
	}
	printf("%ld cases of each operation, %d mismatches\n", n, failures);
	return failures != 0;
}

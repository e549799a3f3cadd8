// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test program for user backtraces: main() calls a chain of five functions, each of which
 * the compiler may neither inline, specialise nor turn into a tail call, built without frame
 * pointers so that only the call frame information (.eh_frame) can unwind it.  The innermost,
 * leaf(), is where the probes stop; every level keeps a value on the stack across the call,
 * so each frame has a size of its own.
 */
#include <stdio.h>
#include <stdlib.h>

#define KEEP(x) __asm__ volatile("" : "+r"(x))

__attribute__((noinline, noipa)) long leaf(long x)
{
	return x * 3;
}

__attribute__((noinline, noipa)) long level4(long x)
{
	volatile char pad[24];
	long r;

	pad[0] = (char)x;
	r = leaf(x + pad[0]);
	KEEP(r);
	return r + 4;
}

__attribute__((noinline, noipa)) long level3(long x)
{
	long r = level4(x + 1);

	KEEP(r);
	return r + 3;
}

__attribute__((noinline, noipa)) long level2(long x, long y)
{
	volatile long pad[5];
	long r;

	pad[1] = y;
	r = level3(x + pad[1]);
	KEEP(r);
	return r + 2;
}

__attribute__((noinline, noipa)) long level1(long x)
{
	long r = level2(x, 1);

	KEEP(r);
	return r + 1;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1;

	printf("%ld\n", level1(n));
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The uprobe-overhead workload: N calls of a function the compiler may neither inline nor
 * specialise, each after an SDT marker (sys/sdt.h: a nop until probed), timed with
 * CLOCK_MONOTONIC.  Under QEMU's -icount shift=0 one guest
 * nanosecond is one guest instruction, so the printed figure counts instructions.
 * Usage: caller [N]; prints "caller N NS".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/sdt.h>

__attribute__((noinline, noipa)) long ovh_target(long i)
{
	return i + 1;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long long t0, t1;
	long i, sum = 0;

	t0 = now_ns();
	for (i = 0; i < n; i++) {
		STAP_PROBE1(ovh, hit, i);
		sum += ovh_target(i);
	}
	t1 = now_ns();
	printf("caller %ld %lld %ld\n", n, t1 - t0, sum);
	return 0;
}

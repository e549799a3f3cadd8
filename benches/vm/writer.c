// SPDX-License-Identifier: GPL-2.0
/*
 * The probe-overhead workload: N write(2) calls of one byte to /dev/null, timed with
 * CLOCK_MONOTONIC.  Under QEMU's -icount shift=0 one guest nanosecond is one guest
 * instruction, so the printed figure counts instructions.
 * Usage: writer [N]; prints "writer N NS".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int fd = open("/dev/null", O_WRONLY);
	long long t0, t1;
	long i;

	if (fd < 0) {
		perror("writer: /dev/null");
		return 1;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++) {
		if (write(fd, "x", 1) != 1) {
			perror("writer: write");
			return 1;
		}
	}
	t1 = now_ns();
	printf("writer %ld %lld\n", n, t1 - t0);
	return 0;
}

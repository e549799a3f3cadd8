// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test program for SDT markers (sys/sdt.h): it waits (if given a file name) until that
 * file exists, then passes markers with arguments in registers, in memory, as constants
 * and as a pointer to a string, one of them behind a semaphore that is set only while the
 * marker is probed; and it calls uwork_mix() in its own shared library (through the PLT).
 */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <unistd.h>

/* Each marker's semaphore (sys/sdt.h with _SDT_HAS_SEMAPHORES wants one for each). */
#define SEMAPHORE(name) unsigned short sdtprog_##name##_semaphore __attribute__((section(".probes")))
SEMAPHORE(tick);
SEMAPHORE(memory);
SEMAPHORE(counted);
SEMAPHORE(konst);

long uwork_mix(int a, long b);

/* In memory: the marker reads it where it lives. */
volatile int counter;
volatile long big = -5000000000L;

__attribute__((noinline)) static int expensive(int i)
{
	return i * i + 7;
}

int main(int argc, char **argv)
{
	char tag[8];
	long total = 0;
	int i, counted = 0;

	while (argc > 1 && access(argv[1], F_OK) != 0)
		usleep(10000);
	snprintf(tag, sizeof(tag), "%s", argc > 2 ? argv[2] : "sdt");
	for (i = 0; i < 3; i++) {
		counter += i + 1;
		STAP_PROBE2(sdtprog, tick, i, (long)i * -100);
		STAP_PROBE2(sdtprog, memory, counter, big);
		if (sdtprog_counted_semaphore) {
			counted++;
			STAP_PROBE1(sdtprog, counted, expensive(i));
		}
		total += uwork_mix(i, total);
	}
	STAP_PROBE3(sdtprog, konst, 5, -1, tag);
	printf("total %ld counted %d\n", total, counted);
	return 0;
}

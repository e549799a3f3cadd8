// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The test program sdtprog's own shared library (libuwork.so): a function called through
 * the program's PLT, with an SDT marker inside.
 */
#include <sys/sdt.h>

__attribute__((noinline)) long uwork_mix(int a, long b)
{
	long r = a * 1000L + b;

	STAP_PROBE2(uwork, mixed, a, r);
	return r;
}

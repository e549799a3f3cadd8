// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test program for DWARF points in user code: square() is inlined (into main and into
 * scaled), scaled() always gets k = 3, so GCC specialises it (a clone, scaled.constprop.0
 * in the symbol table, scaled in DWARF), and main's loop has locals a line probe reads.
 */
#include <stdio.h>

static inline __attribute__((always_inline)) int square(int x)
{
	int sq = x * x;

	return sq;
}

static __attribute__((noinline)) int scaled(int x, int k)
{
	int r = square(x) * k;

	return r + 1;
}

int main(int argc, char **argv)
{
	int i, acc = 0;

	for (i = 1; i <= 3; i++) {
		int step = square(i + argc);

		acc += scaled(i, 3) + step;
	}
	printf("acc %d\n", acc);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test program for uprobes: it waits (if given a file name) until that file exists,
 * then calls add() three times and scale() once, functions the compiler may neither
 * inline nor specialise, and prints what they returned (and calls printf, in the C
 * library).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline, noipa)) int add(int a, int b)
{
	return a + b;
}

__attribute__((noinline, noipa)) long scale(long x, const char *tag)
{
	return x * (long)strlen(tag);
}

int main(int argc, char **argv)
{
	char tag[8];
	int i, sum = 0;

	while (argc > 1 && access(argv[1], F_OK) != 0)
		usleep(10000);
	for (i = 0; i < 3; i++)
		sum += add(i, 10 * i - 1);
	/* On the stack: a probe reads only pages the process has touched (a literal's page
	   in .rodata may not be mapped yet, and a probe cannot fault it in). */
	snprintf(tag, sizeof(tag), "%s", argc > 5 ? argv[5] : "abc");
	printf("%d %ld\n", sum, scale(7, tag));
	return 0;
}

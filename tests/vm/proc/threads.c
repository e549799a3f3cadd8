// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A test program for the process lifecycle probes: it waits (if given a file name) until
 * that file exists, then starts two threads that end, forks a child that exits with 3,
 * and exits with 0.
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static void *worker(void *arg)
{
	usleep(20000);
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t t[2];
	int i, status = 0;
	pid_t child;

	while (argc > 1 && access(argv[1], F_OK) != 0)
		usleep(10000);
	for (i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, worker, NULL))
			return 1;
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	child = fork();
	if (child == 0)
		_exit(3);
	if (child < 0 || waitpid(child, &status, 0) != child)
		return 1;
	printf("child exited with %d\n", WEXITSTATUS(status));
	return 0;
}

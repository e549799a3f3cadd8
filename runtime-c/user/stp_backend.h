/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs runtime: the user-space backend's main().
 *
 * Runs the generated probe table: begin probes (by sequence number), then timers, each
 * on its own thread (its own "CPU"), until exit(), SIGINT/SIGTERM, -T SECS or the end of
 * -c CMD; then end probes, the closing summary, and SystemTap's exit status.
 *
 * Options (passed by stap): -o FILE, -T SECS, -c CMD, -x PID.
 */
#ifndef STP_BACKEND_H
#define STP_BACKEND_H

static inline void stp_run_kind(enum stp_probe_kind kind)
{
	stp_run_table_kind(stp_probes, STP_NPROBES, kind);
}


struct stp_timer_thread {
	pthread_t thread;
	const struct stp_probe *probe;
	int cpu;
};

static inline void *stp_timer_main(void *arg)
{
	struct stp_timer_thread *t = arg;
	const struct stp_probe *p = t->probe;
	struct timespec next;
	int64_t period = p->period_ns > 0 ? p->period_ns : STP_JIFFY_NS * (p->jiffies > 0 ? p->jiffies : 1);

	stp_this_cpu_value = t->cpu;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (stp_atomic_read(&stp_session.state) == STP_RUNNING) {
		int64_t step = period;

		if (p->randomize_ns > 0)
			step += (int64_t)(stp_random() % (uint64_t)(2 * p->randomize_ns + 1)) - p->randomize_ns;
		if (step < 1)
			step = 1;
		next.tv_nsec += step % 1000000000LL;
		next.tv_sec += step / 1000000000LL + next.tv_nsec / 1000000000LL;
		next.tv_nsec %= 1000000000LL;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (stp_atomic_read(&stp_session.state) != STP_RUNNING)
			break;
		stp_run_probe(p);
	}
	return NULL;
}

static inline void stp_usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [-o FILE] [-T SECS] [-c CMD] [-x PID]\n", argv0);
}

/*
 * Forks -c CMD before the begin probes run (so target() is its PID there too); the child
 * waits on a pipe and execs the command only when *release is closed.  As SystemTap's
 * staprun, the command is split into words as the shell would (wordexp(3), without
 * command substitution) and run itself, not under a shell.
 */
static inline pid_t stp_start_command(const char *cmd, int *release)
{
	char *sh[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	wordexp_t words;
	char **argv = sh;
	int fds[2], rc;
	pid_t pid;

	/* Shell syntax (a pipe, a redirection) wordexp refuses: the shell runs it, as staprun
	   does. */
	rc = wordexp(cmd, &words, WRDE_NOCMD | WRDE_UNDEF);
	if (rc && rc != WRDE_BADCHAR)
		return -1;
	if (!rc) {
		if (!words.we_wordc) {
			wordfree(&words);
			return -1;
		}
		argv = words.we_wordv;
	}
	if (pipe(fds) < 0) {
		if (!rc)
			wordfree(&words);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		char ch;

		close(fds[1]);
		while (read(fds[0], &ch, 1) < 0 && errno == EINTR)
			;
		close(fds[0]);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (!rc)
		wordfree(&words);
	close(fds[0]);
	*release = fds[1];
	return pid;
}

int main(int argc, char **argv)
{
	struct stp_timer_thread *timers;
	const char *out_path = NULL, *command = NULL;
	double timeout = 0;
	int64_t deadline = 0;
	int ntimers = 0, i, opt, release = -1;
	pid_t child = 0;
	sigset_t sigs;

	while ((opt = getopt(argc, argv, "o:T:c:x:")) != -1) {
		switch (opt) {
		case 'o':
			out_path = optarg;
			break;
		case 'T':
			timeout = atof(optarg);
			break;
		case 'c':
			command = optarg;
			break;
		case 'x':
			stp_session.target = strtoll(optarg, NULL, 10);
			break;
		default:
			stp_usage(argv[0]);
			return 1;
		}
	}
	if (out_path) {
		stp_out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (stp_out_fd < 0) {
			fprintf(stderr, "ERROR: cannot open output file %s: %s\n", out_path, strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < STP_NPROBES; i++)
		if (stp_probes[i].kind == STP_PROBE_TIMER)
			ntimers++;
	stp_ncpus_value = 1 + ntimers;
	stp_pbufs = stp_alloc(sizeof(*stp_pbufs) * (size_t)stp_ncpus());
	timers = stp_alloc(sizeof(*timers) * (size_t)(ntimers + 1));
	if (!stp_pbufs || !timers || stp_init() != 0) {
		fprintf(stderr, "ERROR: cannot allocate the runtime's memory\n");
		return 1;
	}

	/* Signals are taken by the main thread only, synchronously. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (command) {
		child = stp_start_command(command, &release);
		if (child < 0) {
			fprintf(stderr, "ERROR: cannot start command: %s\n", strerror(errno));
			return 1;
		}
		stp_session.target = child;
	}
	stp_atomic_set(&stp_session.state, STP_STARTING);
	stp_run_kind(STP_PROBE_BEGIN);
	if (!stp_exit_requested()) {
		stp_atomic_set(&stp_session.state, STP_RUNNING);
		if (release >= 0) {
			close(release);
			release = -1;
		}
		ntimers = 0;
		for (i = 0; i < STP_NPROBES; i++) {
			if (stp_probes[i].kind != STP_PROBE_TIMER)
				continue;
			timers[ntimers].probe = &stp_probes[i];
			timers[ntimers].cpu = ntimers + 1;
			pthread_create(&timers[ntimers].thread, NULL, stp_timer_main, &timers[ntimers]);
			ntimers++;
		}
		if (timeout > 0)
			deadline = stp_monotonic_ns() + (int64_t)(timeout * 1e9);
		while (!stp_exit_requested()) {
			struct timespec tick = { 0, 10000000 };
			int sig = sigtimedwait(&sigs, NULL, &tick);

			if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
				break;
			if (deadline && stp_monotonic_ns() >= deadline)
				break;
			if (child > 0) {
				int status;

				if (waitpid(child, &status, WNOHANG) == child) {
					child = 0;
					break;
				}
			}
		}
	}
	stp_request_exit();
	for (i = 0; i < ntimers; i++)
		pthread_join(timers[i].thread, NULL);
	stp_run_kind(stp_shutdown_kind());
	stp_atomic_set(&stp_session.state, STP_STOPPED);
	for (i = 0; i < stp_ncpus(); i++)
		stp_flush_print(i);
	stp_print_summary();
	if (release >= 0)
		close(release);
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
	}
	stp_cleanup();
	stp_free(timers);
	stp_free(stp_pbufs);
	if (out_path)
		close(stp_out_fd);
	return stp_atomic_read(&stp_session.errors) ? 1 : 0;
}

#endif /* STP_BACKEND_H */

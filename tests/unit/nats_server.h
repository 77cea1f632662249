/* A real nats-server -js on a loopback port for the tests: started in a
 * temporary directory, ready once it has written its ports file, killed with
 * the test process (PR_SET_PDEATHSIG) if the test dies first. */
#ifndef CIM_TEST_NATS_SERVER_H
#define CIM_TEST_NATS_SERVER_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct nats_server {
	pid_t pid;
	char dir[256];
	char url[128];
	int port;
};

/* Reads the port from dir/nats-server_PID.ports once the server wrote it. */
static inline int nats_server_port(const struct nats_server *s)
{
	char path[400], buf[256];
	FILE *f;
	size_t n;
	char *colon;

	snprintf(path, sizeof(path), "%s/nats-server_%d.ports", s->dir, (int)s->pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	colon = strstr(buf, "127.0.0.1:");
	return colon ? atoi(colon + 10) : -1;
}

/* Starts nats-server with JetStream in s->dir (which must exist), on port
 * (-1: any free one), with an optional config file; s->url is scheme://...
 * 0, or -1 when it is not listening within 10 s. */
static inline int nats_server_start(struct nats_server *s, int port, const char *config,
				    const char *scheme)
{
	char store[300], portarg[16];
	struct timespec pause = {0, 20 * 1000000};

	snprintf(store, sizeof(store), "%s/store", s->dir);
	snprintf(portarg, sizeof(portarg), "%d", port);
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		char log[300];
		snprintf(log, sizeof(log), "%s/server.log", s->dir);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (config)
			execlp("nats-server", "nats-server", "-c", config, "-js", "-a", "127.0.0.1",
			       "-p", portarg, "-sd", store, "--ports_file_dir", s->dir, "-l", log,
			       (char *)NULL);
		else
			execlp("nats-server", "nats-server", "-js", "-a", "127.0.0.1", "-p",
			       portarg, "-sd", store, "--ports_file_dir", s->dir, "-l", log,
			       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int status;
		if ((s->port = nats_server_port(s)) > 0) {
			snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", scheme, s->port);
			return 0;
		}
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		nanosleep(&pause, NULL); /* polls a condition, with a deadline */
	}
	return -1;
}

/* Stops the server and waits for it. */
static inline void nats_server_stop(struct nats_server *s)
{
	int status;

	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
}

#endif

#include "apply/pgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct proc_stat {
	char state;
	long pgrp;
	unsigned long long start;
};

/* Reads /proc/<pid>/stat: "pid (comm) S ppid pgrp ... starttime ...", where
 * comm may hold spaces and parentheses, so fields count from the last ')'. */
static int read_stat(long pid, struct proc_stat *ps)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	ps->state = p[2];
	p += 3;
	/* Fields 4 (ppid) to 22 (starttime), counted from 1 at the pid. */
	for (field = 4; field <= 22 && *p; field++) {
		char *end;
		unsigned long long v;
		while (*p == ' ')
			p++;
		v = strtoull(p, &end, 10);
		if (end == p)
			return -1;
		if (field == 5)
			ps->pgrp = (long)v;
		if (field == 22)
			ps->start = v;
		p = end;
	}
	return field > 22 ? 0 : -1;
}

unsigned long long pgroup_start_time(long pid)
{
	struct proc_stat ps;

	return read_stat(pid, &ps) == 0 ? ps.start : 0;
}

void pgroup_boot_id(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		buf[0] = '\0';
	fclose(f);
}

/* Some process in pgid other than a zombie. */
static bool member_alive(long pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool alive = false;

	if (!d) /* no /proc: the kernel's answer counts zombies too */
		return kill((pid_t)-pgid, 0) == 0 || errno == EPERM;
	while (!alive && (de = readdir(d))) {
		struct proc_stat ps;
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (pid > 0 && *end == '\0' && read_stat(pid, &ps) == 0)
			alive = ps.pgrp == pgid && ps.state != 'Z' && ps.state != 'X';
	}
	closedir(d);
	return alive;
}

bool pgroup_alive(long pgid, unsigned long long start)
{
	struct proc_stat leader;

	if (pgid <= 1)
		return false;
	/* While any member lives the number stays taken, so a leader with
	 * another start time means the group is gone and the pid reused. */
	if (start && read_stat(pgid, &leader) == 0 && leader.start != start)
		return false;
	return member_alive(pgid);
}

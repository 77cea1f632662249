/* Process groups of the agent's children, found again by a later process:
 * when the agent dies, its children live on in their groups (apply/spawn.c),
 * and the next start must know whether they still run. */
#ifndef CIM_PGROUP_H
#define CIM_PGROUP_H

#include <stdbool.h>
#include <stddef.h>

/* pid's start time in clock ticks since boot (Linux), 0 when unknown. With
 * the pid it names one process for the life of the system. */
unsigned long long pgroup_start_time(long pid);

/* This boot's id (Linux: /proc/sys/kernel/random/boot_id), "" when unknown.
 * After a reboot no group of the last one is alive. */
void pgroup_boot_id(char *buf, size_t size);

/* True while a process that is not a zombie is in group pgid, and the
 * group is the one whose leader started at start (0: not checked): once a
 * group is empty its number may be reused. */
bool pgroup_alive(long pgid, unsigned long long start);

#endif

/* One cycle at a time per host: an flock(2) on state_dir/lock. The kernel
 * drops it when the process dies, so a crash never leaves a stale lock. */
#ifndef CIM_LOCK_H
#define CIM_LOCK_H

struct err;

/* Returns the held lock's fd, or -1 with a message naming the holder. */
int lock_acquire(const char *state_dir, struct err *e);
void lock_release(int fd);

#endif

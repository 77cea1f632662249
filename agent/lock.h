/* One writer of state_dir at a time: flock(2) on files in state_dir. The
 * kernel drops a lock when its process dies, so a crash never leaves a
 * stale one. */
#ifndef CIM_LOCK_H
#define CIM_LOCK_H

struct err;

/* Seconds a command waits for a running cycle before it gives up: long
 * enough for a poll that finds nothing new, short of a build. */
#define LOCK_WAIT_SECONDS 3

/* The cycle lock, state_dir/lock: held by every command that writes the
 * state (a cycle, fetch, retry, rollback, secrets install|rollback|commit).
 * Waits up to wait_seconds for it. Returns the held lock's fd, or -1 with
 * "a cycle is running (pid N)". */
int lock_acquire(const char *state_dir, unsigned wait_seconds, struct err *e);

/* The daemon lock, state_dir/daemon.lock: held for the life of `run`, so a
 * second daemon refuses to start. Returns the fd or -1 naming the holder. */
int lock_daemon(const char *state_dir, struct err *e);

void lock_release(int fd);

#endif

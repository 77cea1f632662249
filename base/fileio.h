/* Small, careful file helpers: capped reads and atomic writes. */
#ifndef CIM_FILEIO_H
#define CIM_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

struct err;

/* Reads all of path into a NUL-terminated heap buffer the caller frees.
 * Fails when the file is larger than cap bytes or is not a regular file. */
int file_read_capped(const char *path, size_t cap, char **out, size_t *len, struct err *e);

/* file_read_capped() on an open fd (read from its current offset; name is for
 * messages). The caller keeps and closes fd. */
int fd_read_capped(int fd, const char *name, size_t cap, char **out, size_t *len, struct err *e);

/* Writes buf to path atomically: a temporary file in the same directory,
 * fsync, rename over path, fsync of the directory. A crash leaves either the
 * old or the new content, never a mix. */
int file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, struct err *e);

/* file_write_atomic() without the fsyncs: the content survives the death of
 * this process, not a power cut. For records that matter only until the
 * next boot. */
int file_replace(const char *path, const void *buf, size_t len, mode_t mode, struct err *e);

/* Removes the temporary files ("<name>.tmp.<pid>") that an atomic write
 * killed half-way left in dir, when their pid is no longer alive; with only
 * set, just those of <only>. Returns how many went. */
int file_sweep_temps(const char *dir, const char *only);

/* Writes all of buf to fd, retrying short writes and EINTR; -1 with errno. */
int fd_write_all(int fd, const void *buf, size_t len);

/* Creates dir and its missing parents with mode (like mkdir -p). */
int dir_create(const char *dir, mode_t mode, struct err *e);

#endif

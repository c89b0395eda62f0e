/* Small helpers shared by every module: cleanup attributes, files, strings. */
#pragma once
#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p) { free(*(void **)p); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void closedirp(DIR **d) { if (*d) closedir(*d); }
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

static inline bool streq(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}
static inline bool strempty(const char *s) { return !s || !*s; }

/* Returns the pointer and sets *p to NULL (hand ownership over). */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })

/* asprintf that aborts on OOM: we never recover from out-of-memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xstrdup(const char *s);        /* NULL in, NULL out */
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);

/* qsort()/bsearch() comparison of two elements that are char *. */
int strcmp_ptr(const void *a, const void *b);

char *path_join(const char *a, const char *b);   /* "a/b", tolerant of slashes */

/* Creates DIR and its parents with MODE; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);
/* Removes a tree; a missing path is success. No symlink is followed: not in
 * PATH's directories (-ELOOP) and not inside the tree (links are removed as
 * links), so a planted link can never make it delete outside the tree. */
int rm_rf(const char *path);
/* Opens directory PATH (O_RDONLY|O_DIRECTORY) refusing a symlink in any of
 * its components (-ELOOP). */
int open_dir_nofollow(const char *path);

/* Finds RELPATH ("boot/bcd") below DIR matching each component
 * case-insensitively (an exact match wins); *ret is the path as it exists.
 * -ENOENT when some component is missing. */
int path_lookup_ci(const char *dir, const char *relpath, char **ret);

/* Reads a whole file into a NUL-terminated buffer. */
int read_file(const char *path, char **ret, size_t *ret_len);
/* The same for a file the user names: PATH (symlinks followed) must be a
 * regular file of at most MAX bytes. Never blocks on a FIFO, never opens a
 * device, never reads more than MAX + 1 bytes. -EINVAL: not a regular
 * file; -EFBIG: larger than MAX; else open()/read()'s errno. */
int read_regular_file(const char *path, size_t max, char **ret, size_t *ret_len);
/* What read_regular_file()'s R means, for a one-line error: "not a regular
 * file", "larger than 4 MiB" (in BUF), or strerror(). */
const char *read_regular_file_error(int r, size_t max, char *buf, size_t n);
/* Writes atomically with MODE: a temp file of a random name beside PATH,
 * created O_EXCL|O_NOFOLLOW, renamed over PATH (a symlink at PATH is
 * replaced, not followed). A symlink among PATH's directories is refused
 * (-ELOOP): root never writes through a link someone else planted. */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode);
/* Writes atomically unless PATH already holds exactly DATA (then only its
 * mode is set to MODE). Returns 1 when written, 0 when unchanged. */
int write_file_if_changed(const char *path, const char *data, size_t len, mode_t mode);
/* Copies SRC to DST atomically with MODE. */
int copy_file(const char *src, const char *dst, mode_t mode);
/* Returns true when two files have identical content (missing = different). */
bool files_equal(const char *a, const char *b);

/* Run a program and wait: returns its exit status, or negative errno. stdout
 * of the child is captured into *out when out != NULL. */
int run_program(char *const argv[], char **out);

/* Monotonic clock in microseconds. */
unsigned long long now_usec(void);

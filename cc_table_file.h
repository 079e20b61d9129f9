/* cc_table_file.h: the table kept in a file, so that digests survive a
 * full restart and a reboot.
 *
 * A core unit (POSIX and APR only, no httpd header, no logging: it says
 * what happened and the glue decides what to log).  It owns the safety of
 * the file: a table file is trusted to say which bytes a file holds, so
 * whoever can write it can make the server answer 304 for bytes a client
 * does not have.  Hence the rules:
 *
 *   - the file and every directory above it belong to the server's user
 *     at start (root) or to root, and no other user can write them (a
 *     sticky directory such as /tmp is accepted above ours: nobody else
 *     can replace what we made in it);
 *   - the file is a regular file, mode 0600, one link, never a symlink
 *     (opened with O_NOFOLLOW, and checked again through the descriptor);
 *   - one server at a time: an exclusive flock() held for the server's
 *     life (and by its children, which inherit the descriptor);
 *   - its disk blocks are allocated (posix_fallocate) before it is
 *     mapped, so a full disk is found at start, never as a SIGBUS in a
 *     child writing to the mapping;
 *   - a file whose header does not match is never reused in place (other
 *     processes may still map it): a new file is made beside it and
 *     renamed over it.
 *
 * What is in the mapping, and how a reattached table is checked slot by
 * slot, is cc_table's business (cc_table_attach()).
 */
#ifndef CONDCACHE_CC_TABLE_FILE_H
#define CONDCACHE_CC_TABLE_FILE_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *path;
    int         fd;           /* open, flock()ed; -1 when none */
    void       *map;          /* the mapping, MAP_SHARED, or NULL */
    apr_size_t  bytes;        /* its size */
    int         fresh;        /* the file was (re)made: it holds zeros */
} cc_table_file_t;

typedef enum {
    CC_TABLE_FILE_OK = 0,
    CC_TABLE_FILE_UNSAFE,     /* refused: see *why (a symlink, another
                                 owner, a mode other than 0600, a directory
                                 others can write, another server's file) */
    CC_TABLE_FILE_UNUSABLE    /* could not be used: see *why and the
                                 status (read-only or full disk, no such
                                 directory ...) */
} cc_table_file_e;

/* Opens the table file at `path` (absolute) for `bytes` bytes of table
 * (cc_table_bytes()), creating it if it is missing (and its directory, if
 * only that is missing), or making a new one in its place (see
 * cc_table_file_replace()) when its size differs, and maps it.  On
 * CC_TABLE_FILE_OK *out is filled; otherwise *why says why in words fit
 * for the error log and *status holds the errno, if any.  The strings are
 * allocated from `p`; the descriptor and the mapping live until
 * cc_table_file_close(). */
cc_table_file_e cc_table_file_open(apr_pool_t *p, const char *path,
                                   apr_size_t bytes, cc_table_file_t *out,
                                   const char **why, apr_status_t *status);

/* Makes a new, zero-filled table file beside `path` and renames it over
 * `path`, then maps it: for a file other processes may still map (the
 * children of the generation before a graceful restart keep theirs).
 * The directory must pass the same checks as for cc_table_file_open(). */
cc_table_file_e cc_table_file_replace(apr_pool_t *p, const char *path,
                                      apr_size_t bytes, cc_table_file_t *out,
                                      const char **why, apr_status_t *status);

/* Writes the table to disk (msync) and unmaps it; closes the descriptor
 * unless `keep_fd` (its lock is then still held). */
void cc_table_file_close(cc_table_file_t *f, int keep_fd);

#ifdef __cplusplus
}
#endif

#endif /* CONDCACHE_CC_TABLE_FILE_H */

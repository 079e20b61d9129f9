/* cc_table_file.c: the table kept in a file.  See cc_table_file.h for the
 * rules and why they are what they are.
 */

#define _GNU_SOURCE 1

#include "cc_table_file.h"

#include <apr_strings.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* May a directory hold (a path to) the table file?  Owned by us or by
 * root, and nobody else can change what is in it, unless it is sticky
 * (then nobody else can replace what we own in it). */
static int directory_safe(const struct stat *st, uid_t me)
{
    if (!S_ISDIR(st->st_mode)) {
        return 0;
    }
    if (st->st_uid != 0 && st->st_uid != me) {
        return 0;
    }
    return (st->st_mode & (S_IWGRP | S_IWOTH)) == 0
        || (st->st_mode & S_ISVTX) != 0;
}

/* Checks every directory from / down to the one holding `path`; makes the
 * last one (mode 0700) when only it is missing.  CC_TABLE_FILE_OK, or why
 * not. */
static cc_table_file_e check_directories(apr_pool_t *p, const char *path,
                                         const char **why,
                                         apr_status_t *status)
{
    char *dir = apr_pstrdup(p, path);
    char *slash = strrchr(dir, '/'), *at;
    uid_t me = geteuid();
    struct stat st;

    if (path[0] != '/' || !slash) {
        *why = "the path is not absolute";
        return CC_TABLE_FILE_UNSAFE;
    }
    *slash = '\0';
    if (dir[0] == '\0') {
        dir = apr_pstrdup(p, "/");
    }
    /* from the top: "/", "/var", "/var/cache", ... */
    for (at = dir; at; at = strchr(at + 1, '/')) {
        const char *prefix = at == dir ? "/" : apr_pstrndup(p, dir, at - dir);

        if (lstat(prefix, &st) != 0) {
            *status = errno;
            *why = apr_psprintf(p, "cannot examine %s", prefix);
            return CC_TABLE_FILE_UNUSABLE;
        }
        if (!directory_safe(&st, me)) {
            *why = apr_psprintf(p, "%s %s; the table file's directory and "
                                "those above it must be directories owned "
                                "by root that no other user can write",
                                prefix,
                                S_ISLNK(st.st_mode) ? "is a symbolic link"
                                : !S_ISDIR(st.st_mode) ? "is not a directory"
                                : (st.st_uid != 0 && st.st_uid != me)
                                  ? "belongs to another user"
                                  : "can be written by other users");
            return CC_TABLE_FILE_UNSAFE;
        }
    }
    if (strcmp(dir, "/") != 0 && lstat(dir, &st) != 0) {
        /* the last directory only, once those above it passed: a package
         * or make install may not have made it yet */
        if (errno != ENOENT || mkdir(dir, 0700) != 0) {
            *status = errno;
            *why = apr_psprintf(p, "cannot make the directory %s", dir);
            return CC_TABLE_FILE_UNUSABLE;
        }
    }
    else if (strcmp(dir, "/") != 0 && !directory_safe(&st, me)) {
        *why = apr_psprintf(p, "%s is not a directory only root can write",
                            dir);
        return CC_TABLE_FILE_UNSAFE;
    }
    return CC_TABLE_FILE_OK;
}

/* Is the open file one we may trust: a regular file of ours, mode 0600,
 * one link? */
static const char *file_unsafe(const struct stat *st)
{
    if (!S_ISREG(st->st_mode)) {
        return "is not a regular file";
    }
    if (st->st_uid != geteuid()) {
        return "belongs to another user";
    }
    if ((st->st_mode & 07777) != 0600) {
        return "does not have mode 0600";
    }
    if (st->st_nlink != 1) {
        return "has more than one name (hard links)";
    }
    return NULL;
}

/* Why flock() failed: another server holds the file, or worse. */
static cc_table_file_e lock_failed(const char **why, apr_status_t *status)
{
    int held = errno == EWOULDBLOCK;

    *status = errno;
    *why = held ? "it is in use by another server (or by processes of one "
                  "that was killed)"
                : "cannot lock it";
    return held ? CC_TABLE_FILE_UNSAFE : CC_TABLE_FILE_UNUSABLE;
}

/* Locks, sizes (allocating every block) and maps the open file `fd`. */
static cc_table_file_e lock_and_map(apr_pool_t *p, const char *path, int fd,
                                    apr_size_t bytes, int fresh,
                                    cc_table_file_t *out, const char **why,
                                    apr_status_t *status)
{
    void *map;
    int rv;

    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        return lock_failed(why, status);
    }
    /* every block allocated now: a full disk shows here, never as a
     * SIGBUS in a child that writes to a page of a sparse file */
    rv = posix_fallocate(fd, 0, (off_t)bytes);
    if (rv != 0) {
        *status = rv;
        *why = "cannot allocate its disk space";
        return CC_TABLE_FILE_UNUSABLE;
    }
    map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        *status = errno;
        *why = "cannot map it";
        return CC_TABLE_FILE_UNUSABLE;
    }
    out->path = apr_pstrdup(p, path);
    out->fd = fd;
    out->map = map;
    out->bytes = bytes;
    out->fresh = fresh;
    return CC_TABLE_FILE_OK;
}

cc_table_file_e cc_table_file_replace(apr_pool_t *p, const char *path,
                                      apr_size_t bytes, cc_table_file_t *out,
                                      const char **why, apr_status_t *status)
{
    const char *tmp = apr_psprintf(p, "%s.new.%ld", path, (long)getpid());
    cc_table_file_e e;
    int fd;

    *status = APR_SUCCESS;
    if ((e = check_directories(p, path, why, status)) != CC_TABLE_FILE_OK) {
        return e;
    }
    (void)unlink(tmp);                    /* a leftover of ours */
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        *status = errno;
        *why = apr_psprintf(p, "cannot create %s", tmp);
        return CC_TABLE_FILE_UNUSABLE;
    }
    if (fchmod(fd, 0600) != 0) {          /* whatever the umask said */
        *status = errno;
        *why = "cannot set its mode";
        close(fd);
        unlink(tmp);
        return CC_TABLE_FILE_UNUSABLE;
    }
    e = lock_and_map(p, path, fd, bytes, 1, out, why, status);
    if (e == CC_TABLE_FILE_OK && rename(tmp, path) != 0) {
        *status = errno;
        *why = apr_psprintf(p, "cannot rename %s to it", tmp);
        munmap(out->map, bytes);
        e = CC_TABLE_FILE_UNUSABLE;
    }
    if (e != CC_TABLE_FILE_OK) {
        close(fd);
        unlink(tmp);
    }
    return e;
}

cc_table_file_e cc_table_file_open(apr_pool_t *p, const char *path,
                                   apr_size_t bytes, cc_table_file_t *out,
                                   const char **why, apr_status_t *status)
{
    struct stat before, st;
    const char *bad;
    cc_table_file_e e;
    int fd;

    *status = APR_SUCCESS;
    out->fd = -1;
    out->map = NULL;
    if ((e = check_directories(p, path, why, status)) != CC_TABLE_FILE_OK) {
        return e;
    }
    if (lstat(path, &before) != 0) {
        if (errno != ENOENT) {
            *status = errno;
            *why = "cannot examine it";
            return CC_TABLE_FILE_UNUSABLE;
        }
        return cc_table_file_replace(p, path, bytes, out, why, status);
    }
    if (S_ISLNK(before.st_mode)) {
        *why = "is a symbolic link";
        return CC_TABLE_FILE_UNSAFE;
    }
    if ((bad = file_unsafe(&before)) != NULL) {
        *why = bad;
        return CC_TABLE_FILE_UNSAFE;
    }
    fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *status = errno;
        *why = "cannot open it for writing";
        return CC_TABLE_FILE_UNUSABLE;
    }
    /* what was examined is what was opened */
    if (fstat(fd, &st) != 0 || st.st_dev != before.st_dev
        || st.st_ino != before.st_ino || (bad = file_unsafe(&st)) != NULL) {
        *why = bad ? bad : "changed while it was being opened";
        close(fd);
        return CC_TABLE_FILE_UNSAFE;
    }
    if ((apr_size_t)st.st_size != bytes) {
        /* another size: another CondCacheEntries, or cut short.  Not
         * resized in place (a process could still map it), and not
         * replaced under another server: its lock first. */
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            e = lock_failed(why, status);
            close(fd);
            return e;
        }
        e = cc_table_file_replace(p, path, bytes, out, why, status);
        close(fd);              /* the old file's lock, after the rename */
        return e;
    }
    e = lock_and_map(p, path, fd, bytes, 0, out, why, status);
    if (e != CC_TABLE_FILE_OK) {
        close(fd);
    }
    return e;
}

void cc_table_file_close(cc_table_file_t *f, int keep_fd)
{
    if (f->map) {
        (void)msync(f->map, f->bytes, MS_SYNC);
        munmap(f->map, f->bytes);
        f->map = NULL;
    }
    if (!keep_fd && f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

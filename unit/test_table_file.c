/* unit/test_table_file.c: unit tests of cc_table_file.c, which opens the
 * table file safely (the rules are at the top of cc_table_file.h).
 *
 * Owns: a new file (fresh, mode 0600 whatever the umask, its size
 * allocated, mapped shared, close-on-exec, locked: another open of it, in
 * this process or another, is UNSAFE "in use"), reopening (not fresh, the
 * same bytes, the lock kept by close(keep_fd)), a file of another size
 * (replaced by a new file: a new inode, fresh, zeros), what is refused
 * (a symlink at the path or above it, a mode other than 0600, another
 * owner, hard links, no regular file, a directory in the chain that
 * others can write unless it is sticky, a relative path), the directory
 * made when only it is missing, a read-only and a full filesystem
 * (UNUSABLE, nothing left behind, the old file intact), replacing a file
 * that another process still maps and locks (its mapping stays valid, the
 * new file is ours and locked), a leftover of ours beside the file, a file
 * changed between the checks of its name and its open (checked again
 * through the descriptor: open() is wrapped, see below), and a
 * table kept in the file across a close and across a process killed
 * while it held it (cc_table_attach()).
 *
 * Every test works in its own directory under the run's directory, which
 * mkdtemp() makes 0700 and owned by us; the directories above it must
 * pass the rules themselves (/ and /tmp do), else the tests say so and
 * test nothing.  Run as root (as the tests are) the ownership cases chown
 * files to 65534, and the filesystem cases mount small tmpfs instances in
 * a private mount namespace of a child process (they vanish with it);
 * otherwise those cases are skipped with a note.
 *
 * Linked with cc_table_file.c, cc_table.c and cc_digest.c (for the table
 * in the file), APR, libcrypto and libxxhash.  The framework (CHECK, T(),
 * --quick, -k, bug_*) is unit_test.h.
 */
#define _GNU_SOURCE 1

#include "cc_table.h"
#include "cc_table_file.h"
#include "unit_test.h"

#include <apr_pools.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static int is_root;
static int chain_ok;          /* the directories above tmpdir pass the rules */

#define NEED_CHAIN() do { \
        if (!chain_ok) { \
            notef("skipped: a directory above %s is not one the table file " \
                  "may be under (set TMPDIR to one that is)", tmpdir); \
            return; \
        } \
    } while (0)

#define NEED_ROOT(what) do { \
        if (!is_root) { \
            notef("skipped: %s needs root", what); \
            return; \
        } \
    } while (0)

/* The rule for a directory, written out here (cc_table_file.c's is under
 * test): owned by root or by us, and nobody else can write it, unless it
 * is sticky. */
static int dir_passes(const struct stat *st)
{
    return S_ISDIR(st->st_mode)
        && (st->st_uid == 0 || st->st_uid == geteuid())
        && ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0
            || (st->st_mode & S_ISVTX) != 0);
}

static int fixture_create(void)
{
    char buf[sizeof(tmpdir)];
    char *at;
    struct stat st;

    is_root = geteuid() == 0;
    chain_ok = 1;
    snprintf(buf, sizeof(buf), "%s", tmpdir);
    /* "/", "/tmp", ..., tmpdir */
    for (at = buf; at; at = strchr(at + 1, '/')) {
        char prefix[sizeof(tmpdir)];
        size_t n = at == buf ? 1 : (size_t)(at - buf);

        memcpy(prefix, buf, n);
        prefix[n] = '\0';
        if (lstat(prefix, &st) != 0 || !dir_passes(&st)) {
            chain_ok = 0;
        }
    }
    if (lstat(buf, &st) != 0 || !dir_passes(&st) || buf[0] != '/') {
        chain_ok = 0;
    }
    return 0;
}

static void abs_path(char *out, size_t n, const char *rel)
{
    snprintf(out, n, "%s/%s", tmpdir, rel);
}

/* Makes tmpdir/rel (if missing) with exactly `mode`, owned by root when we
 * are root.  0 or -1. */
static int mkdir_mode(const char *rel, mode_t mode)
{
    char p[512];

    abs_path(p, sizeof(p), rel);
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    if (is_root && chown(p, 0, 0) != 0) {
        return -1;
    }
    return chmod(p, mode);
}

/* One call of cc_table_file_open() or _replace(), with what it said. */
typedef struct {
    apr_pool_t      *pool;
    cc_table_file_e  e;
    const char      *why;
    apr_status_t     status;
    cc_table_file_t  f;
    char             path[512];
} tf_t;

static cc_table_file_e tf_call(tf_t *t, const char *rel, apr_size_t bytes,
                               int replace)
{
    if (!t->pool && apr_pool_create(&t->pool, NULL) != APR_SUCCESS) {
        t->pool = NULL;
        t->e = CC_TABLE_FILE_UNUSABLE;
        t->why = "apr_pool_create failed";
        return t->e;
    }
    if (rel[0] == '/' || rel[0] == '\0' || strncmp(rel, "./", 2) == 0
        || strncmp(rel, "../", 3) == 0 || strncmp(rel, "rel:", 4) == 0) {
        /* absolute, or relative on purpose ("rel:" prefix stripped) */
        snprintf(t->path, sizeof(t->path), "%s",
                 strncmp(rel, "rel:", 4) == 0 ? rel + 4 : rel);
    }
    else {
        abs_path(t->path, sizeof(t->path), rel);
    }
    memset(&t->f, 0x5a, sizeof(t->f));
    t->why = NULL;
    t->status = -12345;
    t->e = replace
        ? cc_table_file_replace(t->pool, t->path, bytes, &t->f, &t->why,
                                &t->status)
        : cc_table_file_open(t->pool, t->path, bytes, &t->f, &t->why,
                             &t->status);
    return t->e;
}

static cc_table_file_e tf_open(tf_t *t, const char *rel, apr_size_t bytes)
{
    return tf_call(t, rel, bytes, 0);
}

static cc_table_file_e tf_replace(tf_t *t, const char *rel, apr_size_t bytes)
{
    return tf_call(t, rel, bytes, 1);
}

/* Closes what an OK call opened; frees the pool. */
static void tf_done(tf_t *t)
{
    if (t->e == CC_TABLE_FILE_OK) {
        cc_table_file_close(&t->f, 0);
        t->e = CC_TABLE_FILE_UNUSABLE;
    }
    if (t->pool) {
        apr_pool_destroy(t->pool);
        t->pool = NULL;
    }
}

static const char *e_name(cc_table_file_e e)
{
    return e == CC_TABLE_FILE_OK ? "OK"
         : e == CC_TABLE_FILE_UNSAFE ? "UNSAFE"
         : e == CC_TABLE_FILE_UNUSABLE ? "UNUSABLE" : "?";
}

/* The call gave `want`; for a refusal, its why contains `why_has` (when
 * not NULL) and open() left no descriptor or mapping. */
static int expect_e(const tf_t *t, cc_table_file_e want, const char *why_has,
                    const char *file, int line)
{
    int ok = 1;

    if (t->e != want) {
        failf(file, line, "%s: %s (%s), want %s", esc(t->path), e_name(t->e),
              esc(t->why), e_name(want));
        return 0;
    }
    if (want != CC_TABLE_FILE_OK) {
        if (!t->why || (why_has && !strstr(t->why, why_has))) {
            failf(file, line, "%s: why \"%s\" lacks \"%s\"", esc(t->path),
                  esc(t->why), why_has ? why_has : "(any text)");
            ok = 0;
        }
    }
    return ok;
}
#define EXPECT_E(t, want, why_has) expect_e(t, want, why_has, __FILE__, __LINE__)

/* Is the file at `path` locked by some open file description other than
 * a new one of ours?  1 locked, 0 not, -1 cannot tell. */
static int locked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), r;

    if (fd < 0) {
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        r = 0;
    }
    else {
        r = errno == EWOULDBLOCK ? 1 : -1;
    }
    close(fd);
    return r;
}

/* A table file as the rules want it: regular, ours, 0600, one link, of
 * `bytes` bytes, all of them allocated. */
static void check_file_shape(const char *path, apr_size_t bytes,
                             const char *file, int line)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        failf(file, line, "lstat %s: %s", esc(path), strerror(errno));
        return;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600
        || st.st_uid != geteuid() || st.st_nlink != 1
        || (apr_size_t)st.st_size != bytes
        || (apr_size_t)st.st_blocks * 512 < bytes) {
        failf(file, line, "%s: mode 0%o, uid %d, %d links, %lld bytes, %lld "
              "allocated; want a regular file 0600 of uid %d, 1 link, %llu "
              "bytes, all allocated", esc(path), (unsigned)st.st_mode,
              (int)st.st_uid, (int)st.st_nlink, (long long)st.st_size,
              (long long)st.st_blocks * 512, (int)geteuid(),
              (unsigned long long)bytes);
    }
}
#define CHECK_FILE_SHAPE(path, bytes) check_file_shape(path, bytes, __FILE__, __LINE__)

static ino_t ino_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? st.st_ino : 0;
}

/* Names in tmpdir/rel, for "nothing left behind". */
static int dir_entries(const char *rel, char *names, size_t n)
{
    char p[512];
    DIR *d;
    struct dirent *e;
    int count = 0;

    abs_path(p, sizeof(p), rel);
    names[0] = '\0';
    d = opendir(p);
    if (!d) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        count++;
        if (strlen(names) + strlen(e->d_name) + 2 < n) {
            strcat(names, e->d_name);
            strcat(names, " ");
        }
    }
    closedir(d);
    return count;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d) {
        return -1;
    }
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

static int all_bytes(const void *p, size_t n, unsigned char c)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        if (b[i] != c) {
            return 0;
        }
    }
    return 1;
}

static void reap(pid_t pid, int *status)
{
    int st = 0;

    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (status) {
        *status = st;
    }
}

/* Sizes: two tables' worth */
#define E1 64
#define E2 200

/* A child that opens `path` and must be refused because the file is in
 * use (locked by another open file description). */
struct probe {
    const char *path;
    apr_size_t  bytes;
};

static void child_open_in_use(void *arg)
{
    struct probe *pr = arg;
    tf_t t;

    memset(&t, 0, sizeof(t));
    tf_open(&t, pr->path, pr->bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "in use");
    CHECK_INT(t.status, EWOULDBLOCK);
    tf_done(&t);
}

static void check_in_use_elsewhere(const char *path, apr_size_t bytes,
                                   const char *file, int line)
{
    struct probe pr;
    pid_t pid;

    pr.path = path;
    pr.bytes = bytes;
    pid = fork_child(child_open_in_use, &pr);
    wait_child_ok(file, line, pid, "a child opening the locked table file");
}
#define CHECK_IN_USE_ELSEWHERE(path, bytes) \
    check_in_use_elsewhere(path, bytes, __FILE__, __LINE__)

/* ------------------------------------------------------------------ */
/* Create, reopen, another size                                        */

static void test_tf_create(void)
{
    tf_t t, again;
    apr_size_t bytes = cc_table_bytes(E1);
    char names[512], *pattern;
    unsigned char back[64];
    mode_t old_umask;
    int fd2, fds_before, fl;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    memset(&again, 0, sizeof(again));
    REQUIRE(mkdir_mode("c", 0700) == 0);
    fds_before = count_fds();
    REQUIRE(tf_open(&t, "c/table", bytes) == CC_TABLE_FILE_OK);
    CHECK_INT(t.status, APR_SUCCESS);
    CHECK_INT(t.f.fresh, 1);
    CHECK(t.f.fd >= 0);
    CHECK(t.f.map != NULL && t.f.map != MAP_FAILED);
    CHECK_U64(t.f.bytes, bytes);
    CHECK_STR(t.f.path, t.path);
    CHECK_FILE_SHAPE(t.path, bytes);
    CHECK_INT(count_fds(), fds_before + 1);
    CHECK(all_bytes(t.f.map, bytes, 0));
    fl = fcntl(t.f.fd, F_GETFD);
    CHECK_MSG(fl >= 0 && (fl & FD_CLOEXEC), "the table file's descriptor is "
              "not close-on-exec: a CGI program would inherit it");
    CHECK_INT((uintptr_t)t.f.map % CC_TABLE_ALIGN, 0);
    /* nothing but the file in its directory */
    CHECK_INT(dir_entries("c", names, sizeof(names)), 1);
    CHECK_STR(names, "table ");

    /* the mapping is the file (MAP_SHARED) */
    pattern = (char *)t.f.map + bytes - 64;
    fill_pattern((unsigned char *)pattern, 64, 77);
    fd2 = open(t.path, O_RDONLY);
    REQUIRE(fd2 >= 0);
    CHECK(pread(fd2, back, 64, (off_t)(bytes - 64)) == 64);
    CHECK(memcmp(back, pattern, 64) == 0);
    close(fd2);

    /* locked: another open, here or in another process, is refused */
    CHECK_INT(locked(t.path), 1);
    CHECK_IN_USE_ELSEWHERE(t.path, bytes);
    tf_open(&again, "c/table", bytes);
    EXPECT_E(&again, CC_TABLE_FILE_UNSAFE, "in use");
    CHECK_INT(again.status, EWOULDBLOCK);
    CHECK_INT(again.f.fd, -1);
    CHECK(again.f.map == NULL);
    tf_done(&again);
    CHECK_INT(count_fds(), fds_before + 1);          /* nothing leaked */

    cc_table_file_close(&t.f, 0);
    CHECK_INT(t.f.fd, -1);
    CHECK(t.f.map == NULL);
    CHECK_INT(locked(t.path), 0);
    CHECK_INT(count_fds(), fds_before);
    tf_done(&t);

    /* mode 0600 whatever the umask */
    old_umask = umask(0777);
    tf_open(&t, "c/table-umask777", bytes);
    umask(0);
    tf_open(&again, "c/table-umask0", bytes);
    umask(old_umask);
    if (EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        CHECK_FILE_SHAPE(t.path, bytes);
    }
    if (EXPECT_E(&again, CC_TABLE_FILE_OK, NULL)) {
        CHECK_FILE_SHAPE(again.path, bytes);
    }
    tf_done(&t);
    tf_done(&again);
}

static void test_tf_reopen(void)
{
    tf_t t;
    apr_size_t bytes = cc_table_bytes(E1);
    unsigned char *want = malloc(bytes), *disk = malloc(bytes);
    ino_t ino;
    int fd, kept_fd;

    NEED_CHAIN();
    REQUIRE(want && disk);
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("r", 0700) == 0);
    REQUIRE(tf_open(&t, "r/table", bytes) == CC_TABLE_FILE_OK);
    CHECK_INT(t.f.fresh, 1);
    ino = ino_of(t.path);
    fill_pattern(want, bytes, 5);
    memcpy(t.f.map, want, bytes);
    tf_done(&t);                                       /* msync, close */

    /* on disk */
    fd = open_tmp("r/table", O_RDONLY);
    REQUIRE(fd >= 0);
    CHECK(pread(fd, disk, bytes, 0) == (ssize_t)bytes);
    CHECK(memcmp(disk, want, bytes) == 0);
    close(fd);

    /* reopened: the same file and bytes, not fresh */
    REQUIRE(tf_open(&t, "r/table", bytes) == CC_TABLE_FILE_OK);
    CHECK_INT(t.f.fresh, 0);
    CHECK_INT(ino_of(t.path), ino);
    CHECK(memcmp(t.f.map, want, bytes) == 0);
    CHECK_FILE_SHAPE(t.path, bytes);
    CHECK_INT(locked(t.path), 1);

    /* closed keeping the descriptor: unmapped, still locked */
    kept_fd = t.f.fd;
    cc_table_file_close(&t.f, 1);
    CHECK(t.f.map == NULL);
    CHECK_INT(t.f.fd, kept_fd);
    CHECK(fcntl(kept_fd, F_GETFD) >= 0);
    CHECK_INT(locked(t.path), 1);
    CHECK_IN_USE_ELSEWHERE(t.path, bytes);
    close(kept_fd);
    CHECK_INT(locked(t.path), 0);
    t.e = CC_TABLE_FILE_UNUSABLE;                      /* closed already */
    tf_done(&t);
    free(want);
    free(disk);
}

static void test_tf_size_mismatch(void)
{
    tf_t t;
    apr_size_t b1 = cc_table_bytes(E1), b2 = cc_table_bytes(E2);
    char names[512];
    ino_t ino;
    int fd;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("z", 0700) == 0);
    REQUIRE(tf_open(&t, "z/table", b1) == CC_TABLE_FILE_OK);
    memset(t.f.map, 0xab, b1);
    tf_done(&t);
    ino = ino_of(t.path);

    /* bigger: a new file in its place */
    REQUIRE(tf_open(&t, "z/table", b2) == CC_TABLE_FILE_OK);
    CHECK_INT(t.f.fresh, 1);
    CHECK(ino_of(t.path) != ino);
    CHECK_U64(t.f.bytes, b2);
    CHECK_FILE_SHAPE(t.path, b2);
    CHECK_MSG(all_bytes(t.f.map, b2, 0), "the new file holds old bytes");
    CHECK_INT(locked(t.path), 1);
    memset(t.f.map, 0xcd, b2);
    tf_done(&t);
    CHECK_INT(dir_entries("z", names, sizeof(names)), 1);

    /* smaller: the same */
    ino = ino_of(t.path);
    REQUIRE(tf_open(&t, "z/table", b1) == CC_TABLE_FILE_OK);
    CHECK_INT(t.f.fresh, 1);
    CHECK(ino_of(t.path) != ino);
    CHECK_FILE_SHAPE(t.path, b1);
    CHECK(all_bytes(t.f.map, b1, 0));
    tf_done(&t);

    /* cut short (a crash while it was made, a full disk) or empty */
    fd = open_tmp("z/table", O_WRONLY);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 100) == 0);
    close(fd);
    REQUIRE(tf_open(&t, "z/table", b1) == CC_TABLE_FILE_OK);
    CHECK_INT(t.f.fresh, 1);
    CHECK_FILE_SHAPE(t.path, b1);
    tf_done(&t);
    fd = open_tmp("z/table", O_WRONLY | O_TRUNC);
    REQUIRE(fd >= 0);
    close(fd);
    REQUIRE(tf_open(&t, "z/table", b1) == CC_TABLE_FILE_OK);
    CHECK_INT(t.f.fresh, 1);
    CHECK_FILE_SHAPE(t.path, b1);
    tf_done(&t);
    CHECK_INT(dir_entries("z", names, sizeof(names)), 1);
    CHECK_STR(names, "table ");
}

/* A file of another size is not replaced under another server: a second
 * server started with another CondCacheEntries on the same table file
 * would otherwise rename its new file over the first server's, which
 * would keep running on a file without a name.  Process A opens the path
 * for cc_table_bytes(64) and keeps it; process B opens it for
 * cc_table_bytes(200): UNSAFE, "in use by another server", and A's file
 * keeps its name. */
struct holder {
    const char *path;
    apr_size_t  bytes;
    int         pipe_w;
};

static void child_hold(void *arg)
{
    struct holder *h = arg;
    tf_t t;

    memset(&t, 0, sizeof(t));
    tf_open(&t, h->path, h->bytes);
    EXPECT_E(&t, CC_TABLE_FILE_OK, NULL);
    CHECK(write(h->pipe_w, "h", 1) == 1);
    for (;;) {
        pause();
    }
}

static void test_tf_size_mismatch_in_use(void)
{
    tf_t t;
    struct holder h;
    char path[512];
    ino_t ino;
    pid_t pid;
    int fds[2];
    char c;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("busy", 0700) == 0 && pipe(fds) == 0);
    abs_path(path, sizeof(path), "busy/table");
    h.path = path;
    h.bytes = cc_table_bytes(E1);
    h.pipe_w = fds[1];
    pid = fork_child(child_hold, &h);
    close(fds[1]);
    REQUIRE(pid > 0);
    if (read(fds[0], &c, 1) != 1) {
        CHECK_MSG(0, "the holder did not open the file");
        reap(pid, NULL);
        close(fds[0]);
        return;
    }
    ino = ino_of(path);
    tf_open(&t, "busy/table", cc_table_bytes(E1));         /* the same size */
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "in use");
    tf_done(&t);
    tf_open(&t, "busy/table", cc_table_bytes(E2));         /* another size */
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "in use");
    CHECK_MSG(ino_of(path) == ino, "another server's table file was "
              "replaced under it");
    tf_done(&t);
    kill(pid, SIGKILL);
    reap(pid, NULL);
    close(fds[0]);
}

/* ------------------------------------------------------------------ */
/* What is refused                                                     */

/* Makes tmpdir/rel a good table file of `bytes` bytes (via the code
 * under test, then closed). */
static int make_table_file(const char *rel, apr_size_t bytes)
{
    tf_t t;
    cc_table_file_e e;

    memset(&t, 0, sizeof(t));
    e = tf_open(&t, rel, bytes);
    if (e == CC_TABLE_FILE_OK) {
        memset(t.f.map, 0x11, bytes);
    }
    tf_done(&t);
    return e == CC_TABLE_FILE_OK ? 0 : -1;
}

static void test_tf_symlink(void)
{
    tf_t t;
    apr_size_t bytes = cc_table_bytes(E1);
    char real[512], link_path[512], nowhere[512], realdir[512];
    ino_t ino;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("s", 0700) == 0);
    REQUIRE(make_table_file("s/real", bytes) == 0);
    abs_path(real, sizeof(real), "s/real");
    ino = ino_of(real);

    /* a symlink at the path, to a good table file */
    abs_path(link_path, sizeof(link_path), "s/table");
    REQUIRE(symlink("real", link_path) == 0);
    tf_open(&t, "s/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "symbolic link");
    CHECK_INT(t.f.fd, -1);
    tf_done(&t);
    /* ... with an absolute target, or another size (which would replace
     * the file were it one) */
    unlink(link_path);
    REQUIRE(symlink(real, link_path) == 0);
    tf_open(&t, "s/table", cc_table_bytes(E2));
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "symbolic link");
    tf_done(&t);
    CHECK_INT(ino_of(real), ino);
    CHECK_FILE_SHAPE(real, bytes);
    {
        struct stat st;
        CHECK(lstat(link_path, &st) == 0 && S_ISLNK(st.st_mode));
    }

    /* dangling: nothing made where it points */
    abs_path(nowhere, sizeof(nowhere), "s/nowhere");
    abs_path(link_path, sizeof(link_path), "s/dangling");
    REQUIRE(symlink(nowhere, link_path) == 0);
    tf_open(&t, "s/dangling", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "symbolic link");
    tf_done(&t);
    CHECK(access(nowhere, F_OK) != 0);

    /* a symlink for the directory */
    REQUIRE(mkdir_mode("s/realdir", 0700) == 0);
    abs_path(realdir, sizeof(realdir), "s/realdir");
    abs_path(link_path, sizeof(link_path), "s/linkdir");
    REQUIRE(symlink(realdir, link_path) == 0);
    tf_open(&t, "s/linkdir/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "/s/linkdir");
    tf_done(&t);
    {
        char names[256];
        CHECK_INT(dir_entries("s/realdir", names, sizeof(names)), 0);
    }
    /* ... or above it */
    REQUIRE(mkdir_mode("s/realdir/sub", 0700) == 0);
    tf_open(&t, "s/linkdir/sub/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "symbolic link");
    tf_done(&t);
}

static void test_tf_mode(void)
{
    static const mode_t modes[] = {
        0644, 0640, 0604, 0660, 0606, 0400, 0700, 0200, 0000, 04600, 02600,
        01600, 0601, 0610
    };
    apr_size_t bytes = cc_table_bytes(E1);
    size_t i;

    NEED_CHAIN();
    REQUIRE(mkdir_mode("m", 0700) == 0);
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char rel[64], path[512];
        struct stat st;
        ino_t ino;
        tf_t t;

        snprintf(rel, sizeof(rel), "m/table-%04o", (unsigned)modes[i]);
        abs_path(path, sizeof(path), rel);
        REQUIRE(make_table_file(rel, bytes) == 0);
        ino = ino_of(path);
        REQUIRE(chmod(path, modes[i]) == 0);
        memset(&t, 0, sizeof(t));
        tf_open(&t, rel, bytes);
        CHECK_MSG(t.e == CC_TABLE_FILE_UNSAFE, "mode 0%o: %s, want UNSAFE",
                  (unsigned)modes[i], e_name(t.e));
        if (t.e == CC_TABLE_FILE_UNSAFE) {
            EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "mode 0600");
        }
        tf_done(&t);
        /* left as it was */
        CHECK(lstat(path, &st) == 0 && (st.st_mode & 07777) == modes[i]
              && st.st_ino == ino);
        /* nor replaced when the size differs too */
        memset(&t, 0, sizeof(t));
        tf_open(&t, rel, cc_table_bytes(E2));
        CHECK_MSG(t.e == CC_TABLE_FILE_UNSAFE, "mode 0%o, another size: %s, "
                  "want UNSAFE", (unsigned)modes[i], e_name(t.e));
        tf_done(&t);
        CHECK_INT(ino_of(path), ino);
    }
}

static void test_tf_owner(void)
{
    apr_size_t bytes = cc_table_bytes(E1);
    char path[512], dir[512];
    tf_t t;

    NEED_CHAIN();
    NEED_ROOT("chown to another user");
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("o", 0700) == 0);
    REQUIRE(make_table_file("o/table", bytes) == 0);
    abs_path(path, sizeof(path), "o/table");

    /* another group only: 0600 gives it nothing */
    REQUIRE(chown(path, 0, 65534) == 0);
    tf_open(&t, "o/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_OK, NULL);
    tf_done(&t);
    /* another owner */
    REQUIRE(chown(path, 65534, 65534) == 0);
    tf_open(&t, "o/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "another user");
    tf_done(&t);
    tf_open(&t, "o/table", cc_table_bytes(E2));            /* not replaced */
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "another user");
    tf_done(&t);
    REQUIRE(chown(path, 0, 0) == 0);

    /* its directory owned by another user */
    abs_path(dir, sizeof(dir), "o");
    REQUIRE(chown(dir, 65534, 65534) == 0);
    tf_open(&t, "o/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, dir);
    tf_done(&t);
    /* a directory above it */
    REQUIRE(chown(dir, 0, 65534) == 0);           /* group: not an owner */
    tf_open(&t, "o/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_OK, NULL);
    tf_done(&t);
    REQUIRE(chown(dir, 0, 0) == 0);
    REQUIRE(mkdir_mode("o/sub", 0700) == 0 && mkdir_mode("o/sub/in", 0700) == 0);
    abs_path(dir, sizeof(dir), "o/sub");
    REQUIRE(chown(dir, 65534, 0) == 0);
    tf_open(&t, "o/sub/in/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "another user");
    CHECK(strstr(t.why ? t.why : "", "/o/sub") != NULL);
    tf_done(&t);
    CHECK(access(t.path, F_OK) != 0);
}

static void test_tf_hard_links(void)
{
    apr_size_t bytes = cc_table_bytes(E1);
    char path[512], other[512];
    tf_t t;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("h", 0700) == 0);
    REQUIRE(make_table_file("h/table", bytes) == 0);
    abs_path(path, sizeof(path), "h/table");
    abs_path(other, sizeof(other), "h/other-name");
    REQUIRE(link(path, other) == 0);
    tf_open(&t, "h/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "hard links");
    tf_done(&t);
    tf_open(&t, "h/other-name", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "hard links");
    tf_done(&t);
    tf_open(&t, "h/table", cc_table_bytes(E2));           /* not replaced */
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "hard links");
    tf_done(&t);
    REQUIRE(unlink(other) == 0);
    tf_open(&t, "h/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_OK, NULL);
    if (t.e == CC_TABLE_FILE_OK) {
        CHECK_INT(t.f.fresh, 0);
    }
    tf_done(&t);
}

static void test_tf_not_regular(void)
{
    apr_size_t bytes = cc_table_bytes(E1);
    char path[512];
    tf_t t;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("n", 0700) == 0);
    REQUIRE(mkdir_mode("n/table", 0700) == 0);
    tf_open(&t, "n/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "not a regular file");
    tf_done(&t);
    abs_path(path, sizeof(path), "n/fifo");
    REQUIRE(mkfifo(path, 0600) == 0);
    tf_open(&t, "n/fifo", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "not a regular file");
    tf_done(&t);
    /* a trailing slash names the directory */
    REQUIRE(mkdir_mode("n/d", 0700) == 0);
    abs_path(path, sizeof(path), "n/d/");
    tf_open(&t, path, bytes);
    CHECK_MSG(t.e == CC_TABLE_FILE_UNSAFE, "%s: %s, want UNSAFE", path,
              e_name(t.e));
    tf_done(&t);
}

static void test_tf_dir_chain(void)
{
    static const struct {
        const char *top;        /* made with `mode` */
        mode_t mode;
        const char *rel;        /* the file; its directory below `top`
                                   (if any) is made 0700 */
        int ok;
    } cases[] = {
        { "w777",  0777,  "w777/own/table",  0 },   /* others write: no */
        { "g770",  0770,  "g770/own/table",  0 },   /* the group writes */
        { "o702",  0702,  "o702/own/table",  0 },
        { "g730",  0730,  "g730/own/table",  0 },
        { "st",    01777, "st/own/table",    1 },   /* sticky, as /tmp */
        { "st770", 01770, "st770/own/table", 1 },
        { "lw",    0777,  "lw/table",        0 },   /* its own directory */
        { "lg",    0775,  "lg/table",        0 },
        { "l755",  0755,  "l755/table",      1 },   /* only we write */
        { "l750",  0750,  "l750/table",      1 },
        { "l711",  0711,  "l711/table",      1 },
        { "l500",  0500,  "l500/own/table",  1 },
    };
    apr_size_t bytes = cc_table_bytes(E1);
    size_t i;

    NEED_CHAIN();
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char own[256];
        const char *slash;
        tf_t t;

        REQUIRE(mkdir_mode(cases[i].top, 0700) == 0);
        slash = strrchr(cases[i].rel, '/');
        snprintf(own, sizeof(own), "%.*s", (int)(slash - cases[i].rel),
                 cases[i].rel);
        if (strcmp(own, cases[i].top) != 0) {
            REQUIRE(mkdir_mode(own, 0700) == 0);
        }
        REQUIRE(mkdir_mode(cases[i].top, cases[i].mode) == 0);
        memset(&t, 0, sizeof(t));
        tf_open(&t, cases[i].rel, bytes);
        if (cases[i].ok) {
            CHECK_MSG(t.e == CC_TABLE_FILE_OK, "%s, %s mode 0%o: %s (%s), "
                      "want OK", cases[i].rel, cases[i].top,
                      (unsigned)cases[i].mode, e_name(t.e), esc(t.why));
        }
        else {
            CHECK_MSG(t.e == CC_TABLE_FILE_UNSAFE, "%s, %s mode 0%o: %s, "
                      "want UNSAFE", cases[i].rel, cases[i].top,
                      (unsigned)cases[i].mode, e_name(t.e));
            CHECK_MSG(t.why && strstr(t.why, cases[i].top), "why \"%s\" "
                      "does not name %s", esc(t.why), cases[i].top);
            CHECK_MSG(access(t.path, F_OK) != 0, "%s made although refused",
                      t.path);
        }
        tf_done(&t);
        /* cc_table_file_replace() checks the same */
        memset(&t, 0, sizeof(t));
        tf_replace(&t, cases[i].rel, bytes);
        CHECK_MSG(t.e == (cases[i].ok ? CC_TABLE_FILE_OK
                                      : CC_TABLE_FILE_UNSAFE),
                  "replace %s: %s", cases[i].rel, e_name(t.e));
        tf_done(&t);
        REQUIRE(mkdir_mode(cases[i].top, 0700) == 0);   /* for cleanup */
    }
}

static void test_tf_dir_missing(void)
{
    apr_size_t bytes = cc_table_bytes(E1);
    char dir[512];
    struct stat st;
    mode_t old_umask;
    tf_t t;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("d", 0700) == 0);
    /* only the last directory is missing: made 0700, whatever the umask */
    old_umask = umask(0);
    tf_open(&t, "d/new/table", bytes);
    umask(old_umask);
    if (EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        CHECK_INT(t.f.fresh, 1);
        CHECK_FILE_SHAPE(t.path, bytes);
    }
    tf_done(&t);
    abs_path(dir, sizeof(dir), "d/new");
    CHECK(lstat(dir, &st) == 0 && S_ISDIR(st.st_mode)
          && (st.st_mode & 07777) == 0700 && st.st_uid == geteuid());
    /* two missing: not made */
    tf_open(&t, "d/a/b/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, NULL);
    CHECK_INT(t.status, ENOENT);
    tf_done(&t);
    abs_path(dir, sizeof(dir), "d/a");
    CHECK(access(dir, F_OK) != 0);
    /* under a directory others can write: refused */
    REQUIRE(mkdir_mode("d/w", 0777) == 0);
    tf_open(&t, "d/w/new/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, NULL);
    tf_done(&t);
    abs_path(dir, sizeof(dir), "d/w/new");
    if (access(dir, F_OK) == 0) {
        notef("the refused path's missing directory %s was made before the "
              "directories above it were checked", dir);
    }
    REQUIRE(mkdir_mode("d/w", 0700) == 0);
}

static void test_tf_relative(void)
{
    static const char *const paths[] = {
        "rel:table", "rel:sub/table", "./table", "../table", "rel:",
        "rel:.", "rel:a//b"
    };
    apr_size_t bytes = cc_table_bytes(E1);
    char names[256];
    size_t i;
    int cwd;

    NEED_CHAIN();
    REQUIRE(mkdir_mode("rel", 0700) == 0 && mkdir_mode("rel/sub", 0700) == 0);
    cwd = open(".", O_RDONLY | O_DIRECTORY);
    REQUIRE(cwd >= 0);
    {
        char p[512];
        abs_path(p, sizeof(p), "rel");
        REQUIRE(chdir(p) == 0);
    }
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        tf_t t;

        memset(&t, 0, sizeof(t));
        tf_open(&t, paths[i], bytes);
        EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "not absolute");
        tf_done(&t);
        memset(&t, 0, sizeof(t));
        tf_replace(&t, paths[i], bytes);
        EXPECT_E(&t, CC_TABLE_FILE_UNSAFE, "not absolute");
        tf_done(&t);
    }
    CHECK(fchdir(cwd) == 0);
    close(cwd);
    CHECK_INT(dir_entries("rel", names, sizeof(names)), 1);   /* sub */
    CHECK_INT(dir_entries("rel/sub", names, sizeof(names)), 0);
}

/* ------------------------------------------------------------------ */
/* Read-only and full filesystems                                      */

/* In a child: a private mount namespace, so that what it mounts goes
 * away with it.  0, or -1 with a note (then the child tests nothing). */
static int private_mounts(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        notef("skipped: unshare(CLONE_NEWNS): %s", strerror(errno));
        return -1;
    }
    /* "none": the kernel ignores them here, valgrind wants strings */
    if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0) {
        notef("skipped: making the mounts private: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int mount_tmpfs(const char *rel, unsigned long flags, const char *opts)
{
    char p[512];

    abs_path(p, sizeof(p), rel);
    if (mount("tmpfs", p, "tmpfs", flags, opts) != 0) {
        notef("skipped: mount -t tmpfs -o %s %s: %s", opts, p,
              strerror(errno));
        return -1;
    }
    return 0;
}

static void child_read_only(void *arg)
{
    apr_size_t bytes = cc_table_bytes(E1);
    tf_t t;
    char p[512];

    (void)arg;
    memset(&t, 0, sizeof(t));
    if (private_mounts() != 0) {
        return;
    }
    /* mounted read-only from the start */
    if (mount_tmpfs("ro", MS_RDONLY, "size=1m,mode=0700") != 0) {
        return;
    }
    tf_open(&t, "ro/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, NULL);
    CHECK_INT(t.status, EROFS);
    tf_done(&t);
    tf_open(&t, "ro/missing-dir/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, NULL);
    CHECK_INT(t.status, EROFS);
    tf_done(&t);
    tf_replace(&t, "ro/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, NULL);
    CHECK_INT(t.status, EROFS);
    tf_done(&t);

    /* a table file on a filesystem remounted read-only */
    if (mount_tmpfs("ro2", 0, "size=1m,mode=0700") != 0) {
        return;
    }
    REQUIRE(make_table_file("ro2/table", bytes) == 0);
    abs_path(p, sizeof(p), "ro2");
    if (mount("tmpfs", p, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m,mode=0700")
        != 0) {
        notef("skipped: remounting %s read-only: %s", p, strerror(errno));
        return;
    }
    tf_open(&t, "ro2/table", bytes);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, NULL);
    CHECK_INT(t.status, EROFS);
    tf_done(&t);
    tf_open(&t, "ro2/table", cc_table_bytes(E2));        /* would replace */
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, NULL);
    CHECK_INT(t.status, EROFS);
    tf_done(&t);
    abs_path(p, sizeof(p), "ro2/table");
    CHECK_FILE_SHAPE(p, bytes);
}

static void test_tf_read_only_fs(void)
{
    pid_t pid;

    NEED_CHAIN();
    NEED_ROOT("mounting a tmpfs");
    REQUIRE(mkdir_mode("ro", 0700) == 0 && mkdir_mode("ro2", 0700) == 0);
    pid = fork_child(child_read_only, NULL);
    WAIT_CHILD_OK(pid, "child with read-only mounts");
}

static void child_full(void *arg)
{
    apr_size_t small = cc_table_bytes(E1);
    apr_size_t big = cc_table_bytes(8192);        /* 768 KiB > 256 KiB */
    struct statvfs before, after;
    char p[512], names[512];
    unsigned char *want = malloc(small);
    ino_t ino;
    tf_t t;

    (void)arg;
    memset(&t, 0, sizeof(t));
    REQUIRE(want);
    if (private_mounts() != 0
        || mount_tmpfs("full", 0, "size=256k,mode=0700") != 0) {
        free(want);
        return;
    }
    abs_path(p, sizeof(p), "full");
    REQUIRE(statvfs(p, &before) == 0);
    REQUIRE(big > 256 * 1024 && small < 64 * 1024);

    /* a new file too big: refused at start, nothing left behind */
    tf_open(&t, "full/table", big);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, "allocate");
    CHECK_INT(t.status, ENOSPC);
    CHECK_INT(t.f.fd, -1);
    tf_done(&t);
    CHECK_INT(dir_entries("full", names, sizeof(names)), 0);
    REQUIRE(statvfs(p, &after) == 0);
    CHECK_U64(after.f_bfree, before.f_bfree);

    /* one that fits */
    tf_open(&t, "full/table", small);
    if (EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        fill_pattern(want, small, 9);
        memcpy(t.f.map, want, small);
    }
    tf_done(&t);
    abs_path(p, sizeof(p), "full/table");
    ino = ino_of(p);

    /* ... then asked for a bigger table: the new file cannot be made, the
     * old one stays as it was */
    tf_open(&t, "full/table", big);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, "allocate");
    CHECK_INT(t.status, ENOSPC);
    tf_done(&t);
    tf_replace(&t, "full/table", big);
    EXPECT_E(&t, CC_TABLE_FILE_UNUSABLE, "allocate");
    tf_done(&t);
    CHECK_INT(dir_entries("full", names, sizeof(names)), 1);
    CHECK_INT(ino_of(p), ino);
    CHECK_FILE_SHAPE(p, small);
    tf_open(&t, "full/table", small);
    if (EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        CHECK_INT(t.f.fresh, 0);
        CHECK(memcmp(t.f.map, want, small) == 0);
    }
    tf_done(&t);
    free(want);
}

static void test_tf_full_fs(void)
{
    pid_t pid;

    NEED_CHAIN();
    NEED_ROOT("mounting a tmpfs");
    REQUIRE(mkdir_mode("full", 0700) == 0);
    pid = fork_child(child_full, NULL);
    WAIT_CHILD_OK(pid, "child with a full tmpfs");
}

/* ------------------------------------------------------------------ */
/* Replacing a file another process maps                               */

struct mapper {
    const char *path;
    apr_size_t  bytes;
    int         ready_w;       /* it says "mapped" */
    int         go_r;          /* it is told "replaced" */
};

static void child_map_and_write(void *arg)
{
    struct mapper *m = arg;
    struct stat st;
    tf_t t;
    char c;

    memset(&t, 0, sizeof(t));
    tf_open(&t, m->path, m->bytes);
    if (!EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        return;
    }
    CHECK_INT(t.f.fresh, 0);
    memset(t.f.map, 'A', m->bytes);
    CHECK(write(m->ready_w, "m", 1) == 1);
    CHECK(read(m->go_r, &c, 1) == 1);
    /* the file has no name now; its pages are still ours: every page
     * written and read again (a SIGBUS would kill us here) */
    CHECK(fstat(t.f.fd, &st) == 0 && st.st_nlink == 0);
    memset(t.f.map, 'B', m->bytes);
    CHECK(msync(t.f.map, m->bytes, MS_SYNC) == 0);
    CHECK(all_bytes(t.f.map, m->bytes, 'B'));
    tf_done(&t);
}

static void test_tf_replace_mapped(void)
{
    apr_size_t b1 = cc_table_bytes(E1), b2 = cc_table_bytes(E2);
    struct mapper m;
    char path[512], names[512];
    unsigned char buf[4096];
    int ready[2], go[2];
    ino_t ino;
    pid_t pid;
    tf_t t;
    char c;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("rp", 0700) == 0);
    REQUIRE(make_table_file("rp/table", b1) == 0);
    abs_path(path, sizeof(path), "rp/table");
    ino = ino_of(path);
    REQUIRE(pipe(ready) == 0 && pipe(go) == 0);
    m.path = path;
    m.bytes = b1;
    m.ready_w = ready[1];
    m.go_r = go[0];
    pid = fork_child(child_map_and_write, &m);
    close(ready[1]);
    close(go[0]);
    REQUIRE(pid > 0);
    if (read(ready[0], &c, 1) != 1) {
        CHECK_MSG(0, "the mapping child did not get the file");
        reap(pid, NULL);
        close(ready[0]);
        close(go[1]);
        return;
    }
    CHECK_INT(locked(path), 1);
    /* a graceful restart with another size: a new file over it */
    tf_replace(&t, "rp/table", b2);
    if (EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        CHECK_INT(t.f.fresh, 1);
        CHECK(ino_of(path) != ino);
        CHECK_FILE_SHAPE(path, b2);
        CHECK(all_bytes(t.f.map, b2, 0));
        CHECK_INT(locked(path), 1);
        CHECK_IN_USE_ELSEWHERE(path, b2);
        CHECK_STR(t.f.path, path);
    }
    CHECK(write(go[1], "g", 1) == 1);
    WAIT_CHILD_OK(pid, "the process that mapped the old file");
    /* its writes went to the old file, not to ours */
    if (t.e == CC_TABLE_FILE_OK) {
        int fd = open(path, O_RDONLY);
        CHECK(fd >= 0 && pread(fd, buf, sizeof(buf), 0) == sizeof(buf)
              && all_bytes(buf, sizeof(buf), 0));
        CHECK(all_bytes(t.f.map, b2, 0));
        if (fd >= 0) {
            close(fd);
        }
        CHECK_INT(locked(path), 1);               /* we still hold it */
    }
    tf_done(&t);
    CHECK_INT(locked(path), 0);
    CHECK_INT(dir_entries("rp", names, sizeof(names)), 1);
    close(ready[0]);
    close(go[1]);
}

/* A leftover "PATH.new.PID" of ours (a start that died) is no obstacle,
 * even a symlink, whose target is left alone. */
static void test_tf_replace_leftover(void)
{
    apr_size_t bytes = cc_table_bytes(E1);
    char leftover[600], target[512], names[512];
    unsigned char junk[100];
    struct stat st;
    tf_t t;
    int fd;

    NEED_CHAIN();
    memset(&t, 0, sizeof(t));
    REQUIRE(mkdir_mode("lo", 0700) == 0);
    abs_path(leftover, sizeof(leftover), "lo/table");
    snprintf(leftover + strlen(leftover), sizeof(leftover) - strlen(leftover),
             ".new.%ld", (long)getpid());
    /* a plain file of junk */
    fd = open(leftover, O_WRONLY | O_CREAT | O_EXCL, 0644);
    REQUIRE(fd >= 0);
    memset(junk, 0xee, sizeof(junk));
    REQUIRE(write_all(fd, junk, sizeof(junk)) == 0);
    close(fd);
    tf_open(&t, "lo/table", bytes);
    if (EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        CHECK_INT(t.f.fresh, 1);
        CHECK_FILE_SHAPE(t.path, bytes);
        CHECK(all_bytes(t.f.map, bytes, 0));
    }
    tf_done(&t);
    CHECK(access(leftover, F_OK) != 0);
    /* a symlink to somewhere else */
    REQUIRE(make_file("lo-target", junk, sizeof(junk)) == 0);
    tmp_path(target, sizeof(target), "lo-target");
    REQUIRE(symlink(target, leftover) == 0);
    tf_replace(&t, "lo/table", bytes);
    if (EXPECT_E(&t, CC_TABLE_FILE_OK, NULL)) {
        CHECK_FILE_SHAPE(t.path, bytes);
    }
    tf_done(&t);
    CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode)
          && st.st_size == (off_t)sizeof(junk) && (st.st_mode & 0777) == 0644);
    CHECK_INT(dir_entries("lo", names, sizeof(names)), 1);
    CHECK_STR(names, "table ");
}

/* ------------------------------------------------------------------ */
/* Changed while it was being opened                                   */

/* This program is linked with -Wl,--wrap=open (unit/unit.mk): every
 * open() goes through __wrap_open(), which, when armed, first calls a
 * hook for the one path, once.  So a file can be changed between
 * cc_table_file_open()'s lstat() and its open(), where a race would. */
int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);

static void (*open_hook)(const char *path);
static char open_hook_path[512];

int __wrap_open(const char *path, int flags, ...)
{
    mode_t mode = 0;

    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    if (open_hook && strcmp(path, open_hook_path) == 0
        && !(flags & O_CREAT)) {
        void (*hook)(const char *) = open_hook;
        open_hook = NULL;
        hook(path);
    }
    return __real_open(path, flags, mode);
}

static void hook_chmod_0644(const char *path)
{
    CHECK(chmod(path, 0644) == 0);
}

static void hook_chown_other(const char *path)
{
    CHECK(chown(path, 65534, 65534) == 0);
}

static void hook_link(const char *path)
{
    char other[600];
    snprintf(other, sizeof(other), "%s.second-name", path);
    CHECK(link(path, other) == 0);
}

static void hook_swap_file(const char *path)
{
    char other[600];
    snprintf(other, sizeof(other), "%s.other", path);
    CHECK(rename(other, path) == 0);           /* a good file, another inode */
}

/* The same inode, now behind a symlink: only O_NOFOLLOW tells. */
static void hook_swap_symlink(const char *path)
{
    char moved[600];
    snprintf(moved, sizeof(moved), "%s.moved", path);
    CHECK(rename(path, moved) == 0 && symlink(moved, path) == 0);
}

static void test_tf_changed_while_opening(void)
{
    static const struct {
        const char *what;
        void (*hook)(const char *);
        int needs_root;
        cc_table_file_e want;
        const char *why_has;
    } cases[] = {
        { "chmod 0644",        hook_chmod_0644,   0, CC_TABLE_FILE_UNSAFE,
          "mode 0600" },
        { "chown 65534",       hook_chown_other,  1, CC_TABLE_FILE_UNSAFE,
          "another user" },
        { "a second name",     hook_link,         0, CC_TABLE_FILE_UNSAFE,
          "hard links" },
        { "another file",      hook_swap_file,    0, CC_TABLE_FILE_UNSAFE,
          "changed" },
        { "a symlink",         hook_swap_symlink, 0, (cc_table_file_e)-1,
          NULL },
    };
    apr_size_t bytes = cc_table_bytes(E1);
    size_t i;

    NEED_CHAIN();
    REQUIRE(mkdir_mode("cw", 0700) == 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rel[64], other[64];
        tf_t t;

        if (cases[i].needs_root && !is_root) {
            notef("%s: skipped, needs root", cases[i].what);
            continue;
        }
        snprintf(rel, sizeof(rel), "cw/table-%zu", i);
        snprintf(other, sizeof(other), "cw/table-%zu.other", i);
        REQUIRE(make_table_file(rel, bytes) == 0);
        REQUIRE(make_table_file(other, bytes) == 0);
        memset(&t, 0, sizeof(t));
        abs_path(open_hook_path, sizeof(open_hook_path), rel);
        open_hook = cases[i].hook;
        tf_open(&t, rel, bytes);
        CHECK_MSG(open_hook == NULL, "%s: the hook was not called (the "
                  "file was not opened by name)", cases[i].what);
        open_hook = NULL;
        if ((int)cases[i].want >= 0) {
            CHECK_MSG(t.e == cases[i].want, "%s between the lstat and the "
                      "open: %s (%s), want %s", cases[i].what, e_name(t.e),
                      esc(t.why), e_name(cases[i].want));
            if (t.e == cases[i].want) {
                EXPECT_E(&t, cases[i].want, cases[i].why_has);
                CHECK_INT(t.f.fd, -1);
            }
        }
        else {
            /* O_NOFOLLOW: the open fails (UNUSABLE, ELOOP) */
            CHECK_MSG(t.e != CC_TABLE_FILE_OK, "%s between the lstat and "
                      "the open: OK", cases[i].what);
        }
        tf_done(&t);
        CHECK_INT(locked(t.path), 0);
    }
}

/* ------------------------------------------------------------------ */
/* A table in the file                                                 */

static cc_file_key_t tkey(uint64_t i)
{
    cc_file_key_t k;

    memset(&k, 0, sizeof(k));
    k.dev = 0x803;
    k.ino = 1000 + i;
    k.size = (apr_int64_t)(i * 100);
    k.mtime = apr_time_from_sec(1700000000) + (apr_time_t)i;
    k.ctime = k.mtime + 1;
    return k;
}

static void tdigest(uint64_t i, cc_digest_t *d)
{
    char text[32];

    snprintf(text, sizeof(text), "file %llu", (unsigned long long)i);
    cc_digest_buffer(text, strlen(text), all_algos[i % N_ALGOS], d);
}

static int table_has(cc_table_t *t, uint64_t i)
{
    cc_file_key_t k = tkey(i);
    cc_digest_t want, got;

    tdigest(i, &want);
    memset(&got, 0, sizeof(got));
    return cc_table_lookup(t, &k, want.algo, apr_time_from_sec(10), &got)
        && digest_eq(&got, &want);
}

struct killed_writer {
    const char *path;
    apr_uint32_t entries;
};

static void child_store_and_die(void *arg)
{
    struct killed_writer *kw = arg;
    apr_size_t bytes = cc_table_bytes(kw->entries);
    cc_table_attach_t rep;
    cc_table_t *t;
    tf_t f;
    uint64_t i;

    memset(&f, 0, sizeof(f));
    tf_open(&f, kw->path, bytes);
    if (!EXPECT_E(&f, CC_TABLE_FILE_OK, NULL)) {
        return;
    }
    t = cc_table_attach(f.f.map, bytes, kw->entries, &rep);
    CHECK(t != NULL);
    for (i = 20; t && i < 30; i++) {
        cc_file_key_t k = tkey(i);
        cc_digest_t d;

        tdigest(i, &d);
        CHECK(cc_table_store(t, &k, &d, apr_time_from_sec(5)) == 1);
    }
    /* killed: no msync, no unmap, no close */
    kill(getpid(), SIGKILL);
}

static void test_tf_with_table(void)
{
    const apr_uint32_t entries = 256;
    apr_size_t bytes = cc_table_bytes(entries);
    struct killed_writer kw;
    cc_table_attach_t rep;
    cc_table_stats_t st;
    cc_table_t *t;
    pid_t pid;
    int status = 0;
    uint64_t i;
    tf_t f;

    NEED_CHAIN();
    memset(&f, 0, sizeof(f));
    REQUIRE(mkdir_mode("tt", 0700) == 0);
    REQUIRE(tf_open(&f, "tt/table", bytes) == CC_TABLE_FILE_OK);
    CHECK_INT(f.f.fresh, 1);
    /* a fresh file holds zeros: not a table yet */
    CHECK(cc_table_attach(f.f.map, bytes, entries, &rep) == NULL);
    t = cc_table_create(f.f.map, bytes, entries);
    REQUIRE(t);
    for (i = 0; i < 20; i++) {
        cc_file_key_t k = tkey(i);
        cc_digest_t d;

        tdigest(i, &d);
        CHECK(cc_table_store(t, &k, &d, apr_time_from_sec(5)) == 1);
    }
    tf_done(&f);

    /* the next start */
    REQUIRE(tf_open(&f, "tt/table", bytes) == CC_TABLE_FILE_OK);
    CHECK_INT(f.f.fresh, 0);
    t = cc_table_attach(f.f.map, bytes, entries, &rep);
    REQUIRE(t);
    CHECK_U64(rep.kept, 20);
    CHECK_U64(rep.dropped, 0);
    for (i = 0; i < 20; i++) {
        CHECK_MSG(table_has(t, i), "digest %llu lost across a restart",
                  (unsigned long long)i);
    }
    /* another entry count: not this table */
    CHECK(cc_table_attach(f.f.map, cc_table_bytes(entries / 2), entries / 2,
                          &rep) == NULL);
    tf_done(&f);

    /* a server killed while it held the file: its lock goes with it, its
     * stores are in the file */
    kw.path = f.path;
    kw.entries = entries;
    pid = fork_child(child_store_and_die, &kw);
    REQUIRE(pid > 0);
    reap(pid, &status);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the writer child: status 0x%x", status);
    REQUIRE(tf_open(&f, "tt/table", bytes) == CC_TABLE_FILE_OK);
    CHECK_INT(f.f.fresh, 0);
    t = cc_table_attach(f.f.map, bytes, entries, &rep);
    REQUIRE(t);
    CHECK_U64(rep.kept, 30);
    CHECK_U64(rep.dropped, 0);
    for (i = 0; i < 30; i++) {
        CHECK_MSG(table_has(t, i), "digest %llu lost after a kill",
                  (unsigned long long)i);
    }
    cc_table_stats(t, &st);
    CHECK_INT(st.in_use, 30);
    CHECK_U64(st.hits, 30);
    tf_done(&f);
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

static const struct unit_test tests[] = {
    T(tf_create),
    T(tf_reopen),
    T(tf_size_mismatch),
    T(tf_size_mismatch_in_use),
    T(tf_symlink),
    T(tf_mode),
    T(tf_owner),
    T(tf_hard_links),
    T(tf_not_regular),
    T(tf_dir_chain),
    T(tf_dir_missing),
    T(tf_relative),
    T(tf_read_only_fs),
    T(tf_full_fs),
    T(tf_replace_mapped),
    T(tf_replace_leftover),
    T(tf_changed_while_opening),
    T(tf_with_table),
};

int main(int argc, char **argv)
{
    static const struct unit_suite suite = {
        "test_table_file", "cc_table_file.c", tests, UNIT_COUNT(tests),
        fixture_create
    };
    return unit_main(argc, argv, &suite);
}

/* unit/unit_test.c: the functions of the unit test framework (see
 * unit_test.h): checks, child processes, files in the run's directory,
 * and the driver every test program's main() calls.  Uses APR (for
 * apr_initialize) and no core unit, so every test program links it.
 */
#define _GNU_SOURCE 1

#include "unit_test.h"

#include <apr_general.h>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int  t_failures;
int  opt_quick;
int  opt_xfail_bugs;
char tmpdir[256];

/* ------------------------------------------------------------------ */
/* Checks                                                              */

void failf(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "    FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t_failures++;
}

void notef(const char *fmt, ...)
{
    va_list ap;

    fputs("    note: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

const char *esc(const char *s)
{
    static char bufs[4][600];
    static int next;
    char *b = bufs[next++ & 3];
    size_t j = 0;

    if (!s) {
        return "(null)";
    }
    for (; *s && j < 500; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            b[j++] = (char)c;
        }
        else {
            j += (size_t)snprintf(b + j, sizeof(bufs[0]) - j, "\\x%02x", c);
        }
    }
    if (*s) {
        memcpy(b + j, "...", 4);
    }
    else {
        b[j] = '\0';
    }
    return b;
}

/* ------------------------------------------------------------------ */
/* Processes and shared memory                                         */

pid_t fork_child(void (*fn)(void *), void *arg)
{
    pid_t pid, parent = getpid();

    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(9);
        }
        t_failures = 0;
        fn(arg);
        _exit(t_failures ? 1 : 0);
    }
    return pid;
}

void wait_child_ok(const char *file, int line, pid_t pid, const char *what)
{
    int st = 0;

    if (pid < 0) {
        failf(file, line, "fork for %s: %s", what, strerror(errno));
        return;
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            failf(file, line, "waitpid %s: %s", what, strerror(errno));
            return;
        }
    }
    if (WIFSIGNALED(st)) {
        failf(file, line, "%s (pid %d) killed by signal %d", what, (int)pid,
              WTERMSIG(st));
    }
    else if (WEXITSTATUS(st) != 0) {
        failf(file, line, "%s (pid %d) exited with %d", what, (int)pid,
              WEXITSTATUS(st));
    }
}

void *shared_alloc(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

void tmp_path(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", tmpdir, name);
}

void fill_pattern(unsigned char *buf, size_t len, uint64_t seed)
{
    size_t i;
    uint64_t s = seed | 1;

    for (i = 0; i + 8 <= len; i += 8) {
        uint64_t v = rnd_next(&s);
        memcpy(buf + i, &v, 8);
    }
    for (; i < len; i++) {
        buf[i] = (unsigned char)rnd_next(&s);
    }
}

int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int make_file(const char *name, const void *data, size_t len)
{
    char path[512];
    int fd, rc;

    tmp_path(path, sizeof(path), name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    rc = write_all(fd, data, len);
    if (close(fd) != 0) {
        rc = -1;
    }
    return rc;
}

int make_big_file(const char *name, size_t mib, uint64_t seed)
{
    char path[512];
    unsigned char *chunk = malloc(1 << 20);
    size_t i;
    int fd, rc = 0;

    if (!chunk) {
        return -1;
    }
    fill_pattern(chunk, 1 << 20, seed);
    tmp_path(path, sizeof(path), name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        free(chunk);
        return -1;
    }
    for (i = 0; i < mib && rc == 0; i++) {
        memcpy(chunk, &i, sizeof(i));     /* every MiB differs */
        rc = write_all(fd, chunk, 1 << 20);
    }
    if (close(fd) != 0) {
        rc = -1;
    }
    free(chunk);
    return rc;
}

int open_tmp(const char *name, int flags)
{
    char path[512];
    tmp_path(path, sizeof(path), name);
    return open(path, flags);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */

static const char *current_program = "unit test";
static const char *current_test = "(none)";

static void on_alarm(int sig)
{
    static const char msg[] = ": TIMEOUT in test ";
    (void)sig;
    if (write(2, "\n", 1) < 0
        || write(2, current_program, strlen(current_program)) < 0
        || write(2, msg, sizeof(msg) - 1) < 0
        || write(2, current_test, strlen(current_test)) < 0
        || write(2, "\n", 1) < 0) {
        /* nothing more to do */
    }
    _exit(3);
}

static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

int unit_main(int argc, char **argv, const struct unit_suite *suite)
{
    const char *filters[32];
    const char *prog = suite->program;
    int nfilters = 0, i, list = 0;
    int passed = 0, failed = 0, xfailed = 0, xpassed = 0;
    const char *tmp = getenv("TMPDIR");
    double start = mono_sec();
    size_t n;

    current_program = prog;
    if (apr_initialize() != APR_SUCCESS) {
        fprintf(stderr, "%s: apr_initialize failed\n", prog);
        return 2;
    }
    atexit(apr_terminate);
    opt_quick = env_flag("UNIT_QUICK");
    opt_xfail_bugs = env_flag("UNIT_XFAIL_BUGS");
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            opt_quick = 1;
        }
        else if (strcmp(argv[i], "--xfail-bugs") == 0) {
            opt_xfail_bugs = 1;
        }
        else if (strcmp(argv[i], "--list") == 0) {
            list = 1;
        }
        else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc && nfilters < 32) {
            filters[nfilters++] = argv[++i];
        }
        else {
            fprintf(stderr, "usage: %s [--quick] [--xfail-bugs] [--list] "
                    "[-k SUBSTRING]...\n", argv[0]);
            return 2;
        }
    }
    if (list) {
        for (n = 0; n < suite->count; n++) {
            printf("%s\n", suite->tests[n].name);
        }
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);

    snprintf(tmpdir, sizeof(tmpdir), "%s/cc-unit-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    if (suite->setup && suite->setup() != 0) {
        perror("creating test files");
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return 2;
    }
    printf("%s: %s mode, files in %s\n", prog, opt_quick ? "quick" : "full",
           tmpdir);

    for (n = 0; n < suite->count; n++) {
        const struct unit_test *tc = &suite->tests[n];
        int selected = nfilters == 0, f, is_bug;
        double t0;

        for (f = 0; f < nfilters; f++) {
            if (strstr(tc->name, filters[f])) {
                selected = 1;
            }
        }
        if (!selected) {
            continue;
        }
        is_bug = strncmp(tc->name, "bug_", 4) == 0;
        printf("[ RUN      ] %s\n", tc->name);
        t_failures = 0;
        t0 = mono_sec();
        current_test = tc->name;
        alarm(opt_quick ? 300 : 120);           /* a hung test ends the run */
        tc->fn();
        alarm(0);
        if (t_failures == 0) {
            if (is_bug) {
                printf("[   XPASS  ] %s: the bug looks fixed; rename the test "
                       "(drop bug_)\n", tc->name);
                xpassed++;
            }
            else {
                printf("[       OK ] %s (%.2f s)\n", tc->name, mono_sec() - t0);
                passed++;
            }
        }
        else if (is_bug) {
            if (opt_xfail_bugs) {
                printf("[   XFAIL  ] %s: known bug in %s\n", tc->name,
                       suite->unit);
                xfailed++;
            }
            else {
                printf("[  FAILED  ] %s: known bug in %s (--xfail-bugs to "
                       "tolerate)\n", tc->name, suite->unit);
                failed++;
            }
        }
        else {
            printf("[  FAILED  ] %s (%d checks)\n", tc->name, t_failures);
            failed++;
        }
    }
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%s: %d passed, %d failed, %d xfail, %d xpass in %.1f s\n", prog,
           passed, failed, xfailed, xpassed, mono_sec() - start);
    return failed ? 1 : 0;
}

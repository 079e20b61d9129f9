/* hashbench: the baselines bench/run measures beside the servers.
 *
 * Built by `make -f Makefile.apxs hashbench` (bench/run asks for it)
 * against the module's cc_digest.c, so "digest" runs exactly the module's
 * cc_digest_fd() (pread in CC_READ_BLOCK blocks + libcrypto / libxxhash),
 * outside httpd:
 *
 *   hashbench read   FILE PASSES      pread() the whole file into one
 *                                     256 KiB buffer: the physical limit
 *                                     of any pread-based hasher
 *   hashbench digest ALGO FILE PASSES cc_digest_fd() of the file
 *   hashbench multi ALGO,ALGO... FILE PASSES
 *                                     cc_digest_fd_multi(): every digest
 *                                     fed from one read of the file (as a
 *                                     tag and integrity fields are)
 *   hashbench mmap   ALGO FILE PASSES mmap() the file (MAP_POPULATE) and
 *                                     cc_digest_buffer() it: no copy into a
 *                                     buffer, what an mmap-based hasher
 *                                     could reach
 *   hashbench fstat  FILE COUNT       one fstat() of an open descriptor
 *   hashbench open   FILE COUNT       open() + close(), and
 *                                     open() + fstat() + close()
 *
 * Each prints one line of JSON.  Throughputs are the median pass; the file
 * is read once before timing so that it is in the page cache.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cc_digest.h"

#define BLOCK CC_READ_BLOCK   /* plain reads in the module's blocks */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long long read_all(int fd, unsigned char *buf)
{
    long long total = 0;
    ssize_t n;

    while ((n = pread(fd, buf, BLOCK, total)) > 0) {
        total += n;
    }
    return n < 0 ? -1 : total;
}

static int open_or_die(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "hashbench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    return fd;
}

static int cmd_read(const char *path, int passes)
{
    unsigned char *buf = malloc(BLOCK);
    double *t = calloc((size_t)passes, sizeof(double));
    int fd = open_or_die(path), i;
    long long size = read_all(fd, buf);   /* into the page cache */

    for (i = 0; i < passes; i++) {
        double t0 = now_s();
        if (read_all(fd, buf) != size) {
            fprintf(stderr, "hashbench: short read\n");
            return 1;
        }
        t[i] = now_s() - t0;
    }
    printf("{\"mode\": \"read\", \"bytes\": %lld, \"passes\": %d, "
           "\"seconds\": %.9f, \"gbps\": %.4f}\n",
           size, passes, median(t, passes), size / median(t, passes) / 1e9);
    return 0;
}

typedef enum { HASH_FD, HASH_MMAP, HASH_MULTI } hash_mode_e;

static const char *const mode_names[] = { "digest", "mmap", "multi" };

/* What a digest run needs: the algorithms (one, but for "multi"), the
 * file (read once, so that it is in the page cache) and room for the
 * passes' times. */
typedef struct {
    cc_algo_e algos[CC_DIGEST_MULTI_MAX];
    int       n;
    int       fd;
    long long size;
    double   *t;
} digest_run_t;

/* "sha1,sha256" into run->algos; at most `max` names. */
static int parse_algos(const char *names, int max, digest_run_t *run)
{
    char *copy = strdup(names), *save = NULL, *name;

    run->n = 0;
    for (name = strtok_r(copy, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        cc_algo_e algo = cc_algo_from_name(name);
        if (algo == CC_ALGO_NONE || run->n == max) {
            fprintf(stderr, "hashbench: %s: unknown digest or more than %d\n",
                    name, max);
            run->n = 0;
            break;
        }
        run->algos[run->n++] = algo;
    }
    free(copy);
    return run->n > 0;
}

static int prepare_digest_run(hash_mode_e mode, const char *algo_names,
                              const char *path, int passes, digest_run_t *run)
{
    unsigned char *buf = malloc(BLOCK);

    run->t = calloc((size_t)passes, sizeof(double));
    run->fd = open_or_die(path);
    run->size = read_all(run->fd, buf);
    free(buf);
    return parse_algos(algo_names,
                       mode == HASH_MULTI ? CC_DIGEST_MULTI_MAX : 1, run);
}

/* One pass of "digest" (the module's own reads), "multi" (the same reads
 * feeding every digest) or "mmap" (no copy). */
static int hash_once(const digest_run_t *run, hash_mode_e mode,
                     cc_digest_t *d)
{
    void *m;

    if (mode != HASH_MMAP) {
        apr_status_t rv = mode == HASH_FD
            ? cc_digest_fd(run->fd, run->size, run->algos[0], d, NULL, NULL)
            : cc_digest_fd_multi(run->fd, run->size, run->algos, run->n, d,
                                 NULL, NULL);
        if (rv != APR_SUCCESS) {
            fprintf(stderr, "hashbench: cc_digest_fd failed\n");
            return 0;
        }
        return 1;
    }
    m = mmap(NULL, (size_t)run->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
             run->fd, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "hashbench: mmap: %s\n", strerror(errno));
        return 0;
    }
    cc_digest_buffer(m, (apr_size_t)run->size, run->algos[0], d);
    munmap(m, (size_t)run->size);
    return 1;
}

static int cmd_hash(hash_mode_e mode, const char *algo_names,
                    const char *path, int passes)
{
    digest_run_t run;
    cc_digest_t d[CC_DIGEST_MULTI_MAX];
    char tag[CC_ETAG_MAX];
    int i;

    if (!prepare_digest_run(mode, algo_names, path, passes, &run)) {
        return 2;
    }
    if (mode == HASH_MMAP && run.size <= 0) {
        fprintf(stderr, "hashbench: empty file\n");
        return 2;
    }
    for (i = 0; i < passes; i++) {
        double t0 = now_s();
        if (!hash_once(&run, mode, d)) {
            return 1;
        }
        run.t[i] = now_s() - t0;
    }
    printf("{\"mode\": \"%s\", \"algo\": \"%s\", \"bytes\": %lld, "
           "\"passes\": %d, \"seconds\": %.9f, \"gbps\": %.4f, ",
           mode_names[mode], algo_names, run.size, passes,
           median(run.t, passes), run.size / median(run.t, passes) / 1e9);
    /* the tags without their quotes: "etag" the first, "etags" all */
    for (i = 0; i < run.n; i++) {
        cc_etag_format(&d[i], tag);
        tag[strlen(tag) - 1] = '\0';
        if (i == 0) {
            printf("\"etag\": \"%s\", \"etags\": [", tag + 1);
        }
        printf("%s\"%s\"", i ? ", " : "", tag + 1);
    }
    printf("]}\n");
    return 0;
}

static int cmd_fstat(const char *path, long count)
{
    int fd = open_or_die(path);
    struct stat st;
    double t0;
    long i;

    for (i = 0; i < 1000; i++) {
        fstat(fd, &st);
    }
    t0 = now_s();
    for (i = 0; i < count; i++) {
        fstat(fd, &st);
    }
    printf("{\"mode\": \"fstat\", \"count\": %ld, \"ns_per_call\": %.1f}\n",
           count, (now_s() - t0) / (double)count * 1e9);
    return 0;
}

static int cmd_open(const char *path, long count)
{
    struct stat st;
    double t0, t_open, t_open_fstat;
    long i;

    for (i = 0; i < 1000; i++) {
        close(open_or_die(path));
    }
    t0 = now_s();
    for (i = 0; i < count; i++) {
        close(open_or_die(path));
    }
    t_open = (now_s() - t0) / (double)count;
    t0 = now_s();
    for (i = 0; i < count; i++) {
        int fd = open_or_die(path);
        fstat(fd, &st);
        close(fd);
    }
    t_open_fstat = (now_s() - t0) / (double)count;
    printf("{\"mode\": \"open\", \"count\": %ld, \"ns_open_close\": %.1f, "
           "\"ns_open_fstat_close\": %.1f}\n", count, t_open * 1e9,
           t_open_fstat * 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    hash_mode_e mode;

    if (argc == 4 && strcmp(argv[1], "read") == 0) {
        return cmd_read(argv[2], atoi(argv[3]) > 0 ? atoi(argv[3]) : 1);
    }
    for (mode = HASH_FD; mode <= HASH_MULTI; mode++) {
        if (argc == 5 && strcmp(argv[1], mode_names[mode]) == 0) {
            return cmd_hash(mode, argv[2], argv[3],
                            atoi(argv[4]) > 0 ? atoi(argv[4]) : 1);
        }
    }
    if (argc == 4 && strcmp(argv[1], "fstat") == 0) {
        return cmd_fstat(argv[2], atol(argv[3]) > 0 ? atol(argv[3]) : 1);
    }
    if (argc == 4 && strcmp(argv[1], "open") == 0) {
        return cmd_open(argv[2], atol(argv[3]) > 0 ? atol(argv[3]) : 1);
    }
    fprintf(stderr, "usage: hashbench read FILE PASSES\n"
                    "       hashbench digest ALGO FILE PASSES\n"
                    "       hashbench mmap ALGO FILE PASSES\n"
                    "       hashbench multi ALGO,ALGO... FILE PASSES\n"
                    "       hashbench fstat FILE COUNT\n"
                    "       hashbench open FILE COUNT\n");
    return 2;
}

/* condcache_variant.c: precompressed variants of a static file.  What is
 * chosen and when is at the top of condcache_variant.h.
 */

#include "condcache_variant.h"

#include "http_log.h"
#include "apr_portable.h"
#include "apr_strings.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cc_variant.h"
#include "validators.h"

APLOG_USE_MODULE(condcache);

/* The sidecar of each coding: its file name suffix, its decoder. */
static const struct {
    unsigned    coding;
    const char *ext;
    cc_decode_e decoder;
} sidecars[] = {
    { CC_CODING_BR,   ".br",  CC_DECODE_BR },
    { CC_CODING_GZIP, ".gz",  CC_DECODE_GZIP },
    { CC_CODING_ZSTD, ".zst", CC_DECODE_ZSTD },
};

#define N_SIDECARS (sizeof(sidecars) / sizeof(sidecars[0]))

static int sidecar_index(unsigned coding)
{
    unsigned i;

    for (i = 0; i < N_SIDECARS; i++) {
        if (sidecars[i].coding == coding) {
            return (int)i;
        }
    }
    return -1;
}

static apr_status_t close_fd(void *data)
{
    close((int)(intptr_t)data);
    return APR_SUCCESS;
}

/* Opens `path` for reading without blocking on anything that is not a
 * regular file (a FIFO put in a sidecar's place), and takes its key.
 * The descriptor is closed with the request's pool. */
static apr_status_t open_regular(request_rec *r, const char *path,
                                 apr_file_t **file, cc_file_key_t *key)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    apr_os_file_t os;
    apr_status_t rv;

    if (fd < 0) {
        return errno;
    }
    rv = cc_file_key_from_fd(fd, key);
    if (rv != APR_SUCCESS) {
        close(fd);
        return rv;
    }
    /* O_NONBLOCK stays: it changes nothing for a regular file's reads or
     * sendfile, and clearing it would cost two syscalls a response */
    apr_pool_cleanup_register(r->pool, (void *)(intptr_t)fd, close_fd,
                              apr_pool_cleanup_null);
    os = fd;
    return apr_os_file_put(file, &os, APR_READ | APR_BINARY, r->pool);
}

/* The sidecar's key from a stat, when this process may read it: enough
 * to look the table up. */
static int stat_readable(const char *path, cc_file_key_t *key)
{
    struct stat sb;

    return stat(path, &sb) == 0
        && cc_file_key_from_stat(&sb, key) == APR_SUCCESS
        && faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) == 0;
}

/* Said once per sidecar version (and once more when its original
 * changes): the table remembers the decision. */
static void warn_not_sent(request_rec *r, const condcache_variant_t *v)
{
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  "%s does not decode to the bytes of %s (stale, truncated "
                  "or foreign): not sent, %s is served instead", v->path,
                  r->filename, r->filename);
}

/* Is the sidecar of `coding` F compressed?  1 with *v filled. */
static int try_sidecar(request_rec *r, cc_table_t *t,
                       const condcache_variant_conf_t *conf,
                       const cc_digest_t *digest, apr_int64_t size,
                       int need_file, unsigned coding,
                       condcache_variant_t *v)
{
    int i = sidecar_index(coding), decided = 0;
    apr_os_file_t fd = -1;
    apr_status_t rv, err;
    cc_variant_e is;

    if (i < 0) {
        return 0;
    }
    memset(v, 0, sizeof(*v));
    v->coding = coding;
    v->path = apr_pstrcat(r->pool, r->filename, sidecars[i].ext, NULL);
    if (!need_file && stat_readable(v->path, &v->key)
        && v->key.size <= conf->max_size) {
        is = cc_variant_check(t, -1, &v->key, sidecars[i].decoder, digest,
                              size, conf->max_decode, r->request_time,
                              &decided, &err);
        if (is == CC_VARIANT_SAME) {
            return 1;
        }
        if (is == CC_VARIANT_OTHER) {
            if (decided) {
                warn_not_sent(r, v);
            }
            return 0;
        }
    }
    rv = open_regular(r, v->path, &v->file, &v->key);
    if (rv != APR_SUCCESS) {
        if (rv != APR_ENOENT && rv != APR_EINVAL) {
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r,
                          "%s: cannot be read; not sent", v->path);
        }
        v->file = NULL;
        return 0;
    }
    if (v->key.size > conf->max_size) {
        return 0;
    }
    apr_os_file_get(&fd, v->file);
    is = cc_variant_check(t, fd, &v->key, sidecars[i].decoder, digest, size,
                          conf->max_decode, r->request_time, &decided, &err);
    switch (is) {
    case CC_VARIANT_SAME:
        return 1;
    case CC_VARIANT_OTHER:
        if (decided) {
            warn_not_sent(r, v);
        }
        return 0;
    default:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, err, r,
                      "%s: not checked now (%s); not sent", v->path,
                      v->key.size > conf->max_decode
                      ? "bigger than CondCacheInlineHashMax"
                      : "changed or unreadable while it was read");
        return 0;
    }
}

int condcache_variant_choose(request_rec *r, cc_table_t *t,
                             const condcache_variant_conf_t *conf,
                             const cc_digest_t *digest, apr_int64_t size,
                             int need_file, condcache_variant_t *v)
{
    const char *ae = apr_table_get(r->headers_in, "Accept-Encoding");
    unsigned offered[N_SIDECARS];
    int n = 0, i;

    for (i = 0; i < conf->n && n < (int)N_SIDECARS; i++) {
        unsigned c = conf->offered[i];
        if ((c == CC_CODING_GZIP
             && apr_table_get(r->subprocess_env, "no-gzip"))
            || (c == CC_CODING_BR
                && apr_table_get(r->subprocess_env, "no-brotli"))) {
            continue;
        }
        offered[n++] = c;
    }
    /* the best acceptable coding first; a sidecar that is missing or not
     * F's leaves the next best */
    while (n > 0) {
        unsigned c = cc_coding_choose(ae, offered, n);
        int j;

        if (c == 0) {
            return 0;
        }
        if (try_sidecar(r, t, conf, digest, size, need_file, c, v)) {
            return 1;
        }
        for (j = 0; j < n && offered[j] != c; j++)
            ;
        memmove(offered + j, offered + j + 1,
                (size_t)(n - j - 1) * sizeof(offered[0]));
        n--;
    }
    return 0;
}

int condcache_variant_open(request_rec *r, condcache_variant_t *v)
{
    cc_file_key_t key;

    if (v->file) {
        return 1;
    }
    if (open_regular(r, v->path, &v->file, &key) != APR_SUCCESS) {
        v->file = NULL;
        return 0;
    }
    /* the stat that chose it must be the file opened */
    return cc_file_key_equal(&key, &v->key);
}

/* condcache_variant.h: precompressed variants of a static file
 * (CondCachePrecompressed).
 *
 * httpd glue, like mod_condcache.c.  For a file F the module serves, and
 * a request that accepts a coding the scope names, the sidecar F.br, F.gz
 * or F.zst is sent in F's place when it exists, is a regular file this
 * process may read, and decodes to exactly F's bytes (cc_variant.h: once
 * per pair of versions, remembered in the table).  Among the acceptable
 * codings with such a sidecar, the request's preference wins, the scope's
 * order breaking ties (validators.h, cc_coding_choose()).  A sidecar that
 * does not decode to F is never sent: the response is what it would be
 * without it, and the error log says so once per sidecar version.
 */
#ifndef CONDCACHE_VARIANT_H
#define CONDCACHE_VARIANT_H

#include "httpd.h"
#include "apr_file_io.h"

#include "cc_table.h"

/* A chosen variant. */
typedef struct {
    unsigned      coding;     /* CC_CODING_ bit */
    const char   *path;       /* F.br, F.gz, F.zst */
    apr_file_t   *file;       /* NULL until opened */
    cc_file_key_t key;        /* its fstat (or stat, before it is open) */
} condcache_variant_t;

typedef struct {
    const unsigned *offered;  /* CC_CODING_ bits, the scope's order */
    int             n;
    apr_int64_t     max_size;     /* CondCacheMaxFileSize: bigger
                                     sidecars are not used */
    apr_int64_t     max_decode;   /* CondCacheInlineHashMax: bigger ones
                                     are not decoded in a request */
} condcache_variant_conf_t;

/* Chooses the variant of r->filename for this request, given F's digest
 * and size.  With `need_file` the sidecar is opened (a body is sent, or a
 * sidecar not known yet is decoded); else a sidecar already known is
 * decided by its stat and the table alone.  1 with *v filled; 0: send F.
 * The codings the request refuses, or that no-gzip / no-brotli turn off,
 * are not offered. */
int condcache_variant_choose(request_rec *r, cc_table_t *t,
                             const condcache_variant_conf_t *conf,
                             const cc_digest_t *digest, apr_int64_t size,
                             int need_file, condcache_variant_t *v);

/* Opens the chosen variant's sidecar for its body (when choose() did not),
 * and checks it is still the file chosen: 0 when it is not, or cannot be
 * opened (then send F). */
int condcache_variant_open(request_rec *r, condcache_variant_t *v);

#endif /* CONDCACHE_VARIANT_H */

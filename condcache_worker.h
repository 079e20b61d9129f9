/* condcache_worker.h: the background worker of mod_condcache.
 *
 * httpd glue, like mod_condcache.c: one process for the whole server,
 * forked by httpd's parent after each (re)start, like mod_cgid's daemon.
 * It runs as the server's User, at idle CPU and I/O priority, and hashes
 * so that no visitor waits:
 *   - the files requests hand it (cc_queue.h): large files whose digest is
 *     missing, which the request served without a tag;
 *   - the trees of CondCacheWarmUp, after start: every regular file whose
 *     digest is not in the table yet, without following symbolic links.
 * A graceful restart ends it and starts the next generation's, which
 * finds the queue where it was and the digests already in the table, so
 * nothing is lost and nothing hashed twice (but the one file being hashed
 * at that moment); a stop ends it at once.
 */
#ifndef CONDCACHE_WORKER_H
#define CONDCACHE_WORKER_H

#include "httpd.h"
#include "http_config.h"

#include "cc_queue.h"
#include "cc_table.h"

typedef struct {
    cc_table_t         *table;
    cc_queue_t         *queue;
    int                 wake_fd;      /* read end: a byte means "look" */
    apr_array_header_t *warm_dirs;    /* const char *, absolute */
    cc_algo_e           warm_algos[CC_DIGEST_MULTI_MAX];
    int                 warm_nalgos;
    apr_int64_t         warm_max_size;
} condcache_worker_conf_t;

/* In post_config (not the dry run): forks the worker for this generation.
 * It is killed when `pconf` is cleared (restart, stop) and started again
 * if it dies on its own.  OK, or an HTTP_ status for post_config. */
int condcache_worker_start(apr_pool_t *pconf, server_rec *s,
                           const condcache_worker_conf_t *conf);

#endif /* CONDCACHE_WORKER_H */

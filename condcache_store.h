/* condcache_store.h: where mod_condcache's shared data lives, and how it
 * outlives a restart.
 *
 * httpd glue.  Two segments, made by httpd's parent before it forks its
 * children, which inherit them:
 *   - the table of digests (cc_table.h): in anonymous shared memory, or,
 *     with CondCacheTableFile, in a file mapped shared (cc_table_file.h),
 *     so that it survives a full stop and a reboot;
 *   - the background queue (cc_queue.h), always anonymous.
 * Both are kept in retained data on the process pool: a graceful restart
 * keeps them when their size did not change.  The children of the old
 * generation keep their own mappings whatever the new one does.
 */
#ifndef CONDCACHE_STORE_H
#define CONDCACHE_STORE_H

#include "httpd.h"

#include "cc_queue.h"
#include "cc_table.h"

typedef struct {
    cc_table_t *table;
    cc_queue_t *queue;
    const char *table_file;   /* the file in use, or NULL */
    const char *state;        /* "memory", "new", "reattached", "kept"
                                 (across a graceful restart) */
} condcache_store_t;

/* In post_config (not the dry run).  OK, or an HTTP_ status for
 * post_config: httpd does not start when the table file is unsafe (its
 * contents decide which 304s are sent) or shared memory is missing.  A
 * table file that cannot be used (read-only or full disk) costs only its
 * persistence: the table is then in memory, with a warning. */
int condcache_store_setup(apr_pool_t *pconf, server_rec *s,
                          apr_uint32_t entries, const char *table_file,
                          condcache_store_t *out);

#endif /* CONDCACHE_STORE_H */

/* condcache_store.c: the shared segments and their life across restarts;
 * see condcache_store.h.
 */

#include "condcache_store.h"

#include "http_config.h"
#include "http_log.h"

#include "apr_shm.h"
#include "apr_strings.h"

#include <string.h>
#include <sys/mman.h>

#include "cc_table_file.h"

APLOG_USE_MODULE(condcache);

#define STORE_RETAINED_KEY  "mod_condcache-store"

/* Kept across generations in the parent's process pool. */
typedef struct {
    apr_shm_t       *table_shm;     /* the table in memory, or NULL */
    apr_uint32_t     entries;
    cc_table_file_t  file;          /* the table in a file, if has_file */
    int              has_file;
    apr_shm_t       *queue_shm;
} retained_t;

/* An anonymous shared segment, or a named one where APR has none. */
static apr_status_t make_shm(apr_shm_t **shm, apr_size_t bytes,
                             const char *name, server_rec *s)
{
    apr_status_t rv = apr_shm_create(shm, bytes, NULL, s->process->pool);

    if (rv == APR_ENOTIMPL) {
        const char *fname = ap_runtime_dir_relative(s->process->pool, name);
        apr_shm_remove(fname, s->process->pool);
        rv = apr_shm_create(shm, bytes, fname, s->process->pool);
    }
    return rv;
}

static void drop_file(retained_t *kept)
{
    if (kept->has_file) {
        cc_table_file_close(&kept->file, 0);    /* msync: written out */
        kept->has_file = 0;
    }
}

/* At the end of each generation (a restart, a stop), the table file's
 * pages are handed to the disk.  A pconf cleanup, which runs before the
 * module is unloaded: nothing of a DSO may run from the process pool's. */
static apr_status_t flush_file(void *data)
{
    retained_t *kept = data;

    if (kept->has_file) {
        (void)msync(kept->file.map, kept->file.bytes, MS_ASYNC);
    }
    return APR_SUCCESS;
}

static int setup_queue(retained_t *kept, server_rec *s, condcache_store_t *out)
{
    apr_size_t bytes = cc_queue_bytes();
    apr_status_t rv;

    if (kept->queue_shm) {
        out->queue = cc_queue_reuse(
                cc_table_place(apr_shm_baseaddr_get(kept->queue_shm)), bytes);
        if (out->queue) {
            return OK;
        }
        apr_shm_destroy(kept->queue_shm);   /* another layout: a new one */
        kept->queue_shm = NULL;
    }
    rv = make_shm(&kept->queue_shm, bytes + CC_TABLE_ALIGN,
                  "condcache-queue.shm", s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, "cannot create %"
                     APR_SIZE_T_FMT " bytes of shared memory for the "
                     "background queue", bytes);
        kept->queue_shm = NULL;
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    out->queue = cc_queue_create(
            cc_table_place(apr_shm_baseaddr_get(kept->queue_shm)), bytes);
    return OK;
}

/* The table in memory: kept across a graceful restart, else new. */
static int setup_memory_table(retained_t *kept, server_rec *s,
                              apr_uint32_t entries, condcache_store_t *out)
{
    apr_size_t bytes = cc_table_bytes(entries);
    apr_size_t segment = cc_table_segment_bytes(entries);
    apr_status_t rv;

    if (kept->table_shm && kept->entries == entries) {
        out->table = cc_table_reuse(
                cc_table_place(apr_shm_baseaddr_get(kept->table_shm)),
                bytes, entries);
        if (out->table) {
            out->state = "kept";
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "keeping the table of "
                         "%u entries across the restart", entries);
            return OK;
        }
    }
    if (kept->table_shm) {
        /* Children of the old generation keep their own mapping. */
        apr_shm_destroy(kept->table_shm);
        kept->table_shm = NULL;
    }
    rv = make_shm(&kept->table_shm, segment, "condcache.shm", s);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                     "cannot create %" APR_SIZE_T_FMT " bytes of shared "
                     "memory for CondCacheEntries %u; lower "
                     "CondCacheEntries or raise the memory limits",
                     segment, entries);
        kept->table_shm = NULL;
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    out->table = cc_table_create(
            cc_table_place(apr_shm_baseaddr_get(kept->table_shm)),
            bytes, entries);
    kept->entries = entries;
    out->state = "memory";
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 "created a table of %u entries in %" APR_SIZE_T_FMT
                 " bytes of shared memory", entries, bytes);
    return OK;
}

/* A table file that failed: UNSAFE stops the server, UNUSABLE costs its
 * persistence only.  1 when the caller may go on in memory. */
static int file_failed(server_rec *s, const char *path, cc_table_file_e e,
                       const char *why, apr_status_t status)
{
    if (e == CC_TABLE_FILE_UNSAFE) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, status, s,
                     "CondCacheTableFile %s: %s; refusing to use it (whoever "
                     "can write it decides which 304s are sent)", path, why);
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, status, s,
                 "CondCacheTableFile %s: %s; the table is kept in memory "
                 "only until the next start", path, why);
    return 1;
}

/* The table in the file at `path`.  OK (out->table set, or not when the
 * file could not be used), or an error status. */
static int setup_file_table(retained_t *kept, server_rec *s,
                            apr_uint32_t entries, const char *path,
                            condcache_store_t *out)
{
    apr_size_t bytes = cc_table_bytes(entries);
    apr_pool_t *keep = s->process->pool;   /* strings kept across restarts */
    cc_table_file_t nf;
    cc_table_file_e e;
    cc_table_attach_t report;
    const char *why = NULL;
    apr_status_t status = APR_SUCCESS;

    if (kept->has_file && strcmp(kept->file.path, path) == 0) {
        if (kept->entries == entries
            && (out->table = cc_table_reuse(kept->file.map, bytes, entries))) {
            out->state = "kept";
            out->table_file = kept->file.path;
            return OK;
        }
        /* ours, of another size or layout: a new file in its place; the
         * old generation's children keep the old one mapped */
        e = cc_table_file_replace(keep, path, bytes, &nf, &why, &status);
    }
    else {
        drop_file(kept);
        e = cc_table_file_open(keep, path, bytes, &nf, &why, &status);
    }
    if (e != CC_TABLE_FILE_OK) {
        return file_failed(s, path, e, why, status)
               ? OK : HTTP_INTERNAL_SERVER_ERROR;
    }
    drop_file(kept);
    kept->file = nf;
    kept->has_file = 1;
    kept->entries = entries;
    out->table_file = kept->file.path;
    if (!nf.fresh
        && (out->table = cc_table_attach(nf.map, bytes, entries, &report))) {
        out->state = "reattached";
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "CondCacheTableFile %s: reattached the table of %u "
                     "entries: %" APR_UINT64_T_FMT " digests kept, %"
                     APR_UINT64_T_FMT " unfinished or damaged entries "
                     "dropped", path, entries, report.kept, report.dropped);
        return OK;
    }
    if (!nf.fresh) {
        /* another layout, entry count or digest set, or not a table at
         * all: nobody else maps it now (we hold its lock), so in place */
        memset(nf.map, 0, bytes);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "CondCacheTableFile %s: not a table this server can "
                     "use (another version, size or digest set, or "
                     "damaged); starting an empty one", path);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "CondCacheTableFile %s: a new table of %u entries",
                     path, entries);
    }
    out->table = cc_table_create(nf.map, bytes, entries);
    out->state = "new";
    return OK;
}

int condcache_store_setup(apr_pool_t *pconf, server_rec *s,
                          apr_uint32_t entries, const char *table_file,
                          condcache_store_t *out)
{
    retained_t *kept = ap_retained_data_get(STORE_RETAINED_KEY);
    int rv;

    memset(out, 0, sizeof(*out));
    if (!kept) {
        kept = ap_retained_data_create(STORE_RETAINED_KEY, sizeof(*kept));
        memset(kept, 0, sizeof(*kept));
        kept->file.fd = -1;
    }
    apr_pool_cleanup_register(pconf, kept, flush_file, apr_pool_cleanup_null);
    if ((rv = setup_queue(kept, s, out)) != OK) {
        return rv;
    }
    if (table_file) {
        if ((rv = setup_file_table(kept, s, entries, table_file, out)) != OK) {
            return rv;
        }
        if (out->table) {
            if (kept->table_shm) {
                apr_shm_destroy(kept->table_shm);
                kept->table_shm = NULL;
            }
            return OK;
        }
    }
    else {
        drop_file(kept);
    }
    return setup_memory_table(kept, s, entries, out);
}

/* mod_condcache: strong content ETags for static files, computed once and
 * remembered in shared memory, with per-directory Cache-Control.
 *
 * This file is the httpd glue: directives, configuration merging, hooks
 * and the status page; beside it, condcache_store.c (shared segments),
 * condcache_worker.c (the background worker) and condcache_variant.c
 * (precompressed sidecars).  Below them, core units that know nothing of
 * requests: validators.c (what tags match, how preconditions are
 * evaluated), cc_table.c (file keys, the shared table, single flight),
 * cc_digest.c (algorithms, hashing), cc_fields.c (integrity fields),
 * cc_variant.c and cc_decode.c (is a sidecar its file compressed), and
 * cc_queue.c, cc_table_file.c.
 *
 * THE RULE: DO NO HARM
 * The module produces a response only where, without it, core's default
 * handler would have sent the file verbatim; that response differs from
 * core's only in ETag, Cache-Control/Expires and the "condcache" note.
 * Everything else is left to httpd, byte for byte.  Hence:
 *
 *   - The handler runs after every other handler: at REALLY_LAST - 1
 *     (after mod_dialup's, which shares that order), with no successor
 *     list (core.c registers two handlers, its h2c upgrade handler
 *     REALLY_FIRST and its default handler REALLY_LAST; a successor list
 *     naming core.c would sort this one before both).
 *     Handlers chosen by content type (AddType application/x-httpd-php,
 *     x-httpd-cgi with ExecCGI, type-maps, send-as-is, Action) have run
 *     and claimed their files by then.
 *   - It stands aside (the "bypass" note) for subrequests, methods other
 *     than GET/HEAD, error documents, anything but a regular file, path
 *     info, a handler name other than core's, a response a module marked
 *     no_local_copy, a WebDAV scope (mod_dav's getetag and its If-Match
 *     checks use core's tag), ContentDigest On (core's Content-MD5), and
 *     an output filter it does not know to keep the bytes (mod_include,
 *     mod_substitute, mod_sed, mod_ext_filter, mod_charset_lite, ...):
 *     the tag must describe the bytes of the response that carries it.
 *   - "FileETag None" in scope is honoured: no ETag, nothing hashed.
 *   - A 304 or 412 is answered as core's default handler answers it: the
 *     status set on the request and an empty body down the filter chain,
 *     never through ErrorDocument.
 *
 * Request flow for a GET or HEAD the module serves (the handler):
 *
 *   1. The tag: a conditional request looks the table up with the key of
 *      httpd's own stat (r->finfo), after checking that this process may
 *      read the file; anything else opens the file, takes fstat of the
 *      descriptor, and looks that key up or hashes exactly fstat's size
 *      of that descriptor (one process per file at a time; a hash whose
 *      client has gone is abandoned unless another process waits for it).
 *   2. RFC 9110 preconditions.  A 304 or 412 needs no descriptor: a
 *      revalidation that hits the table opens nothing.  A body needs the
 *      descriptor; if it turns out to be another file than httpd's stat
 *      saw (a deploy renamed one into place), the tag is found again and
 *      the preconditions evaluated again for it.  A coding suffix on a
 *      client's tag ("-gzip", "-br") matches only where that coding can be
 *      applied to this response.
 *   3. Last-Modified, ETag, Accept-Ranges, Content-Length from that
 *      fstat, the directory's Cache-Control, and the descriptor as a file
 *      bucket: sendfile/mmap and the byte-range filter (206, If-Range,
 *      416) work as for core.  Where compression filters run, a 304 goes
 *      down the filters with the file, as a HEAD does, so mod_deflate and
 *      mod_brotli give it the ETag suffix and Vary they gave the 200; the
 *      HTTP header filter drops the body unread.
 *   With CondCachePrecompressed, between 1 and 2 a sidecar (F.br, F.gz,
 *   F.zst) the request accepts may take the file's place, once it is
 *   known to decode to the file's digest: its tag is the file's with the
 *   coding's suffix, and it is evaluated, sent and ranged as its own
 *   bytes, with no-gzip and no-brotli set so that no filter codes it
 *   again.  Every response of such a scope has Vary: Accept-Encoding.
 *
 * CondCacheStripCodingSuffix is the one thing the module does for other
 * handlers' responses, and only where it is On: a fixup takes accepted
 * coding suffixes off the tags of If-None-Match and If-Match (what the
 * client sent is kept in a note for the module's own handler), and a
 * filter gives a 304's tag the suffix the client's had.
 *
 * The table is created in post_config (not in the first, dry run) in
 * anonymous shared memory that the children inherit.  It is kept in
 * retained data on the process pool, so a graceful restart keeps its
 * contents when CondCacheEntries did not change.
 *
 * The status page is served only where the server configuration says
 * "CondCacheStatus On": its counters are server-wide, and a .htaccess
 * (which could name any handler) must not be able to publish them.
 */

#define _GNU_SOURCE 1   /* RTLD_DEFAULT */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "mod_status.h"

#include "apr_lib.h"
#include "apr_shm.h"
#include "apr_strings.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cc_digest.h"
#include "cc_fields.h"
#include "cc_queue.h"
#include "cc_table.h"
#include "condcache_store.h"
#include "condcache_variant.h"
#include "condcache_worker.h"
#include "validators.h"

module AP_MODULE_DECLARE_DATA condcache_module;

#define CONDCACHE_NOTE            "condcache"
#define CONDCACHE_STATUS_HANDLER  "condcache-status"
#define CONDCACHE_RETAINED_KEY    "mod_condcache-table"

#define UNSET                     (-1)
#define DEFAULT_ENTRIES           65536
#define MAX_MAX_AGE               APR_INT64_C(2147483647)    /* 2^31 - 1 */
#define MAX_MAX_FILE_SIZE         (APR_INT64_C(1) << 62)
/* No limit: files too big to hash in a request go to the background. */
#define DEFAULT_MAX_FILE_SIZE     MAX_MAX_FILE_SIZE
/* Hashing 1 MiB takes well under a millisecond (SHA-1 at ~1.6 GB/s): less
 * than a request's own round trip.  Bigger files are hashed in the
 * background, so no visitor waits for more than that. */
#define DEFAULT_INLINE_HASH_MAX   (APR_INT64_C(1) << 20)

/* core.c's values of core_dir_config.content_md5 (not in a header) */
#define CORE_CONTENT_MD5_ON       1

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

typedef struct {
    int         enabled;          /* UNSET, 0, 1 */
    cc_algo_e   algo;             /* CC_ALGO_NONE: unset */
    int         no_cache;         /* UNSET, 0, 1 */
    int         no_store;         /* UNSET, 0, 1 */
    apr_int64_t max_age;          /* UNSET, or seconds */
    apr_int64_t max_file_size;    /* UNSET, or bytes */
    int         max_file_size_lowers; /* set in .htaccess: may only lower */
    apr_int64_t inline_max;       /* UNSET, or bytes */
    int         inline_max_lowers;    /* set in .htaccess: may only lower */
    int         status_page;      /* UNSET, 0, 1; never from .htaccess */
    int         n_integrity;      /* UNSET, or how many (0: Off) */
    cc_algo_e   integrity[CC_FIELDS_MAX];   /* CondCacheIntegrity */
    int         n_precompressed;  /* UNSET, or how many (0: Off) */
    unsigned    precompressed[3]; /* CC_CODING_ bits, in the scope's order */
    int         strip_suffix;     /* UNSET, 0, 1: CondCacheStripCodingSuffix */
} dir_conf_t;

typedef struct {
    apr_int64_t entries;          /* UNSET, or slots; main server only */
    const char *table_file;       /* NULL: the table is in memory only */
    apr_array_header_t *warm_dirs;    /* const char *; main server only */
} server_conf_t;

/* Set in post_config of each generation, before the children fork. */
static cc_table_t *table;
static cc_queue_t *queue;           /* files for the background worker */
static int wake_fd = -1;            /* write a byte: the worker looks */
static const char *table_file;      /* the table file in use, or NULL */
static const char *table_state;     /* "memory", "new", "reattached",
                                       "kept" */

/* Digests named by CondCacheDigest in the server configuration (bits by
 * cc_algo_e): the ones the warm-up hashes.  Reset before each reading. */
static unsigned warm_algos;

static ap_filter_rec_t *headers_filter;
static ap_filter_rec_t *suffix_filter;

/* Notes that keep a validator field as the client sent it, when
 * CondCacheStripCodingSuffix rewrote it for another handler. */
#define NOTE_CLIENT_PREFIX  "condcache-client-"

/* mod_dav's "which provider serves this request" (NULL: DAV is off), when
 * mod_dav is loaded.  Looked up by name after every module is loaded, so
 * that this module neither needs mod_dav nor depends on the load order. */
typedef const char *(*dav_provider_name_fn)(request_rec *r);
static dav_provider_name_fn dav_provider_name;

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = UNSET;
    c->algo = CC_ALGO_NONE;
    c->no_cache = UNSET;
    c->no_store = UNSET;
    c->max_age = UNSET;
    c->max_file_size = UNSET;
    c->inline_max = UNSET;
    c->status_page = UNSET;
    c->n_integrity = UNSET;
    c->n_precompressed = UNSET;
    c->strip_suffix = UNSET;
    return c;
}

#define MERGED(field, unset) (add->field != (unset) ? add->field : base->field)

static apr_int64_t effective_max_file_size(const dir_conf_t *c)
{
    return c->max_file_size != UNSET ? c->max_file_size : DEFAULT_MAX_FILE_SIZE;
}

static apr_int64_t effective_inline_max(const dir_conf_t *c)
{
    return c->inline_max != UNSET ? c->inline_max : DEFAULT_INLINE_HASH_MAX;
}

/* A limit a .htaccess set may lower the one in force, never raise it. */
static apr_int64_t merged_limit(apr_int64_t base_effective, apr_int64_t add,
                                int add_lowers, apr_int64_t base)
{
    if (add == UNSET) {
        return base;
    }
    return add_lowers && add > base_effective ? base_effective : add;
}

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const dir_conf_t *base = basev, *add = addv;
    dir_conf_t *c = apr_palloc(p, sizeof(*c));

    c->enabled = MERGED(enabled, UNSET);
    c->algo = MERGED(algo, CC_ALGO_NONE);
    c->no_cache = MERGED(no_cache, UNSET);
    c->no_store = MERGED(no_store, UNSET);
    c->max_age = MERGED(max_age, UNSET);
    /* a tenant may lower the limits the server set, never raise them */
    c->max_file_size = merged_limit(effective_max_file_size(base),
                                    add->max_file_size,
                                    add->max_file_size_lowers,
                                    base->max_file_size);
    c->max_file_size_lowers = 0;
    c->inline_max = merged_limit(effective_inline_max(base), add->inline_max,
                                 add->inline_max_lowers, base->inline_max);
    c->inline_max_lowers = 0;
    c->status_page = MERGED(status_page, UNSET);
    if (add->n_integrity != UNSET) {
        c->n_integrity = add->n_integrity;
        memcpy(c->integrity, add->integrity, sizeof(c->integrity));
    }
    else {
        c->n_integrity = base->n_integrity;
        memcpy(c->integrity, base->integrity, sizeof(c->integrity));
    }
    if (add->n_precompressed != UNSET) {
        c->n_precompressed = add->n_precompressed;
        memcpy(c->precompressed, add->precompressed,
               sizeof(c->precompressed));
    }
    else {
        c->n_precompressed = base->n_precompressed;
        memcpy(c->precompressed, base->precompressed,
               sizeof(c->precompressed));
    }
    c->strip_suffix = MERGED(strip_suffix, UNSET);
    return c;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->entries = UNSET;
    c->warm_dirs = apr_array_make(p, 2, sizeof(const char *));
    return c;
}

/* The effective values, defaults filled in. */
static int conf_enabled(const dir_conf_t *c)      { return c->enabled == 1; }
static int conf_no_store(const dir_conf_t *c)     { return c->no_store == 1; }
static int conf_no_cache(const dir_conf_t *c)     { return c->no_cache == 1; }
static int conf_variants(const dir_conf_t *c)     { return c->n_precompressed > 0; }
static int conf_strip(const dir_conf_t *c)        { return c->strip_suffix == 1; }

static cc_algo_e conf_algo(const dir_conf_t *c)
{
    return c->algo != CC_ALGO_NONE ? c->algo : CC_ALGO_SHA1;
}

/* A whole decimal number from min to max, nothing else around it. */
static int parse_number(const char *arg, apr_int64_t min, apr_int64_t max,
                        apr_int64_t *out)
{
    char *end;
    apr_int64_t v;

    if (!arg || !apr_isdigit(*arg)) {
        return 0;
    }
    errno = 0;
    v = apr_strtoi64(arg, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) {
        return 0;
    }
    *out = v;
    return 1;
}

/* Is the directive being read from a .htaccess file? */
static int in_htaccess(cmd_parms *cmd)
{
    return ap_check_cmd_context(cmd, NOT_IN_HTACCESS) != NULL;
}

/* On or Off, and nothing else: AP_INIT_FLAG would let "CondCache On Off"
 * through, reading the first word. */
static const char *set_on_off(cmd_parms *cmd, void *dconf, const char *arg)
{
    int *field = (int *)((char *)dconf + (apr_size_t)cmd->info);

    if (strcasecmp(arg, "on") == 0) {
        *field = 1;
    }
    else if (strcasecmp(arg, "off") == 0) {
        *field = 0;
    }
    else {
        return apr_psprintf(cmd->pool, "%s must be On or Off, not '%s'",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_digest(cmd_parms *cmd, void *dconf, const char *arg)
{
    dir_conf_t *c = dconf;

    c->algo = cc_algo_from_name(arg);
    if (!cc_algo_for_etag(c->algo)) {
        c->algo = CC_ALGO_NONE;
        return apr_psprintf(cmd->pool, "%s: unknown digest '%s'; use sha1, "
                            "sha256, md5 or xxh128", cmd->cmd->name, arg);
    }
    if (!in_htaccess(cmd)) {
        warm_algos |= 1u << c->algo;    /* the warm-up hashes these */
    }
    return NULL;
}

static const char *set_max_age(cmd_parms *cmd, void *dconf, const char *arg)
{
    dir_conf_t *c = dconf;

    if (!parse_number(arg, 0, MAX_MAX_AGE, &c->max_age)) {
        return apr_psprintf(cmd->pool, "%s takes a number of seconds from 0 "
                            "to %" APR_INT64_T_FMT ", not '%s'",
                            cmd->cmd->name, MAX_MAX_AGE, arg);
    }
    return NULL;
}

static const char *set_max_file_size(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    dir_conf_t *c = dconf;

    if (!parse_number(arg, 1, MAX_MAX_FILE_SIZE, &c->max_file_size)) {
        return apr_psprintf(cmd->pool, "%s takes a positive number of bytes, "
                            "not '%s'", cmd->cmd->name, arg);
    }
    c->max_file_size_lowers = in_htaccess(cmd);
    return NULL;
}

static const char *set_inline_max(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    dir_conf_t *c = dconf;

    if (!parse_number(arg, 0, MAX_MAX_FILE_SIZE, &c->inline_max)) {
        return apr_psprintf(cmd->pool, "%s takes a number of bytes (0 for "
                            "none), not '%s'", cmd->cmd->name, arg);
    }
    c->inline_max_lowers = in_htaccess(cmd);
    return NULL;
}

/* What a directive that names some of a few choices, each once, or "Off"
 * alone (CondCacheIntegrity, CondCachePrecompressed) accepts. */
typedef struct {
    unsigned  (*value_of)(const char *word);   /* 0: not a choice */
    const char *what;          /* "algorithm", "coding" */
    const char *use;           /* the choices, for an unknown word */
    const char *takes;         /* the choices, for no word at all */
    int         max;
} choice_list_t;

/* Reads such a list into out[] (the value of each word); *n gets how
 * many, 0 for Off.  NULL, or the error, which names the directive and
 * echoes the word. */
static const char *parse_choices(cmd_parms *cmd, const char *args,
                                 const choice_list_t *list, unsigned *out,
                                 int *n)
{
    const char *word;
    int i;

    *n = 0;
    while (*(word = ap_getword_conf(cmd->temp_pool, &args))) {
        unsigned value = list->value_of(word);

        if (strcasecmp(word, "off") == 0 && *n == 0 && !*args) {
            return NULL;
        }
        if (value == 0) {
            return apr_psprintf(cmd->pool, "%s: unknown %s '%s'; use %s, or "
                                "Off", cmd->cmd->name, list->what, word,
                                list->use);
        }
        for (i = 0; i < *n; i++) {
            if (out[i] == value) {
                return apr_psprintf(cmd->pool, "%s: '%s' is named twice",
                                    cmd->cmd->name, word);
            }
        }
        if (*n == list->max) {
            return apr_psprintf(cmd->pool, "%s takes at most %d %ss",
                                cmd->cmd->name, list->max, list->what);
        }
        out[(*n)++] = value;
    }
    if (*n == 0) {
        return apr_psprintf(cmd->pool, "%s takes %s or Off", cmd->cmd->name,
                            list->takes);
    }
    return NULL;
}

static unsigned integrity_algo(const char *word)
{
    return (unsigned)cc_algo_from_field_name(word);     /* NONE is 0 */
}

/* CondCacheIntegrity sha-256 [sha-512] | Off */
static const char *set_integrity(cmd_parms *cmd, void *dconf,
                                 const char *args)
{
    static const choice_list_t list = {
        integrity_algo, "algorithm", "sha-256, sha-512 (or both)",
        "sha-256, sha-512", CC_FIELDS_MAX
    };
    dir_conf_t *c = dconf;
    unsigned algos[CC_FIELDS_MAX];
    const char *err = parse_choices(cmd, args, &list, algos, &c->n_integrity);
    int i;

    for (i = 0; !err && i < c->n_integrity; i++) {
        c->integrity[i] = (cc_algo_e)algos[i];
        if (!in_htaccess(cmd)) {
            warm_algos |= 1u << algos[i];   /* the warm-up hashes these too */
        }
    }
    return err;
}

/* CondCachePrecompressed br|gzip|zstd ... | Off */
static const char *set_precompressed(cmd_parms *cmd, void *dconf,
                                     const char *args)
{
    static const choice_list_t list = {
        cc_coding_from_name, "coding", "br, gzip, zstd (one or more)",
        "br, gzip, zstd",
        (int)(sizeof(((dir_conf_t *)0)->precompressed) / sizeof(unsigned))
    };
    dir_conf_t *c = dconf;

    return parse_choices(cmd, args, &list, c->precompressed,
                         &c->n_precompressed);
}

/* An absolute path for a server-wide directive, relative ones under
 * ServerRoot. */
static const char *server_path(cmd_parms *cmd, const char *arg,
                               const char **out)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    *out = ap_server_root_relative(cmd->pool, arg);
    if (!*out || !**out) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

static const char *set_table_file(cmd_parms *cmd, void *dconf,
                                  const char *arg)
{
    server_conf_t *c = ap_get_module_config(cmd->server->module_config,
                                            &condcache_module);
    const char *path, *err = server_path(cmd, arg, &path);

    (void)dconf;
    if (err) {
        return err;
    }
    if (path[strlen(path) - 1] == '/') {
        return apr_psprintf(cmd->pool, "%s names a file, not a directory: "
                            "'%s'", cmd->cmd->name, arg);
    }
    c->table_file = path;
    return NULL;
}

static const char *add_warm_dir(cmd_parms *cmd, void *dconf, const char *arg)
{
    server_conf_t *c = ap_get_module_config(cmd->server->module_config,
                                            &condcache_module);
    const char *path, *err = server_path(cmd, arg, &path);

    (void)dconf;
    if (err) {
        return err;
    }
    if (!ap_is_directory(cmd->temp_pool, path)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a directory",
                            cmd->cmd->name, path);
    }
    APR_ARRAY_PUSH(c->warm_dirs, const char *) = path;
    return NULL;
}

static apr_uint64_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

    return pages > 0 && page > 0 ? (apr_uint64_t)pages * (apr_uint64_t)page : 0;
}

static const char *set_entries(cmd_parms *cmd, void *dconf, const char *arg)
{
    server_conf_t *c = ap_get_module_config(cmd->server->module_config,
                                            &condcache_module);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_uint64_t bytes, ram;

    (void)dconf;
    if (err) {
        return err;
    }
    if (!parse_number(arg, 1, CC_TABLE_MAX_ENTRIES, &c->entries)) {
        return apr_psprintf(cmd->pool, "%s takes a number of entries from 1 "
                            "to %u, not '%s'", cmd->cmd->name,
                            CC_TABLE_MAX_ENTRIES, arg);
    }
    bytes = cc_table_bytes((apr_uint32_t)c->entries);
    ram = physical_memory();
    if (ram && bytes > ram / 2) {
        return apr_psprintf(cmd->pool, "%s %s needs %" APR_UINT64_T_FMT
                            " MiB of shared memory, more than half of this "
                            "machine's %" APR_UINT64_T_FMT " MiB",
                            cmd->cmd->name, arg, bytes >> 20, ram >> 20);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Per-request state                                                   */

/* What the module knows of a request it serves.  The key comes from
 * httpd's own stat (r->finfo) until the file is opened; from then on it
 * comes from fstat of the descriptor ("verified"), and everything said
 * about the response describes that descriptor. */
typedef struct {
    apr_file_t   *file;       /* the descriptor hashed and served, or NULL */
    int           verified;   /* key, tag and headers are the descriptor's */
    cc_file_key_t key;
    const char   *etag;       /* NULL: send none */
    int           tagless;    /* no tag wanted: no-store, FileETag None */
    int           n_fields;   /* integrity fields: their algorithms and */
    cc_digest_t   fields[CC_FIELDS_MAX];     /* digests of the bytes sent */
    const char   *outcome;    /* for the note and the log */
    const char   *cache_control;  /* the directory's, or NULL */
    const char   *expires;        /* with a max-age, or NULL */
    unsigned      refused_codings; /* CC_CODING_ bits this response can't get */
    int           coding_filters;  /* a compression filter is in the chain */
    int           have_digest;     /* `digest` is the file's */
    cc_digest_t   digest;          /* the main digest of st->key */
    int           variant_tried;   /* variants looked for, for this key */
    int           has_variant;     /* `variant` is sent in the file's place */
    condcache_variant_t variant;
    const char   *file_etag;       /* the file's own tag, when a variant's
                                      is in `etag` */
    unsigned      file_refused;    /* and its refused_codings */
    int           vary;            /* Vary: Accept-Encoding (variants in
                                      scope) */
} req_state_t;

static void set_note(request_rec *r, const char *outcome)
{
    apr_table_setn(r->notes, CONDCACHE_NOTE, outcome);
}

/* ap_invoke_handler() names the handler after the content type (without
 * its parameters) when no module or directive named one. */
static int handler_is_content_type(const request_rec *r)
{
    const char *type = r->content_type;
    apr_size_t n;

    if (!type) {
        return 0;
    }
    n = strlen(r->handler);
    return strncmp(type, r->handler, n) == 0
        && (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

/* The output filters a file served by the module may pass through: they
 * send the file's bytes, or a content coding of them that the ETag suffix
 * names, and touch nothing but headers otherwise.  Any other filter may
 * rewrite the body (mod_include, mod_substitute, mod_sed, mod_ext_filter,
 * mod_charset_lite, mod_proxy_html, mod_data, INFLATE, a mod_filter chain
 * of the admin's own ...), and then the file's digest would not describe
 * the response: the module stands aside.  Names compare without case
 * (httpd keeps registered names in lower case, mod_filter keeps its own as
 * written); "bytype:" ones are mod_filter's AddOutputFilterByType. */
static const struct {
    const char *name;
    unsigned    coding;          /* CC_CODING_ bit it may apply, or 0 */
} known_filters[] = {
    { "deflate",                CC_CODING_GZIP },
    { "bytype:deflate",         CC_CODING_GZIP },
    { "brotli_compress",        CC_CODING_BR },
    { "bytype:brotli_compress", CC_CODING_BR },
    { "fixup_headers_out",      0 },   /* mod_headers */
    { "fixup_headers_err",      0 },
    { "mod_expires",            0 },
    { "condcache_headers",      0 },   /* ours */
    { "condcache_suffix",       0 },   /* ours: headers only */
    { "cache",                  0 },   /* mod_cache stores the bytes */
    { "cache_save",             0 },
    { "cache_save_subreq",      0 },
    { "cache_out",              0 },
    { "cache_out_subreq",       0 },
    { "buffer",                 0 },   /* mod_buffer */
    { "rate_limit",             0 },   /* mod_ratelimit */
};

#define KNOWN_FILTERS (sizeof(known_filters) / sizeof(known_filters[0]))

/* Checks the request's resource and content filters: NULL when all are
 * known, else the name of the first one that is not.  *codings gets the
 * CC_CODING_ bits the known ones may apply. */
static const char *unknown_filter(const request_rec *r, unsigned *codings)
{
    const ap_filter_t *f;
    apr_size_t i;

    *codings = 0;
    for (f = r->output_filters; f && f != r->proto_output_filters; f = f->next) {
        const char *name = f->frec && f->frec->name ? f->frec->name : "";
        for (i = 0; i < KNOWN_FILTERS; i++) {
            if (strcasecmp(name, known_filters[i].name) == 0) {
                *codings |= known_filters[i].coding;
                break;
            }
        }
        if (i == KNOWN_FILTERS) {
            return name;
        }
    }
    return NULL;
}

/* Which codings can this response not get?  Those the request refuses,
 * those no filter in the chain applies, and those the environment turns
 * off (no-gzip, no-brotli, as mod_deflate and mod_brotli read them). */
static unsigned refused_codings(request_rec *r, unsigned possible)
{
    if (apr_table_get(r->subprocess_env, "no-gzip")) {
        possible &= ~CC_CODING_GZIP;
    }
    if (apr_table_get(r->subprocess_env, "no-brotli")) {
        possible &= ~CC_CODING_BR;
    }
    return cc_codings_refused(apr_table_get(r->headers_in, "Accept-Encoding"))
         | ((CC_CODING_GZIP | CC_CODING_BR | CC_CODING_ZSTD) & ~possible);
}

/* Is WebDAV on for this request?  mod_dav serves GET from the filesystem
 * through core, but its getetag property and its If-Match checks on PUT,
 * DELETE and PROPPATCH use core's tag: a different tag on GET would break
 * every client's lost-update protection. */
static int dav_enabled(request_rec *r)
{
    return dav_provider_name && dav_provider_name(r) != NULL;
}

/* Is the request one the module serves?  NULL if so, else why not.  The
 * handler runs after every other module declined; the handler name is
 * then core's default, or the one derived from the content type, for a
 * file core would send as it is. */
static const char *not_ours(request_rec *r, req_state_t *st)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    unsigned codings;
    const char *filter;

    if (r->main) {
        return "subrequest";
    }
    if (r->method_number != M_GET) {
        return "method";
    }
    if (r->proxyreq != PROXYREQ_NONE) {
        return "proxy";
    }
    if (r->status != HTTP_OK) {
        return "error document";
    }
    if (!r->filename || r->finfo.filetype != APR_REG) {
        return "not a regular file";
    }
    if (r->path_info && *r->path_info) {
        return "path info";
    }
    if (r->handler && *r->handler
        && strcmp(r->handler, "default-handler") != 0
        && !handler_is_content_type(r)) {
        return "another handler's name";
    }
    if (r->no_local_copy) {
        /* a module asked that no 304 be sent */
        return "no local copy";
    }
    if (dav_enabled(r)) {
        return "WebDAV";
    }
    if (core->content_md5 == CORE_CONTENT_MD5_ON) {
        return "ContentDigest";
    }
    if ((filter = unknown_filter(r, &codings)) != NULL) {
        return apr_psprintf(r->pool, "output filter '%s' may change the "
                            "body", filter);
    }
    st->coding_filters = codings != 0;
    st->refused_codings = refused_codings(r, codings);
    return NULL;
}

/* A request in scope that the module leaves to httpd. */
static void bypass(request_rec *r, apr_status_t rv, const char *why)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r, "%s: bypass (%s)",
                  r->filename ? r->filename : r->uri, why);
    set_note(r, "bypass");
}

/* The directory's Cache-Control, and with a max-age the matching Expires,
 * which also tells mod_expires that this response's lifetime is settled. */
static void decide_cache_headers(request_rec *r, const dir_conf_t *conf,
                                 req_state_t *st)
{
    const char *cc = NULL;

    if (conf_no_store(conf)) {
        st->cache_control = "no-store";
        return;
    }
    if (conf->max_age != UNSET) {
        char *expires = apr_palloc(r->pool, APR_RFC822_DATE_LEN);
        apr_rfc822_date(expires, r->request_time
                                 + apr_time_from_sec(conf->max_age));
        st->expires = expires;
        cc = apr_psprintf(r->pool, "max-age=%" APR_INT64_T_FMT, conf->max_age);
    }
    if (conf_no_cache(conf)) {
        cc = cc ? apr_pstrcat(r->pool, cc, ", no-cache", NULL) : "no-cache";
    }
    st->cache_control = cc;
}

/* Opens the file for the module's state and takes fstat of it: -1 when
 * that fails, 1 when the key is not the one st had (httpd's stat saw
 * another file: a deploy renamed one into place meanwhile), else 0. */
static int open_file(request_rec *r, req_state_t *st)
{
    cc_file_key_t stat_key = st->key;
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    apr_os_file_t fd;
    apr_status_t rv;

    rv = apr_file_open(&st->file, r->filename, APR_READ | APR_BINARY
#if APR_HAS_SENDFILE
                       | AP_SENDFILE_ENABLED(core->enable_sendfile)
#endif
                       , 0, r->pool);
    if (rv != APR_SUCCESS) {
        /* core's handler tries again and answers 403 with its own log line */
        st->file = NULL;
        bypass(r, rv, "cannot open the file");
        return -1;
    }
    apr_os_file_get(&fd, st->file);
    rv = cc_file_key_from_fd(fd, &st->key);
    if (rv != APR_SUCCESS) {
        apr_file_close(st->file);
        st->file = NULL;
        bypass(r, rv, "no longer a regular file");
        return -1;
    }
    st->verified = 1;
    /* Everything said about the response comes from this descriptor. */
    r->finfo.size = (apr_off_t)st->key.size;
    r->finfo.mtime = st->key.mtime;
    r->finfo.ctime = st->key.ctime;
    r->finfo.inode = (apr_ino_t)st->key.ino;
    r->finfo.device = (apr_dev_t)st->key.dev;
    return !cc_file_key_equal(&stat_key, &st->key);
}

/* Could the answer be a 304 or 412, which need no descriptor?  Only
 * with a precondition; anything else will be a 200 and opens the file
 * straight away. */
static int may_not_need_body(const request_rec *r)
{
    return apr_table_get(r->headers_in, "If-None-Match")
        || apr_table_get(r->headers_in, "If-Modified-Since")
        || apr_table_get(r->headers_in, "If-Match")
        || apr_table_get(r->headers_in, "If-Unmodified-Since");
}

/* May this process read the file?  Asked before a tag is looked up
 * without opening the file: the table is shared by every child, and
 * children may run as different users (mpm-itk), so a tag must only be
 * used, even for a 304, by a process the kernel would let read the bytes.
 * One syscall, where open and close would be two and a descriptor. */
static int readable(const request_rec *r)
{
    return faccessat(AT_FDCWD, r->filename, R_OK, AT_EACCESS) == 0;
}

/* Is the client still connected?  Asked between blocks of a long hash.
 * A peek at the connection's socket: end of file or an error means it
 * has gone (bytes waiting, a pipelined request say, mean it is there).
 * For an HTTP/2 stream, the socket of its connection. */
static int client_still_there(void *arg)
{
    request_rec *r = arg;
    conn_rec *c = r->connection;
    apr_socket_t *sock;
    apr_os_sock_t fd;
    char byte;
    ssize_t n;

    if (c->aborted) {
        return 0;
    }
    if (c->master) {
        c = c->master;
    }
    sock = ap_get_conn_socket(c);
    if (!sock || apr_os_sock_get(&fd, sock) != APR_SUCCESS) {
        return 1;
    }
    n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK
                               || errno == EINTR));
}

/* May the tag be looked up with the key of httpd's own stat, without a
 * descriptor?  For a conditional request, whose answer may well be a 304
 * or 412, and for one that may get a precompressed variant instead of the
 * file, when this process may read the file. */
static int lookup_without_descriptor(request_rec *r, const dir_conf_t *conf,
                                     const req_state_t *st)
{
    return !st->verified && table
        && (may_not_need_body(r)
            || (conf_variants(conf)
                && apr_table_get(r->headers_in, "Accept-Encoding")))
        && readable(r);
}

/* A file too big to hash in the request: the background worker hashes
 * it, and the next requests get its tag.  The note says which. */
static const char *hand_to_worker(request_rec *r, const req_state_t *st,
                                  const cc_find_t *how)
{
    cc_queue_add_e added;
    unsigned algos;
    int i;

    if (!queue) {
        return "deferred";
    }
    algos = 1u << how->algo;
    for (i = 0; i < how->n_also; i++) {
        algos |= 1u << how->also[i];
    }
    added = cc_queue_add(queue, r->filename, &st->key, algos, how->max_size);
    switch (added) {
    case CC_QUEUE_ADDED:
        if (wake_fd >= 0 && write(wake_fd, "", 1) < 0) {
            /* the pipe is full: the worker has a byte to wake up to */
        }
        /* fall through */
    case CC_QUEUE_ALREADY:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s: %" APR_INT64_T_FMT
                      " bytes, hashed in the background", r->filename,
                      st->key.size);
        return "pending";
    case CC_QUEUE_FULL:
    case CC_QUEUE_BUSY:
    case CC_QUEUE_TOO_LONG:
        break;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%s: not hashed: %s",
                  r->filename, added == CC_QUEUE_FULL
                  ? "the background queue is full"
                  : added == CC_QUEUE_BUSY ? "the background queue is busy"
                  : "its path is too long");
    return "deferred";
}

/* Does FileETag say "None" for this request, as core computes it? */
static int file_etag_none(const request_rec *r)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    etag_components_t bits = (core->etag_bits & ~core->etag_remove)
                             | core->etag_add;

    return (bits & ETAG_NONE) != 0;
}

/* A negotiated response (MultiViews, type-map) carries the variant list
 * validator in its tag, as core's ap_make_etag_ex() does: the tag then
 * changes when the set of variants does.  "<tag>;<vlv>", weak when the
 * validator is. */
static const char *with_variant_list(request_rec *r, const char *tag)
{
    const char *vlv = r->vlist_validator;
    int weak;

    if (!vlv || !*vlv) {
        return tag;
    }
    weak = vlv[0] == 'W';
    vlv += weak ? 3 : 1;                /* past W/" or " */
    return apr_pstrcat(r->pool, weak ? "W/" : "",
                       apr_pstrmemdup(r->pool, tag, strlen(tag) - 1),
                       ";", vlv, NULL);
}

/* The tag core makes for this file, as FileETag configures it: for files
 * the module does not hash. */
static const char *core_etag(request_rec *r, req_state_t *st)
{
    etag_rec er;
    const char *tag;

    memset(&er, 0, sizeof(er));
    er.vlist_validator = r->vlist_validator;
    er.request_time = r->request_time;
    er.finfo = &r->finfo;
    er.pathname = st->file ? NULL : r->filename;
    er.fd = st->file;
    tag = ap_make_etag_ex(r, &er);
    return tag && *tag ? tag : NULL;
}

/* Which digests the response needs: the tag's (unless no tag is wanted),
 * then CondCacheIntegrity's, as how->algo and how->also.  0: none. */
static int digests_wanted(const dir_conf_t *conf, const req_state_t *st,
                          cc_find_t *how)
{
    cc_algo_e algos[1 + CC_FIELDS_MAX];
    int n = 0, i, j;

    if (!st->tagless) {
        algos[n++] = conf_algo(conf);
    }
    for (i = 0; i < conf->n_integrity; i++) {
        for (j = 0; j < n && algos[j] != conf->integrity[i]; j++)
            ;
        if (j == n) {
            algos[n++] = conf->integrity[i];   /* sha256 tags serve both */
        }
    }
    if (n == 0) {
        return 0;
    }
    how->algo = algos[0];
    for (i = 1; i < n; i++) {
        how->also[how->n_also++] = algos[i];
    }
    return 1;
}

/* The integrity digests found for the response, in configured order. */
static void keep_fields(const dir_conf_t *conf, req_state_t *st,
                        const cc_find_t *how, const cc_digest_t *digest,
                        const cc_also_t *also)
{
    int i, j;

    for (i = 0; i < conf->n_integrity; i++) {
        if (conf->integrity[i] == how->algo) {
            st->fields[st->n_fields++] = *digest;
            continue;
        }
        for (j = 0; j < how->n_also; j++) {
            if (how->also[j] == conf->integrity[i] && also->have[j]) {
                st->fields[st->n_fields++] = also->digest[j];
            }
        }
    }
}

/* The tag for st->key.  For a conditional request a hit needs no
 * descriptor: the table is looked up with the key of httpd's own stat.
 * Anything else is hashed from (or looked up for) the descriptor that
 * will be served, which is opened for it.  0: leave the request to core. */
static int find_tag(request_rec *r, const dir_conf_t *conf, req_state_t *st)
{
    apr_status_t err = APR_SUCCESS;
    cc_digest_t digest;
    cc_also_t also;
    cc_find_t how;
    cc_outcome_e outcome;
    apr_os_file_t fd;

    st->etag = NULL;
    st->n_fields = 0;
    st->have_digest = 0;
    st->tagless = conf_no_store(conf) || file_etag_none(r);
    if (st->tagless && !conf_no_store(conf)) {
        /* as core's ap_set_etag_fd(): no ETag from anyone */
        apr_table_setn(r->notes, "no-etag", "omit");
    }
    memset(&how, 0, sizeof(how));
    if (!digests_wanted(conf, st, &how)) {
        st->outcome = conf_no_store(conf) ? "no-store" : "no-etag";
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s: %s, no ETag",
                      r->filename, st->outcome);
        set_note(r, st->outcome);
        return 1;
    }
    how.max_size = effective_max_file_size(conf);
    how.now = r->request_time;
    how.cancel.keep_going = client_still_there;
    how.cancel.arg = r;
    /* bigger files are the background worker's: no visitor waits */
    how.defer = 1;
    how.defer_above = effective_inline_max(conf);
    outcome = lookup_without_descriptor(r, conf, st)
              ? cc_find_digests(table, -1, &st->key, &how, &digest, &also,
                                &err)
              : CC_OUTCOME_NEED_FILE;
    if (outcome == CC_OUTCOME_NEED_FILE) {
        /* the key is now fstat's of the descriptor that will be served */
        if (!st->verified && open_file(r, st) < 0) {
            return 0;
        }
        apr_os_file_get(&fd, st->file);
        outcome = cc_find_digests(table, fd, &st->key, &how, &digest, &also,
                                  &err);
    }
    st->outcome = cc_outcome_name(outcome);
    switch (outcome) {
    case CC_OUTCOME_HIT:
    case CC_OUTCOME_MISS:
    case CC_OUTCOME_SHARED:
    case CC_OUTCOME_UNCACHED:
        if (!st->tagless) {
            char *tag = apr_palloc(r->pool, CC_ETAG_MAX);
            cc_etag_format(&digest, tag);
            st->etag = with_variant_list(r, tag);
        }
        keep_fields(conf, st, &how, &digest, &also);
        st->digest = digest;
        st->have_digest = 1;
        if (also.deferred) {
            /* the tag is known, the fields are the worker's to add */
            (void)hand_to_worker(r, st, &how);
        }
        break;
    case CC_OUTCOME_TOO_LARGE:
        if (!st->tagless) {
            st->etag = core_etag(r, st);
            if (!st->etag) {
                apr_table_setn(r->notes, "no-etag", "omit");
            }
        }
        break;
    case CC_OUTCOME_ERROR:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, err, r,
                      "reading %s to hash it failed; serving it "
                      "without an ETag", r->filename);
        break;
    case CC_OUTCOME_CANCELLED:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "%s: the client went away; hash abandoned", r->filename);
        break;
    case CC_OUTCOME_NEED_FILE:      /* not with a descriptor given */
        break;
    case CC_OUTCOME_DEFERRED:
        st->outcome = hand_to_worker(r, st, &how);
        break;
    case CC_OUTCOME_CHANGED:
    case CC_OUTCOME_BUSY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "%s: %s; serving it without an ETag", r->filename,
                      outcome == CC_OUTCOME_CHANGED
                      ? "the file kept changing while it was hashed, or "
                        "does not hold as many bytes as its size says"
                      : "another process is still hashing it");
        break;
    }
    if (st->tagless) {
        st->outcome = conf_no_store(conf) ? "no-store" : "no-etag";
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s: %s, ETag %s, %d "
                  "integrity digest(s)", r->filename, st->outcome,
                  st->etag ? st->etag : "none", st->n_fields);
    set_note(r, st->outcome);
    return 1;
}

/* Finds or computes the tag and decides the Cache-Control.  NULL when the
 * module should leave the request to core. */
static req_state_t *prepare(request_rec *r, const dir_conf_t *conf)
{
    req_state_t *st = apr_pcalloc(r->pool, sizeof(*st));
    const char *why;

    if ((why = not_ours(r, st)) != NULL) {
        if (!r->main) {
            bypass(r, APR_SUCCESS, why);
        }
        return NULL;
    }
    if (cc_file_key_from_finfo(&r->finfo, &st->key) != APR_SUCCESS
        && open_file(r, st) < 0) {
        return NULL;
    }
    if (!find_tag(r, conf, st)) {
        return NULL;
    }
    decide_cache_headers(r, conf, st);
    return st;
}

/* The handler needs the descriptor (for a body, or for filters to look
 * at): opens it, and if it is not the file httpd's stat saw (a deploy
 * renamed another into place meanwhile), finds the tag again. */
static int verify(request_rec *r, const dir_conf_t *conf, req_state_t *st)
{
    int changed = open_file(r, st);

    if (changed < 0) {
        return 0;
    }
    if (!changed) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "%s changed since httpd's stat; finding its tag again",
                  r->filename);
    return find_tag(r, conf, st);
}

/* A validator field as the client sent it (CondCacheStripCodingSuffix
 * rewrites it for other handlers; the module's own answer uses the
 * original, which names the variant the client holds). */
static const char *client_field(request_rec *r, const char *name,
                                const char *note)
{
    const char *orig = apr_table_get(r->notes, note);

    return orig ? orig : apr_table_get(r->headers_in, name);
}

/* The tag of a variant: the file's with the coding's suffix inside the
 * closing quote, as mod_deflate and mod_brotli tag what they compress. */
static const char *variant_tag(request_rec *r, const char *tag,
                               unsigned coding)
{
    apr_size_t n = strlen(tag);

    return apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, tag, n - 1),
                       cc_coding_suffix(coding), "\"", NULL);
}

/* CondCachePrecompressed: is a sidecar sent in the file's place?  Needs
 * the file's digest (to check the sidecar against) and a file not stored
 * coded itself (app.js.gz with AddEncoding). */
static void choose_variant(request_rec *r, const dir_conf_t *conf,
                           req_state_t *st)
{
    condcache_variant_conf_t vc;

    st->variant_tried = 1;
    st->vary = 1;
    if (!st->have_digest || r->content_encoding || !table) {
        return;
    }
    vc.offered = conf->precompressed;
    vc.n = conf->n_precompressed;
    vc.max_size = effective_max_file_size(conf);
    vc.max_decode = effective_inline_max(conf);
    if (!condcache_variant_choose(r, table, &vc, &st->digest, st->key.size,
                                  st->verified || !may_not_need_body(r),
                                  &st->variant)) {
        return;
    }
    st->has_variant = 1;
    st->file_etag = st->etag;
    st->file_refused = st->refused_codings;
    if (st->etag) {
        st->etag = variant_tag(r, st->etag, st->variant.coding);
    }
    /* the variant's tag matches exactly, never with another suffix */
    st->refused_codings = CC_CODING_GZIP | CC_CODING_BR | CC_CODING_ZSTD;
}

/* The variant chosen cannot be sent after all (its sidecar changed or is
 * gone): the file is sent. */
static void drop_variant(req_state_t *st)
{
    st->has_variant = 0;
    st->etag = st->file_etag;
    st->refused_codings = st->file_refused;
}

/* RFC 9110 13.2.2 for this request and what st says of the file.  Also
 * where the module sends no tag (no-store, FileETag None): not storing a
 * response does not mean not checking its preconditions. */
static cc_precond_e evaluate(request_rec *r, const req_state_t *st)
{
    cc_precond_t pc;

    pc.get_or_head = 1;
    pc.if_match = client_field(r, "If-Match", NOTE_CLIENT_PREFIX "If-Match");
    pc.if_none_match = client_field(r, "If-None-Match",
                                    NOTE_CLIENT_PREFIX "If-None-Match");
    pc.if_modified_since = apr_table_get(r->headers_in, "If-Modified-Since");
    pc.if_unmodified_since = apr_table_get(r->headers_in,
                                           "If-Unmodified-Since");
    pc.etag = st->etag;
    /* what Last-Modified will say: never later than the request */
    pc.last_modified = ap_rationalize_mtime(r, st->key.mtime);
    pc.now = r->request_time;
    pc.refused_codings = st->refused_codings;
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  "preconditions for %s, ETag %s, Last-Modified %"
                  APR_TIME_T_FMT ": If-Match [%s] If-Unmodified-Since "
                  "[%s] If-None-Match [%s] If-Modified-Since [%s]",
                  r->uri, pc.etag ? pc.etag : "none",
                  apr_time_sec(pc.last_modified),
                  pc.if_match ? pc.if_match : "",
                  pc.if_unmodified_since ? pc.if_unmodified_since : "",
                  pc.if_none_match ? pc.if_none_match : "",
                  pc.if_modified_since ? pc.if_modified_since : "");
    return cc_evaluate_preconditions(&pc);
}

/* ------------------------------------------------------------------ */
/* Hooks                                                               */

static int condcache_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                apr_pool_t *ptemp)
{
    (void)pconf;
    (void)plog;
    (void)ptemp;
    warm_algos = 0;
    return OK;
}

static apr_status_t close_wake_pipe(void *data)
{
    int *fds = data;

    close(fds[0]);
    close(fds[1]);
    wake_fd = -1;
    return APR_SUCCESS;
}

/* The background worker of this generation, with a pipe to wake it. */
static int start_worker(apr_pool_t *pconf, server_rec *s,
                        const server_conf_t *sc)
{
    condcache_worker_conf_t wc;
    const dir_conf_t *main_conf;
    int *fds = apr_palloc(pconf, 2 * sizeof(int));
    unsigned algos;
    int a;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, "cannot make a pipe "
                     "for the background worker; it is not started");
        return OK;
    }
    (void)fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    apr_pool_cleanup_register(pconf, fds, close_wake_pipe,
                              apr_pool_cleanup_null);
    wake_fd = fds[1];
    memset(&wc, 0, sizeof(wc));
    wc.table = table;
    wc.queue = queue;
    wc.wake_fd = fds[0];
    wc.warm_dirs = sc->warm_dirs;
    /* the server's own digest (sha1 unless it says another), and every
     * one a section of the server configuration names */
    main_conf = ap_get_module_config(s->lookup_defaults, &condcache_module);
    algos = warm_algos | (1u << conf_algo(main_conf));
    for (a = 1; cc_algo_name((cc_algo_e)a)
                && wc.warm_nalgos < CC_DIGEST_MULTI_MAX; a++) {
        if (algos & (1u << a)) {
            wc.warm_algos[wc.warm_nalgos++] = (cc_algo_e)a;
        }
    }
    wc.warm_max_size = effective_max_file_size(main_conf);
    /* what the status page says until the worker reports itself */
    cc_queue_warm_reset(queue, sc->warm_dirs->nelts ? CC_WARM_RUNNING
                                                    : CC_WARM_NONE);
    return condcache_worker_start(pconf, s, &wc);
}

static int condcache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    server_conf_t *sc = ap_get_module_config(s->module_config,
                                             &condcache_module);
    apr_uint32_t entries = sc->entries != UNSET ? (apr_uint32_t)sc->entries
                                                : DEFAULT_ENTRIES;
    condcache_store_t store;
    int rv;

    (void)plog;
    (void)ptemp;
    table = NULL;
    queue = NULL;
    dav_provider_name = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (ap_find_linked_module("mod_dav.c")) {
        dav_provider_name = (dav_provider_name_fn)dlsym(RTLD_DEFAULT,
                                                "dav_get_provider_name");
        if (!dav_provider_name) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "mod_dav is loaded but its dav_get_provider_name() "
                         "cannot be found: WebDAV scopes cannot be told "
                         "apart; keep CondCache Off where Dav is On");
        }
    }
    rv = condcache_store_setup(pconf, s, entries, sc->table_file, &store);
    if (rv != OK) {
        return rv;
    }
    table = store.table;
    queue = store.queue;
    table_file = store.table_file;
    table_state = store.state;
    return start_worker(pconf, s, sc);
}

/* One integrity field, with the algorithms the request's Want- field
 * chooses among those we have. */
static void set_field(request_rec *r, const req_state_t *st,
                      const char *name, const char *want_name)
{
    const char *names[CC_FIELDS_MAX], *chosen_names[CC_FIELDS_MAX];
    const unsigned char *bytes[CC_FIELDS_MAX];
    apr_size_t lens[CC_FIELDS_MAX];
    int chosen[CC_FIELDS_MAX], i, n;
    char *value = apr_palloc(r->pool, CC_FIELDS_VALUE_MAX);

    for (i = 0; i < st->n_fields; i++) {
        names[i] = cc_algo_field_name(st->fields[i].algo);
    }
    n = cc_fields_choose(apr_table_get(r->headers_in, want_name), names,
                         st->n_fields, chosen);
    for (i = 0; i < n; i++) {
        chosen_names[i] = names[chosen[i]];
        bytes[i] = st->fields[chosen[i]].bytes;
        lens[i] = cc_algo_size(st->fields[chosen[i]].algo);
    }
    if (cc_fields_format(chosen_names, bytes, lens, n, value) > 0) {
        apr_table_setn(r->headers_out, name, value);
    }
}

/* RFC 9530 fields of a 200 or 206 (and HEAD): Unencoded-Digest always
 * (the file as stored, whatever coding a filter applies), Repr-Digest
 * unless a filter codes the response (the headers filter takes it away
 * then: content coding is part of the representation).  A file stored
 * coded (mod_mime's AddEncoding: app.js.gz sent as gzip) is the coded
 * representation itself: Repr-Digest, and no Unencoded-Digest, which
 * would be the digest of bytes the module never read. */
static void set_integrity_fields(request_rec *r, const req_state_t *st)
{
    if (st->n_fields == 0) {
        return;
    }
    if (st->has_variant) {
        /* the sidecar decodes to the file: its digest is the content's
         * before coding; the coded bytes' was never computed */
        set_field(r, st, "Unencoded-Digest", "Want-Unencoded-Digest");
        return;
    }
    if (r->content_encoding) {
        set_field(r, st, "Repr-Digest", "Want-Repr-Digest");
        return;                 /* no filter codes a coded response again */
    }
    set_field(r, st, "Unencoded-Digest", "Want-Unencoded-Digest");
    set_field(r, st, "Repr-Digest", "Want-Repr-Digest");
    if (st->coding_filters && apr_table_get(r->headers_out, "Repr-Digest")) {
        ap_add_output_filter_handle(headers_filter, NULL, r, r->connection);
    }
}

/* Sends what was decided: the headers core's default handler sets, with
 * the module's tag and Cache-Control, and the body (or, for a 304 or 412,
 * an empty one) down the filter chain, exactly as core does. */
static int send_response(request_rec *r, req_state_t *st, cc_precond_e result)
{
    core_dir_config *core = ap_get_core_module_config(r->per_dir_config);
    apr_bucket_brigade *bb;
    apr_bucket *e;
    apr_status_t rv;

    apr_file_t *body = st->has_variant ? st->variant.file : st->file;
    apr_off_t body_size = (apr_off_t)(st->has_variant ? st->variant.key.size
                                                      : st->key.size);

    ap_update_mtime(r, st->key.mtime);
    ap_set_last_modified(r);
    if (st->etag) {
        apr_table_setn(r->headers_out, "ETag", st->etag);
    }
    if (st->vary) {
        /* every response of a file that has variants, identity too */
        apr_table_mergen(r->headers_out, "Vary", "Accept-Encoding");
    }
    if (st->has_variant) {
        /* coded already: mod_deflate and mod_brotli must not code it
         * again (nor, on a 304, add their suffix to its tag) */
        apr_table_setn(r->subprocess_env, "no-gzip", "1");
        apr_table_setn(r->subprocess_env, "no-brotli", "1");
        if (result == CC_PRECOND_PASS) {
            r->content_encoding = cc_coding_name(st->variant.coding);
        }
        cc_table_count_variant(table, CC_VARIANT_SERVED, 1);
    }
    ap_set_accept_ranges(r);
    ap_set_content_length(r, body_size);
    if (st->cache_control) {
        apr_table_setn(r->headers_out, "Cache-Control", st->cache_control);
    }
    if (st->expires) {
        apr_table_setn(r->headers_out, "Expires", st->expires);
    }

    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    switch (result) {
    case CC_PRECOND_FAILED:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "%s: precondition failed", r->uri);
        /* as core: the status on the request, not through ap_die(), so
         * no ErrorDocument puts another resource's validators on it */
        r->status = HTTP_PRECONDITION_FAILED;
        break;
    case CC_PRECOND_NOT_MODIFIED:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "%s: not modified", r->uri);
        r->status = HTTP_NOT_MODIFIED;
        if (st->file && st->coding_filters && !st->has_variant) {
            /* The 304 goes down the filter chain with the file, exactly as
             * a HEAD does: the HTTP header filter drops the body unread.
             * The filters thus see the response they saw for the 200 and
             * add the same headers: mod_deflate (which ignores bodiless
             * responses) and mod_brotli put their coding suffix on the
             * ETag and add Vary.  mod_filter, which runs
             * AddOutputFilterByType filters, passes over responses other
             * than 200 unless "filter-errordocs" is set. */
            apr_table_setn(r->subprocess_env, "filter-errordocs", "1");
            ap_add_output_filter_handle(headers_filter, NULL, r,
                                        r->connection);
            e = apr_brigade_insert_file(bb, st->file, 0,
                                        (apr_off_t)st->key.size, r->pool);
        }
        break;
    case CC_PRECOND_PASS:
        set_integrity_fields(r, st);
        e = apr_brigade_insert_file(bb, body, 0, body_size, r->pool);
#if APR_HAS_MMAP
        if (core->enable_mmap == ENABLE_MMAP_OFF) {
            (void)apr_bucket_file_enable_mmap(e, 0);
        }
#endif
        if (core->read_buf_size) {
            apr_bucket_file_set_buf_size(e, core->read_buf_size);
        }
        break;
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));

    rv = ap_pass_brigade(r->output_filters, bb);
    apr_brigade_cleanup(bb);
    if (rv == APR_SUCCESS || r->status != HTTP_OK || r->connection->aborted) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, rv, r,
                  "sending %s failed", r->filename);
    return AP_FILTER_ERROR;
}

static int condcache_handler(request_rec *r)
{
    const dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                                  &condcache_module);
    req_state_t *st;
    cc_precond_e result;
    int status;

    if (!conf_enabled(conf)) {
        return DECLINED;
    }
    if ((st = prepare(r, conf)) == NULL) {
        return DECLINED;
    }

    ap_allow_standard_methods(r, MERGE_ALLOW, M_GET, M_OPTIONS, M_POST, -1);
    if ((status = ap_discard_request_body(r)) != OK) {
        return status;
    }

    /* A 304 or 412 is decided on httpd's stat and the table alone: no
     * descriptor, no syscall of the module's own.  A body needs the
     * descriptor, and so does a 304 that compression filters must see;
     * opening it may show another file, and then the decision is made
     * again on that one. */
    for (;;) {
        int need_file;

        if (conf_variants(conf) && !st->variant_tried) {
            choose_variant(r, conf, st);
        }
        result = evaluate(r, st);
        if (st->has_variant) {
            /* the variant's bytes were checked against the file's digest:
             * the file itself need not be opened */
            if (result != CC_PRECOND_PASS
                || condcache_variant_open(r, &st->variant)) {
                break;
            }
            drop_variant(st);
            continue;
        }
        need_file = result == CC_PRECOND_PASS
                    || (result == CC_PRECOND_NOT_MODIFIED
                        && st->coding_filters);
        if (!need_file || st->verified) {
            break;
        }
        if (!verify(r, conf, st)) {
            return DECLINED;
        }
        st->variant_tried = 0;      /* the file may be another one now */
    }
    return send_response(r, st, result);
}

/* CondCacheStripCodingSuffix, for responses of other handlers (PHP, CGI,
 * proxies) behind mod_deflate or mod_brotli (Apache bug 45023): a client
 * sends back the tag of the compressed response, "v1-gzip", and the
 * application, which tagged its content "v1", never matches it.  Before
 * any handler runs, the suffixes of codings the request accepts are taken
 * off the tags in If-None-Match and If-Match; what the client sent is
 * kept in a note (the module's own handler answers with it), and a filter
 * puts the suffix back on the tag of a 304, so that the client is told
 * the tag it holds. */
static int condcache_fixups(request_rec *r)
{
    const dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                                  &condcache_module);
    static const char *const fields[] = { "If-None-Match", "If-Match" };
    unsigned refused, stripped = 0;
    int i;

    if (!conf_strip(conf) || r->main) {
        return DECLINED;
    }
    refused = cc_codings_refused(apr_table_get(r->headers_in,
                                               "Accept-Encoding"));
    for (i = 0; i < 2; i++) {
        const char *v = apr_table_get(r->headers_in, fields[i]);
        char *out;
        unsigned bits;

        if (!v) {
            continue;
        }
        out = apr_palloc(r->pool, strlen(v) + 1);
        bits = cc_etag_list_strip(v, refused, out);
        if (bits) {
            apr_table_setn(r->notes, apr_pstrcat(r->pool, NOTE_CLIENT_PREFIX,
                                                 fields[i], NULL), v);
            apr_table_setn(r->headers_in, fields[i], out);
            stripped |= bits;
        }
    }
    if (stripped) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "coding suffixes "
                      "taken off the request's validators for the handler");
        ap_add_output_filter_handle(suffix_filter, NULL, r, r->connection);
    }
    return DECLINED;
}

/* The 304 of another handler, to a request whose tags lost their coding
 * suffix: when its ETag is one the client sent with a suffix, it gets the
 * suffix back (the client keeps the tag of its compressed copy). */
static apr_status_t suffix_filter_func(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    const char *etag = apr_table_get(r->headers_out, "ETag");
    const char *inm = apr_table_get(r->notes,
                                    NOTE_CLIENT_PREFIX "If-None-Match");

    if (r->status == HTTP_NOT_MODIFIED && etag && inm
        && cc_etag_is_valid(etag, strlen(etag))) {
        static const unsigned all[] = { CC_CODING_GZIP, CC_CODING_BR,
                                        CC_CODING_ZSTD };
        int i;

        for (i = 0; i < 3; i++) {
            const char *held = variant_tag(r, etag, all[i]);
            if (cc_etag_list_match_codings(inm, held, CC_COMPARE_WEAK,
                                           CC_CODING_GZIP | CC_CODING_BR
                                           | CC_CODING_ZSTD)) {
                apr_table_setn(r->headers_out, "ETag", held);
                break;
            }
        }
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* After the content-set filters (mod_deflate, mod_brotli), before the
 * HTTP header filter, the headers the module sent are made true to what
 * the filters did:
 *   - a 304: mod_deflate and mod_brotli, seeing one for a variant they
 *     would compress, add their ETag suffix and Vary, and also
 *     Content-Encoding; a 304 carries no representation metadata beyond
 *     what RFC 9110 15.4.5 lists, so that one goes again;
 *   - a coded 200 or 206: Repr-Digest named the identity representation,
 *     which this response is not (Unencoded-Digest stays: it is the
 *     digest before coding). */
static apr_status_t headers_filter_func(ap_filter_t *f,
                                        apr_bucket_brigade *bb)
{
    request_rec *r = f->r;

    if (r->status == HTTP_NOT_MODIFIED) {
        apr_table_unset(r->headers_out, "Content-Encoding");
        r->content_encoding = NULL;
    }
    else if (r->content_encoding
             || apr_table_get(r->headers_out, "Content-Encoding")) {
        apr_table_unset(r->headers_out, "Repr-Digest");
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* ------------------------------------------------------------------ */
/* Status: our own page, and a section in mod_status's page            */

/* What the status lines are read from. */
typedef struct {
    cc_table_stats_t table;
    cc_queue_stats_t queue;
} all_stats_t;

/* The numeric status lines: ?auto key, HTML label, and where the value is
 * in all_stats_t (every field an unsigned of 32 or 64 bits). */
#define STAT(key, label, field) \
    { key, label, APR_OFFSETOF(all_stats_t, field), \
      sizeof(((all_stats_t *)0)->field) }

static const struct {
    const char *key;
    const char *label;
    apr_size_t  offset;
    apr_size_t  size;
} stat_lines[] = {
    STAT("Capacity", "Capacity (entries)", table.capacity),
    STAT("EntriesInUse", "Entries in use", table.in_use),
    STAT("Hits", "Hits (tag found in the table)", table.hits),
    STAT("Misses", "Misses (tag not in the table)", table.misses),
    STAT("Inserts", "Inserts", table.inserts),
    STAT("Evictions", "Evictions (entries replaced)", table.evictions),
    STAT("FilesHashed", "Files hashed", table.files_hashed),
    STAT("BytesHashed", "Bytes hashed", table.bytes_hashed),
    STAT("Waits", "Waits for another process's hash", table.waits),
    STAT("Uncached", "Not stored (changed too recently)", table.uncached),
    STAT("LockRecoveries", "Write locks recovered from dead processes",
         table.lock_recoveries),
    STAT("VariantsServed", "Precompressed variants sent",
         table.variants_served),
    STAT("VariantsChecked", "Precompressed sidecars decoded and compared",
         table.variants_checked),
    STAT("VariantsRejected", "Precompressed sidecars rejected (not "
         "their original)",
         table.variants_rejected),
    STAT("BytesDecoded", "Sidecar bytes decoded", table.bytes_decoded),
    STAT("SharedMemoryBytes", "Shared memory (bytes)", table.shm_bytes),
    STAT("BytesPerEntry", "Bytes per entry", table.slot_bytes),
    STAT("QueueWaiting", "Background queue: files waiting", queue.waiting),
    STAT("QueueAdded", "Background queue: files added", queue.added),
    STAT("QueueDone", "Background queue: files done", queue.done),
    STAT("QueueStored", "Background queue: digests stored", queue.stored),
    STAT("QueueBytes", "Background queue: bytes hashed", queue.bytes),
    STAT("QueueFull", "Background queue: files refused (full)", queue.full),
    STAT("WarmUpFiles", "Warm-up: files looked at", queue.warm_seen),
    STAT("WarmUpHashed", "Warm-up: files hashed", queue.warm_hashed),
    STAT("WarmUpBytes", "Warm-up: bytes hashed", queue.warm_bytes),
    STAT("WarmUpMilliseconds", "Warm-up: time taken (ms)", queue.warm_msec),
    STAT("WorkerPid", "Background worker (pid)", queue.worker_pid),
};

#define STAT_LINES (sizeof(stat_lines) / sizeof(stat_lines[0]))

static apr_uint64_t stat_value(const all_stats_t *st, apr_size_t i)
{
    const char *at = (const char *)st + stat_lines[i].offset;

    switch (stat_lines[i].size) {
    case sizeof(apr_uint32_t): return *(const apr_uint32_t *)(const void *)at;
    default:                   return *(const apr_uint64_t *)(const void *)at;
    }
}

static const char *warm_state_name(cc_warm_state_e state)
{
    switch (state) {
    case CC_WARM_RUNNING:    return "running";
    case CC_WARM_DONE:       return "done";
    case CC_WARM_TABLE_FULL: return "table-full";
    case CC_WARM_NONE:       break;
    }
    return "none";
}

/* One status line: "<prefix>Key: value", or a row of the HTML table. */
static void write_line(request_rec *r, int brief, const char *prefix,
                       const char *key, const char *label, const char *value)
{
    if (brief) {
        ap_rprintf(r, "%s%s: %s\n", prefix, key, value);
    }
    else {
        ap_rprintf(r, "<tr><th align=\"left\">%s</th><td align=\"right\">"
                   "%s</td></tr>\n", label, ap_escape_html(r->pool, value));
    }
}

/* The status as "<prefix>Key: value" lines, or as an HTML table. */
static void write_stats(request_rec *r, int brief, const char *prefix)
{
    all_stats_t st;
    apr_size_t i;

    memset(&st, 0, sizeof(st));
    /* the queue first: a warm-up state read as done (acquire) shows every
     * table count the worker made before it said so */
    if (queue) {
        cc_queue_stats(queue, &st.queue);
    }
    if (table) {
        cc_table_stats(table, &st.table);
    }
    if (!brief) {
        ap_rputs("<table border=\"0\">\n", r);
    }
    write_line(r, brief, prefix, "TableFile", "Table file",
               table_file ? table_file : "none");
    write_line(r, brief, prefix, "TableState", "Table (memory, new, "
               "reattached from the file, or kept across a restart)",
               table_state ? table_state : "none");
    write_line(r, brief, prefix, "WarmUpState", "Warm-up",
               warm_state_name(st.queue.warm_state));
    for (i = 0; i < STAT_LINES; i++) {
        write_line(r, brief, prefix, stat_lines[i].key, stat_lines[i].label,
                   apr_psprintf(r->pool, "%" APR_UINT64_T_FMT,
                                stat_value(&st, i)));
    }
    if (!brief) {
        ap_rputs("</table>\n", r);
    }
}

/* The status page, where the server configuration says CondCacheStatus
 * On.  A handler name alone ("SetHandler condcache-status", which a
 * .htaccess could write) is not enough. */
static int condcache_status_handler(request_rec *r)
{
    const dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                                  &condcache_module);
    int brief;

    if (conf->status_page != 1) {
        if (r->handler && strcmp(r->handler, CONDCACHE_STATUS_HANDLER) == 0) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, "%s: \"SetHandler "
                          CONDCACHE_STATUS_HANDLER "\" does not show the "
                          "status page; \"CondCacheStatus On\" in a "
                          "<Location> of the server configuration does",
                          r->uri);
        }
        return DECLINED;
    }
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    brief = r->args && ap_strstr_c(r->args, "auto") != NULL;
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, brief ? "text/plain; charset=ISO-8859-1"
                                 : "text/html; charset=ISO-8859-1");
    if (r->header_only) {
        return OK;
    }
    if (!brief) {
        ap_rputs(DOCTYPE_HTML_3_2
                 "<html><head>\n<title>mod_condcache status</title>\n"
                 "</head><body>\n<h1>mod_condcache status</h1>\n", r);
    }
    write_stats(r, brief, "");
    if (!brief) {
        ap_rputs("<p>Machine-readable: <a href=\"?auto\">?auto</a></p>\n"
                 "</body></html>\n", r);
    }
    return OK;
}

/* mod_status's page: a section of its own, "CondCache"-prefixed keys. */
static int condcache_status_hook(request_rec *r, int flags)
{
    int brief = (flags & AP_STATUS_SHORT) != 0;

    if (!brief) {
        ap_rputs("<hr />\n<h2>mod_condcache</h2>\n", r);
    }
    write_stats(r, brief, "CondCache");
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    /* mod_dialup's handler also runs at REALLY_LAST - 1 and serves the
     * files whose directory sets a ModemStandard: it goes first whatever
     * the order the modules are loaded in. */
    static const char *const after_dialup[] = { "mod_dialup.c", NULL };

    (void)p;
    ap_hook_pre_config(condcache_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(condcache_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Where the server configuration put the status page, it comes before
     * other handlers (only REALLY_FIRST ones, such as mod_cache's, and
     * mod_proxy's, go first). */
    ap_hook_handler(condcache_status_handler, NULL, NULL, APR_HOOK_FIRST);
    /* After every other handler, just before core's default handler
     * (REALLY_LAST), which would overwrite the ETag.  No successor list:
     * see the header comment. */
    ap_hook_handler(condcache_handler, after_dialup, NULL,
                    APR_HOOK_REALLY_LAST - 1);
    APR_OPTIONAL_HOOK(ap, status_hook, condcache_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
    /* after the content-set filters (mod_deflate, mod_brotli), before
     * the protocol ones (the HTTP header filter) */
    headers_filter = ap_register_output_filter("CONDCACHE_HEADERS",
            headers_filter_func, NULL, AP_FTYPE_CONTENT_SET + 5);
    suffix_filter = ap_register_output_filter("CONDCACHE_SUFFIX",
            suffix_filter_func, NULL, AP_FTYPE_CONTENT_SET + 5);
    /* first: before mod_rewrite's or mod_proxy's fixups look at them */
    ap_hook_fixups(condcache_fixups, NULL, NULL, APR_HOOK_REALLY_FIRST);
}

/* ------------------------------------------------------------------ */
/* Directives and module                                               */

static const command_rec condcache_cmds[] = {
    AP_INIT_TAKE1("CondCache", set_on_off,
                  (void *)APR_OFFSETOF(dir_conf_t, enabled), OR_FILEINFO,
                  "On to give static files content ETags and answer "
                  "conditional requests for them; Off (the default) to "
                  "leave them to core"),
    AP_INIT_TAKE1("CondCacheDigest", set_digest, NULL, OR_FILEINFO,
                  "The digest of the ETag: sha1 (default; as FileETag "
                  "Digest), sha256, md5 or xxh128"),
    AP_INIT_TAKE1("CondCacheNoCache", set_on_off,
                  (void *)APR_OFFSETOF(dir_conf_t, no_cache), OR_FILEINFO,
                  "On to send Cache-Control: no-cache (store, but "
                  "revalidate every time)"),
    AP_INIT_TAKE1("CondCacheNoStore", set_on_off,
                  (void *)APR_OFFSETOF(dir_conf_t, no_store), OR_FILEINFO,
                  "On to send Cache-Control: no-store and no ETag"),
    AP_INIT_TAKE1("CondCacheMaxAge", set_max_age, NULL, OR_FILEINFO,
                  "Seconds for Cache-Control: max-age (and Expires)"),
    AP_INIT_TAKE1("CondCacheMaxFileSize", set_max_file_size, NULL, OR_FILEINFO,
                  "Files bigger than this many bytes are not hashed; they "
                  "get the ETag FileETag configures (default: no limit); "
                  "a .htaccess may only lower it"),
    AP_INIT_TAKE1("CondCacheInlineHashMax", set_inline_max, NULL, OR_FILEINFO,
                  "Files bigger than this many bytes are hashed by the "
                  "background worker, not by the request that finds them "
                  "(default 1048576); a .htaccess may only lower it"),
    AP_INIT_RAW_ARGS("CondCacheIntegrity", set_integrity, NULL, OR_FILEINFO,
                     "sha-256 and/or sha-512: Repr-Digest and "
                     "Unencoded-Digest from the remembered digests; Off "
                     "(the default) for none"),
    AP_INIT_RAW_ARGS("CondCachePrecompressed", set_precompressed, NULL,
                     OR_FILEINFO,
                     "br, gzip and/or zstd: send F.br, F.gz or F.zst in "
                     "F's place to clients that accept it, once it is "
                     "known to decode to F; Off (the default) for none"),
    AP_INIT_TAKE1("CondCacheStripCodingSuffix", set_on_off,
                  (void *)APR_OFFSETOF(dir_conf_t, strip_suffix), OR_FILEINFO,
                  "On to take -gzip, -br and -zstd off the tags in "
                  "If-None-Match and If-Match for other handlers (PHP, "
                  "CGI, proxies) behind mod_deflate or mod_brotli"),
    AP_INIT_TAKE1("CondCacheTableFile", set_table_file, NULL, RSRC_CONF,
                  "A file that keeps the table of digests across restarts "
                  "and reboots; main server configuration only"),
    AP_INIT_ITERATE("CondCacheWarmUp", add_warm_dir, NULL, RSRC_CONF,
                    "Directories whose files the background worker hashes "
                    "after start; main server configuration only"),
    AP_INIT_TAKE1("CondCacheEntries", set_entries, NULL, RSRC_CONF,
                  "Capacity of the shared table of digests, in entries "
                  "(default 65536); main server configuration only"),
    AP_INIT_TAKE1("CondCacheStatus", set_on_off,
                  (void *)APR_OFFSETOF(dir_conf_t, status_page), ACCESS_CONF,
                  "On to show the status page here; in a <Location> or "
                  "<Directory> of the server configuration only"),
    { NULL }
};

AP_DECLARE_MODULE(condcache) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    NULL,
    condcache_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};

/* mod_condcache: strong content ETags for static files, computed once and
 * remembered in shared memory, with per-directory Cache-Control.
 *
 * This file is the httpd glue: directives, configuration merging, hooks
 * and the status handler.  What a tag is, how lists of tags match, how
 * preconditions are evaluated and the shared table live in validators.c,
 * which knows nothing of requests.
 *
 * Request flow for a GET or HEAD of a regular file in a "CondCache On"
 * scope, with no handler of its own:
 *
 *   fixups (LAST,      find the tag and decide the directory's Cache-
 *   after mod_include) Control; keep it all with the request.  Nothing is
 *                      sent or set yet.  A conditional request looks the
 *                      table up with the key of httpd's own stat
 *                      (r->finfo), after checking that this process may
 *                      read the file; anything else opens the file, takes
 *                      fstat of the descriptor, and looks that key up or
 *                      hashes that descriptor (one process per file at a
 *                      time).
 *   other handlers     CGI, PHP, server-status, ... claim what is theirs.
 *   handler            (REALLY_LAST, before core's default handler) RFC
 *                      9110 preconditions.  A 304 or 412 needs no
 *                      descriptor: a revalidation that hits the table opens
 *                      nothing, which is cheaper than core, whose handler
 *                      opens the file even for a 304.  A body needs the
 *                      descriptor; if it was not opened yet and turns out
 *                      to be another file than httpd's stat saw (a deploy
 *                      renamed one into place), the tag is found again and
 *                      the preconditions evaluated again for it.  Then
 *                      Last-Modified, ETag, Accept-Ranges, Content-Length
 *                      from that fstat, the Cache-Control, and the
 *                      descriptor as a file bucket: sendfile/mmap and the
 *                      byte-range filter (206, If-Range, 416) work as for
 *                      core.  Where compression filters run, a 304 goes
 *                      down the filters with the file too, as a HEAD does,
 *                      so mod_deflate and mod_brotli give it the ETag suffix
 *                      and Vary they gave the 200; the HTTP header filter
 *                      drops the body unread.
 *
 * Response headers are set by the handler, not the fixup, so that a request
 * another handler claims after all (a PHP file mapped by AddType, say) gets
 * none of them.  Requests the fixup did not prepare (a DirectoryIndex page
 * reached by mod_dir's internal fast redirect) are prepared by the handler.
 * Left to httpd: subrequests (mod_autoindex looks up every file of a
 * listing with one, and those must not hash anything), pages that
 * mod_include will rewrite, and responses a module marked no_local_copy.
 *
 * The table is created in post_config (not in the first, dry run) in
 * anonymous shared memory that the children inherit.  It is kept in
 * retained data on the process pool, so a graceful restart keeps its
 * contents when CondCacheEntries did not change.
 */

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

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include "validators.h"

module AP_MODULE_DECLARE_DATA condcache_module;

APLOG_USE_MODULE(condcache);

#define CONDCACHE_NOTE            "condcache"
#define CONDCACHE_STATUS_HANDLER  "condcache-status"
#define CONDCACHE_RETAINED_KEY    "mod_condcache-table"

#define UNSET                     (-1)
#define DEFAULT_ENTRIES           65536
#define DEFAULT_MAX_FILE_SIZE     (APR_INT64_C(1) << 30)      /* 1 GiB */
#define MAX_MAX_AGE               APR_INT64_C(2147483647)    /* 2^31 - 1 */
#define MAX_MAX_FILE_SIZE         (APR_INT64_C(1) << 62)

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

typedef struct {
    int         enabled;          /* UNSET, 0, 1 */
    cc_algo_e   algo;             /* CC_ALGO_NONE: unset */
    int         no_cache;         /* UNSET, 0, 1 */
    int         no_store;         /* UNSET, 0, 1 */
    apr_int64_t max_age;          /* UNSET, or seconds */
    apr_int64_t max_file_size;    /* UNSET, or bytes */
} dir_conf_t;

typedef struct {
    apr_int64_t entries;          /* UNSET, or slots; main server only */
} server_conf_t;

/* Kept across restarts in the parent's process pool. */
typedef struct {
    apr_shm_t   *shm;
    apr_uint32_t entries;
} retained_t;

/* Set in post_config of each generation, before the children fork. */
static cc_table_t *table;

static ap_filter_rec_t *not_modified_filter;

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
    return c;
}

#define MERGED(field, unset) (add->field != (unset) ? add->field : base->field)

static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    const dir_conf_t *base = basev, *add = addv;
    dir_conf_t *c = apr_palloc(p, sizeof(*c));

    c->enabled = MERGED(enabled, UNSET);
    c->algo = MERGED(algo, CC_ALGO_NONE);
    c->no_cache = MERGED(no_cache, UNSET);
    c->no_store = MERGED(no_store, UNSET);
    c->max_age = MERGED(max_age, UNSET);
    c->max_file_size = MERGED(max_file_size, UNSET);
    return c;
}

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->entries = UNSET;
    return c;
}

/* The effective values, defaults filled in. */
static int conf_enabled(const dir_conf_t *c)      { return c->enabled == 1; }
static int conf_no_store(const dir_conf_t *c)     { return c->no_store == 1; }
static int conf_no_cache(const dir_conf_t *c)     { return c->no_cache == 1; }

static cc_algo_e conf_algo(const dir_conf_t *c)
{
    return c->algo != CC_ALGO_NONE ? c->algo : CC_ALGO_SHA1;
}

static apr_int64_t conf_max_file_size(const dir_conf_t *c)
{
    return c->max_file_size != UNSET ? c->max_file_size : DEFAULT_MAX_FILE_SIZE;
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
    if (c->algo == CC_ALGO_NONE) {
        return apr_psprintf(cmd->pool, "%s: unknown digest '%s'; use sha1, "
                            "sha256, md5 or xxh128", cmd->cmd->name, arg);
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
    int           failed;     /* the file cannot be served by the module */
    cc_file_key_t key;
    const char   *etag;       /* NULL: send none */
    const char   *outcome;    /* for the note and the log */
    const char   *cache_control;  /* the directory's, or NULL */
    const char   *expires;        /* with a max-age, or NULL */
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

/* Is the output filter named `name` (registered names are lower case) in
 * the request's chain? */
static int has_output_filter(const request_rec *r, const char *name)
{
    const ap_filter_t *f;

    for (f = r->output_filters; f && f != r->proto_output_filters; f = f->next) {
        if (f->frec && f->frec->name && strcmp(f->frec->name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Are there filters in the chain that may change a 304's headers from
 * what it is about (mod_deflate, mod_brotli, ...)?  Those need to see the
 * body.  The ones known to touch headers only do not count. */
static int has_content_filters(const request_rec *r)
{
    static const char *const header_only[] = {
        "fixup_headers_out", "fixup_headers_err", "mod_expires", NULL
    };
    const ap_filter_t *f;
    int i;

    for (f = r->output_filters; f && f != r->proto_output_filters; f = f->next) {
        const char *name = f->frec && f->frec->name ? f->frec->name : "";
        for (i = 0; header_only[i] && strcmp(name, header_only[i]) != 0; i++)
            ;
        if (!header_only[i]) {
            return 1;
        }
    }
    return 0;
}

/* Is this request one the module serves?  The fixup runs before handlers
 * are settled, so it accepts requests no handler has been named for; the
 * handler runs after every other module declined, where the handler name
 * is core's default or the one derived from the content type. */
static const char *not_ours(request_rec *r, int in_handler)
{
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
        && !(in_handler && handler_is_content_type(r))) {
        return "handler";
    }
    if (has_output_filter(r, "includes")) {
        /* server-side includes: mod_include's fixup turned the handler
         * into default-handler and added its filter; the page is made
         * as it is sent, so the file's digest does not describe it */
        return "server-side includes";
    }
    if (r->no_local_copy) {
        /* a module asked that no 304 be sent (mod_include does so when
         * its filter starts, just before the handler) */
        return "no local copy";
    }
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
        st->failed = 1;
        bypass(r, rv, "cannot open the file");
        return -1;
    }
    apr_os_file_get(&fd, st->file);
    rv = cc_file_key_from_fd(fd, &st->key);
    if (rv != APR_SUCCESS) {
        apr_file_close(st->file);
        st->file = NULL;
        st->failed = 1;
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

/* For a conditional request, the table looked up with the key of httpd's
 * own stat: a hit needs no descriptor.  Notes in `how` that it looked. */
static int hit_without_descriptor(request_rec *r, const req_state_t *st,
                                  cc_find_t *how, cc_digest_t *digest)
{
    if (st->verified || !table || !may_not_need_body(r) || !readable(r)) {
        return 0;
    }
    how->looked_up = 1;
    return cc_table_lookup(table, &st->key, how->algo, how->now, digest);
}

/* The tag for st->key.  For a conditional request a hit needs no
 * descriptor: the table is looked up with the key of httpd's own stat.
 * Anything else is hashed from (or looked up for) the descriptor that
 * will be served, which is opened for it. */
static int find_tag(request_rec *r, const dir_conf_t *conf, req_state_t *st)
{
    apr_status_t err = APR_SUCCESS;
    cc_digest_t digest;
    cc_find_t how;
    cc_outcome_e outcome;
    apr_os_file_t fd;

    st->etag = NULL;
    if (conf_no_store(conf)) {
        st->outcome = "no-store";
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s: no-store, no ETag",
                      r->filename);
        set_note(r, st->outcome);
        return 1;
    }
    memset(&how, 0, sizeof(how));       /* no cancel: hash to the end */
    how.algo = conf_algo(conf);
    how.max_size = conf_max_file_size(conf);
    how.now = r->request_time;
    how.looked_up = 0;
    if (st->key.size > how.max_size) {
        outcome = CC_OUTCOME_TOO_LARGE;
    }
    else if (hit_without_descriptor(r, st, &how, &digest)) {
        outcome = CC_OUTCOME_HIT;
    }
    else {
        if (!st->verified) {
            switch (open_file(r, st)) {
            case -1:
                return 0;
            case 1:              /* another file: look that one up */
                how.looked_up = 0;
                break;
            }
        }
        apr_os_file_get(&fd, st->file);
        outcome = cc_find_digest(table, fd, &st->key, &how, &digest, &err);
    }
    st->outcome = cc_outcome_name(outcome);
    switch (outcome) {
    case CC_OUTCOME_HIT:
    case CC_OUTCOME_MISS:
    case CC_OUTCOME_SHARED:
    case CC_OUTCOME_UNCACHED: {
        char *tag = apr_palloc(r->pool, CC_ETAG_MAX);
        cc_etag_format(&digest, tag);
        st->etag = tag;
        break;
    }
    case CC_OUTCOME_TOO_LARGE: {
        /* the tag core would send, as FileETag configures it */
        etag_rec er;
        const char *tag;

        memset(&er, 0, sizeof(er));
        er.request_time = r->request_time;
        er.finfo = &r->finfo;
        er.pathname = r->filename;
        er.fd = st->file;
        tag = ap_make_etag_ex(r, &er);
        st->etag = tag && *tag ? tag : NULL;
        break;
    }
    case CC_OUTCOME_CANCELLED:          /* not asked for here */
        break;
    case CC_OUTCOME_ERROR:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, err, r,
                      "reading %s to hash it failed; serving it "
                      "without an ETag", r->filename);
        break;
    case CC_OUTCOME_CHANGED:
    case CC_OUTCOME_BUSY:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "%s: %s; serving it without an ETag", r->filename,
                      outcome == CC_OUTCOME_CHANGED
                      ? "the file kept changing while it was hashed"
                      : "another process is still hashing it");
        break;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "%s: %s, ETag %s",
                  r->filename, st->outcome, st->etag ? st->etag : "none");
    set_note(r, st->outcome);
    return 1;
}

/* Finds or computes the tag, decides the Cache-Control, and keeps it all
 * with the request; once, whether the fixup or the handler asks first.
 * NULL when the module should leave the request to core. */
static req_state_t *prepare(request_rec *r, const dir_conf_t *conf)
{
    req_state_t *st = ap_get_module_config(r->request_config, &condcache_module);

    if (st) {
        return st->failed ? NULL : st;
    }
    /* Remembered even when it fails, so the handler does not try again. */
    st = apr_pcalloc(r->pool, sizeof(*st));
    ap_set_module_config(r->request_config, &condcache_module, st);
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
    if (!changed || conf_no_store(conf)) {
        return 1;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  "%s changed since httpd's stat; finding its tag again",
                  r->filename);
    return find_tag(r, conf, st);
}

/* RFC 9110 13.2.2 for this request and what st says of the file. */
static cc_precond_e evaluate(request_rec *r, const dir_conf_t *conf,
                             const req_state_t *st)
{
    cc_precond_t pc;

    if (conf_no_store(conf)) {
        return CC_PRECOND_PASS;         /* conditionals are not honoured */
    }
    pc.get_or_head = 1;
    pc.if_match = apr_table_get(r->headers_in, "If-Match");
    pc.if_none_match = apr_table_get(r->headers_in, "If-None-Match");
    pc.if_modified_since = apr_table_get(r->headers_in, "If-Modified-Since");
    pc.if_unmodified_since = apr_table_get(r->headers_in,
                                           "If-Unmodified-Since");
    pc.etag = st->etag;
    /* what Last-Modified will say: never later than the request */
    pc.last_modified = ap_rationalize_mtime(r, st->key.mtime);
    pc.now = r->request_time;
    pc.refused_codings = cc_codings_refused(
            apr_table_get(r->headers_in, "Accept-Encoding"));
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

static int condcache_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                                 apr_pool_t *ptemp, server_rec *s)
{
    server_conf_t *sc = ap_get_module_config(s->module_config,
                                             &condcache_module);
    apr_uint32_t entries = sc->entries != UNSET ? (apr_uint32_t)sc->entries
                                                : DEFAULT_ENTRIES;
    apr_size_t bytes = cc_table_bytes(entries);
    retained_t *kept;
    apr_status_t rv;
    void *base;

    (void)plog;
    (void)ptemp;
    table = NULL;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }

    kept = ap_retained_data_get(CONDCACHE_RETAINED_KEY);
    if (!kept) {
        kept = ap_retained_data_create(CONDCACHE_RETAINED_KEY, sizeof(*kept));
        kept->shm = NULL;
    }
    if (kept->shm && kept->entries == entries) {
        base = (void *)APR_ALIGN((apr_uintptr_t)apr_shm_baseaddr_get(kept->shm),
                                 64);
        table = cc_table_reuse(base, bytes, entries);
        if (table) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                         "keeping the table of %u entries across the restart",
                         entries);
        }
    }
    if (!table) {
        if (kept->shm) {
            /* Children of the old generation keep their own mapping. */
            apr_shm_destroy(kept->shm);
            kept->shm = NULL;
        }
        /* 64 bytes more: APR's anonymous segment is only 8-byte aligned */
        rv = apr_shm_create(&kept->shm, bytes + 64, NULL, s->process->pool);
        if (rv == APR_ENOTIMPL) {
            const char *fname = ap_runtime_dir_relative(s->process->pool,
                                                        "condcache.shm");
            apr_shm_remove(fname, pconf);
            rv = apr_shm_create(&kept->shm, bytes + 64, fname,
                                s->process->pool);
        }
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         "cannot create %" APR_SIZE_T_FMT " bytes of shared "
                         "memory for CondCacheEntries %u; lower "
                         "CondCacheEntries or raise the memory limits",
                         bytes + 64, entries);
            kept->shm = NULL;
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        base = (void *)APR_ALIGN((apr_uintptr_t)apr_shm_baseaddr_get(kept->shm),
                                 64);
        table = cc_table_create(base, bytes, entries);
        kept->entries = entries;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     "created a table of %u entries in %" APR_SIZE_T_FMT
                     " bytes of shared memory", entries, bytes);
    }
    return OK;
}

static int condcache_fixups(request_rec *r)
{
    const dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                                  &condcache_module);
    const char *why;

    if (!conf_enabled(conf)) {
        return DECLINED;
    }
    if ((why = not_ours(r, 0)) != NULL) {
        if (!r->main) {
            bypass(r, APR_SUCCESS, why);
        }
        return DECLINED;
    }
    prepare(r, conf);
    return DECLINED;
}

static int condcache_handler(request_rec *r)
{
    const dir_conf_t *conf = ap_get_module_config(r->per_dir_config,
                                                  &condcache_module);
    core_dir_config *core;
    req_state_t *st;
    apr_bucket_brigade *bb;
    apr_bucket *e;
    apr_status_t rv;
    cc_precond_e result;
    const char *why;
    int status;

    if (!conf_enabled(conf)) {
        return DECLINED;
    }
    if ((why = not_ours(r, 1)) != NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      "handler leaves %s alone: %s", r->uri, why);
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

        result = evaluate(r, conf, st);
        need_file = result == CC_PRECOND_PASS
                    || (result == CC_PRECOND_NOT_MODIFIED
                        && has_content_filters(r));
        if (!need_file || st->verified) {
            break;
        }
        if (!verify(r, conf, st)) {
            return DECLINED;
        }
    }

    ap_update_mtime(r, st->key.mtime);
    ap_set_last_modified(r);
    if (st->etag) {
        apr_table_setn(r->headers_out, "ETag", st->etag);
    }
    ap_set_accept_ranges(r);
    ap_set_content_length(r, (apr_off_t)st->key.size);
    if (st->cache_control) {
        apr_table_setn(r->headers_out, "Cache-Control", st->cache_control);
    }
    if (st->expires) {
        apr_table_setn(r->headers_out, "Expires", st->expires);
    }

    switch (result) {
    case CC_PRECOND_FAILED:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "%s: precondition failed", r->uri);
        return HTTP_PRECONDITION_FAILED;
    case CC_PRECOND_NOT_MODIFIED:
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      "%s: not modified", r->uri);
        r->status = HTTP_NOT_MODIFIED;
        if (st->file) {
            /* The 304 goes down the filter chain with the file, exactly as
             * a HEAD does: the HTTP header filter drops the body unread.
             * The filters thus see the response they saw for the 200 and
             * add the same headers: mod_deflate (which ignores bodiless
             * responses) and mod_brotli put their coding suffix on the
             * ETag and add Vary.  mod_filter, which runs
             * AddOutputFilterByType filters, passes over responses other
             * than 200 unless "filter-errordocs" is set. */
            apr_table_setn(r->subprocess_env, "filter-errordocs", "1");
            ap_add_output_filter_handle(not_modified_filter, NULL, r,
                                        r->connection);
        }
        break;
    case CC_PRECOND_PASS:
        break;
    }

    core = ap_get_core_module_config(r->per_dir_config);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (st->file) {
        e = apr_brigade_insert_file(bb, st->file, 0, (apr_off_t)st->key.size,
                                    r->pool);
#if APR_HAS_MMAP
        if (core->enable_mmap == ENABLE_MMAP_OFF) {
            (void)apr_bucket_file_enable_mmap(e, 0);
        }
#endif
        if (core->read_buf_size) {
            apr_bucket_file_set_buf_size(e, core->read_buf_size);
        }
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

/* mod_deflate and mod_brotli, seeing a 304 for a variant they would
 * compress, add their ETag suffix and Vary, and also Content-Encoding.
 * A 304 carries no representation metadata beyond what RFC 9110 15.4.5
 * lists: take that one away again before the headers are written. */
static apr_status_t not_modified_headers_filter(ap_filter_t *f,
                                                apr_bucket_brigade *bb)
{
    if (f->r->status == HTTP_NOT_MODIFIED) {
        apr_table_unset(f->r->headers_out, "Content-Encoding");
        f->r->content_encoding = NULL;
    }
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

/* ------------------------------------------------------------------ */
/* Status: our own handler, and a section in mod_status's page         */

typedef struct {
    const char  *key;          /* ?auto key */
    const char  *label;        /* HTML label */
    apr_uint64_t value;
} stat_line_t;

#define STAT_LINES 13

static void stat_lines(stat_line_t *l)
{
    cc_table_stats_t st;
    int i = 0;

    memset(&st, 0, sizeof(st));
    if (table) {
        cc_table_stats(table, &st);
    }
#define LINE(k, lab, v) l[i].key = k; l[i].label = lab; l[i].value = (v); i++
    LINE("Capacity", "Capacity (entries)", st.capacity);
    LINE("EntriesInUse", "Entries in use", st.in_use);
    LINE("Hits", "Hits (tag found in the table)", st.hits);
    LINE("Misses", "Misses (tag not in the table)", st.misses);
    LINE("Inserts", "Inserts", st.inserts);
    LINE("Evictions", "Evictions (entries replaced)", st.evictions);
    LINE("FilesHashed", "Files hashed", st.files_hashed);
    LINE("BytesHashed", "Bytes hashed", st.bytes_hashed);
    LINE("Waits", "Waits for another process's hash", st.waits);
    LINE("Uncached", "Not stored (changed in the last second)", st.uncached);
    LINE("LockRecoveries", "Write locks recovered from dead processes",
         st.lock_recoveries);
    LINE("SharedMemoryBytes", "Shared memory (bytes)", st.shm_bytes);
    LINE("BytesPerEntry", "Bytes per entry", st.slot_bytes);
#undef LINE
}

/* The counters as "<prefix>Key: value" lines, or as an HTML table. */
static void write_stats(request_rec *r, int brief, const char *prefix)
{
    stat_line_t lines[STAT_LINES];
    int i;

    stat_lines(lines);
    if (!brief) {
        ap_rputs("<table border=\"0\">\n", r);
    }
    for (i = 0; i < STAT_LINES; i++) {
        if (brief) {
            ap_rprintf(r, "%s%s: %" APR_UINT64_T_FMT "\n", prefix,
                       lines[i].key, lines[i].value);
        }
        else {
            ap_rprintf(r, "<tr><th align=\"left\">%s</th>"
                       "<td align=\"right\">%" APR_UINT64_T_FMT "</td></tr>\n",
                       lines[i].label, lines[i].value);
        }
    }
    if (!brief) {
        ap_rputs("</table>\n", r);
    }
}

static int condcache_status_handler(request_rec *r)
{
    int brief;

    if (!r->handler || strcmp(r->handler, CONDCACHE_STATUS_HANDLER) != 0) {
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
    /* The fixup runs after mod_include's, which turns "server-parsed" into
     * default-handler plus a filter that rewrites the page. */
    static const char *const after_include[] = { "mod_include.c", NULL };
    /* Files are served when every other handler declined, but before
     * core's default handler, which would overwrite the ETag. */
    static const char *const before_core[] = { "core.c", NULL };

    (void)p;
    ap_hook_post_config(condcache_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_fixups(condcache_fixups, after_include, NULL, APR_HOOK_LAST);
    ap_hook_handler(condcache_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(condcache_handler, NULL, before_core, APR_HOOK_REALLY_LAST);
    APR_OPTIONAL_HOOK(ap, status_hook, condcache_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
    /* after the content-set filters (mod_deflate, mod_brotli), before
     * the protocol ones (the HTTP header filter) */
    not_modified_filter = ap_register_output_filter("CONDCACHE_304",
            not_modified_headers_filter, NULL, AP_FTYPE_CONTENT_SET + 5);
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
                  "On to send Cache-Control: no-store, no ETag, and always "
                  "a full response"),
    AP_INIT_TAKE1("CondCacheMaxAge", set_max_age, NULL, OR_FILEINFO,
                  "Seconds for Cache-Control: max-age (and Expires)"),
    AP_INIT_TAKE1("CondCacheMaxFileSize", set_max_file_size, NULL, OR_FILEINFO,
                  "Files bigger than this many bytes are not hashed; they "
                  "get the ETag FileETag configures (default 1073741824)"),
    AP_INIT_TAKE1("CondCacheEntries", set_entries, NULL, RSRC_CONF,
                  "Capacity of the shared table of digests, in entries "
                  "(default 65536); main server configuration only"),
    { NULL }
};

module AP_MODULE_DECLARE_DATA condcache_module = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    NULL,
    condcache_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};

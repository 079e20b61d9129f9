/* condcache_worker.c: the background worker of mod_condcache; see
 * condcache_worker.h for what it does and how it lives.
 *
 * Its loop, in one process with one thread:
 *   1. the warm-up walks, once per start, serving the queue between two
 *      files, so a request's file never waits behind a tree;
 *   2. then the queue, woken by a byte on a pipe that requests write to
 *      (and once a second anyway, for adds whose byte was lost).
 * Hashing goes through the same core as requests (cc_find_digest: single
 * flight, the settle rule, exactly st_size bytes, nothing stored for a
 * file that changed meanwhile), or, for the warm-up, cc_digest_fd_multi()
 * with the same checks, so every digest the worker stores is one a
 * request would have stored.
 */

#define _GNU_SOURCE 1

#include "condcache_worker.h"

#include "http_log.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "mpm_common.h"

#include "apr_signal.h"
#include "apr_strings.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

APLOG_USE_MODULE(condcache);

#define WORKER_STARTUP_ERROR   254

/* ioprio_set(2) has no glibc wrapper */
#define IOPRIO_WHO_PROCESS     1
#define IOPRIO_CLASS_IDLE      3
#define IOPRIO_CLASS_SHIFT     13

/* How full the table may get from the warm-up.  A key lives in one of 8
 * slots from its home: well before the table is full, some inserts find
 * their 8 slots taken and push a digest out (about 8% of them at 90%).
 * Beyond this, warming would only push out digests requests need. */
#define WARM_FILL_PERCENT      60

/* Set in the parent before the fork, read-only afterwards. */
static condcache_worker_conf_t wconf;
static apr_pool_t *root_pool;
static server_rec *root_server;
static pid_t parent_pid;

/* The worker's own (one thread, one process). */
static struct {
    apr_uint64_t seen, hashed, bytes;
    apr_uint64_t fresh;         /* skipped this pass: changed too recently */
    int stopped;
} warm;

/* When the warm-up began, by the monotonic clock, in milliseconds. */
static apr_uint64_t warm_began;

static apr_uint64_t mono_msec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_uint64_t)ts.tv_sec * 1000 + (apr_uint64_t)ts.tv_nsec / 1000000;
}

/* Walks again, a few seconds later, when files were too fresh to keep. */
#define WARM_PASSES            4

static int start_process(apr_proc_t *proc);

static int parent_gone(void)
{
    return getppid() != parent_pid;
}

/* Hashes one file a request handed over, as that request would have. */
static void hash_item(cc_queue_item_t *item)
{
    cc_file_key_t key;
    cc_digest_t digest;
    cc_also_t also;
    cc_outcome_e outcome = CC_OUTCOME_ERROR;
    apr_status_t err = APR_SUCCESS;
    cc_find_t how;
    int fd, tries, a;
    apr_uint64_t bytes = 0;

    fd = open(item->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || cc_file_key_from_fd(fd, &key) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, fd < 0 ? errno : 0, root_server,
                     "background: %s is gone or not a regular file",
                     item->path);
        goto done;
    }
    /* just written: wait the few seconds until its digest may be kept */
    for (tries = 0; tries < 16 && !cc_key_settled(&key, apr_time_now());
         tries++) {
        apr_sleep(apr_time_from_msec(250));
        if (cc_file_key_from_fd(fd, &key) != APR_SUCCESS) {
            goto done;
        }
    }
    memset(&how, 0, sizeof(how));
    for (a = 1; a < 32; a++) {
        if (!(item->algos & (1u << a))) {
            continue;
        }
        if (how.algo == CC_ALGO_NONE) {
            how.algo = (cc_algo_e)a;        /* the lowest is the main one */
        }
        else if (how.n_also < CC_DIGEST_MULTI_MAX - 1) {
            how.also[how.n_also++] = (cc_algo_e)a;
        }
    }
    how.max_size = item->max_size;
    how.now = apr_time_now();
    how.background = 1;
    outcome = cc_find_digests(wconf.table, fd, &key, &how, &digest, &also,
                              &err);
    if (outcome == CC_OUTCOME_MISS || outcome == CC_OUTCOME_UNCACHED
        || outcome == CC_OUTCOME_CHANGED) {
        bytes = (apr_uint64_t)key.size;
    }
    else if (outcome == CC_OUTCOME_HIT) {
        bytes = also.read_for_also;     /* the fields a scope added */
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, err, root_server,
                 "background: %s: %s", item->path, cc_outcome_name(outcome));
done:
    if (fd >= 0) {
        close(fd);
    }
    /* stored: by this hash (a HIT was stored before it came to us, unless
     * its integrity digests were missing and read here) */
    cc_queue_done(wconf.queue, item, bytes, outcome == CC_OUTCOME_MISS
                  || (outcome == CC_OUTCOME_HIT && bytes > 0));
}

static void serve_queue(void)
{
    cc_queue_item_t item;

    /* the parent is asked after an item only: this runs between any two
     * files of the warm-up, and mostly finds nothing */
    while (cc_queue_take(wconf.queue, &item)) {
        hash_item(&item);
        if (parent_gone()) {
            break;
        }
    }
}

static int table_has_room(void)
{
    cc_table_stats_t st;

    cc_table_stats(wconf.table, &st);
    return st.in_use < st.capacity / 100 * WARM_FILL_PERCENT
                       + st.capacity % 100 * WARM_FILL_PERCENT / 100;
}

/* Hashes, in one read, the digests of the warm-up's algorithms that the
 * table lacks for the file `name` of the directory open at `dirfd`, whose
 * lstat() the walk gave.  That stat is the key: the file opened is the
 * one it describes if a stat after the read finds the same key (a file
 * replaced or written since has another inode or ctime), so none is
 * needed in between. */
static void warm_file(int dirfd, const char *name, const struct stat *sb)
{
    cc_algo_e missing[CC_DIGEST_MULTI_MAX];
    cc_digest_t digests[CC_DIGEST_MULTI_MAX];
    cc_file_key_t key, after;
    apr_uint64_t bytes = 0;
    int i, n = 0, fd;

    if (cc_file_key_from_stat(sb, &key) != APR_SUCCESS
        || key.size > wconf.warm_max_size) {
        return;
    }
    for (i = 0; i < wconf.warm_nalgos; i++) {
        if (!cc_table_contains(wconf.table, &key, wconf.warm_algos[i])) {
            missing[n++] = wconf.warm_algos[i];
        }
    }
    if (n == 0) {
        return;                     /* known: a restart warms what changed */
    }
    if (!table_has_room()) {
        warm.stopped = 1;
        return;
    }
    if (!cc_key_settled(&key, apr_time_now())) {
        warm.fresh++;               /* the next pass takes it */
        return;
    }
    /* O_NONBLOCK: a FIFO put in the file's place must not stop the walk */
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    if (cc_digest_fd_multi(fd, key.size, missing, n, digests, &bytes,
                           NULL) == APR_SUCCESS
        && cc_file_key_from_fd(fd, &after) == APR_SUCCESS
        && cc_file_key_equal(&key, &after)
        && cc_key_settled(&after, apr_time_now())) {
        int stored = 0;

        for (i = 0; i < n; i++) {
            stored += cc_table_store(wconf.table, &key, &digests[i],
                                     apr_time_now());
        }
        warm.hashed += stored > 0;
    }
    warm.bytes += bytes;
    close(fd);
}

/* Files between two looks at the parent (a syscall each: on its death
 * the worker also gets a SIGTERM, so this is the second line). */
#define WARM_PARENT_EVERY      32

/* Directories the walk goes down into below a root: it holds one open
 * descriptor for each on its way. */
#define WARM_MAX_DEPTH         64

static int dot_or_dotdot(const char *name)
{
    return name[0] == '.'
           && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* Walks the directory open at `dirfd`, which it closes: hashes its regular
 * files and goes down into its directories.  Everything is opened
 * relative to the directory that holds it and no symbolic link is
 * followed, so the walk stays in the tree even while its directories are
 * renamed or replaced.  0 when done, 1 when the walk must end (the table
 * is full, or the parent is gone). */
static int warm_dir(int dirfd, const char *root, int depth)
{
    static unsigned visits;
    DIR *dir = fdopendir(dirfd);
    struct dirent *e;
    int end = 0;

    if (!dir) {
        close(dirfd);
        return 0;
    }
    while (!end && (e = readdir(dir)) != NULL) {
        struct stat sb;

        if (dot_or_dotdot(e->d_name)
            || (e->d_type != DT_UNKNOWN && e->d_type != DT_REG
                && e->d_type != DT_DIR)) {
            continue;           /* links, devices, FIFOs, sockets */
        }
        if (fstatat(dirfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;           /* gone since */
        }
        if (S_ISDIR(sb.st_mode)) {
            int sub;

            if (depth >= WARM_MAX_DEPTH) {
                static int said;

                if (said++) {
                    continue;
                }
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, root_server,
                             "CondCacheWarmUp: %s has directories more "
                             "than %d deep; not warmed below that", root,
                             WARM_MAX_DEPTH);
                continue;
            }
            sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY
                         | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
            if (sub >= 0) {
                end = warm_dir(sub, root, depth + 1);
            }
            continue;
        }
        if (!S_ISREG(sb.st_mode)) {
            continue;
        }
        if (++visits % WARM_PARENT_EVERY == 0 && parent_gone()) {
            end = 1;
            break;
        }
        serve_queue();          /* a request's file goes first */
        {
            apr_uint64_t hashed = warm.hashed, bytes = warm.bytes;

            warm.seen++;
            warm_file(dirfd, e->d_name, &sb);
            cc_queue_warm_progress(wconf.queue, CC_WARM_RUNNING, 1,
                                   warm.hashed - hashed, warm.bytes - bytes);
            cc_queue_warm_time(wconf.queue, mono_msec() - warm_began);
        }
        end = warm.stopped;
    }
    closedir(dir);              /* closes dirfd */
    return end;
}

/* Serves the queue for `wait`, waking on the pipe. */
static void serve_queue_for(apr_interval_time_t wait)
{
    apr_time_t until = apr_time_now() + wait;

    while (!parent_gone() && apr_time_now() < until) {
        struct pollfd pfd = { wconf.wake_fd, POLLIN, 0 };
        char drain[256];

        serve_queue();
        if (poll(&pfd, 1, 250) > 0 && (pfd.revents & POLLIN)) {
            while (read(wconf.wake_fd, drain, sizeof(drain)) > 0)
                ;
        }
    }
}

static void warm_up(void)
{
    apr_uint64_t took;
    int i, pass;

    if (!wconf.warm_dirs || wconf.warm_dirs->nelts == 0) {
        cc_queue_warm_reset(wconf.queue, CC_WARM_NONE);
        return;
    }
    cc_queue_warm_reset(wconf.queue, CC_WARM_RUNNING);
    warm_began = mono_msec();
    cc_table_prefault(wconf.table);     /* it will touch most of it */
    for (pass = 0; pass < WARM_PASSES && !warm.stopped; pass++) {
        if (pass > 0) {
            if (!warm.fresh) {
                break;
            }
            /* files changed just before: walk again once they may be
             * kept (files already known cost a stat and a lookup) */
            serve_queue_for(apr_time_from_msec(3200));
        }
        warm.fresh = 0;
        for (i = 0; i < wconf.warm_dirs->nelts && !warm.stopped; i++) {
            const char *dir = APR_ARRAY_IDX(wconf.warm_dirs, i,
                                            const char *);
            /* the root itself may be a symbolic link, as the directive
             * allowed; none below it is followed */
            int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NONBLOCK
                          | O_CLOEXEC);

            if (fd < 0) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, errno, root_server,
                             "CondCacheWarmUp: cannot walk %s", dir);
            }
            else {
                (void)warm_dir(fd, dir, 0);
            }
            if (parent_gone()) {
                return;
            }
        }
    }
    took = mono_msec() - warm_began;
    cc_queue_warm_time(wconf.queue, took);  /* before the state says done */
    cc_queue_warm_progress(wconf.queue,
                           warm.stopped ? CC_WARM_TABLE_FULL : CC_WARM_DONE,
                           0, 0, 0);
    if (warm.stopped) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, root_server,
                     "CondCacheWarmUp stopped after %" APR_UINT64_T_FMT
                     " files: the table is %d%% full; raise CondCacheEntries "
                     "to warm up more", warm.seen, WARM_FILL_PERCENT);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, root_server,
                 "CondCacheWarmUp: %" APR_UINT64_T_FMT " files looked at, %"
                 APR_UINT64_T_FMT " hashed (%" APR_UINT64_T_FMT " bytes) in %"
                 APR_UINT64_T_FMT " ms", warm.seen, warm.hashed, warm.bytes,
                 took);
}

/* Runs as the server's User, behind every request in the CPU's and the
 * disk's queues, and never holds a listening socket. */
static int become_background(apr_pool_t *p)
{
    static const int deflt[] = { SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1,
                                 SIGWINCH, SIGCHLD };
    sigset_t none;
    apr_size_t i;

    for (i = 0; i < sizeof(deflt) / sizeof(deflt[0]); i++) {
        apr_signal(deflt[i], SIG_DFL);
    }
    apr_signal(SIGPIPE, SIG_IGN);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    ap_close_listeners();
    /* Behind every other process for the CPU, also those of other
     * sessions: SCHED_IDLE within its group, and a session of its own
     * whose autogroup (where the kernel groups by session) weighs least.
     * Before the credentials change: after it, /proc/self/autogroup
     * belongs to root (the process is no longer dumpable), and a group
     * left at its default weight would take a core's half from httpd's,
     * whatever SCHED_IDLE says inside it. */
    {
        struct sched_param none = { 0 };
        FILE *ag;
        int weighed = 0;

        if (setsid() < 0 || sched_setscheduler(0, SCHED_IDLE, &none) != 0) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, root_server,
                         "background worker: cannot lower its CPU priority");
        }
        (void)setpriority(PRIO_PROCESS, 0, 19);
        if ((ag = fopen("/proc/self/autogroup", "w")) != NULL) {
            weighed = fputs("19", ag) >= 0;
            weighed = fclose(ag) == 0 && weighed;
        }
        if (!weighed) {
            ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, root_server,
                         "background worker: cannot lower its session's "
                         "CPU weight");
        }
    }
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0,
                IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) != 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, errno, root_server,
                     "background worker: cannot lower its I/O priority");
    }
    if (ap_run_drop_privileges(p, root_server) != 0) {
        return -1;
    }
    /* after the credentials changed, which clears it: die with the parent */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (parent_gone()) {
        return -1;
    }
    return 0;
}

static void worker_main(void)
{
    apr_pool_t *p;
    int rounds = 0;

    apr_pool_create(&p, root_pool);
    if (become_background(p) != 0) {
        exit(WORKER_STARTUP_ERROR);
    }
    (void)fcntl(wconf.wake_fd, F_SETFL,
                fcntl(wconf.wake_fd, F_GETFL) | O_NONBLOCK);
    cc_queue_set_worker(wconf.queue, (apr_uint64_t)getpid());
    cc_queue_recover(wconf.queue);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, root_server,
                 "background worker %ld started", (long)getpid());
    warm_up();
    while (!parent_gone()) {
        struct pollfd pfd = { wconf.wake_fd, POLLIN, 0 };
        char drain[256];

        serve_queue();
        if (poll(&pfd, 1, 1000) > 0) {
            if (pfd.revents & POLLIN) {
                while (read(wconf.wake_fd, drain, sizeof(drain)) > 0)
                    ;
            }
            else if (pfd.revents & (POLLHUP | POLLERR)) {
                apr_sleep(apr_time_from_sec(1));   /* no writers left */
            }
        }
        if (++rounds % 10 == 0) {
            cc_queue_recover(wconf.queue);  /* producers that died */
        }
    }
    exit(0);
}

#if APR_HAS_OTHER_CHILD
static void worker_maint(int reason, void *data, apr_wait_t status)
{
    apr_proc_t *proc = data;
    int mpm_state = AP_MPMQ_STOPPING;

    switch (reason) {
    case APR_OC_REASON_DEATH:
        apr_proc_other_child_unregister(data);
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state) == APR_SUCCESS
            && mpm_state != AP_MPMQ_STOPPING) {
            if (status == WORKER_STARTUP_ERROR) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, root_server,
                             "the background worker could not start "
                             "(see above); files waiting for it keep no "
                             "content tag");
            }
            else {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, root_server,
                             "the background worker died; starting another");
                start_process(proc);
            }
        }
        break;
    case APR_OC_REASON_LOST:
        apr_proc_other_child_unregister(data);
        start_process(proc);
        break;
    case APR_OC_REASON_RESTART:
        apr_proc_other_child_unregister(data);
        break;
    case APR_OC_REASON_UNREGISTER:
        /* called by the unregistering itself (pconf is cleared): the
         * process is killed by the pool's subprocess list */
        break;
    }
}
#endif

static int start_process(apr_proc_t *proc)
{
    pid_t pid = fork();

    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, root_server,
                     "cannot start the background worker");
        return DECLINED;
    }
    if (pid == 0) {
        worker_main();
    }
    proc->pid = pid;
    proc->in = proc->out = proc->err = NULL;
    apr_pool_note_subprocess(root_pool, proc, APR_KILL_AFTER_TIMEOUT);
#if APR_HAS_OTHER_CHILD
    apr_proc_other_child_register(proc, worker_maint, proc, NULL, root_pool);
#endif
    return OK;
}

int condcache_worker_start(apr_pool_t *pconf, server_rec *s,
                           const condcache_worker_conf_t *conf)
{
    apr_proc_t *proc = apr_pcalloc(pconf, sizeof(*proc));

    wconf = *conf;
    root_pool = pconf;
    root_server = s;
    parent_pid = getpid();
    memset(&warm, 0, sizeof(warm));
    start_process(proc);
    return OK;          /* the server runs without its worker if need be */
}

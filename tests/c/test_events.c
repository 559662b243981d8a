/* Listeners, properties and stats from C: one completed flush event per table file, in
 * file-number order, matching the *.ldb files on disk and num-files-at-level<N>;
 * siltdb_flush(db, 1) returns after the completed callback ran; callbacks may read and
 * write the same db, and get SILTDB_BUSY from siltdb_flush(db, 1) and siltdb_close;
 * recovery and flush_on_close flushes are reported; a write stall is reported; a flush
 * that fails for real (the file-size limit, EFBIG) gives a completed event with its error. */
#include "check.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_EVENTS 256

typedef struct {
    uint64_t job_id;
    int32_t reason, status, level;
    uint64_t file_number, file_size, num_entries;
    char smallest[32], largest[32]; /* copied: the info is only valid during the call */
    char error[256];
    int has_error;
} flush_event_t;

/* What the callbacks saw. They run on the db's event thread, so the mutex guards it. */
typedef struct {
    pthread_mutex_t mu;
    flush_event_t completed[MAX_EVENTS];
    int n_completed;
    int n_begin;
    uint64_t begin_jobs[MAX_EVENTS];
    /* Order check: every completed job had its begin earlier. */
    int completed_without_begin;
    siltdb_write_stall_info_t stalls[MAX_EVENTS];
    int n_stalls;
    atomic_int manual_completed; /* set by the callback, read right after siltdb_flush */
} recorder_t;

static void recorder_init(recorder_t *r) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    atomic_init(&r->manual_completed, 0);
}

static void copy_key(char *dst, size_t cap, const char *key, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    memcpy(dst, key, n);
    dst[n] = '\0';
}

static void on_begin(void *ctx, const siltdb_flush_info_t *info) {
    recorder_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n_begin < MAX_EVENTS) r->begin_jobs[r->n_begin++] = info->job_id;
    pthread_mutex_unlock(&r->mu);
}

static void on_completed(void *ctx, const siltdb_flush_info_t *info) {
    recorder_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    int begun = 0;
    for (int i = 0; i < r->n_begin; i++) begun |= r->begin_jobs[i] == info->job_id;
    r->completed_without_begin += !begun;
    if (r->n_completed < MAX_EVENTS) {
        flush_event_t *e = &r->completed[r->n_completed++];
        e->job_id = info->job_id;
        e->reason = info->reason;
        e->status = info->status;
        e->level = info->level;
        e->file_number = info->file_number;
        e->file_size = info->file_size;
        e->num_entries = info->num_entries;
        copy_key(e->smallest, sizeof e->smallest, info->smallest_key, info->smallest_key_len);
        copy_key(e->largest, sizeof e->largest, info->largest_key, info->largest_key_len);
        e->has_error = info->error_message != NULL;
        if (e->has_error) snprintf(e->error, sizeof e->error, "%s", info->error_message);
    }
    pthread_mutex_unlock(&r->mu);
    if (info->reason == SILTDB_FLUSH_MANUAL) atomic_store(&r->manual_completed, 1);
}

static void on_stall(void *ctx, const siltdb_write_stall_info_t *info) {
    recorder_t *r = ctx;
    pthread_mutex_lock(&r->mu);
    if (r->n_stalls < MAX_EVENTS) r->stalls[r->n_stalls++] = *info;
    pthread_mutex_unlock(&r->mu);
}

/* Waits up to 10 s until `n` completed events were seen; returns whether they were. */
static int wait_for_completed(recorder_t *r, int n) {
    struct timespec pause = {0, 1000 * 1000};
    for (int waited = 0; waited < 10000; waited++) {
        pthread_mutex_lock(&r->mu);
        int seen = r->n_completed;
        pthread_mutex_unlock(&r->mu);
        if (seen >= n) return 1;
        nanosleep(&pause, NULL);
    }
    return 0;
}

static siltdb_t *open_with(const scratch_t *s, siltdb_options_t *opts) {
    siltdb_t *db = NULL;
    char *err = NULL;
    int rc = siltdb_open(s->db_path, opts, &db, &err);
    if (rc != SILTDB_OK) {
        fprintf(stderr, "open %s failed (%d): %s\n", s->db_path, rc, err ? err : "?");
        siltdb_free(err);
        exit(2);
    }
    return db;
}

static void put_str(siltdb_t *db, const char *key, const char *val) {
    CHECK_STATUS(siltdb_put(db, NULL, key, strlen(key), val, strlen(val), NULL), SILTDB_OK);
}

/* Puts keys key<first>..key<first+n-1> (8-digit, sorted) with `vlen`-byte values. */
static void put_range(siltdb_t *db, int first, int n, size_t vlen) {
    char key[32], val[512];
    int failed = 0;
    for (int i = first; i < first + n; i++) {
        snprintf(key, sizeof key, "key%08d", i);
        for (size_t j = 0; j < vlen && j < sizeof val; j++) val[j] = (char)('a' + (i + j) % 26);
        failed += siltdb_put(db, NULL, key, strlen(key), val, vlen, NULL) != SILTDB_OK;
    }
    CHECK(failed == 0);
}

/* The table file numbers in `dir`, sorted; returns how many. */
static int table_files(const char *dir, uint64_t *out, int cap) {
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name);
        if (len > 4 && strcmp(ent->d_name + len - 4, ".ldb") == 0 && n < cap) {
            out[n++] = strtoull(ent->d_name, NULL, 10);
        }
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a few dozen files */
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            uint64_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* The decimal value of a numeric property, or -1 if it is missing. */
static long long property_number(siltdb_t *db, const char *name) {
    char *v = siltdb_property_value(db, name);
    if (v == NULL) return -1;
    long long n = strtoll(v, NULL, 10);
    siltdb_free(v);
    return n;
}

static void events_match_the_tables_on_disk(void) {
    scratch_t s;
    scratch_create(&s);
    static recorder_t r;
    recorder_init(&r);
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_options_set_write_buffer_size(opts, 64 << 10);
    siltdb_options_set_flush_listener(opts, on_begin, on_completed, &r);
    siltdb_t *db = open_with(&s, opts);
    siltdb_options_destroy(opts); /* the db does not need them any more */

    /* Sorted keys: each table lands on level 2 past the last one, so no compaction
     * rewrites them and the files on disk are exactly the flushes' tables. */
    put_range(db, 0, 6000, 100);
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    CHECK(atomic_load(&r.manual_completed) == 1); /* the callback ran before flush returned */

    pthread_mutex_lock(&r.mu);
    int n = r.n_completed;
    CHECK(n >= 8);
    CHECK(r.n_begin == n);
    CHECK(r.completed_without_begin == 0);
    uint64_t total_entries = 0, total_bytes = 0;
    int per_level[SILTDB_NUM_LEVELS] = {0};
    int in_order = 1, all_ok = 1, reasons_ok = 1, keys_ok = 1;
    for (int i = 0; i < n; i++) {
        flush_event_t *e = &r.completed[i];
        total_entries += e->num_entries;
        total_bytes += e->file_size;
        if (e->level >= 0 && e->level < SILTDB_NUM_LEVELS) per_level[e->level]++;
        in_order &= i == 0 || r.completed[i - 1].file_number < e->file_number;
        all_ok &= e->status == SILTDB_OK && !e->has_error && e->file_size > 0;
        reasons_ok &= e->reason == (i == n - 1 ? SILTDB_FLUSH_MANUAL
                                               : SILTDB_FLUSH_WRITE_BUFFER_FULL);
        keys_ok &= strncmp(e->smallest, "key", 3) == 0 && strcmp(e->smallest, e->largest) <= 0;
    }
    CHECK(in_order);
    CHECK(all_ok);
    CHECK(reasons_ok);
    CHECK(keys_ok);
    CHECK(total_entries == 6000);

    uint64_t on_disk[MAX_EVENTS];
    int files = table_files(s.db_path, on_disk, MAX_EVENTS);
    CHECK(files == n);
    int same_numbers = files == n;
    for (int i = 0; same_numbers && i < n; i++) {
        same_numbers &= on_disk[i] == r.completed[i].file_number;
    }
    CHECK(same_numbers);
    for (int level = 0; level < SILTDB_NUM_LEVELS; level++) {
        char name[64];
        snprintf(name, sizeof name, "leveldb.num-files-at-level%d", level);
        CHECK(property_number(db, name) == per_level[level]);
    }

    siltdb_stats_t stats;
    CHECK_STATUS(siltdb_get_stats(db, &stats, sizeof stats, NULL), SILTDB_OK);
    CHECK(stats.flushes_completed == (uint64_t)n);
    CHECK(stats.flushes_failed == 0);
    CHECK(stats.bytes_flushed == total_bytes);
    CHECK(property_number(db, "siltdb.num-flushes") == n);
    CHECK(stats.writes > 0 && stats.write_groups > 0 && stats.write_groups <= stats.writes);
    CHECK(property_number(db, "siltdb.num-writes") == (long long)stats.writes);
    /* A program built against the first header passes the first version's size. */
    siltdb_stats_t v1;
    memset(&v1, 0xab, sizeof v1);
    CHECK_STATUS(siltdb_get_stats(db, &v1, offsetof(siltdb_stats_t, writes), NULL), SILTDB_OK);
    CHECK(v1.flushes_completed == (uint64_t)n && v1.writes == 0xababababababababULL);
    int levels_match = 1;
    uint64_t level_bytes = 0;
    for (int level = 0; level < SILTDB_NUM_LEVELS; level++) {
        levels_match &= stats.levels[level].files == (uint64_t)per_level[level];
        levels_match &= stats.levels[level].compactions == (uint64_t)per_level[level];
        level_bytes += stats.levels[level].bytes;
    }
    CHECK(levels_match);
    CHECK(level_bytes == total_bytes);
    pthread_mutex_unlock(&r.mu);

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

/* A listener that calls back into its own db. */
typedef struct {
    _Atomic(siltdb_t *) db;
    atomic_int calls, gets_ok, properties_ok, puts_ok, flush_busy, close_busy, stats_ok;
} reentrant_t;

static void reenter(void *ctx, const siltdb_flush_info_t *info) {
    reentrant_t *r = ctx;
    siltdb_t *db = atomic_load(&r->db);
    if (db == NULL) return;
    int call = atomic_fetch_add(&r->calls, 1);
    char *val = NULL;
    size_t len = 0;
    int rc = siltdb_get(db, NULL, "key00000001", 11, &val, &len, NULL);
    siltdb_free(val);
    if (rc == SILTDB_OK) atomic_fetch_add(&r->gets_ok, 1);
    char *prop = siltdb_property_value(db, "leveldb.stats");
    if (prop != NULL) atomic_fetch_add(&r->properties_ok, 1);
    siltdb_free(prop);
    siltdb_stats_t stats;
    if (siltdb_get_stats(db, &stats, sizeof stats, NULL) == SILTDB_OK) {
        atomic_fetch_add(&r->stats_ok, 1);
    }
    char key[32];
    snprintf(key, sizeof key, "from-callback-%d", call);
    if (siltdb_put(db, NULL, key, strlen(key), "x", 1, NULL) == SILTDB_OK) {
        atomic_fetch_add(&r->puts_ok, 1);
    }
    char *err = NULL;
    if (siltdb_flush(db, 1, &err) == SILTDB_BUSY && err != NULL) {
        atomic_fetch_add(&r->flush_busy, 1);
    }
    siltdb_free(err);
    if (siltdb_close(db, NULL) == SILTDB_BUSY) atomic_fetch_add(&r->close_busy, 1);
    (void)info;
}

static void callbacks_may_use_their_db(void) {
    scratch_t s;
    scratch_create(&s);
    static reentrant_t r;
    memset(&r, 0, sizeof r);
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_options_set_write_buffer_size(opts, 64 << 10);
    siltdb_options_set_flush_listener(opts, NULL, reenter, &r); /* begin may be NULL */
    siltdb_t *db = open_with(&s, opts);
    siltdb_options_destroy(opts);
    atomic_store(&r.db, db);

    put_range(db, 0, 3000, 100);
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK); /* returns: nothing deadlocked */
    int calls = atomic_load(&r.calls);
    CHECK(calls >= 3);
    CHECK(atomic_load(&r.gets_ok) == calls);
    CHECK(atomic_load(&r.properties_ok) == calls);
    CHECK(atomic_load(&r.stats_ok) == calls);
    CHECK(atomic_load(&r.puts_ok) == calls);
    CHECK(atomic_load(&r.flush_busy) == calls);
    CHECK(atomic_load(&r.close_busy) == calls);
    /* Close from the callback was refused: the handle still works. */
    CHECK(has_value(db, "from-callback-0", "x"));
    CHECK(!is_missing(db, "key00002999"));
    atomic_store(&r.db, NULL);
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void properties_and_stats_arguments(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    put_str(db, "a", "1");
    const char *unknown[] = {"nope", "", "leveldb.num-files-at-level7",
                             "leveldb.num-files-at-level01", "leveldb.num-files-at-level"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        char *v = siltdb_property_value(db, unknown[i]);
        CHECK(v == NULL);
        siltdb_free(v);
    }
    CHECK(siltdb_property_value(db, NULL) == NULL);
    CHECK(siltdb_property_value(NULL, "leveldb.stats") == NULL);
    CHECK(property_number(db, "siltdb.num-flushes") == 0);
    CHECK(property_number(db, "siltdb.cur-size-active-mem-table") > 0);
    char *bg = siltdb_property_value(db, "siltdb.background-error");
    CHECK(bg != NULL && bg[0] == '\0');
    siltdb_free(bg);
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    CHECK(property_number(db, "siltdb.num-flushes") == 1);
    char *table = siltdb_property_value(db, "leveldb.stats");
    CHECK(table != NULL && strstr(table, "Level  Files Size(MB)") != NULL);
    siltdb_free(table);

    char *err = NULL;
    CHECK_STATUS(siltdb_get_stats(db, NULL, sizeof(siltdb_stats_t), &err),
                 SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(err, "out is NULL") != NULL);
    siltdb_stats_t stats;
    CHECK_STATUS(siltdb_get_stats(db, &stats, 8, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(err, "out_size 8") != NULL);
    siltdb_free(err);
    CHECK_STATUS(siltdb_get_stats(NULL, &stats, sizeof stats, NULL), SILTDB_INVALID_ARGUMENT);
    /* A caller whose header knows more fields than this library gets zeros in them. */
    unsigned char bigger[sizeof(siltdb_stats_t) + 64];
    memset(bigger, 0xab, sizeof bigger);
    CHECK_STATUS(siltdb_get_stats(db, (siltdb_stats_t *)(void *)bigger, sizeof bigger, NULL),
                 SILTDB_OK);
    int tail_zero = 1;
    for (size_t i = sizeof(siltdb_stats_t); i < sizeof bigger; i++) tail_zero &= bigger[i] == 0;
    CHECK(tail_zero);
    siltdb_stats_t copy;
    memcpy(&copy, bigger, sizeof copy);
    CHECK(copy.flushes_completed == 1);

    /* Setters on NULL options do nothing. */
    siltdb_options_set_flush_listener(NULL, on_begin, on_completed, NULL);
    siltdb_options_set_write_stall_listener(NULL, on_stall, NULL);
    siltdb_options_set_flush_on_close(NULL, 1);
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void recovery_and_shutdown_flushes_are_reported(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    put_str(db, "from-the-wal", "1");
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK); /* the key is only in the log */

    static recorder_t r;
    recorder_init(&r);
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_flush_on_close(opts, 1);
    siltdb_options_set_flush_listener(opts, on_begin, on_completed, &r);
    db = open_with(&s, opts);
    /* Recovery's events are queued during open and may still be in delivery. */
    CHECK(wait_for_completed(&r, 1));
    pthread_mutex_lock(&r.mu);
    CHECK(r.n_completed == 1);
    CHECK(r.completed[0].reason == SILTDB_FLUSH_RECOVERY);
    CHECK(r.completed[0].status == SILTDB_OK);
    CHECK(strcmp(r.completed[0].smallest, "from-the-wal") == 0);
    pthread_mutex_unlock(&r.mu);

    put_str(db, "at-close", "2");
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    /* After close returns nothing calls back: the recorder could be freed now. */
    pthread_mutex_lock(&r.mu);
    int after_close = r.n_completed + r.n_begin;
    CHECK(r.n_completed == 2);
    CHECK(r.completed[1].reason == SILTDB_FLUSH_SHUTDOWN);
    CHECK(r.completed[1].status == SILTDB_OK);
    CHECK(strcmp(r.completed[1].smallest, "at-close") == 0);
    uint64_t shutdown_file = r.completed[1].file_number;
    pthread_mutex_unlock(&r.mu);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&r.mu);
    CHECK(r.n_completed + r.n_begin == after_close);
    pthread_mutex_unlock(&r.mu);

    uint64_t on_disk[16];
    int files = table_files(s.db_path, on_disk, 16);
    CHECK(files >= 1 && on_disk[files - 1] == shutdown_file);
    siltdb_options_set_flush_listener(opts, NULL, NULL, NULL); /* both NULL: removed */
    siltdb_options_set_flush_on_close(opts, 0);
    db = open_with(&s, opts);
    CHECK(has_value(db, "at-close", "2"));
    CHECK(has_value(db, "from-the-wal", "1"));
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    siltdb_options_destroy(opts);
    scratch_remove(&s);
}

/* Writes are delayed once level 0 holds level0_slowdown_writes_trigger files: set to 1,
 * one level-0 table makes the next write report SILTDB_STALL_DELAYED. Deterministic,
 * unlike the memtable-limit stall, which depends on how fast the disk is. Overlapping
 * keys put the third table on level 0 (the first two go to levels 2 and 1), and one file
 * is below the compaction trigger (4). */
static void level0_slowdown_is_reported(void) {
    scratch_t s;
    scratch_create(&s);
    static recorder_t r;
    recorder_init(&r);
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_options_set_level0_slowdown_writes_trigger(opts, 1);
    siltdb_options_set_write_stall_listener(opts, on_stall, &r);
    siltdb_t *db = open_with(&s, opts);
    siltdb_options_destroy(opts);

    int rounds = 0;
    while (property_number(db, "leveldb.num-files-at-level0") < 1 && rounds < 3) {
        put_range(db, 0, 100, 10);
        CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
        rounds++;
    }
    CHECK(property_number(db, "leveldb.num-files-at-level0") == 1);
    pthread_mutex_lock(&r.mu);
    CHECK(r.n_stalls == 0);
    pthread_mutex_unlock(&r.mu);

    put_str(db, "key00000050", "again"); /* delayed by 1 ms */
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK); /* delivers pending events */
    pthread_mutex_lock(&r.mu);
    CHECK(r.n_stalls >= 1);
    if (r.n_stalls >= 1) {
        CHECK(r.stalls[0].condition == SILTDB_STALL_DELAYED);
        CHECK(r.stalls[0].previous == SILTDB_STALL_NORMAL);
        CHECK(r.stalls[0].cause == SILTDB_STALL_CAUSE_LEVEL0_SLOWDOWN);
    }
    pthread_mutex_unlock(&r.mu);
    siltdb_stats_t stats;
    CHECK_STATUS(siltdb_get_stats(db, &stats, sizeof stats, NULL), SILTDB_OK);
    CHECK(stats.write_stalls >= 1);
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);

    /* slowdown above stop is refused at open, naming the rule. */
    opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_options_set_level0_slowdown_writes_trigger(opts, 5);
    siltdb_options_set_level0_stop_writes_trigger(opts, 4);
    db = NULL;
    char *err = NULL;
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(db == NULL && err != NULL && strstr(err, "slowdown <= stop") != NULL);
    siltdb_free(err);
    siltdb_options_destroy(opts);
    scratch_remove(&s);
}

/* No fault injection from C: the process's file-size limit makes the table write fail
 * with EFBIG (SIGXFSZ ignored), which works even as root. The log already holds the data
 * before the limit is lowered, and a fresh log is empty, so only the table write fails. */
static void failed_flush_reports_its_error(void) {
    scratch_t s;
    scratch_create(&s);
    static recorder_t r;
    recorder_init(&r);
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_options_set_compression(opts, SILTDB_NO_COMPRESSION);
    siltdb_options_set_flush_listener(opts, on_begin, on_completed, &r);
    siltdb_t *db = open_with(&s, opts);
    siltdb_options_destroy(opts);
    put_range(db, 0, 200, 200); /* ~40 KiB: the table will not fit in 4 KiB */

    struct rlimit old;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    struct rlimit small = {4096, old.rlim_max};
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    char *err = NULL;
    int rc = siltdb_flush(db, 1, &err);
    setrlimit(RLIMIT_FSIZE, &old); /* before anything prints */
    signal(SIGXFSZ, old_handler);

    CHECK_STATUS(rc, SILTDB_IO_ERROR);
    CHECK(err != NULL && strstr(err, "File too large") != NULL);
    siltdb_free(err);
    pthread_mutex_lock(&r.mu);
    CHECK(r.n_completed == 1);
    CHECK(r.n_begin == 1);
    if (r.n_completed == 1) {
        flush_event_t *e = &r.completed[0];
        CHECK(e->reason == SILTDB_FLUSH_MANUAL);
        CHECK(e->status == SILTDB_IO_ERROR);
        CHECK(e->has_error && strstr(e->error, "File too large") != NULL);
    }
    pthread_mutex_unlock(&r.mu);
    siltdb_stats_t stats;
    CHECK_STATUS(siltdb_get_stats(db, &stats, sizeof stats, NULL), SILTDB_OK);
    CHECK(stats.flushes_failed == 1);
    CHECK(stats.flushes_completed == 0);
    char *bg = siltdb_property_value(db, "siltdb.background-error");
    CHECK(bg != NULL && strstr(bg, "File too large") != NULL);
    siltdb_free(bg);
    /* The error is sticky until reopen; the log still holds every key. */
    CHECK_STATUS(siltdb_put(db, NULL, "k", 1, "v", 1, NULL), SILTDB_IO_ERROR);
    siltdb_close(db, NULL);
    db = open_fresh(&s, 0);
    CHECK(!is_missing(db, "key00000199"));
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

int main(void) {
    watchdog();
    events_match_the_tables_on_disk();
    callbacks_may_use_their_db();
    properties_and_stats_arguments();
    recovery_and_shutdown_flushes_are_reported();
    level0_slowdown_is_reported();
    failed_flush_reports_its_error();
    return finish();
}

/* Iterators, snapshots, write batches and maintenance calls through the C API: ordered
 * walks over memtable + tables with overwrites and deletes, snapshot reads across flush and
 * compaction, atomic batches, compact_range reclaiming space, approximate sizes,
 * destroy/repair, misuse after close and NULL arguments. */
#include "check.h"

#include <dirent.h>
#include <sys/stat.h>

#define NKEYS 300

static void key_of(int i, char *buf, size_t cap) { snprintf(buf, cap, "k%05d", i); }

static void put_str(siltdb_t *db, const char *k, const char *v) {
    CHECK_STATUS(siltdb_put(db, NULL, k, strlen(k), v, strlen(v), NULL), SILTDB_OK);
}

/* True if the iterator is valid and sits on `key` with `val` (val NULL: any value). */
static int at(const siltdb_iterator_t *it, const char *key, const char *val) {
    if (!siltdb_iter_valid(it)) return 0;
    size_t klen = 0, vlen = 0;
    const char *k = siltdb_iter_key(it, &klen);
    const char *v = siltdb_iter_value(it, &vlen);
    if (klen != strlen(key) || memcmp(k, key, klen) != 0) return 0;
    return val == NULL || (vlen == strlen(val) && memcmp(v, val, vlen) == 0);
}

/* Sum of the sizes of the *.ldb table files in `dir`. */
static long long table_bytes(const char *dir) {
    long long total = 0;
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 4 && strcmp(e->d_name + n - 4, ".ldb") == 0) {
            char path[600];
            struct stat st;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (stat(path, &st) == 0) total += (long long)st.st_size;
        }
    }
    closedir(d);
    return total;
}

/* The story: keys 0..NKEYS-1 written and flushed to a table; then in the memtable every
 * 3rd key is overwritten ("new") and every 5th deleted (deletes win). */
static int expected_live(int i) { return i % 5 != 0; }
static void expected_value(int i, char *buf, size_t cap) {
    snprintf(buf, cap, "%s-%d", i % 3 == 0 ? "new" : "old", i);
}

static void write_story(siltdb_t *db) {
    char key[32], val[32];
    for (int i = 0; i < NKEYS; i++) {
        key_of(i, key, sizeof key);
        snprintf(val, sizeof val, "old-%d", i);
        put_str(db, key, val);
    }
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    for (int i = 0; i < NKEYS; i += 3) {
        key_of(i, key, sizeof key);
        snprintf(val, sizeof val, "new-%d", i);
        put_str(db, key, val);
    }
    for (int i = 0; i < NKEYS; i += 5) {
        key_of(i, key, sizeof key);
        CHECK_STATUS(siltdb_delete(db, NULL, key, strlen(key), NULL), SILTDB_OK);
    }
}

static void iteration_walks_memtable_and_tables_both_ways(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    write_story(db);

    siltdb_iterator_t *it = siltdb_create_iterator(db, NULL);
    CHECK(it != NULL);
    CHECK(!siltdb_iter_valid(it)); /* not positioned yet */
    char key[32], val[32];

    int i = 0, wrong = 0, seen = 0;
    for (siltdb_iter_seek_to_first(it); siltdb_iter_valid(it); siltdb_iter_next(it)) {
        while (!expected_live(i)) i++;
        key_of(i, key, sizeof key);
        expected_value(i, val, sizeof val);
        wrong += !at(it, key, val);
        seen++;
        i++;
    }
    CHECK(wrong == 0);
    CHECK(seen == NKEYS - NKEYS / 5);
    CHECK_STATUS(siltdb_iter_get_error(it, NULL), SILTDB_OK);

    i = NKEYS - 1;
    wrong = 0;
    seen = 0;
    for (siltdb_iter_seek_to_last(it); siltdb_iter_valid(it); siltdb_iter_prev(it)) {
        while (!expected_live(i)) i--;
        key_of(i, key, sizeof key);
        expected_value(i, val, sizeof val);
        wrong += !at(it, key, val);
        seen++;
        i--;
    }
    CHECK(wrong == 0);
    CHECK(seen == NKEYS - NKEYS / 5);

    /* seek lands on the key, or the next live one when it was deleted */
    siltdb_iter_seek(it, "k00042", 6);
    CHECK(at(it, "k00042", "new-42"));
    siltdb_iter_seek(it, "k00050", 6); /* deleted */
    CHECK(at(it, "k00051", "new-51"));
    siltdb_iter_prev(it);
    CHECK(at(it, "k00049", "old-49"));
    siltdb_iter_seek(it, "k0004", 5); /* between keys */
    CHECK(at(it, "k00040", NULL) == 0 && at(it, "k00041", "old-41"));
    siltdb_iter_seek(it, "zzz", 3);
    CHECK(!siltdb_iter_valid(it));
    size_t len = 99;
    CHECK(siltdb_iter_key(it, &len) == NULL && len == 0);
    CHECK(siltdb_iter_value(it, &len) == NULL && len == 0);
    siltdb_iter_seek(it, NULL, 0); /* the empty key: first entry */
    CHECK(at(it, "k00001", "old-1"));

    /* an iterator does not see writes made after its creation */
    put_str(db, "k00000", "late");
    siltdb_iter_seek_to_first(it);
    CHECK(at(it, "k00001", "old-1"));
    siltdb_iter_destroy(it);
    it = siltdb_create_iterator(db, NULL);
    siltdb_iter_seek_to_first(it);
    CHECK(at(it, "k00000", "late"));
    siltdb_iter_destroy(it);

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void snapshot_reads_survive_overwrite_flush_and_compaction(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    put_str(db, "a", "1");
    put_str(db, "b", "1");
    const siltdb_snapshot_t *snap = siltdb_create_snapshot(db);
    CHECK(snap != NULL);
    put_str(db, "a", "2");
    CHECK_STATUS(siltdb_delete(db, NULL, "b", 1, NULL), SILTDB_OK);
    put_str(db, "c", "2");
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_compact_range(db, NULL, 0, NULL, 0, NULL), SILTDB_OK);

    siltdb_readoptions_t *ropts = siltdb_readoptions_create();
    siltdb_readoptions_set_snapshot(ropts, snap);
    char *val = NULL;
    size_t len = 0;
    CHECK_STATUS(siltdb_get(db, ropts, "a", 1, &val, &len, NULL), SILTDB_OK);
    CHECK(len == 1 && val[0] == '1');
    siltdb_free(val);
    val = NULL;
    CHECK_STATUS(siltdb_get(db, ropts, "c", 1, &val, &len, NULL), SILTDB_NOT_FOUND);
    CHECK(has_value(db, "a", "2") && is_missing(db, "b"));

    siltdb_iterator_t *it = siltdb_create_iterator(db, ropts);
    siltdb_iter_seek_to_first(it);
    CHECK(at(it, "a", "1"));
    siltdb_iter_next(it);
    CHECK(at(it, "b", "1"));
    siltdb_iter_next(it);
    CHECK(!siltdb_iter_valid(it));
    siltdb_iter_destroy(it);

    /* cleared, the options read the latest state again */
    siltdb_readoptions_set_snapshot(ropts, NULL);
    CHECK_STATUS(siltdb_get(db, ropts, "c", 1, &val, &len, NULL), SILTDB_OK);
    siltdb_free(val);
    val = NULL;

    /* a released snapshot is refused, not read at a wrong sequence */
    siltdb_readoptions_set_snapshot(ropts, snap);
    siltdb_release_snapshot(db, snap);
    char *err = NULL;
    CHECK_STATUS(siltdb_get(db, ropts, "a", 1, &val, &len, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL && val == NULL);
    siltdb_free(err);
    CHECK(siltdb_create_iterator(db, ropts) == NULL);
    siltdb_readoptions_destroy(ropts);

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void batches_apply_all_their_edits(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    put_str(db, "gone", "x");

    siltdb_writebatch_t *b = siltdb_writebatch_create();
    siltdb_writebatch_t *more = siltdb_writebatch_create();
    CHECK_STATUS(siltdb_writebatch_put(b, "x", 1, "1", 1), SILTDB_OK);
    CHECK_STATUS(siltdb_writebatch_put(b, "y", 1, "1", 1), SILTDB_OK);
    CHECK_STATUS(siltdb_writebatch_delete(b, "gone", 4), SILTDB_OK);
    CHECK_STATUS(siltdb_writebatch_put(more, "y", 1, "2", 1), SILTDB_OK);
    CHECK_STATUS(siltdb_writebatch_put(more, NULL, 0, NULL, 0), SILTDB_OK); /* empty key */
    CHECK_STATUS(siltdb_writebatch_append(b, more), SILTDB_OK);
    CHECK_STATUS(siltdb_write(db, NULL, b, NULL), SILTDB_OK);
    CHECK(has_value(db, "x", "1") && has_value(db, "y", "2") && is_missing(db, "gone"));
    CHECK(has_value(db, "", ""));

    /* cleared, the batch writes nothing */
    siltdb_writebatch_clear(b);
    CHECK_STATUS(siltdb_write(db, NULL, b, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_writebatch_delete(b, "x", 1), SILTDB_OK);
    siltdb_writeoptions_t *wopts = siltdb_writeoptions_create();
    siltdb_writeoptions_set_sync(wopts, 1);
    CHECK_STATUS(siltdb_write(db, wopts, b, NULL), SILTDB_OK);
    siltdb_writeoptions_destroy(wopts);
    CHECK(is_missing(db, "x") && has_value(db, "y", "2"));

    /* bad arguments leave the batch unchanged */
    CHECK_STATUS(siltdb_writebatch_put(NULL, "a", 1, "b", 1), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_writebatch_put(more, NULL, 3, "b", 1), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_writebatch_put(more, "a", 1, NULL, 2), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_writebatch_delete(more, NULL, 1), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_writebatch_delete(NULL, "a", 1), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_writebatch_append(NULL, more), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_writebatch_append(more, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_writebatch_append(more, more), SILTDB_INVALID_ARGUMENT);
    char *err = NULL;
    CHECK_STATUS(siltdb_write(db, NULL, NULL, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL);
    CHECK_STATUS(siltdb_write(NULL, NULL, b, &err), SILTDB_INVALID_ARGUMENT);
    siltdb_free(err);
    siltdb_writebatch_clear(NULL);
    siltdb_writebatch_destroy(NULL);
    siltdb_writebatch_destroy(b);
    siltdb_writebatch_destroy(more);

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void compact_range_reclaims_deleted_data(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 64 * 1024);
    char key[32], val[1024];
    unsigned state = 12345; /* incompressible values, so table sizes follow the data */
    for (int i = 0; i < 2000; i++) {
        key_of(i, key, sizeof key);
        for (size_t j = 0; j < sizeof val; j++) {
            state = state * 1103515245u + 12345u;
            val[j] = (char)(state >> 16);
        }
        CHECK_STATUS(siltdb_put(db, NULL, key, strlen(key), val, sizeof val, NULL), SILTDB_OK);
    }
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);

    const char *starts[2] = {"k00000", "x"};
    const char *limits[2] = {"k99999", "y"};
    size_t start_lens[2] = {6, 1}, limit_lens[2] = {6, 1};
    uint64_t sizes[2] = {0, 99};
    CHECK_STATUS(siltdb_approximate_sizes(db, 2, starts, start_lens, limits, limit_lens, sizes,
                                          NULL),
                 SILTDB_OK);
    CHECK(sizes[0] > 1000 * 1024); /* most of ~2 MB of values */
    CHECK(sizes[1] == 0);          /* nothing stored there */
    CHECK_STATUS(siltdb_approximate_sizes(db, 0, NULL, NULL, NULL, NULL, NULL, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_approximate_sizes(db, -1, NULL, NULL, NULL, NULL, NULL, NULL),
                 SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_approximate_sizes(db, 2, starts, start_lens, limits, limit_lens, NULL,
                                          NULL),
                 SILTDB_INVALID_ARGUMENT);

    for (int i = 0; i < 2000; i++) {
        key_of(i, key, sizeof key);
        CHECK_STATUS(siltdb_delete(db, NULL, key, strlen(key), NULL), SILTDB_OK);
    }
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    long long before = table_bytes(s.db_path);
    /* a bounded range first (k00000 .. k00999), then the open ends */
    CHECK_STATUS(siltdb_compact_range(db, "k00000", 6, "k00999", 6, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_compact_range(db, NULL, 0, NULL, 0, NULL), SILTDB_OK);
    long long after = table_bytes(s.db_path);
    CHECK(before > 1000 * 1024);
    CHECK(after >= 0 && after < before / 10);
    CHECK(is_missing(db, "k00007"));
    CHECK_STATUS(siltdb_approximate_sizes(db, 1, starts, start_lens, limits, limit_lens, sizes,
                                          NULL),
                 SILTDB_OK);
    CHECK(sizes[0] < 100 * 1024);

    char *err = NULL;
    CHECK_STATUS(siltdb_compact_range(NULL, NULL, 0, NULL, 0, &err), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_compact_range(db, NULL, 0, "k", 0, &err), SILTDB_OK);
    siltdb_free(err);
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void destroy_and_repair_work_on_closed_databases(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    put_str(db, "kept", "yes");
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    put_str(db, "in-log", "yes");

    char *err = NULL;
    CHECK_STATUS(siltdb_destroy_db(NULL, s.db_path, &err), SILTDB_BUSY); /* still open */
    CHECK(err != NULL);
    CHECK_STATUS(siltdb_repair_db(NULL, s.db_path, &err), SILTDB_BUSY);
    siltdb_free(err);
    err = NULL;
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);

    CHECK_STATUS(siltdb_repair_db(NULL, s.db_path, &err), SILTDB_OK);
    CHECK(err == NULL);
    db = open_fresh(&s, 0);
    CHECK(has_value(db, "kept", "yes") && has_value(db, "in-log", "yes"));
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);

    siltdb_options_t *opts = siltdb_options_create();
    CHECK_STATUS(siltdb_destroy_db(opts, s.db_path, NULL), SILTDB_OK);
    /* the database's files are gone (repair's lost/ directory, not a db file, stays) */
    char current[400];
    snprintf(current, sizeof current, "%s/CURRENT", s.db_path);
    struct stat st;
    CHECK(stat(current, &st) != 0);
    CHECK(table_bytes(s.db_path) == 0);
    CHECK_STATUS(siltdb_destroy_db(opts, s.db_path, NULL), SILTDB_OK); /* already gone */
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_destroy_db(opts, NULL, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_repair_db(opts, NULL, NULL), SILTDB_INVALID_ARGUMENT);
    siltdb_options_destroy(opts);
    scratch_remove(&s);
}

static void iterators_and_snapshots_outlive_close_harmlessly(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    put_str(db, "a", "1");
    siltdb_iterator_t *it = siltdb_create_iterator(db, NULL);
    const siltdb_snapshot_t *snap = siltdb_create_snapshot(db);
    siltdb_readoptions_t *ropts = siltdb_readoptions_create();
    siltdb_readoptions_set_snapshot(ropts, snap);
    siltdb_iter_seek_to_first(it);
    CHECK(at(it, "a", "1"));

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    CHECK(!siltdb_iter_valid(it));
    size_t len = 7;
    CHECK(siltdb_iter_key(it, &len) == NULL && len == 0);
    char *err = NULL;
    CHECK_STATUS(siltdb_iter_get_error(it, &err), SILTDB_CLOSED);
    CHECK(err != NULL);
    siltdb_free(err);
    siltdb_iter_seek_to_first(it);
    siltdb_iter_seek_to_last(it);
    siltdb_iter_seek(it, "a", 1);
    siltdb_iter_next(it);
    siltdb_iter_prev(it);
    CHECK(!siltdb_iter_valid(it));
    /* still required, and safe although db is freed: neither touches it */
    siltdb_iter_destroy(it);
    siltdb_release_snapshot(db, snap);
    siltdb_readoptions_destroy(ropts);

    /* reopened, a fresh handle works and a closed-but-reopened path is fine */
    db = open_fresh(&s, 0);
    CHECK(has_value(db, "a", "1"));
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void null_arguments_are_refused_without_crashing(void) {
    CHECK(siltdb_create_iterator(NULL, NULL) == NULL);
    CHECK(siltdb_create_snapshot(NULL) == NULL);
    siltdb_iter_destroy(NULL);
    CHECK(siltdb_iter_valid(NULL) == 0);
    siltdb_iter_seek_to_first(NULL);
    siltdb_iter_seek_to_last(NULL);
    siltdb_iter_seek(NULL, "a", 1);
    siltdb_iter_next(NULL);
    siltdb_iter_prev(NULL);
    size_t len = 5;
    CHECK(siltdb_iter_key(NULL, &len) == NULL && len == 0);
    len = 5;
    CHECK(siltdb_iter_value(NULL, &len) == NULL && len == 0);
    CHECK(siltdb_iter_key(NULL, NULL) == NULL);
    char *err = NULL;
    CHECK_STATUS(siltdb_iter_get_error(NULL, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL);
    siltdb_free(err);
    siltdb_release_snapshot(NULL, NULL);
    siltdb_readoptions_set_snapshot(NULL, NULL);

    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    put_str(db, "a", "1");
    siltdb_iterator_t *it = siltdb_create_iterator(db, NULL);
    siltdb_iter_seek_to_first(it);
    siltdb_iter_seek(it, NULL, 4); /* bad target: not valid, not a crash */
    CHECK(!siltdb_iter_valid(it));
    siltdb_iter_destroy(it);
    CHECK_STATUS(siltdb_approximate_sizes(db, 1, NULL, NULL, NULL, NULL, NULL, NULL),
                 SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_compact_range(db, NULL, 5, NULL, 5, NULL), SILTDB_OK); /* open ends */
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void version_constants_match_the_library(void) {
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", SILTDB_VERSION_MAJOR, SILTDB_VERSION_MINOR,
             SILTDB_VERSION_PATCH);
    CHECK(strcmp(siltdb_version(), want) == 0);
}

int main(void) {
    watchdog();
    iteration_walks_memtable_and_tables_both_ways();
    snapshot_reads_survive_overwrite_flush_and_compaction();
    batches_apply_all_their_edits();
    compact_range_reclaims_deleted_data();
    destroy_and_repair_work_on_closed_databases();
    iterators_and_snapshots_outlive_close_harmlessly();
    null_arguments_are_refused_without_crashing();
    version_constants_match_the_library();
    return finish();
}

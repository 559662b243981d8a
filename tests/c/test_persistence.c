/* Data survives: many keys put, overwritten and deleted read back the same before and
 * after a reopen, with either compression; siltdb_flush(wait) with a small write buffer
 * leaves *.ldb table files on disk. */
#include "check.h"

#include <dirent.h>

#define NKEYS 2000

static void key_of(int i, char *buf, size_t cap) { snprintf(buf, cap, "key-%06d", i); }

/* Values of varying length; i % 7 == 0 values are overwritten, i % 5 == 0 keys deleted. */
static void value_of(int i, int generation, char *buf, size_t cap) {
    int n = snprintf(buf, cap, "value-%d-gen%d-", i, generation);
    for (int j = 0; j < i % 50 && n + 1 < (int)cap; j++) buf[n++] = (char)('a' + j % 26);
    buf[n] = '\0';
}

static void write_story(siltdb_t *db) {
    char key[32], val[128];
    for (int i = 0; i < NKEYS; i++) {
        key_of(i, key, sizeof key);
        value_of(i, 0, val, sizeof val);
        CHECK_STATUS(siltdb_put(db, NULL, key, strlen(key), val, strlen(val), NULL), SILTDB_OK);
    }
    for (int i = 0; i < NKEYS; i += 7) {
        key_of(i, key, sizeof key);
        value_of(i, 1, val, sizeof val);
        CHECK_STATUS(siltdb_put(db, NULL, key, strlen(key), val, strlen(val), NULL), SILTDB_OK);
    }
    for (int i = 0; i < NKEYS; i += 5) {
        key_of(i, key, sizeof key);
        CHECK_STATUS(siltdb_delete(db, NULL, key, strlen(key), NULL), SILTDB_OK);
    }
}

/* Returns the number of keys that do not read back as the story says. */
static int count_wrong(siltdb_t *db) {
    char key[32], val[128];
    int wrong = 0;
    for (int i = 0; i < NKEYS; i++) {
        key_of(i, key, sizeof key);
        if (i % 5 == 0) {
            wrong += !is_missing(db, key);
        } else {
            value_of(i, i % 7 == 0 ? 1 : 0, val, sizeof val);
            wrong += !has_value(db, key, val);
        }
    }
    return wrong;
}

static void round_trip_survives_reopen(int compression) {
    scratch_t s;
    scratch_create(&s);
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_options_set_compression(opts, compression);
    siltdb_t *db = NULL;
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, NULL), SILTDB_OK);
    if (db == NULL) {
        siltdb_options_destroy(opts);
        scratch_remove(&s);
        return;
    }
    write_story(db);
    CHECK(count_wrong(db) == 0);
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);

    db = NULL;
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, NULL), SILTDB_OK);
    if (db != NULL) {
        CHECK(count_wrong(db) == 0);
        CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    }
    siltdb_options_destroy(opts);
    scratch_remove(&s);
}

static int count_table_files(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".ldb") == 0) n++;
    }
    closedir(d);
    return n;
}

static void flush_writes_tables(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 64 << 10);
    CHECK(count_table_files(s.db_path) == 0);
    write_story(db);
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    CHECK(count_table_files(s.db_path) >= 1);
    CHECK(count_wrong(db) == 0);

    /* A flush that does not wait also succeeds; so does flushing nothing. */
    CHECK_STATUS(siltdb_put(db, NULL, "late", 4, "entry", 5, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_flush(db, 0, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_flush(db, 1, NULL), SILTDB_OK);
    CHECK(has_value(db, "late", "entry"));
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);

    db = open_fresh(&s, 64 << 10);
    CHECK(count_wrong(db) == 0);
    CHECK(has_value(db, "late", "entry"));
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

int main(void) {
    watchdog();
    round_trip_survives_reopen(SILTDB_SNAPPY_COMPRESSION);
    round_trip_survives_reopen(SILTDB_NO_COMPRESSION);
    flush_writes_tables();
    return finish();
}

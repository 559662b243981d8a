/* check.h - the tiny harness the C tests share: CHECK macros that count passes and
 * failures, a summary line ("N passed, M failed") and a fresh temporary directory per test.
 * Include it first: it selects the POSIX features (mkdtemp, nftw) the tests use. */
#ifndef SILTDB_TEST_CHECK_H
#define SILTDB_TEST_CHECK_H

#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siltdb.h"

static int checks_passed;
static int checks_failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            checks_passed++;                                                          \
        } else {                                                                      \
            checks_failed++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

/* Checks a status code and shows both codes when they differ. */
#define CHECK_STATUS(got, want)                                                       \
    do {                                                                              \
        int got_ = (got);                                                             \
        int want_ = (want);                                                           \
        if (got_ == want_) {                                                          \
            checks_passed++;                                                          \
        } else {                                                                      \
            checks_failed++;                                                          \
            fprintf(stderr, "%s:%d: %s returned %d, expected %s (%d)\n", __FILE__,    \
                    __LINE__, #got, got_, #want, want_);                              \
        }                                                                             \
    } while (0)

/* A hang is a failure: SIGALRM ends the process (non-zero) if a test runs for 2 minutes. */
static inline void watchdog(void) { alarm(120); }

/* Prints the summary line and gives main's exit code. */
static inline int finish(void) {
    printf("%d passed, %d failed\n", checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

/* A fresh directory for one test; `db_path` is a path inside it that does not exist yet. */
typedef struct {
    char dir[256];
    char db_path[300];
} scratch_t;

static inline void scratch_create(scratch_t *s) {
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0') base = "/tmp";
    snprintf(s->dir, sizeof s->dir, "%s/siltdb-ctest-XXXXXX", base);
    if (mkdtemp(s->dir) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(s->db_path, sizeof s->db_path, "%s/db", s->dir);
}

static inline int remove_entry(const char *path, const struct stat *st, int flag,
                               struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void scratch_remove(scratch_t *s) {
    if (nftw(s->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        fprintf(stderr, "could not remove %s\n", s->dir);
    }
}

/* Opens s->db_path with create_if_missing and the given write buffer size (0 = default). */
static inline siltdb_t *open_fresh(const scratch_t *s, size_t write_buffer_size) {
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    if (write_buffer_size != 0) siltdb_options_set_write_buffer_size(opts, write_buffer_size);
    siltdb_t *db = NULL;
    char *err = NULL;
    int rc = siltdb_open(s->db_path, opts, &db, &err);
    siltdb_options_destroy(opts);
    if (rc != SILTDB_OK) {
        fprintf(stderr, "open %s failed (%d): %s\n", s->db_path, rc, err ? err : "?");
        siltdb_free(err);
        exit(2);
    }
    return db;
}

/* True if `db` holds `key` with exactly `want`. */
static inline int has_value(siltdb_t *db, const char *key, const char *want) {
    char *val = NULL;
    size_t len = 0;
    int rc = siltdb_get(db, NULL, key, strlen(key), &val, &len, NULL);
    int ok = rc == SILTDB_OK && len == strlen(want) && memcmp(val, want, len) == 0;
    siltdb_free(val);
    return ok;
}

/* True if `key` is missing from `db`. */
static inline int is_missing(siltdb_t *db, const char *key) {
    char *val = NULL;
    size_t len = 0;
    int rc = siltdb_get(db, NULL, key, strlen(key), &val, &len, NULL);
    siltdb_free(val);
    return rc == SILTDB_NOT_FOUND && val == NULL;
}

#endif

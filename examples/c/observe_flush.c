/* observe_flush.c - watch siltdb's flushes (minor compactions) from C: a flush listener
 * prints each flush as it happens, one manual flush is triggered, and the per-level table
 * comes from siltdb_get_stats.
 * Build: gcc -std=c11 -Iinclude examples/c/observe_flush.c -Ltarget/release -lsiltdb
 * Run:   ./observe_flush [DIR]   (default: a fresh directory under /tmp, left to inspect) */
#define _XOPEN_SOURCE 700

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siltdb.h"

#define WRITE_BUFFER (64 * 1024)
#define NKEYS 2500

static const char *reason_name(int32_t reason) {
    switch (reason) {
        case SILTDB_FLUSH_WRITE_BUFFER_FULL: return "write_buffer_full";
        case SILTDB_FLUSH_MANUAL: return "manual";
        case SILTDB_FLUSH_RECOVERY: return "recovery";
        case SILTDB_FLUSH_SHUTDOWN: return "shutdown";
        default: return "?";
    }
}

/* Runs on the database's event thread, in order; `info` is valid only during the call. */
static void on_flush_completed(void *ctx, const siltdb_flush_info_t *info) {
    int *flushes = ctx;
    (*flushes)++;
    if (info->status != SILTDB_OK) {
        printf("  flush #%" PRIu64 " %s FAILED: %s\n", info->job_id, reason_name(info->reason),
               info->error_message);
        return;
    }
    printf("  flush #%" PRIu64 " %-17s level %d, file %06" PRIu64 ".ldb, %7" PRIu64
           " bytes, %4" PRIu64 " entries, %5" PRIu64 " us\n",
           info->job_id, reason_name(info->reason), info->level, info->file_number,
           info->file_size, info->num_entries, info->duration_micros);
    fflush(stdout);
}

static void die(const char *what, int rc, char *err) {
    fprintf(stderr, "%s failed with status %d: %s\n", what, rc, err ? err : "(no message)");
    siltdb_free(err);
    exit(1);
}

int main(int argc, char **argv) {
    char dir[256] = "/tmp/siltdb-observe-XXXXXX";
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/db", dir);

    int flushes = 0; /* written by the callback; read after siltdb_flush(db, 1) returns */
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_options_set_write_buffer_size(opts, WRITE_BUFFER);
    siltdb_options_set_flush_listener(opts, NULL, on_flush_completed, &flushes);
    siltdb_t *db = NULL;
    char *err = NULL;
    int rc = siltdb_open(path, opts, &db, &err);
    if (rc != SILTDB_OK) die("siltdb_open", rc, err);
    siltdb_options_destroy(opts);

    /* Keys in scattered order, so every table spans the key range and overlaps the last:
     * after the first two (levels 2 and 1) they land on level 0. */
    printf("siltdb %s: writing %d keys with ~100-byte values (write buffer %d KiB) to %s\n",
           siltdb_version(), NKEYS, WRITE_BUFFER / 1024, path);
    char key[32], val[128];
    for (int n = 0; n < NKEYS; n++) {
        int i = (int)((n * 7919L) % NKEYS);
        snprintf(key, sizeof key, "key%06d", i);
        int len = snprintf(val, sizeof val, "value %d: %0*d", i, 90, i * 31);
        rc = siltdb_put(db, NULL, key, strlen(key), val, (size_t)len, &err);
        if (rc != SILTDB_OK) die("siltdb_put", rc, err);
    }

    printf("manual flush: siltdb_flush(db, 1) returns after its callback ran\n");
    rc = siltdb_flush(db, 1, &err);
    if (rc != SILTDB_OK) die("siltdb_flush", rc, err);
    printf("%d flushes seen\n\n", flushes);

    siltdb_stats_t stats;
    rc = siltdb_get_stats(db, &stats, sizeof stats, &err);
    if (rc != SILTDB_OK) die("siltdb_get_stats", rc, err);
    printf("level  files      bytes     jobs  written(bytes)  time(us)\n");
    for (int level = 0; level < SILTDB_NUM_LEVELS; level++) {
        const siltdb_level_stats_t *l = &stats.levels[level];
        printf("%5d %6" PRIu64 " %10" PRIu64 " %8" PRIu64 " %15" PRIu64 " %9" PRIu64 "\n", level,
               l->files, l->bytes, l->compactions, l->bytes_written, l->compaction_micros);
    }
    printf("(jobs: flushes and compactions that wrote to the level)\n");
    printf("flushes completed %" PRIu64 ", failed %" PRIu64 ", bytes flushed %" PRIu64
           ", write stalls %" PRIu64 "\n",
           stats.flushes_completed, stats.flushes_failed, stats.bytes_flushed,
           stats.write_stalls);

    rc = siltdb_close(db, &err);
    if (rc != SILTDB_OK) die("siltdb_close", rc, err);
    return flushes > 0 && (uint64_t)flushes == stats.flushes_completed ? 0 : 1;
}

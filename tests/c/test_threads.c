/* One siltdb_t shared by 4 threads, each writing and reading its own keys while the
 * others do the same, and each asking once for a flush mid-way; afterwards every thread's
 * keys are all there. */
#include "check.h"

#include <pthread.h>

#define NTHREADS 4
#define PER_THREAD 1000

typedef struct {
    siltdb_t *db;
    int id;
    int failures; /* counted per thread: the CHECK counters are not thread-safe */
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    char key[32], val[32];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(key, sizeof key, "t%d-%05d", w->id, i);
        snprintf(val, sizeof val, "v%d-%d", w->id, i);
        if (siltdb_put(w->db, NULL, key, strlen(key), val, strlen(val), NULL) != SILTDB_OK) {
            w->failures++;
        }
        if (!has_value(w->db, key, val)) w->failures++;
        if (i == PER_THREAD / 2 && siltdb_flush(w->db, (uint8_t)(w->id % 2), NULL) != SILTDB_OK) {
            w->failures++;
        }
    }
    return NULL;
}

int main(void) {
    watchdog();
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);

    pthread_t threads[NTHREADS];
    worker_t workers[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        workers[t] = (worker_t){.db = db, .id = t, .failures = 0};
        CHECK(pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
    }
    for (int t = 0; t < NTHREADS; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0);
        CHECK(workers[t].failures == 0);
    }

    int missing = 0;
    char key[32], val[32];
    for (int t = 0; t < NTHREADS; t++) {
        for (int i = 0; i < PER_THREAD; i++) {
            snprintf(key, sizeof key, "t%d-%05d", t, i);
            snprintf(val, sizeof val, "v%d-%d", t, i);
            missing += !has_value(db, key, val);
        }
    }
    CHECK(missing == 0);
    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
    return finish();
}

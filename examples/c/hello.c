/* hello.c - siltdb from C: open (creating), put, get, close, reopen, get again.
 * Build: gcc -std=c11 -Iinclude examples/c/hello.c -Ltarget/release -lsiltdb
 * Run:   ./hello [DIR]   (default: a fresh directory under /tmp, left there to inspect) */
#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siltdb.h"

/* Prints the failure and its message, frees the message, and exits. */
static void die(const char *what, int rc, char *err) {
    fprintf(stderr, "%s failed with status %d: %s\n", what, rc, err ? err : "(no message)");
    siltdb_free(err);
    exit(1);
}

/* Prints what `key` holds; returns 1 if it was found. */
static int show(siltdb_t *db, const char *key) {
    char *val = NULL, *err = NULL;
    size_t len = 0;
    int rc = siltdb_get(db, NULL, key, strlen(key), &val, &len, &err);
    if (rc == SILTDB_OK) {
        printf("  get %s -> \"%.*s\" (%zu bytes)\n", key, (int)len, val, len);
        siltdb_free(val);
        return 1;
    }
    if (rc == SILTDB_NOT_FOUND) {
        printf("  get %s -> not found\n", key);
        return 0;
    }
    die("siltdb_get", rc, err);
    return 0;
}

int main(int argc, char **argv) {
    char dir[256] = "/tmp/siltdb-hello-XXXXXX";
    if (argc > 1) {
        snprintf(dir, sizeof dir, "%s", argv[1]);
    } else if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char path[300];
    snprintf(path, sizeof path, "%s/db", dir);
    printf("siltdb %s, database at %s\n", siltdb_version(), path);

    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_create_if_missing(opts, 1);
    siltdb_t *db = NULL;
    char *err = NULL;
    int rc = siltdb_open(path, opts, &db, &err);
    if (rc != SILTDB_OK) die("siltdb_open", rc, err);
    printf("opened\n");

    const char *greeting = "hello from C";
    rc = siltdb_put(db, NULL, "greeting", 8, greeting, strlen(greeting), &err);
    if (rc != SILTDB_OK) die("siltdb_put", rc, err);
    printf("  put greeting\n");
    show(db, "greeting");
    show(db, "missing"); /* NOT_FOUND is a status, not an error: err stays NULL */

    rc = siltdb_close(db, &err);
    if (rc != SILTDB_OK) die("siltdb_close", rc, err);
    printf("closed\n");

    rc = siltdb_open(path, opts, &db, &err);
    if (rc != SILTDB_OK) die("siltdb_open (again)", rc, err);
    printf("reopened\n");
    int survived = show(db, "greeting");
    rc = siltdb_close(db, &err);
    if (rc != SILTDB_OK) die("siltdb_close", rc, err);
    siltdb_options_destroy(opts);
    printf("closed; the greeting %s the reopen\n", survived ? "survived" : "did NOT survive");
    return survived ? 0 : 1;
}

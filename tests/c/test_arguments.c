/* Every entry point given NULL or invalid arguments fails cleanly with a status code, and
 * the errptr convention holds: messages replace (and free) earlier ones, success and
 * NOT_FOUND leave them alone, a NULL errptr is fine. */
#include "check.h"

static void version_is_not_empty(void) {
    const char *v = siltdb_version();
    CHECK(v != NULL && v[0] != '\0');
}

static void null_arguments_are_invalid_not_fatal(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    char *val = (char *)"untouched";
    size_t len = 99;

    /* NULL handles. */
    CHECK_STATUS(siltdb_put(NULL, NULL, "k", 1, "v", 1, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_get(NULL, NULL, "k", 1, &val, &len, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK(val == NULL && len == 0); /* outputs are cleared even when the call fails */
    CHECK_STATUS(siltdb_delete(NULL, NULL, "k", 1, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_flush(NULL, 1, NULL), SILTDB_INVALID_ARGUMENT);

    /* NULL pointers with a nonzero length. */
    CHECK_STATUS(siltdb_put(db, NULL, NULL, 3, "v", 1, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_put(db, NULL, "k", 1, NULL, 3, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_get(db, NULL, NULL, 3, &val, &len, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_delete(db, NULL, NULL, 3, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK(is_missing(db, "k")); /* none of the rejected puts landed */

    /* NULL out-pointers. */
    CHECK_STATUS(siltdb_get(db, NULL, "k", 1, NULL, &len, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_get(db, NULL, "k", 1, &val, NULL, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK_STATUS(siltdb_open(s.db_path, NULL, NULL, NULL), SILTDB_INVALID_ARGUMENT);

    /* NULL path: *out is cleared. */
    siltdb_t *other = (siltdb_t *)&len;
    CHECK_STATUS(siltdb_open(NULL, NULL, &other, NULL), SILTDB_INVALID_ARGUMENT);
    CHECK(other == NULL);

    /* NULL options mean the defaults. */
    CHECK_STATUS(siltdb_put(db, NULL, "a", 1, "1", 1, NULL), SILTDB_OK);
    CHECK(has_value(db, "a", "1"));

    /* Setters, destroyers, close and free on NULL do nothing. */
    siltdb_options_set_create_if_missing(NULL, 1);
    siltdb_options_set_error_if_exists(NULL, 1);
    siltdb_options_set_write_buffer_size(NULL, 1);
    siltdb_options_set_block_cache_size(NULL, 1);
    siltdb_options_set_resident_table_budget(NULL, 1);
    siltdb_options_set_paranoid_checks(NULL, 1);
    siltdb_options_set_compression(NULL, 1);
    siltdb_options_set_bloom_bits_per_key(NULL, 1);
    siltdb_options_set_block_size(NULL, 1);
    siltdb_options_set_max_open_files(NULL, 1);
    siltdb_writeoptions_set_sync(NULL, 1);
    siltdb_readoptions_set_verify_checksums(NULL, 1);
    siltdb_readoptions_set_fill_cache(NULL, 1);
    siltdb_options_destroy(NULL);
    siltdb_writeoptions_destroy(NULL);
    siltdb_readoptions_destroy(NULL);
    siltdb_free(NULL);
    CHECK_STATUS(siltdb_close(NULL, NULL), SILTDB_OK);

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void errptr_messages_replace_and_persist(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    char *err = NULL;

    CHECK_STATUS(siltdb_put(NULL, NULL, "k", 1, "v", 1, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(err, "db is NULL") != NULL);

    /* A second failure replaces the message (the first is freed by siltdb). */
    CHECK_STATUS(siltdb_get(db, NULL, NULL, 5, NULL, NULL, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(err, "val is NULL") != NULL);

    /* Success and NOT_FOUND leave it untouched. */
    char *kept = err;
    CHECK_STATUS(siltdb_put(db, NULL, "k", 1, "v", 1, &err), SILTDB_OK);
    CHECK(err == kept);
    char *val = NULL;
    size_t len = 0;
    CHECK_STATUS(siltdb_get(db, NULL, "nope", 4, &val, &len, &err), SILTDB_NOT_FOUND);
    CHECK(err == kept && val == NULL);
    CHECK_STATUS(siltdb_delete(db, NULL, "k", 1, &err), SILTDB_OK);
    CHECK(err == kept);
    siltdb_free(err);

    /* A fresh failure into a NULL slot allocates; a NULL errptr only drops the message. */
    err = NULL;
    CHECK_STATUS(siltdb_flush(NULL, 0, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL && err[0] != '\0');
    siltdb_free(err);
    CHECK_STATUS(siltdb_flush(NULL, 0, NULL), SILTDB_INVALID_ARGUMENT);

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void empty_key_empty_value_and_missing_differ(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = open_fresh(&s, 0);
    char *val = NULL;
    size_t len = 7;

    /* The empty key, spelled NULL/0 or ""/0, is one valid key. */
    CHECK_STATUS(siltdb_get(db, NULL, NULL, 0, &val, &len, NULL), SILTDB_NOT_FOUND);
    CHECK(val == NULL && len == 0);
    CHECK_STATUS(siltdb_put(db, NULL, NULL, 0, "root", 4, NULL), SILTDB_OK);
    CHECK(has_value(db, "", "root"));

    /* An empty value is found, as a real zero-length buffer. */
    CHECK_STATUS(siltdb_put(db, NULL, "empty", 5, NULL, 0, NULL), SILTDB_OK);
    len = 7;
    CHECK_STATUS(siltdb_get(db, NULL, "empty", 5, &val, &len, NULL), SILTDB_OK);
    CHECK(val != NULL && len == 0);
    siltdb_free(val);

    /* Missing: NOT_FOUND with NULL. */
    val = (char *)"x";
    CHECK_STATUS(siltdb_get(db, NULL, "absent", 6, &val, &len, NULL), SILTDB_NOT_FOUND);
    CHECK(val == NULL && len == 0);

    /* Deleting a missing key is fine; deleting the empty key removes it. */
    CHECK_STATUS(siltdb_delete(db, NULL, "absent", 6, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_delete(db, NULL, "", 0, NULL), SILTDB_OK);
    CHECK(is_missing(db, ""));

    /* Keys and values are bytes, NULs included. */
    const char key[] = {'a', '\0', 'b'};
    const char value[] = {'\0', '\xff', '\0'};
    CHECK_STATUS(siltdb_put(db, NULL, key, 3, value, 3, NULL), SILTDB_OK);
    CHECK_STATUS(siltdb_get(db, NULL, key, 3, &val, &len, NULL), SILTDB_OK);
    CHECK(len == 3 && memcmp(val, value, 3) == 0);
    siltdb_free(val);
    CHECK(is_missing(db, "a")); /* "a" is a different key from "a\0b" */

    CHECK_STATUS(siltdb_close(db, NULL), SILTDB_OK);
    scratch_remove(&s);
}

static void open_rules(void) {
    scratch_t s;
    scratch_create(&s);
    siltdb_t *db = NULL;
    char *err = NULL;

    /* Missing database, defaults (no create_if_missing). */
    CHECK_STATUS(siltdb_open(s.db_path, NULL, &db, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(db == NULL && err != NULL);

    /* Created; a second open while it is open finds the LOCK held. */
    siltdb_t *first = open_fresh(&s, 0);
    CHECK_STATUS(siltdb_open(s.db_path, NULL, &db, &err), SILTDB_BUSY);
    CHECK(db == NULL && err != NULL);
    CHECK_STATUS(siltdb_close(first, &err), SILTDB_OK);

    /* Existing database with error_if_exists. */
    siltdb_options_t *opts = siltdb_options_create();
    siltdb_options_set_error_if_exists(opts, 1);
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(db == NULL);
    siltdb_options_set_error_if_exists(opts, 0);

    /* Bad option values fail the open until they are set right. */
    siltdb_options_set_compression(opts, 7);
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, &err), SILTDB_INVALID_ARGUMENT);
    CHECK(err != NULL && strstr(err, "compression") != NULL);
    siltdb_options_set_compression(opts, SILTDB_NO_COMPRESSION);
    siltdb_options_set_bloom_bits_per_key(opts, -1);
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, &err), SILTDB_INVALID_ARGUMENT);
    siltdb_options_set_bloom_bits_per_key(opts, 0);
    siltdb_options_set_max_open_files(opts, -1);
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, &err), SILTDB_INVALID_ARGUMENT);
    siltdb_options_set_max_open_files(opts, 100);

    /* Every setter used, and the open succeeds with the database intact. */
    siltdb_options_set_paranoid_checks(opts, 1);
    siltdb_options_set_block_size(opts, 1024);
    siltdb_options_set_write_buffer_size(opts, 64 << 10);
    siltdb_options_set_block_cache_size(opts, 0); /* reads then always go to the file */
    siltdb_options_set_resident_table_budget(opts, 0); /* ... every time */
    CHECK_STATUS(siltdb_open(s.db_path, opts, &db, &err), SILTDB_OK);
    CHECK(db != NULL);
    siltdb_options_destroy(opts); /* the open database does not need them */

    siltdb_writeoptions_t *wopts = siltdb_writeoptions_create();
    siltdb_writeoptions_set_sync(wopts, 1);
    siltdb_readoptions_t *ropts = siltdb_readoptions_create();
    siltdb_readoptions_set_verify_checksums(ropts, 1);
    siltdb_readoptions_set_fill_cache(ropts, 0);
    CHECK_STATUS(siltdb_put(db, wopts, "synced", 6, "yes", 3, &err), SILTDB_OK);
    char *val = NULL;
    size_t len = 0;
    CHECK_STATUS(siltdb_get(db, ropts, "synced", 6, &val, &len, &err), SILTDB_OK);
    CHECK(len == 3 && memcmp(val, "yes", 3) == 0);
    siltdb_free(val);
    CHECK_STATUS(siltdb_delete(db, wopts, "synced", 6, &err), SILTDB_OK);
    siltdb_writeoptions_destroy(wopts);
    siltdb_readoptions_destroy(ropts);

    CHECK_STATUS(siltdb_close(db, &err), SILTDB_OK);
    siltdb_free(err);
    scratch_remove(&s);
}

int main(void) {
    watchdog();
    version_is_not_empty();
    null_arguments_are_invalid_not_fatal();
    errptr_messages_replace_and_persist();
    empty_key_empty_value_and_missing_differ();
    open_rules();
    return finish();
}

// The C++ wrapper (include/siltdb.hpp): RAII handles, exceptions with the status, and the
// same story as the C tests — iteration, snapshots, batches, compaction, destroy/repair,
// use after close. Prints "N passed, M failed" like the C tests.
#include "../c/check.h"

#include <string>

#include "siltdb.hpp"

namespace {

std::string key_of(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "k%05d", i);
    return buf;
}

// The status of the siltdb::Error `f` throws; SILTDB_OK if it throws none.
template <typename F> int status_of(F f) {
    try {
        f();
    } catch (const siltdb::Error &e) {
        return e.status();
    }
    return SILTDB_OK;
}

void iterate_snapshot_and_batch() {
    scratch_t s;
    scratch_create(&s);
    {
        siltdb::DB db = siltdb::DB::open(s.db_path);
        for (int i = 0; i < 100; i++) db.put(key_of(i), "v" + std::to_string(i));
        db.flush();
        siltdb::Snapshot snap = db.snapshot();
        siltdb::WriteBatch batch;
        batch.put(key_of(5), "five").del(key_of(6));
        siltdb::WriteBatch more;
        more.put("zz", "last");
        batch.append(more);
        db.write(batch, true);

        CHECK(db.get(key_of(5)) == std::optional<std::string>("five"));
        CHECK(!db.get(key_of(6)).has_value());
        CHECK(db.get(key_of(6), &snap) == std::optional<std::string>("v6"));

        siltdb::Iterator it = db.iterator();
        int n = 0;
        for (it.seek_to_first(); it.valid(); it.next()) n++;
        CHECK(n == 100);  // 100 - k00006 + zz
        it.seek_to_last();
        CHECK(it.key() == "zz" && it.value() == "last");
        it.prev();
        CHECK(it.key() == key_of(99));
        it.seek(key_of(6));
        CHECK(it.key() == key_of(7));
        it.check_status();

        siltdb::Iterator old = db.iterator(&snap);
        old.seek(key_of(5));
        CHECK(old.value() == "v5");
        old.seek_to_last();
        CHECK(old.key() == key_of(99));

        db.compact_range();
        db.compact_range(std::string_view("k"), std::nullopt);
        CHECK(db.get(key_of(6), &snap) == std::optional<std::string>("v6"));
        CHECK(db.approximate_size("a", "zzzz") > 0);  // the one table holds it all

        // Closing invalidates the iterator; its destructor still runs safely afterwards.
        db.close();
        CHECK(!it.valid());
        CHECK(status_of([&] { it.check_status(); }) == SILTDB_CLOSED);
        CHECK(status_of([&] { db.put("a", "b"); }) == SILTDB_INVALID_ARGUMENT);
        CHECK(status_of([&] { db.iterator(); }) == SILTDB_INVALID_ARGUMENT);
    }
    CHECK(status_of([&] { siltdb::DB::repair(s.db_path); }) == SILTDB_OK);
    {
        siltdb::DB db = siltdb::DB::open(s.db_path);
        CHECK(db.get("zz") == std::optional<std::string>("last"));
        CHECK(status_of([&] { siltdb::DB::destroy(s.db_path); }) == SILTDB_BUSY);
    }
    siltdb::DB::destroy(s.db_path);
    siltdb::OpenOptions must_exist;
    must_exist.create_if_missing = false;
    CHECK(status_of([&] { siltdb::DB::open(s.db_path, must_exist); }) ==
          SILTDB_INVALID_ARGUMENT);
    scratch_remove(&s);
}

void errors_carry_message_and_status() {
    scratch_t s;
    scratch_create(&s);
    siltdb::DB first = siltdb::DB::open(s.db_path);
    try {
        siltdb::DB second = siltdb::DB::open(s.db_path);
        CHECK(false);
    } catch (const siltdb::Error &e) {
        CHECK(e.status() == SILTDB_BUSY);
        CHECK(std::string(e.what()).size() > 0);
    }
    siltdb::DB moved = std::move(first);
    moved.put("k", "v");
    CHECK(moved.get("k") == std::optional<std::string>("v"));
    CHECK(siltdb::version() == siltdb_version());
    moved.close();
    scratch_remove(&s);
}

}  // namespace

int main() {
    watchdog();
    iterate_snapshot_and_batch();
    errors_carry_message_and_status();
    return finish();
}

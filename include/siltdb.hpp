/*
 * siltdb.hpp - a small header-only C++17 wrapper over siltdb.h: RAII handles
 * (siltdb::DB, Iterator, Snapshot, WriteBatch) and an exception, siltdb::Error, carrying
 * the SILTDB_* status of a failed call. Link as for siltdb.h (-lsiltdb).
 *
 * Iterators and snapshots may outlive their DB (they then report SILTDB_CLOSED); the DB
 * must not be used by other threads while it is closed or destroyed. Key and value views
 * from an Iterator are valid until it next moves or is destroyed.
 */
#ifndef SILTDB_HPP
#define SILTDB_HPP

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "siltdb.h"

namespace siltdb {

/* A failed call: what() is siltdb's message, status() its (negative) SILTDB_* code. */
class Error : public std::runtime_error {
public:
    Error(int status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    int status() const noexcept { return status_; }

private:
    int status_;
};

namespace detail {

/* Throws for a negative status, freeing siltdb's message; returns other statuses. */
inline int check(int rc, char *err) {
    if (rc >= 0) return rc;
    std::string message = err != nullptr ? err : "siltdb call failed";
    siltdb_free(err);
    throw Error(rc, message);
}

/* Moves a raw handle out of `other`, leaving it empty. */
template <typename T> T *take(T *&other) noexcept { return std::exchange(other, nullptr); }

}  // namespace detail

/* Options for DB::open. Zero sizes mean siltdb's defaults. */
struct OpenOptions {
    bool create_if_missing = true;
    bool error_if_exists = false;
    std::size_t write_buffer_size = 0;
    bool snappy_compression = true;
};

/* A consistent read view (DB::snapshot); released by the destructor. */
class Snapshot {
public:
    Snapshot(Snapshot &&other) noexcept : snap_(other.snap_) { other.snap_ = nullptr; }
    Snapshot &operator=(Snapshot &&other) noexcept {
        std::swap(snap_, other.snap_);
        return *this;
    }
    Snapshot(const Snapshot &) = delete;
    Snapshot &operator=(const Snapshot &) = delete;
    ~Snapshot() { siltdb_release_snapshot(nullptr, snap_); }

    const siltdb_snapshot_t *get() const noexcept { return snap_; }

private:
    friend class DB;
    explicit Snapshot(const siltdb_snapshot_t *snap) : snap_(snap) {}
    const siltdb_snapshot_t *snap_;
};

/* Read options for one call: an optional snapshot, verify_checksums, fill_cache. */
class ReadOptions {
public:
    ReadOptions() : opts_(siltdb_readoptions_create()) {
        if (opts_ == nullptr) throw Error(SILTDB_INTERNAL, "out of memory");
    }
    explicit ReadOptions(const Snapshot &snap) : ReadOptions() {
        siltdb_readoptions_set_snapshot(opts_, snap.get());
    }
    ReadOptions(const ReadOptions &) = delete;
    ReadOptions &operator=(const ReadOptions &) = delete;
    ~ReadOptions() { siltdb_readoptions_destroy(opts_); }

    ReadOptions &verify_checksums(bool v) {
        siltdb_readoptions_set_verify_checksums(opts_, v ? 1 : 0);
        return *this;
    }
    ReadOptions &fill_cache(bool v) {
        siltdb_readoptions_set_fill_cache(opts_, v ? 1 : 0);
        return *this;
    }
    const siltdb_readoptions_t *get() const noexcept { return opts_; }

private:
    siltdb_readoptions_t *opts_;
};

/* An ordered walk over a DB (DB::iterator). Not positioned when created. */
class Iterator {
public:
    Iterator(Iterator &&other) noexcept : it_(detail::take(other.it_)) {}
    Iterator &operator=(Iterator &&other) noexcept {
        std::swap(it_, other.it_);
        return *this;
    }
    Iterator(const Iterator &) = delete;
    Iterator &operator=(const Iterator &) = delete;
    ~Iterator() { siltdb_iter_destroy(it_); }

    bool valid() const noexcept { return siltdb_iter_valid(it_) != 0; }
    void seek_to_first() noexcept { siltdb_iter_seek_to_first(it_); }
    void seek_to_last() noexcept { siltdb_iter_seek_to_last(it_); }
    void seek(std::string_view target) noexcept {
        siltdb_iter_seek(it_, target.data(), target.size());
    }
    void next() noexcept { siltdb_iter_next(it_); }
    void prev() noexcept { siltdb_iter_prev(it_); }
    /* Empty views when not valid. */
    std::string_view key() const noexcept {
        std::size_t len = 0;
        const char *p = siltdb_iter_key(it_, &len);
        return p != nullptr ? std::string_view(p, len) : std::string_view();
    }
    std::string_view value() const noexcept {
        std::size_t len = 0;
        const char *p = siltdb_iter_value(it_, &len);
        return p != nullptr ? std::string_view(p, len) : std::string_view();
    }
    /* Throws the error that ended the walk (SILTDB_CLOSED once the DB is closed). */
    void check_status() const {
        char *err = nullptr;
        detail::check(siltdb_iter_get_error(it_, &err), err);
    }

private:
    friend class DB;
    explicit Iterator(siltdb_iterator_t *it) : it_(it) {}
    siltdb_iterator_t *it_;
};

/* Puts and deletes applied together by DB::write. */
class WriteBatch {
public:
    WriteBatch() : b_(siltdb_writebatch_create()) {
        if (b_ == nullptr) throw Error(SILTDB_INTERNAL, "out of memory");
    }
    WriteBatch(WriteBatch &&other) noexcept : b_(detail::take(other.b_)) {}
    WriteBatch &operator=(WriteBatch &&other) noexcept {
        std::swap(b_, other.b_);
        return *this;
    }
    WriteBatch(const WriteBatch &) = delete;
    WriteBatch &operator=(const WriteBatch &) = delete;
    ~WriteBatch() { siltdb_writebatch_destroy(b_); }

    WriteBatch &put(std::string_view key, std::string_view value) {
        edit(siltdb_writebatch_put(b_, key.data(), key.size(), value.data(), value.size()));
        return *this;
    }
    WriteBatch &del(std::string_view key) {
        edit(siltdb_writebatch_delete(b_, key.data(), key.size()));
        return *this;
    }
    WriteBatch &append(const WriteBatch &other) {
        edit(siltdb_writebatch_append(b_, other.b_));
        return *this;
    }
    void clear() noexcept { siltdb_writebatch_clear(b_); }
    const siltdb_writebatch_t *get() const noexcept { return b_; }

private:
    static void edit(int rc) {
        if (rc != SILTDB_OK) throw Error(rc, "invalid write batch argument");
    }
    siltdb_writebatch_t *b_;
};

/* An open database; the destructor closes it (ignoring errors: call close() to see them). */
class DB {
public:
    static DB open(const std::string &path, const OpenOptions &options = OpenOptions()) {
        siltdb_options_t *opts = siltdb_options_create();
        if (opts == nullptr) throw Error(SILTDB_INTERNAL, "out of memory");
        siltdb_options_set_create_if_missing(opts, options.create_if_missing ? 1 : 0);
        siltdb_options_set_error_if_exists(opts, options.error_if_exists ? 1 : 0);
        if (options.write_buffer_size != 0) {
            siltdb_options_set_write_buffer_size(opts, options.write_buffer_size);
        }
        siltdb_options_set_compression(opts, options.snappy_compression
                                                 ? SILTDB_SNAPPY_COMPRESSION
                                                 : SILTDB_NO_COMPRESSION);
        siltdb_t *db = nullptr;
        char *err = nullptr;
        int rc = siltdb_open(path.c_str(), opts, &db, &err);
        siltdb_options_destroy(opts);
        detail::check(rc, err);
        return DB(db);
    }

    /* Deletes the (closed) database in `path`. */
    static void destroy(const std::string &path) {
        char *err = nullptr;
        detail::check(siltdb_destroy_db(nullptr, path.c_str(), &err), err);
    }
    /* Rebuilds the (closed) database's MANIFEST from the files in `path`. */
    static void repair(const std::string &path) {
        char *err = nullptr;
        detail::check(siltdb_repair_db(nullptr, path.c_str(), &err), err);
    }

    DB(DB &&other) noexcept : db_(detail::take(other.db_)) {}
    DB &operator=(DB &&other) noexcept {
        std::swap(db_, other.db_);
        return *this;
    }
    DB(const DB &) = delete;
    DB &operator=(const DB &) = delete;
    ~DB() { siltdb_close(db_, nullptr); }

    /* Closes now and reports close's error; later calls throw SILTDB_INVALID_ARGUMENT. */
    void close() {
        char *err = nullptr;
        detail::check(siltdb_close(detail::take(db_), &err), err);
    }

    void put(std::string_view key, std::string_view value, bool sync = false) {
        char *err = nullptr;
        WriteOptions w(sync);
        detail::check(siltdb_put(db_, w.opts, key.data(), key.size(), value.data(),
                                 value.size(), &err),
                      err);
    }
    void del(std::string_view key, bool sync = false) {
        char *err = nullptr;
        WriteOptions w(sync);
        detail::check(siltdb_delete(db_, w.opts, key.data(), key.size(), &err), err);
    }
    void write(const WriteBatch &batch, bool sync = false) {
        char *err = nullptr;
        WriteOptions w(sync);
        detail::check(siltdb_write(db_, w.opts, batch.get(), &err), err);
    }

    /* The value of `key`, or nullopt when it is absent. */
    std::optional<std::string> get(std::string_view key, const Snapshot *snap = nullptr) {
        std::optional<ReadOptions> ropts;
        if (snap != nullptr) ropts.emplace(*snap);
        char *val = nullptr, *err = nullptr;
        std::size_t len = 0;
        int rc = siltdb_get(db_, ropts ? ropts->get() : nullptr, key.data(), key.size(), &val,
                            &len, &err);
        if (detail::check(rc, err) == SILTDB_NOT_FOUND) return std::nullopt;
        std::string out(val, len);
        siltdb_free(val);
        return out;
    }

    Iterator iterator(const Snapshot *snap = nullptr) {
        std::optional<ReadOptions> ropts;
        if (snap != nullptr) ropts.emplace(*snap);
        siltdb_iterator_t *it = siltdb_create_iterator(db_, ropts ? ropts->get() : nullptr);
        if (it == nullptr) {
            throw Error(db_ == nullptr ? SILTDB_INVALID_ARGUMENT : SILTDB_CLOSED,
                        "could not create an iterator (database closed or snapshot released)");
        }
        return Iterator(it);
    }

    Snapshot snapshot() {
        const siltdb_snapshot_t *snap = siltdb_create_snapshot(db_);
        if (snap == nullptr) throw Error(SILTDB_CLOSED, "could not take a snapshot");
        return Snapshot(snap);
    }

    void flush(bool wait = true) {
        char *err = nullptr;
        detail::check(siltdb_flush(db_, wait ? 1 : 0, &err), err);
    }

    /* Compacts [begin, end]; nullopt is an open end. */
    void compact_range(std::optional<std::string_view> begin = std::nullopt,
                       std::optional<std::string_view> end = std::nullopt) {
        char *err = nullptr;
        detail::check(siltdb_compact_range(db_, begin ? begin->data() : nullptr,
                                           begin ? begin->size() : 0,
                                           end ? end->data() : nullptr, end ? end->size() : 0,
                                           &err),
                      err);
    }

    /* Approximate table bytes holding keys in [start, limit). */
    std::uint64_t approximate_size(std::string_view start, std::string_view limit) {
        const char *starts[1] = {start.data()};
        const char *limits[1] = {limit.data()};
        std::size_t start_lens[1] = {start.size()};
        std::size_t limit_lens[1] = {limit.size()};
        std::uint64_t size = 0;
        char *err = nullptr;
        detail::check(siltdb_approximate_sizes(db_, 1, starts, start_lens, limits, limit_lens,
                                               &size, &err),
                      err);
        return size;
    }

    siltdb_t *get() const noexcept { return db_; }

private:
    /* Write options for one call, freed when it returns. */
    struct WriteOptions {
        explicit WriteOptions(bool sync) : opts(siltdb_writeoptions_create()) {
            if (opts == nullptr) throw Error(SILTDB_INTERNAL, "out of memory");
            siltdb_writeoptions_set_sync(opts, sync ? 1 : 0);
        }
        WriteOptions(const WriteOptions &) = delete;
        WriteOptions &operator=(const WriteOptions &) = delete;
        ~WriteOptions() { siltdb_writeoptions_destroy(opts); }
        siltdb_writeoptions_t *opts;
    };

    explicit DB(siltdb_t *db) : db_(db) {}
    siltdb_t *db_;
};

/* The library's version string, e.g. "0.1.0". */
inline std::string version() { return siltdb_version(); }

}  // namespace siltdb

#endif

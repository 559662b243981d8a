// hello.cpp - siltdb from C++17 through include/siltdb.hpp: open, batch write, iterate,
// snapshot read, close.
// Build: g++ -std=c++17 -Iinclude examples/cpp/hello.cpp -Ltarget/release -lsiltdb
// Run:   ./hello [DIR]   (default: a fresh directory under /tmp)
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "siltdb.hpp"

int main(int argc, char **argv) {
    std::string dir = argc > 1 ? argv[1] : "/tmp/siltdb-hello-cpp-XXXXXX";
    if (argc <= 1 && mkdtemp(dir.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    std::string path = dir + "/db";
    try {
        siltdb::DB db = siltdb::DB::open(path);
        siltdb::WriteBatch batch;
        batch.put("apple", "red").put("banana", "yellow").put("cherry", "dark red");
        db.write(batch);
        siltdb::Snapshot before = db.snapshot();
        db.put("banana", "green");

        std::cout << "siltdb " << siltdb::version() << " at " << path << "\n";
        siltdb::Iterator it = db.iterator();
        for (it.seek_to_first(); it.valid(); it.next()) {
            std::cout << "  " << it.key() << " -> " << it.value() << "\n";
        }
        it.check_status();
        std::cout << "  banana in the snapshot -> " << db.get("banana", &before).value_or("?")
                  << "\n";
        db.close();
    } catch (const siltdb::Error &e) {
        std::cerr << "siltdb error " << e.status() << ": " << e.what() << "\n";
        return 1;
    }
    return 0;
}

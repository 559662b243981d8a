//! C API for siltdb (in progress).

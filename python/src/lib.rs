//! Python bindings for siltdb (in progress).

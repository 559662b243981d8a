//! Placeholder: the fault-injecting file system lands with its own change.

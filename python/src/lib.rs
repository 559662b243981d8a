//! Python bindings for siltdb: the extension module `siltdb._siltdb`, re-exported by the
//! pure-Python package `siltdb` (python/siltdb/). Thin: every call converts its arguments,
//! calls one `siltdb::Db` method with the GIL released and converts the result.

#![deny(unsafe_code)]

mod batch;
mod bytes_like;
mod db;
mod errors;
mod events;
mod iterator;
mod listener;
mod options;
mod prefixed;
mod properties;
mod snapshot;

#[pyo3::pymodule(name = "_siltdb")]
mod siltdb_module {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::batch::PyWriteBatch;
    #[pymodule_export]
    use crate::db::PyDb;
    #[pymodule_export]
    use crate::errors::{
        BusyError, CorruptionError, Error, IOError, InvalidArgumentError, IteratorInvalidError,
        NotFoundError, NotSupportedError,
    };
    #[pymodule_export]
    use crate::events::{FlushInfo, WriteStallInfo};
    #[pymodule_export]
    use crate::iterator::{PyIterator, PyRawIterator};
    #[pymodule_export]
    use crate::options::{destroy_db, repair_db};
    #[pymodule_export]
    use crate::prefixed::PyPrefixedDb;
    #[pymodule_export]
    use crate::snapshot::PySnapshot;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        // The LevelDB release whose on-disk format and API siltdb follows (plyvel reports
        // the linked LevelDB's here).
        m.add("__leveldb_version__", "1.23")?;
        m.add("ClosedError", crate::errors::closed_error_type(m.py())?)?;
        let stop = wrap_pyfunction!(crate::listener::stop_callbacks_at_exit, m)?;
        m.py().import("atexit")?.call_method1("register", (stop,))?;
        Ok(())
    }
}

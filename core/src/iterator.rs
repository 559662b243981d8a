//! The iterator shape shared by blocks, tables, memtables and the merging DB iterator:
//! LevelDB's `Iterator`, positioned over internal keys. `key`/`value` may only be called
//! while `valid()`; errors stop iteration (`valid()` false) and are reported by `status()`.

use crate::error::Result;

pub trait InternalIterator: Send {
    fn valid(&self) -> bool;
    fn seek_to_first(&mut self);
    fn seek_to_last(&mut self);
    /// Positions at the first entry with key >= `target` (internal-key order).
    fn seek(&mut self, target: &[u8]);
    fn next(&mut self);
    fn prev(&mut self);
    fn key(&self) -> &[u8];
    fn value(&self) -> &[u8];
    fn status(&self) -> Result<()>;
}

//! Sorted string tables in LevelDB 1.23's format: blocks of prefix-compressed entries,
//! a bloom filter block, a meta-index, an index and a 48-byte footer. Writing goes
//! through [`TableBuilder`], reading through [`Table`], and [`TableCache`] keeps tables open.

pub mod background_file;
pub mod background_sync;
pub mod block;
pub mod block_builder;
pub mod block_cache;
pub mod builder;
pub mod cache;
pub mod filter;
pub mod format;
pub mod index;
pub mod merger;
pub mod reader;
pub mod resident;
#[cfg(test)]
pub(crate) mod test_util;
pub mod write_behind;

pub use background_file::BackgroundWritableFile;
pub use background_sync::BackgroundSync;
pub use block::{Block, BlockIter};
pub use block_builder::BlockBuilder;
pub use builder::TableBuilder;
pub use cache::TableCache;
pub use filter::{BloomFilterPolicy, FilterBlockBuilder, FilterBlockReader};
pub use format::{BlockHandle, Footer};
pub use merger::MergingIterator;
pub use reader::{Table, TableIterator};

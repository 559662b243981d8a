//! Snapshots: a registered read sequence. While a `Snapshot` lives, compaction keeps every
//! entry a read at its sequence needs (`smallest_live_snapshot`); dropping it releases that.
//! Reads name a snapshot by its [`SnapshotId`] in `ReadOptions`, so `ReadOptions` stays
//! `Copy` and a C or Python binding only has to carry a number.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use super::{Db, DbInner, DbState};
use crate::error::{Error, Result};
use crate::key::SequenceNumber;

/// Names a live snapshot in [`ReadOptions::snapshot`](crate::ReadOptions::snapshot).
/// Ids are unique in the process (never reused, never shared between databases), so a
/// released snapshot, or one of another database, is always detected: the read fails with
/// `InvalidArgument` instead of answering at a wrong sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SnapshotId(pub u64);

/// Process-wide, so that ids of different databases never collide.
static NEXT_SNAPSHOT_ID: AtomicU64 = AtomicU64::new(1);

/// A consistent view of the database as of its creation. Reads made with
/// `ReadOptions { snapshot: Some(s.id()), .. }` (or `ReadOptions::at(&s)`) see exactly the
/// writes that preceded `Db::snapshot`, whatever flushes and compactions happen since.
/// Released when dropped (or by [`Snapshot::release`]); `Send + Sync`. It does not keep the
/// database open: after `close`, reads naming it fail with `Closed`.
pub struct Snapshot {
    id: SnapshotId,
    sequence: SequenceNumber,
    db: Weak<DbInner>,
}

impl Snapshot {
    /// The id to put in `ReadOptions::snapshot`.
    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// The last sequence number visible through this snapshot.
    pub fn sequence(&self) -> SequenceNumber {
        self.sequence
    }

    /// Releases the snapshot now (the same as dropping it).
    pub fn release(self) {}
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Some(inner) = self.db.upgrade() {
            inner.state.lock().snapshots.remove(&self.id);
        }
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("id", &self.id.0)
            .field("sequence", &self.sequence.0)
            .finish()
    }
}

impl Db {
    /// Takes a snapshot at the latest sequence. Closed after `close`.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let inner = self.inner();
        let mut st = inner.state.lock();
        DbInner::check_open(&st)?;
        let id = SnapshotId(NEXT_SNAPSHOT_ID.fetch_add(1, Ordering::Relaxed));
        let sequence = st.versions.last_sequence();
        st.snapshots.insert(id, sequence);
        Ok(Snapshot {
            id,
            sequence,
            db: Arc::downgrade(inner),
        })
    }
}

/// The sequence a read with `snapshot` sees: the snapshot's, or the latest without one.
/// REQUIRES: the state lock.
pub(super) fn read_sequence(st: &DbState, snapshot: Option<SnapshotId>) -> Result<SequenceNumber> {
    match snapshot {
        None => Ok(st.versions.last_sequence()),
        Some(id) => st.snapshots.get(&id).copied().ok_or_else(|| {
            Error::invalid_argument(format!(
                "snapshot {} was released or belongs to another database",
                id.0
            ))
        }),
    }
}

/// The oldest sequence a live snapshot reads at, if any.
pub(super) fn oldest_snapshot(st: &DbState) -> Option<SequenceNumber> {
    st.snapshots.values().min().copied()
}

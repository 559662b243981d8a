//! Listener callbacks for C: the flush and write-stall structs C sees, the callback types,
//! and [`CListeners`], the `siltdb::EventListener` that builds those structs on the stack
//! and calls the function pointers C registered in `siltdb_options_t`.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

use siltdb_core::{EventListener, FlushJobInfo, FlushReason, WriteStallInfo};

use crate::status::{self, SILTDB_OK};

/// Flush reason: the active memtable outgrew the write buffer.
pub const SILTDB_FLUSH_WRITE_BUFFER_FULL: i32 = 1;
/// Flush reason: `siltdb_flush` asked for it.
pub const SILTDB_FLUSH_MANUAL: i32 = 2;
/// Flush reason: `siltdb_open` replayed a log into a memtable and flushed it.
pub const SILTDB_FLUSH_RECOVERY: i32 = 3;
/// Flush reason: `siltdb_close` with `siltdb_options_set_flush_on_close`.
pub const SILTDB_FLUSH_SHUTDOWN: i32 = 4;

/// Write-stall condition: writes proceed at full speed.
pub const SILTDB_STALL_NORMAL: i32 = 0;
/// Write-stall condition: each write is delayed by 200 us.
pub const SILTDB_STALL_DELAYED: i32 = 1;
/// Write-stall condition: writers wait for background work.
pub const SILTDB_STALL_STOPPED: i32 = 2;

/// Write-stall cause: none (the condition is SILTDB_STALL_NORMAL).
pub const SILTDB_STALL_CAUSE_NONE: i32 = 0;
/// Write-stall cause: the memtable is full and the previous one is still being flushed.
pub const SILTDB_STALL_CAUSE_MEMTABLE_LIMIT: i32 = 1;
/// Write-stall cause: level 0 holds level0_slowdown_writes_trigger files (default 8).
pub const SILTDB_STALL_CAUSE_LEVEL0_SLOWDOWN: i32 = 2;
/// Write-stall cause: level 0 holds level0_stop_writes_trigger files (default 12).
pub const SILTDB_STALL_CAUSE_LEVEL0_STOP: i32 = 3;

/// One flush (minor compaction), passed to the callbacks of
/// `siltdb_options_set_flush_listener`. The struct and every pointer in it are valid only
/// during the callback: copy what you keep. Field order is ABI; fields are only appended.
///
/// The begin callback (and a failed flush) knows only job_id, reason, file_number and
/// num_entries (the memtable's); the rest is 0 and the keys are empty. Keys are bytes, not
/// NUL-terminated, and never NULL.
#[repr(C)]
pub struct siltdb_flush_info_t {
    /// Unique per database and increasing; a flush's begin and completed events share it.
    pub job_id: u64,
    /// SILTDB_FLUSH_WRITE_BUFFER_FULL, _MANUAL, _RECOVERY or _SHUTDOWN.
    pub reason: i32,
    /// SILTDB_OK, or the (negative) status code of the failure.
    pub status: i32,
    /// The table file's number (its name is %06llu.ldb); 0 if an empty memtable wrote none.
    pub file_number: u64,
    /// The level the table was placed on (0, or 1-2 when nothing overlaps it).
    pub level: i32,
    /// Bytes of the table file.
    pub file_size: u64,
    /// Entries flushed, deletions included.
    pub num_entries: u64,
    pub num_deletions: u64,
    pub smallest_seqno: u64,
    pub largest_seqno: u64,
    pub smallest_key: *const c_char,
    pub smallest_key_len: usize,
    pub largest_key: *const c_char,
    pub largest_key_len: usize,
    /// Wall-clock time the flush took.
    pub duration_micros: u64,
    /// NUL-terminated description of the failure; NULL when status is SILTDB_OK.
    pub error_message: *const c_char,
}

/// A change of the write-stall condition, passed to the callback of
/// `siltdb_options_set_write_stall_listener`; valid only during the callback. Field order
/// is ABI; fields are only appended.
#[repr(C)]
pub struct siltdb_write_stall_info_t {
    /// The new condition: SILTDB_STALL_NORMAL, _DELAYED or _STOPPED.
    pub condition: i32,
    /// The condition before this change.
    pub previous: i32,
    /// SILTDB_STALL_CAUSE_*: why writers are throttled (NONE when back to normal).
    pub cause: i32,
}

/// Called on the database's event thread with the caller's `ctx` (see "Listeners" at the
/// top of this header). Must return normally: no longjmp, no C++ exception.
pub type siltdb_flush_callback_t =
    Option<unsafe extern "C" fn(ctx: *mut c_void, info: *const siltdb_flush_info_t)>;

/// Called on the database's event thread with the caller's `ctx` when the write-stall
/// condition changes. Must return normally: no longjmp, no C++ exception.
pub type siltdb_write_stall_callback_t =
    Option<unsafe extern "C" fn(ctx: *mut c_void, info: *const siltdb_write_stall_info_t)>;

/// The caller's `ctx`, handed back unchanged to its callbacks.
#[derive(Clone, Copy)]
struct Ctx(*mut c_void);

// SAFETY: siltdb never dereferences `ctx`; it only passes it to the caller's callbacks on
// the event thread. The header makes the caller promise that `ctx` and the callbacks may
// be used from that thread, concurrently with its own threads (thread-safety is theirs).
unsafe impl Send for Ctx {}
// SAFETY: as for Send: siltdb only copies the pointer, the caller promised thread-safety.
unsafe impl Sync for Ctx {}

#[derive(Clone, Copy)]
struct FlushCallbacks {
    on_begin: siltdb_flush_callback_t,
    on_completed: siltdb_flush_callback_t,
    ctx: Ctx,
}

#[derive(Clone, Copy)]
struct StallCallback {
    on_change: unsafe extern "C" fn(*mut c_void, *const siltdb_write_stall_info_t),
    ctx: Ctx,
}

/// The callbacks registered in one `siltdb_options_t`; each `siltdb_open` with those
/// options registers them as one engine listener.
#[derive(Clone, Copy, Default)]
pub(crate) struct CListeners {
    flush: Option<FlushCallbacks>,
    stall: Option<StallCallback>,
}

impl CListeners {
    /// Registers (or with both NULL, removes) the flush callbacks.
    pub(crate) fn set_flush(
        &mut self,
        on_begin: siltdb_flush_callback_t,
        on_completed: siltdb_flush_callback_t,
        ctx: *mut c_void,
    ) {
        self.flush = (on_begin.is_some() || on_completed.is_some()).then_some(FlushCallbacks {
            on_begin,
            on_completed,
            ctx: Ctx(ctx),
        });
    }

    /// Registers (or with NULL, removes) the write-stall callback.
    pub(crate) fn set_stall(&mut self, on_change: siltdb_write_stall_callback_t, ctx: *mut c_void) {
        self.stall = on_change.map(|on_change| StallCallback {
            on_change,
            ctx: Ctx(ctx),
        });
    }

    /// The engine listener for one open, or None when nothing is registered (then the
    /// engine starts no event thread).
    pub(crate) fn to_listener(self) -> Option<Arc<dyn EventListener>> {
        match (self.flush, self.stall) {
            (None, None) => None,
            _ => Some(Arc::new(self)),
        }
    }
}

// A panic in these methods stays on the Rust side: the engine's event thread catches and
// counts it. C cannot unwind into them: the header forbids longjmp and exceptions.
impl EventListener for CListeners {
    fn on_flush_begin(&self, info: &FlushJobInfo) {
        if let Some(FlushCallbacks {
            on_begin: Some(cb),
            ctx,
            ..
        }) = self.flush
        {
            call_flush(cb, ctx, info);
        }
    }

    fn on_flush_completed(&self, info: &FlushJobInfo) {
        if let Some(FlushCallbacks {
            on_completed: Some(cb),
            ctx,
            ..
        }) = self.flush
        {
            call_flush(cb, ctx, info);
        }
    }

    fn on_write_stall_changed(&self, info: &WriteStallInfo) {
        if let Some(StallCallback { on_change, ctx }) = self.stall {
            let c_info = siltdb_write_stall_info_t {
                condition: info.condition as i32,
                previous: info.previous as i32,
                cause: info.cause as i32,
            };
            // SAFETY: the caller registered `on_change` and `ctx` for this purpose and
            // promised they are callable from the event thread; `c_info` outlives the call.
            unsafe { on_change(ctx.0, &c_info) }
        }
    }
}

/// Builds the C view of `info` on the stack (keys point into `info`, the message into a
/// CString that outlives the call) and calls `cb`.
fn call_flush(
    cb: unsafe extern "C" fn(*mut c_void, *const siltdb_flush_info_t),
    ctx: Ctx,
    info: &FlushJobInfo,
) {
    // A NUL inside the message would end it early in C; show it instead.
    let message = info
        .error
        .as_ref()
        .map(|e| CString::new(e.to_string().replace('\0', "\\0")).unwrap_or_default());
    let c_info = siltdb_flush_info_t {
        job_id: info.job_id,
        reason: info.reason as i32,
        status: info
            .error
            .as_ref()
            .map_or(SILTDB_OK, |e| status::status_of(e.kind())),
        file_number: info.file_number.0,
        level: i32::try_from(info.level).unwrap_or(i32::MAX),
        file_size: info.file_size,
        num_entries: info.num_entries,
        num_deletions: info.num_deletions,
        smallest_seqno: info.smallest_seqno.0,
        largest_seqno: info.largest_seqno.0,
        smallest_key: key_ptr(&info.smallest_user_key),
        smallest_key_len: info.smallest_user_key.len(),
        largest_key: key_ptr(&info.largest_user_key),
        largest_key_len: info.largest_user_key.len(),
        duration_micros: u64::try_from(info.duration.as_micros()).unwrap_or(u64::MAX),
        error_message: message.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
    };
    // SAFETY: the caller registered `cb` and `ctx` for this purpose and promised they are
    // callable from the event thread; `c_info`, the keys in `info` and `message` all
    // outlive the call, which is all the header promises.
    unsafe { cb(ctx.0, &c_info) }
}

/// Keys are never NULL in C, so an empty key needs no special case there.
fn key_ptr(key: &[u8]) -> *const c_char {
    if key.is_empty() {
        b"\0".as_ptr().cast()
    } else {
        key.as_ptr().cast()
    }
}

/// The ABI values are written out above for cbindgen; they must be the engine's.
const _: () = {
    assert!(FlushReason::WriteBufferFull as i32 == SILTDB_FLUSH_WRITE_BUFFER_FULL);
    assert!(FlushReason::Manual as i32 == SILTDB_FLUSH_MANUAL);
    assert!(FlushReason::Recovery as i32 == SILTDB_FLUSH_RECOVERY);
    assert!(FlushReason::Shutdown as i32 == SILTDB_FLUSH_SHUTDOWN);
    use siltdb_core::{WriteStallCause as Cause, WriteStallCondition as Cond};
    assert!(Cond::Normal as i32 == SILTDB_STALL_NORMAL);
    assert!(Cond::Delayed as i32 == SILTDB_STALL_DELAYED);
    assert!(Cond::Stopped as i32 == SILTDB_STALL_STOPPED);
    assert!(Cause::None as i32 == SILTDB_STALL_CAUSE_NONE);
    assert!(Cause::MemtableLimit as i32 == SILTDB_STALL_CAUSE_MEMTABLE_LIMIT);
    assert!(Cause::Level0Slowdown as i32 == SILTDB_STALL_CAUSE_LEVEL0_SLOWDOWN);
    assert!(Cause::Level0Stop as i32 == SILTDB_STALL_CAUSE_LEVEL0_STOP);
};

#[cfg(test)]
mod tests {
    use super::*;
    use siltdb_core::{Error, SequenceNumber};
    use std::ffi::CStr;
    use std::sync::Mutex;
    use std::time::Duration;

    /// What a C callback saw, copied out during the call.
    #[derive(Debug, Default, PartialEq)]
    struct Seen {
        job_id: u64,
        reason: i32,
        status: i32,
        level: i32,
        keys: (Vec<u8>, Vec<u8>),
        duration_micros: u64,
        error: Option<String>,
    }

    unsafe extern "C" fn record(ctx: *mut c_void, info: *const siltdb_flush_info_t) {
        // SAFETY: the tests pass a live Mutex<Vec<Seen>> as ctx and siltdb a live info.
        let (seen, info) = unsafe { (&*ctx.cast::<Mutex<Vec<Seen>>>(), &*info) };
        // SAFETY: the keys are `len` readable bytes, the message NULL or NUL-terminated.
        let (smallest, largest, error) = unsafe {
            (
                std::slice::from_raw_parts(info.smallest_key.cast::<u8>(), info.smallest_key_len),
                std::slice::from_raw_parts(info.largest_key.cast::<u8>(), info.largest_key_len),
                (!info.error_message.is_null()).then(|| {
                    CStr::from_ptr(info.error_message)
                        .to_string_lossy()
                        .into_owned()
                }),
            )
        };
        seen.lock().expect("not poisoned").push(Seen {
            job_id: info.job_id,
            reason: info.reason,
            status: info.status,
            level: info.level,
            keys: (smallest.to_vec(), largest.to_vec()),
            duration_micros: info.duration_micros,
            error,
        });
    }

    fn job(error: Option<Error>) -> FlushJobInfo {
        FlushJobInfo {
            job_id: 7,
            reason: FlushReason::Shutdown,
            file_number: siltdb_core::FileNumber(12),
            file_path: "/db/000012.ldb".into(),
            level: 2,
            file_size: 300,
            num_entries: 3,
            num_deletions: 1,
            smallest_user_key: Vec::new(),
            largest_user_key: b"zz".to_vec(),
            smallest_seqno: SequenceNumber(4),
            largest_seqno: SequenceNumber(6),
            duration: Duration::from_millis(3),
            memtable_bytes: 1000,
            stalled_writers: false,
            error,
        }
    }

    fn listeners_for(seen: &Mutex<Vec<Seen>>) -> CListeners {
        let mut l = CListeners::default();
        let ctx: *const Mutex<Vec<Seen>> = seen;
        l.set_flush(None, Some(record), ctx.cast_mut().cast());
        l
    }

    #[test]
    fn completed_flush_reaches_c_with_every_field() {
        let seen = Mutex::new(Vec::new());
        let l = listeners_for(&seen);
        l.on_flush_begin(&job(None)); // no begin callback registered: nothing happens
        l.on_flush_completed(&job(None));
        let seen = seen.into_inner().expect("not poisoned");
        assert_eq!(
            seen,
            vec![Seen {
                job_id: 7,
                reason: SILTDB_FLUSH_SHUTDOWN,
                status: SILTDB_OK,
                level: 2,
                keys: (Vec::new(), b"zz".to_vec()),
                duration_micros: 3000,
                error: None,
            }]
        );
    }

    #[test]
    fn failed_flush_carries_status_and_message() {
        let seen = Mutex::new(Vec::new());
        let l = listeners_for(&seen);
        let err = Error::io("000012.ldb", std::io::Error::other("disk\0full"));
        l.on_flush_completed(&job(Some(err)));
        let seen = seen.into_inner().expect("not poisoned");
        assert_eq!(seen[0].status, status::SILTDB_IO_ERROR);
        let message = seen[0].error.as_deref().unwrap_or_default();
        assert!(message.contains("disk\\0full"), "{message}");
    }

    #[test]
    fn nothing_registered_means_no_listener() {
        let mut l = CListeners::default();
        assert!(l.to_listener().is_none());
        l.set_flush(None, None, std::ptr::null_mut());
        assert!(l.to_listener().is_none());
        l.set_stall(None, std::ptr::null_mut());
        assert!(l.to_listener().is_none());
    }
}

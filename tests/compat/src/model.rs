//! The workload and its model: deterministic keys and values of varied sizes (empty and
//! 64 KiB values, binary and long keys), operations applied to either engine, and a
//! `BTreeMap` model that every read and every full scan is checked against.

use std::collections::{BTreeMap, BTreeSet};

use siltdb::WriteBatch;

/// The largest values written: 64 KiB, bigger than a block and than LevelDB's log block.
pub const BIG_VALUE_LEN: usize = 64 << 10;

/// Key `i`: a fixed-width decimal prefix (so keys ascend with `i`) and 0–40 bytes of
/// binary suffix that include 0x00 and 0xff.
pub fn key(i: u64) -> Vec<u8> {
    let mut k = format!("{i:08}").into_bytes();
    let extra = (i.wrapping_mul(7919) % 41) as usize;
    k.extend((0..extra).map(|j| (i as usize).wrapping_mul(31).wrapping_add(j * 97) as u8));
    k
}

/// Keys no workload uses: they sort among the real keys but are never written.
pub fn absent_keys(count: u64) -> Vec<Vec<u8>> {
    (0..count)
        .map(|j| {
            let mut k = key(j * 97 + 3);
            k.extend_from_slice(b"~never");
            k
        })
        .collect()
}

/// Keys outside the numbered space: empty, all-0xff, a 2 KiB key, one with NUL bytes.
pub fn special_keys() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        vec![0xff; 3],
        std::iter::repeat(b"~long-key-".iter().copied())
            .flatten()
            .take(2048)
            .collect(),
        b"\x00\x00nul\x00".to_vec(),
    ]
}

/// Value for key `i` in write generation `generation`: usually 1–300 bytes; empty for
/// about 1 in 11; 64 KiB for key numbers divisible by 2000 (at generation 0) or by 3001.
/// Half the values are compressible text and half pseudo-random bytes, so snappy both
/// shrinks blocks and leaves some stored raw.
pub fn value(i: u64, generation: u64) -> Vec<u8> {
    let h = mix(i ^ generation.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let len = if (generation == 0 && i % 2000 == 0) || i % 3001 == 0 {
        BIG_VALUE_LEN
    } else if h % 11 == 0 {
        0
    } else {
        1 + (h >> 8) as usize % 300
    };
    let mut v = Vec::with_capacity(len);
    if (h >> 32) % 2 == 0 {
        let text = format!("v{i}.{generation};");
        while v.len() < len {
            v.extend_from_slice(text.as_bytes());
        }
        v.truncate(len);
    } else {
        let mut x = h | 1;
        while v.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.truncate(len);
    }
    v
}

/// splitmix64: a cheap, well-spread hash of the key number.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One write.
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

impl Op {
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Put(k, _) | Op::Delete(k) => k,
        }
    }

    /// Bytes the op adds to a memtable, roughly (with per-entry overhead).
    pub fn approximate_size(&self) -> usize {
        match self {
            Op::Put(k, v) => k.len() + v.len() + 64,
            Op::Delete(k) => k.len() + 64,
        }
    }
}

/// The ops as one siltdb batch.
pub fn siltdb_batch(ops: &[Op]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for op in ops {
        match op {
            Op::Put(k, v) => batch.put(k, v),
            Op::Delete(k) => batch.delete(k),
        }
    }
    batch
}

/// The ops as one LevelDB batch.
#[cfg(has_leveldb)]
pub fn leveldb_batch(ops: &[Op]) -> crate::leveldb_ffi::LevelBatch {
    let mut batch = crate::leveldb_ffi::LevelBatch::new();
    for op in ops {
        match op {
            Op::Put(k, v) => batch.put(k, v),
            Op::Delete(k) => batch.delete(k),
        }
    }
    batch
}

/// What the database must hold: live keys with their values, and keys written once and
/// deleted since (which must read as absent).
#[derive(Debug, Default)]
pub struct Model {
    live: BTreeMap<Vec<u8>, Vec<u8>>,
    deleted: BTreeSet<Vec<u8>>,
    ops: u64,
}

impl Model {
    pub fn apply(&mut self, op: &Op) {
        self.ops += 1;
        match op {
            Op::Put(k, v) => {
                self.deleted.remove(k);
                self.live.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                if self.live.remove(k).is_some() {
                    self.deleted.insert(k.clone());
                }
            }
        }
    }

    pub fn apply_all(&mut self, ops: &[Op]) {
        ops.iter().for_each(|op| self.apply(op));
    }

    pub fn live(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.live
    }

    pub fn deleted(&self) -> &BTreeSet<Vec<u8>> {
        &self.deleted
    }

    /// Operations applied so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Reads every live key, every deleted key and `absent` through `get` and panics at the
    /// first difference. Returns the number of keys checked.
    pub fn verify_gets(
        &self,
        who: &str,
        absent: &[Vec<u8>],
        mut get: impl FnMut(&[u8]) -> Result<Option<Vec<u8>>, String>,
    ) -> usize {
        let mut checked = 0;
        for (k, want) in &self.live {
            match get(k) {
                Ok(Some(got)) if got == *want => {}
                other => panic!(
                    "{who}: key {} should hold {}, got {}",
                    show_key(k),
                    show_value(want),
                    show_read(&other)
                ),
            }
            checked += 1;
        }
        for k in self.deleted.iter().chain(absent) {
            match get(k) {
                Ok(None) => {}
                other => panic!(
                    "{who}: key {} should be absent, got {}",
                    show_key(k),
                    show_read(&other)
                ),
            }
            checked += 1;
        }
        checked
    }

    /// Checks that a full scan yields exactly the live keys with their values, in order.
    /// Returns the number of entries compared.
    pub fn verify_scan(
        &self,
        who: &str,
        scan: impl IntoIterator<Item = Result<(Vec<u8>, Vec<u8>), String>>,
    ) -> usize {
        let mut want = self.live.iter();
        let mut count = 0;
        for entry in scan {
            let (k, v) = entry.unwrap_or_else(|e| panic!("{who}: scan failed after {count}: {e}"));
            match want.next() {
                Some((wk, wv)) if *wk == k && *wv == v => {}
                Some((wk, wv)) => panic!(
                    "{who}: scan entry {count} is {} = {}, expected {} = {}",
                    show_key(&k),
                    show_value(&v),
                    show_key(wk),
                    show_value(wv)
                ),
                None => panic!(
                    "{who}: scan yields {} after the last live key",
                    show_key(&k)
                ),
            }
            count += 1;
        }
        if let Some((wk, _)) = want.next() {
            panic!(
                "{who}: scan ended after {count} entries; {} is missing",
                show_key(wk)
            );
        }
        count
    }
}

fn show_key(k: &[u8]) -> String {
    let shown: String = k.iter().take(24).map(|b| format!("{b:02x}")).collect();
    format!(
        "{shown}{} ({} bytes)",
        if k.len() > 24 { "…" } else { "" },
        k.len()
    )
}

fn show_value(v: &[u8]) -> String {
    format!("a {}-byte value", v.len())
}

fn show_read(r: &Result<Option<Vec<u8>>, String>) -> String {
    match r {
        Ok(Some(v)) => format!("a different {}-byte value", v.len()),
        Ok(None) => "nothing".to_string(),
        Err(e) => format!("an error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ascend_with_their_number() {
        for i in 0..5000 {
            assert!(key(i) < key(i + 1), "key({i}) >= key({})", i + 1);
        }
    }

    #[test]
    fn values_cover_empty_and_64k() {
        let lens: Vec<usize> = (0..5000).map(|i| value(i, 0).len()).collect();
        assert!(lens.contains(&0));
        assert!(lens.contains(&BIG_VALUE_LEN));
        assert_ne!(value(7, 0), value(7, 1));
    }

    #[test]
    fn model_tracks_overwrites_and_deletes() {
        let mut m = Model::default();
        m.apply(&Op::Put(b"a".to_vec(), b"1".to_vec()));
        m.apply(&Op::Put(b"a".to_vec(), b"2".to_vec()));
        m.apply(&Op::Put(b"b".to_vec(), b"3".to_vec()));
        m.apply(&Op::Delete(b"b".to_vec()));
        m.apply(&Op::Delete(b"never".to_vec()));
        assert_eq!(m.live().get(&b"a".to_vec()), Some(&b"2".to_vec()));
        assert!(m.deleted().contains(&b"b".to_vec()));
        assert!(!m.deleted().contains(&b"never".to_vec()));
        let scan = vec![Ok((b"a".to_vec(), b"2".to_vec()))];
        assert_eq!(m.verify_scan("model", scan), 1);
    }
}

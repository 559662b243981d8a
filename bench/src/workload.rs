//! The data both engines are fed: LevelDB db_bench's random number generator, its
//! 16-byte `%016d` keys and its compressible values, so runs are reproducible and the
//! two engines see byte-identical operations.

/// LevelDB's `Random`: Park–Miller minimal standard generator (multiplier 16807,
/// modulus 2^31-1). Seeds per thread as db_bench does, so key sequences match its runs.
#[derive(Debug, Clone)]
pub struct Random {
    seed: u32,
}

impl Random {
    const M: u32 = 2_147_483_647;

    pub fn new(seed: u32) -> Random {
        let mut seed = seed & 0x7fff_ffff;
        if seed == 0 || seed == Self::M {
            seed = 1;
        }
        Random { seed }
    }

    pub fn next_u32(&mut self) -> u32 {
        const A: u64 = 16807;
        let product = u64::from(self.seed) * A;
        // product mod M without division, using 2^31 ≡ 1 (mod M).
        let mut seed = (product >> 31) + (product & u64::from(Self::M));
        if seed > u64::from(Self::M) {
            seed -= u64::from(Self::M);
        }
        self.seed = seed as u32; // < 2^31 by the reduction above
        self.seed
    }

    /// Uniform in `0..n`; `n` must be positive.
    pub fn uniform(&mut self, n: u32) -> u32 {
        self.next_u32() % n.max(1)
    }
}

/// A 16-byte key, `printf("%016d", k)`, formatted in place without allocating.
#[derive(Debug, Clone, Default)]
pub struct KeyBuffer {
    buf: [u8; 16],
}

impl KeyBuffer {
    pub fn set(&mut self, k: u32) -> &[u8] {
        let mut k = k;
        for b in self.buf.iter_mut().rev() {
            *b = b'0' + (k % 10) as u8;
            k /= 10;
        }
        &self.buf
    }
}

/// db_bench's `RandomGenerator`: 1 MiB of text pieces that compress to
/// `compression_ratio` of their size, handed out as consecutive slices.
#[derive(Debug, Clone)]
pub struct ValueGenerator {
    data: Vec<u8>,
    pos: usize,
}

impl ValueGenerator {
    pub fn new(compression_ratio: f64) -> ValueGenerator {
        let mut rnd = Random::new(301);
        let mut data = Vec::with_capacity((1 << 20) + 100);
        while data.len() < 1 << 20 {
            compressible_piece(&mut rnd, compression_ratio, 100, &mut data);
        }
        ValueGenerator { data, pos: 0 }
    }

    /// The next `len` bytes; `len` must be below 1 MiB (the flags keep values smaller).
    pub fn generate(&mut self, len: usize) -> &[u8] {
        let len = len.min(self.data.len());
        if self.pos + len > self.data.len() {
            self.pos = 0;
        }
        self.pos += len;
        &self.data[self.pos - len..self.pos]
    }
}

/// Appends `len` bytes made of a random printable string of `len * fraction` bytes,
/// repeated: snappy shrinks it to about `fraction`.
fn compressible_piece(rnd: &mut Random, fraction: f64, len: usize, out: &mut Vec<u8>) {
    let raw_len = ((len as f64 * fraction) as usize).max(1);
    let raw: Vec<u8> = (0..raw_len).map(|_| b' ' + rnd.uniform(95) as u8).collect();
    let start = out.len();
    while out.len() - start < len {
        out.extend_from_slice(&raw);
    }
    out.truncate(start + len);
}

/// A bijection on `0..n` that scatters consecutive inputs, for visiting distinct keys
/// in random-looking order (the flush benchmark wants no overwritten entries).
#[derive(Debug, Clone, Copy)]
pub struct Scatter {
    n: u64,
    step: u64,
}

impl Scatter {
    pub fn new(n: u32) -> Scatter {
        let n = u64::from(n.max(1));
        // Any step coprime with n gives a bijection i -> i*step mod n.
        let mut step = (n * 618_034 / 1_000_000) | 1;
        while gcd(step, n) != 1 {
            step += 2;
        }
        Scatter { n, step }
    }

    pub fn get(&self, i: u32) -> u32 {
        (u64::from(i) * self.step % self.n) as u32 // < n <= u32::MAX
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_matches_leveldb_park_miller_sequence() {
        // Park–Miller from seed 1: 16807, 282475249, 1622650073 (the published sequence).
        let mut r = Random::new(1);
        assert_eq!(r.next_u32(), 16807);
        assert_eq!(r.next_u32(), 282_475_249);
        assert_eq!(r.next_u32(), 1_622_650_073);
        // Seeds 0 and 2^31-1 would be fixed points; LevelDB maps them to 1.
        assert_eq!(Random::new(0).next_u32(), 16807);
    }

    #[test]
    fn keys_are_sixteen_zero_padded_digits() {
        let mut k = KeyBuffer::default();
        assert_eq!(k.set(0), b"0000000000000000");
        assert_eq!(k.set(123_456), b"0000000000123456");
        assert_eq!(k.set(u32::MAX), b"0000004294967295");
    }

    #[test]
    fn values_compress_to_about_the_requested_ratio() {
        let mut g = ValueGenerator::new(0.5);
        let v = g.generate(100).to_vec();
        assert_eq!(v.len(), 100);
        // A 50-byte random string repeated twice.
        assert_eq!(v[..50], v[50..]);
        assert!(v.iter().all(|b| (b' '..=b'~').contains(b)));
        assert_ne!(g.generate(100), &v[..]);
    }

    #[test]
    fn scatter_visits_every_index_once() {
        for n in [1u32, 2, 10, 1000, 4096, 99_991] {
            let s = Scatter::new(n);
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = s.get(i) as usize;
                assert!(!seen[j], "n={n} repeats {j}");
                seen[j] = true;
            }
        }
    }
}

//! LevelDB's integer encodings: little-endian fixed32/fixed64, varints, and
//! length-prefixed slices. Decoders take `&mut &[u8]` and advance it, so a record is
//! parsed front to back; they return `None` on truncated or overlong input, never panic.

pub fn put_fixed32(dst: &mut Vec<u8>, v: u32) {
    dst.extend_from_slice(&v.to_le_bytes());
}

pub fn put_fixed64(dst: &mut Vec<u8>, v: u64) {
    dst.extend_from_slice(&v.to_le_bytes());
}

/// Reads a fixed32 from the first four bytes. Returns `None` if `src` is shorter.
pub fn decode_fixed32(src: &[u8]) -> Option<u32> {
    let bytes: [u8; 4] = src.get(..4)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// Reads a fixed64 from the first eight bytes. Returns `None` if `src` is shorter.
pub fn decode_fixed64(src: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = src.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

pub fn put_varint32(dst: &mut Vec<u8>, v: u32) {
    put_varint64(dst, u64::from(v));
}

pub fn put_varint64(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

pub fn varint_length(mut v: u64) -> usize {
    let mut len = 1;
    while v >= 0x80 {
        v >>= 7;
        len += 1;
    }
    len
}

pub fn put_length_prefixed_slice(dst: &mut Vec<u8>, value: &[u8]) {
    put_varint32(dst, value.len() as u32);
    dst.extend_from_slice(value);
}

pub fn get_fixed32(src: &mut &[u8]) -> Option<u32> {
    let v = decode_fixed32(src)?;
    *src = &src[4..];
    Some(v)
}

pub fn get_fixed64(src: &mut &[u8]) -> Option<u64> {
    let v = decode_fixed64(src)?;
    *src = &src[8..];
    Some(v)
}

pub fn get_varint32(src: &mut &[u8]) -> Option<u32> {
    let mut result: u32 = 0;
    for (i, &byte) in src.iter().enumerate().take(5) {
        let shift = 7 * i as u32;
        if i == 4 && byte > 0x0f {
            return None; // more than 32 bits
        }
        result |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            *src = &src[i + 1..];
            return Some(result);
        }
    }
    None
}

pub fn get_varint64(src: &mut &[u8]) -> Option<u64> {
    let mut result: u64 = 0;
    for (i, &byte) in src.iter().enumerate().take(10) {
        let shift = 7 * i as u32;
        if i == 9 && byte > 0x01 {
            return None; // more than 64 bits
        }
        result |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            *src = &src[i + 1..];
            return Some(result);
        }
    }
    None
}

pub fn get_length_prefixed_slice<'a>(src: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = get_varint32(src)? as usize;
    if src.len() < len {
        return None;
    }
    let (value, rest) = src.split_at(len);
    *src = rest;
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        let mut values = vec![
            0u64,
            1,
            127,
            128,
            16383,
            16384,
            u64::from(u32::MAX),
            u64::MAX,
        ];
        for shift in 0..64 {
            values.push(1u64 << shift);
            values.push((1u64 << shift) - 1);
        }
        let mut buf = Vec::new();
        for &v in &values {
            put_varint64(&mut buf, v);
        }
        let mut src = buf.as_slice();
        for &v in &values {
            assert_eq!(get_varint64(&mut src), Some(v));
        }
        assert!(src.is_empty());
    }

    #[test]
    fn varint32_rejects_overflow_and_truncation() {
        let mut buf = Vec::new();
        put_varint64(&mut buf, u64::from(u32::MAX) + 1);
        assert_eq!(get_varint32(&mut buf.as_slice()), None);
        let mut buf = Vec::new();
        put_varint32(&mut buf, 300);
        buf.pop();
        assert_eq!(get_varint32(&mut buf.as_slice()), None);
    }

    #[test]
    fn fixed_and_slices_round_trip() {
        let mut buf = Vec::new();
        put_fixed32(&mut buf, 0xdead_beef);
        put_fixed64(&mut buf, 0x0123_4567_89ab_cdef);
        put_length_prefixed_slice(&mut buf, b"hello");
        assert_eq!(&buf[..4], &[0xef, 0xbe, 0xad, 0xde]);
        let mut src = buf.as_slice();
        assert_eq!(get_fixed32(&mut src), Some(0xdead_beef));
        assert_eq!(get_fixed64(&mut src), Some(0x0123_4567_89ab_cdef));
        assert_eq!(get_length_prefixed_slice(&mut src), Some(&b"hello"[..]));
        assert_eq!(get_length_prefixed_slice(&mut src), None);
    }
}

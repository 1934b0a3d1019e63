//! Little-endian building blocks of the dependency model file: strings, string lists,
//! perceptron weight tables, and a reader for them.

use super::perceptron::Weights;

pub(super) fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

pub(super) fn put_strings(buf: &mut Vec<u8>, v: &[String]) {
    buf.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for s in v {
        put_str(buf, s);
    }
}

pub(super) fn put_weights(buf: &mut Vec<u8>, w: &Weights) {
    buf.extend_from_slice(&(w.classes as u32).to_le_bytes());
    let mut rows: Vec<(u64, u32)> = w.index.iter().map(|(&k, &v)| (k, v)).collect();
    rows.sort();
    buf.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    for (k, _) in &rows {
        buf.extend_from_slice(&k.to_le_bytes());
    }
    for (_, row) in &rows {
        for x in &w.w[*row as usize * w.classes..(*row as usize + 1) * w.classes] {
            buf.extend_from_slice(&x.to_le_bytes());
        }
    }
}

pub(super) struct Reader<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(super) fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    pub(super) fn strings(&mut self) -> Option<Vec<String>> {
        let n = self.u32()? as usize;
        (0..n).map(|_| self.string()).collect()
    }
    pub(super) fn weights(&mut self) -> Option<Weights> {
        let classes = self.u32()? as usize;
        let rows = self.u64()? as usize;
        let keys = self.take(rows.checked_mul(8)?)?;
        let vals = self.take(rows.checked_mul(classes)?.checked_mul(4)?)?;
        let mut w = Weights::new(classes);
        w.index.reserve(rows);
        for (i, k) in keys.chunks_exact(8).enumerate() {
            w.index
                .insert(u64::from_le_bytes(k.try_into().ok()?), i as u32);
        }
        w.w = vals
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        Some(w)
    }
}

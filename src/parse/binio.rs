//! The dependency model file's perceptron weight tables, on top of [`crate::binio`].

use super::perceptron::Weights;
use crate::binio::Reader;

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

/// Reads the perceptron weight tables of the dependency model file.
pub(super) trait ReadWeights {
    fn weights(&mut self) -> Option<Weights>;
}

impl ReadWeights for Reader<'_> {
    fn weights(&mut self) -> Option<Weights> {
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

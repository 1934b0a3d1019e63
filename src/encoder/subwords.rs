//! Words (from the text stage, with their offsets) to encoder subwords and back.
//!
//! Each word is split into subwords by the model's tokenizer; a word's state is taken from its
//! subwords by [`Pooling`] (`First`: the first subword, as BERT's NER fine-tuning does; `Mean`:
//! the average of all its subwords). Sentences longer than the encoder's limit are cut into
//! overlapping windows at word boundaries; every word is read from the window in which it has
//! the most context on both sides, so no word (and no offset) is lost.

use tch::{Device, Tensor};
use tokenizers::Tokenizer;

/// How a word's state is pooled from its subwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    #[default]
    First,
    Mean,
}

/// Subword windows of one sentence and where each word's subwords are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    /// Per window: `[CLS] subwords [SEP]` ids.
    pub ids: Vec<Vec<i64>>,
    /// Per word: (window, first position, end position) of the subwords it is read from;
    /// positions count `[CLS]` as 0.
    pub words: Vec<(usize, usize, usize)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubwordError {
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("tokenizer has no {0} token")]
    SpecialToken(&'static str),
    #[error("max_len {0} leaves no room for subwords")]
    MaxLen(usize),
    #[error(
        "windows of {max_len} subwords exceed the encoder's {limit} positions \
         (set model.max_subwords to at most {limit})"
    )]
    WindowTooLong { max_len: usize, limit: usize },
}

/// Splits `words` into subwords with `tokenizer` and lays them out in windows of at most
/// `max_len` ids (special tokens included).
pub fn windows(
    tokenizer: &Tokenizer,
    words: &[&str],
    max_len: usize,
) -> Result<Windows, SubwordError> {
    let (cls, sep) = boundary_tokens(tokenizer)?;
    let unk = special(tokenizer, &["[UNK]", "<unk>"], "[UNK]")?;
    let mut pieces: Vec<Vec<i64>> = Vec::with_capacity(words.len());
    if !words.is_empty() {
        let enc = tokenizer
            .encode(words.to_vec(), false)
            .map_err(|e| SubwordError::Tokenizer(e.to_string()))?;
        pieces = vec![Vec::new(); words.len()];
        for (id, w) in enc.get_ids().iter().zip(enc.get_word_ids()) {
            if let Some(w) = w {
                pieces[*w as usize].push(*id as i64);
            }
        }
        // A word the tokenizer drops entirely (e.g. a control character) still gets a state.
        for p in &mut pieces {
            if p.is_empty() {
                p.push(unk);
            }
        }
        continue_cjk_words(tokenizer, words, &mut pieces);
    }
    layout(&pieces, max_len, cls, sep)
}

/// Chinese is written without spaces, and its tokens are single characters: a sentencepiece
/// tokenizer (multilingual-e5's) given one character per word marks each as a word start
/// (`▁`, usually a piece of its own: `▁ 患 ▁ 者` for 患者, 1.7 pieces per character on CCKS
/// text), which its encoder met in pretraining only after a space. After the sentence's first
/// word, a CJK character or CJK punctuation mark (`。`, `，`, fullwidth forms) whose pieces
/// start with `▁` is looked up bare (`患 者`), as in running text, where the vocabulary has
/// it: 40 % fewer encoder positions on Chinese. WordPiece tokenizers (BERT, MPNet) mark no
/// word starts and are left as they are.
fn continue_cjk_words(tokenizer: &Tokenizer, words: &[&str], pieces: &mut [Vec<i64>]) {
    const WORD_START: char = '\u{2581}';
    for (word, ids) in words.iter().zip(pieces.iter_mut()).skip(1) {
        let mut chars = word.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            continue;
        };
        let cjk_punctuation = matches!(c as u32, 0x3001..=0x303F | 0xFF00..=0xFFEF);
        if !(crate::document::is_cjk(c) || cjk_punctuation) {
            continue;
        }
        let text: String = ids
            .iter()
            .filter_map(|&id| tokenizer.id_to_token(id as u32))
            .collect();
        let Some(bare) = text.strip_prefix(WORD_START) else {
            continue;
        };
        if let Some(id) = tokenizer.token_to_id(bare) {
            *ids = vec![id as i64];
        }
    }
}

/// The ids a window starts and ends with: what the tokenizer's post-processor puts around a
/// sequence (`[CLS]`/`[SEP]` for BERT, `<s>`/`</s>` for MPNet and RoBERTa); by name when the
/// tokenizer has no post-processor. MPNet's vocabulary also holds BERT's `[CLS]`, so the
/// post-processor decides, not the names.
fn boundary_tokens(tokenizer: &Tokenizer) -> Result<(i64, i64), SubwordError> {
    let enc = tokenizer
        .encode("", true)
        .map_err(|e| SubwordError::Tokenizer(e.to_string()))?;
    match enc.get_ids() {
        &[cls, sep] => Ok((cls as i64, sep as i64)),
        _ => Ok((
            special(tokenizer, &["[CLS]", "<s>"], "[CLS]")?,
            special(tokenizer, &["[SEP]", "</s>"], "[SEP]")?,
        )),
    }
}

fn special(tokenizer: &Tokenizer, names: &[&str], what: &'static str) -> Result<i64, SubwordError> {
    names
        .iter()
        .find_map(|n| tokenizer.token_to_id(n))
        .map(|i| i as i64)
        .ok_or(SubwordError::SpecialToken(what))
}

/// Windows over per-word subword ids (the part of [`windows`] that does not need a tokenizer).
pub fn layout(
    pieces: &[Vec<i64>],
    max_len: usize,
    cls: i64,
    sep: i64,
) -> Result<Windows, SubwordError> {
    if max_len < 3 {
        return Err(SubwordError::MaxLen(max_len));
    }
    let room = max_len - 2;
    let n = pieces.len();
    // Word ranges [a, b) per window; a word longer than a whole window is truncated.
    let len = |w: usize| pieces[w].len().min(room);
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut a = 0;
    loop {
        let mut b = a;
        let mut used = 0;
        while b < n && (used + len(b) <= room || b == a) {
            used += len(b);
            b += 1;
        }
        ranges.push((a, b));
        if b >= n {
            break;
        }
        // Next window starts half a window later (at a word boundary), always moving forward.
        let mut next = a;
        let mut skipped = 0;
        while next < b && skipped < room / 2 {
            skipped += len(next);
            next += 1;
        }
        a = next.max(a + 1);
    }
    let mut ids = Vec::with_capacity(ranges.len());
    let mut positions: Vec<Vec<(usize, usize)>> = Vec::with_capacity(ranges.len());
    for &(a, b) in &ranges {
        let mut w = vec![cls];
        let mut pos = Vec::with_capacity(b - a);
        for p in &pieces[a..b] {
            let start = w.len();
            w.extend_from_slice(&p[..p.len().min(room)]);
            pos.push((start, w.len()));
        }
        w.push(sep);
        ids.push(w);
        positions.push(pos);
    }
    let mut words = Vec::with_capacity(n);
    for word in 0..n {
        // The window where the word has the most context on its narrower side.
        let best = ranges
            .iter()
            .enumerate()
            .filter(|(_, (a, b))| (*a..*b).contains(&word))
            .max_by_key(|(_, (a, b))| ((word - a).min(b - 1 - word), std::cmp::Reverse(*a)))
            .map(|(k, _)| k)
            .expect("every word is in a window");
        let (start, end) = positions[best][word - ranges[best].0];
        words.push((best, start, end));
    }
    Ok(Windows { ids, words })
}

impl Windows {
    /// Ids and attention mask as [windows, longest] tensors, padded with `pad_id`.
    pub fn tensors(&self, pad_id: i64, device: Device) -> (Tensor, Tensor) {
        let t = self.ids.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(self.ids.len() * t);
        let mut mask = Vec::with_capacity(self.ids.len() * t);
        for w in &self.ids {
            ids.extend(
                w.iter()
                    .copied()
                    .chain(std::iter::repeat_n(pad_id, t - w.len())),
            );
            mask.extend(
                std::iter::repeat_n(1i64, w.len()).chain(std::iter::repeat_n(0, t - w.len())),
            );
        }
        let shape = [self.ids.len() as i64, t as i64];
        (
            Tensor::from_slice(&ids).view(shape).to(device),
            Tensor::from_slice(&mask).view(shape).to(device),
        )
    }

    /// Pools subword states `[windows, longest, hidden]` (the encoder's output for
    /// [`Windows::tensors`]) into word states `[words, hidden]`: each word takes its first
    /// subword's state or the mean of its subwords' states. Implemented as a gather and a
    /// scatter-add, so a batch of many sentences costs memory in proportion to its subwords.
    pub fn pool(&self, states: &Tensor, pooling: Pooling) -> Tensor {
        let size = states.size();
        let (t, hidden) = (size[1], size[2]);
        let device = states.device();
        let mut positions = Vec::new();
        let mut owners = Vec::new();
        let mut counts = Vec::with_capacity(self.words.len());
        for (w, &(win, start, end)) in self.words.iter().enumerate() {
            let end = match pooling {
                Pooling::First => start + 1,
                Pooling::Mean => end,
            };
            for p in start..end {
                positions.push(win as i64 * t + p as i64);
                owners.push(w as i64);
            }
            counts.push((end - start) as f32);
        }
        let picked = states
            .view([-1, hidden])
            .index_select(0, &Tensor::from_slice(&positions).to(device));
        let summed = Tensor::zeros([self.words.len() as i64, hidden], (states.kind(), device))
            .index_add(0, &Tensor::from_slice(&owners).to(device), &picked);
        match pooling {
            Pooling::First => summed,
            Pooling::Mean => {
                summed
                    / Tensor::from_slice(&counts)
                        .view([-1, 1])
                        .to_kind(states.kind())
                        .to(device)
            }
        }
    }

    /// The windows of several sentences as one batch (one encoder call); returns the merged
    /// windows and each sentence's range of rows in the pooled word states.
    pub fn concat(parts: &[&Windows]) -> (Windows, Vec<std::ops::Range<usize>>) {
        let mut merged = Windows {
            ids: Vec::new(),
            words: Vec::new(),
        };
        let mut ranges = Vec::with_capacity(parts.len());
        for w in parts {
            let offset = merged.ids.len();
            let first = merged.words.len();
            merged.ids.extend(w.ids.iter().cloned());
            merged
                .words
                .extend(w.words.iter().map(|&(win, s, e)| (win + offset, s, e)));
            ranges.push(first..merged.words.len());
        }
        (merged, ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    fn pieces(lens: &[usize]) -> Vec<Vec<i64>> {
        let mut next = 100;
        lens.iter()
            .map(|&k| {
                (0..k)
                    .map(|_| {
                        next += 1;
                        next
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn short_sentences_use_one_window() {
        let w = layout(&pieces(&[1, 2, 1]), 16, 1, 2).unwrap();
        assert_eq!(w.ids, vec![vec![1, 101, 102, 103, 104, 2]]);
        assert_eq!(w.words, vec![(0, 1, 2), (0, 2, 4), (0, 4, 5)]);
    }

    #[test]
    fn long_sentences_overlap_and_every_word_is_read_once_from_its_best_window() {
        let p = pieces(&[1; 20]);
        let w = layout(&p, 8, 1, 2).unwrap(); // 6 subwords per window, step 3
        assert!(
            w.ids.len() >= 5 && w.ids.iter().all(|x| x.len() <= 8),
            "{:?}",
            w.ids
        );
        assert_eq!(w.words.len(), 20);
        for (i, &(win, s, e)) in w.words.iter().enumerate() {
            assert_eq!(&w.ids[win][s..e], &p[i][..], "word {i}");
        }
        // A middle word is read from a window where it is not at the edge.
        let (win, s, _) = w.words[10];
        assert!(s > 1 && s < w.ids[win].len() - 2, "{:?}", w.words[10]);
        // An over-long word is truncated to one window, not lost.
        let w = layout(&pieces(&[2, 9, 1]), 6, 1, 2).unwrap();
        assert_eq!(w.words.len(), 3);
        assert_eq!(w.words[1].2 - w.words[1].1, 4);
    }

    #[test]
    fn pooling_and_batching() {
        let w = layout(&pieces(&[1, 3]), 16, 1, 2).unwrap();
        let states = Tensor::arange(6, (Kind::Float, Device::Cpu)).view([1, 6, 1]);
        let values = |x: Tensor| Vec::<f32>::try_from(x.view([-1])).unwrap();
        assert_eq!(values(w.pool(&states, Pooling::First)), vec![1.0, 2.0]);
        assert_eq!(values(w.pool(&states, Pooling::Mean)), vec![1.0, 3.0]);
        let (ids, mask) = w.tensors(0, Device::Cpu);
        assert_eq!(ids.size(), vec![1, 6]);
        assert_eq!(mask.sum(Kind::Int64).int64_value(&[]), 6);

        // Two sentences in one batch pool exactly as they do alone; padding is never read.
        let v = layout(&pieces(&[2, 1, 1]), 16, 1, 2).unwrap();
        let (both, ranges) = Windows::concat(&[&w, &v]);
        assert_eq!(ranges, vec![0..2, 2..5]);
        let (ids, _) = both.tensors(0, Device::Cpu);
        assert_eq!(ids.size(), vec![2, 6]);
        let states = ids.to_kind(Kind::Float).unsqueeze(-1);
        let alone = |x: &Windows| {
            let (ids, _) = x.tensors(0, Device::Cpu);
            values(x.pool(&ids.to_kind(Kind::Float).unsqueeze(-1), Pooling::Mean))
        };
        let pooled = values(both.pool(&states, Pooling::Mean));
        assert_eq!(pooled[..2], alone(&w)[..]);
        assert_eq!(pooled[2..], alone(&v)[..]);
    }
}

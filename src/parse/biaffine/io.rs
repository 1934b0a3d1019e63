//! The neural parser's part of the model file (it follows the perceptron tables; see
//! `parse/model.rs`): its config, vocabularies, tag and label counts, and weights.

use tch::{Kind, Tensor};

use super::features::Vocab;
use super::{BiaffineConfig, BiaffineParser};
use crate::binio::{Reader, put_str, put_strings};

/// What is wrong with the neural parser's part of a model file (the caller names the file).
#[derive(Debug, thiserror::Error)]
pub(in crate::parse) enum NeuralFormatError {
    #[error("truncated neural parser")]
    Truncated,
    #[error("neural parser config: {0}")]
    Config(#[source] serde_json::Error),
    #[error(
        "neural parser expects {parser_tags} tags and {parser_labels} labels, the file lists \
         {tags} and {labels}"
    )]
    Sizes {
        parser_tags: usize,
        parser_labels: usize,
        tags: usize,
        labels: usize,
    },
    #[error("{found} weight tensors, the network has {expected}")]
    TensorCount { found: usize, expected: usize },
    #[error("unexpected weight tensor {0:?}")]
    UnexpectedTensor(String),
    #[error("weight {name:?} has shape {found:?}, the network expects {expected:?}")]
    Shape {
        name: String,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
}

impl BiaffineParser {
    /// Checks that the parser was trained with `tags` tags and `labels` labels.
    pub(in crate::parse) fn check_sizes(
        &self,
        tags: usize,
        labels: usize,
    ) -> Result<(), NeuralFormatError> {
        if (self.tags, self.labels) != (tags, labels) {
            return Err(NeuralFormatError::Sizes {
                parser_tags: self.tags,
                parser_labels: self.labels,
                tags,
                labels,
            });
        }
        Ok(())
    }

    /// Appends the parser to a model file: its config (JSON), vocabularies, tag and label
    /// counts, then every weight tensor (name, dimensions, f32 values), by name.
    pub(in crate::parse) fn write(&self, buf: &mut Vec<u8>) {
        put_str(
            buf,
            &serde_json::to_string(&self.config).expect("config as JSON"),
        );
        for v in [&self.words, &self.prefixes, &self.suffixes] {
            put_strings(buf, &v.items);
        }
        buf.extend_from_slice(&(self.tags as u32).to_le_bytes());
        buf.extend_from_slice(&(self.labels as u32).to_le_bytes());
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        buf.extend_from_slice(&(vars.len() as u32).to_le_bytes());
        for (name, t) in vars {
            put_str(buf, &name);
            let dims = t.size();
            buf.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                buf.extend_from_slice(&(d as u64).to_le_bytes());
            }
            let values =
                Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).expect("float weights");
            for x in values {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
    }

    /// Reads what [`write`](Self::write) wrote; `Err` names what is wrong.
    pub(in crate::parse) fn read(r: &mut Reader<'_>) -> Result<BiaffineParser, NeuralFormatError> {
        let truncated = || NeuralFormatError::Truncated;
        let config: BiaffineConfig = serde_json::from_str(&r.string().ok_or_else(truncated)?)
            .map_err(NeuralFormatError::Config)?;
        let mut vocab = || r.strings().map(Vocab::from_items).ok_or_else(truncated);
        let (words, prefixes, suffixes) = (vocab()?, vocab()?, vocab()?);
        let tags = r.u32().ok_or_else(truncated)? as usize;
        let labels = r.u32().ok_or_else(truncated)? as usize;
        let parser = BiaffineParser::empty(config, words, prefixes, suffixes, tags, labels);
        let mut vars = parser.vs.variables();
        let count = r.u32().ok_or_else(truncated)? as usize;
        if count != vars.len() {
            return Err(NeuralFormatError::TensorCount {
                found: count,
                expected: vars.len(),
            });
        }
        for _ in 0..count {
            let name = r.string().ok_or_else(truncated)?;
            let ndim = r.u32().ok_or_else(truncated)? as usize;
            let dims = (0..ndim)
                .map(|_| r.u64().map(|d| d as i64))
                .collect::<Option<Vec<i64>>>()
                .ok_or_else(truncated)?;
            let numel = dims.iter().product::<i64>() as usize;
            let bytes = r
                .take(numel.checked_mul(4).ok_or_else(truncated)?)
                .ok_or_else(truncated)?;
            let values: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            let mut var = vars
                .remove(&name)
                .ok_or_else(|| NeuralFormatError::UnexpectedTensor(name.clone()))?;
            if var.size() != dims {
                return Err(NeuralFormatError::Shape {
                    name,
                    found: dims,
                    expected: var.size(),
                });
            }
            tch::no_grad(|| var.copy_(&Tensor::from_slice(&values).view(dims.as_slice())));
        }
        Ok(parser)
    }
}

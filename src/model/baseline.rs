//! The paper's table 2 baselines: BERT+CRF, BERT+BiLSTM+CRF and BERT+CNN+CRF, tagging BIO over
//! word states from the same encoder and subword pooling as the full model.

use serde::{Deserialize, Serialize};
use tch::Tensor;
use tch::nn::{self, Module, RNN};

use super::Prepared;
use super::bio::{bio_spans, bio_targets};
use super::crf::Crf;
use super::decode::SpanPrediction;
use crate::encoder::{Encoder, Pooling, Windows, dropout};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    BertCrf,
    BertBilstmCrf,
    BertCnnCrf,
}

#[derive(Debug)]
pub struct Baseline {
    pub kind: BaselineKind,
    pub encoder: Encoder,
    lstm: Option<nn::LSTM>,
    cnn: Option<nn::Conv1D>,
    emit: nn::Linear,
    pub crf: Crf,
    pooling: Pooling,
    dropout: f64,
}

impl Baseline {
    pub fn new(
        kind: BaselineKind,
        labels: usize,
        encoder: Encoder,
        pooling: Pooling,
        p: nn::Path,
    ) -> Self {
        let h = encoder.config().hidden_size;
        let p = &p / "baseline";
        let tags = 2 * labels as i64 + 1;
        let lstm = (kind == BaselineKind::BertBilstmCrf).then(|| {
            nn::lstm(
                &p / "lstm",
                h,
                h / 2,
                nn::RNNConfig {
                    bidirectional: true,
                    ..Default::default()
                },
            )
        });
        let cnn = (kind == BaselineKind::BertCnnCrf).then(|| {
            nn::conv1d(
                &p / "cnn",
                h,
                h,
                3,
                nn::ConvConfig {
                    padding: 1,
                    ..Default::default()
                },
            )
        });
        Self {
            kind,
            emit: nn::linear(&p / "emit", h, tags, Default::default()),
            crf: Crf::new(tags, &p / "crf"),
            encoder,
            lstm,
            cnn,
            pooling,
            dropout: 0.1,
        }
    }

    /// Emission scores [n, tags] of one sentence.
    pub fn emissions(&self, s: &Prepared, train: bool) -> Tensor {
        self.emissions_batch(&[s], train)
            .pop()
            .expect("one emission matrix per sentence")
    }

    /// Emission scores per sentence of a batch: one encoder call over all their windows, then
    /// the BiLSTM/CNN and emission layer sentence by sentence.
    pub fn emissions_batch(&self, batch: &[&Prepared], train: bool) -> Vec<Tensor> {
        let parts: Vec<&Windows> = batch.iter().map(|p| &p.windows).collect();
        let (merged, ranges) = Windows::concat(&parts);
        let states = self.encoder.word_states(&merged, self.pooling, train);
        ranges
            .into_iter()
            .map(|r| {
                let mut x = states.narrow(0, r.start as i64, r.len() as i64);
                if let Some(lstm) = &self.lstm {
                    x = lstm.seq(&x.unsqueeze(0)).0.squeeze_dim(0);
                }
                if let Some(cnn) = &self.cnn {
                    x = cnn
                        .forward(&x.transpose(0, 1).unsqueeze(0))
                        .squeeze_dim(0)
                        .transpose(0, 1)
                        .relu();
                }
                self.emit.forward(&dropout(&x, self.dropout, train))
            })
            .collect()
    }

    /// CRF negative log-likelihood of the gold spans (flat; BIO targets).
    pub fn loss(&self, s: &Prepared, gold: &[(usize, usize, usize)]) -> Tensor {
        self.crf
            .nll(&self.emissions(s, true), &bio_targets(s.words(), gold))
    }

    pub fn predict(&self, s: &Prepared) -> Vec<SpanPrediction> {
        let e = tch::no_grad(|| self.emissions(s, false));
        bio_spans(&self.crf.viterbi(&e).0)
    }
}

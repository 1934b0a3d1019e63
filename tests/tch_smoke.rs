//! libtorch through tch loads the default encoder's real weights (all-MiniLM-L6-v2,
//! installed by ops/setup.sh) and computes with them.

mod common;

use bioner::encoder::{DEFAULT_ENCODER_DIR, HfModelDir, ModelDirError};
use tch::{Device, Kind, Tensor};

fn encoder_dir() -> HfModelDir {
    HfModelDir::open(common::project_root().join(DEFAULT_ENCODER_DIR))
        .expect("default encoder (run ops/setup.sh)")
}

#[test]
fn loads_safetensors_with_the_configured_shapes() {
    let dir = encoder_dir();
    let cfg = dir.config().clone();
    assert_eq!(
        (cfg.hidden_size, cfg.num_hidden_layers, cfg.vocab_size),
        (384, 6, 30522)
    );
    let weights: std::collections::HashMap<_, _> =
        dir.load_weights(Device::Cpu).unwrap().into_iter().collect();
    let emb = &weights["embeddings.word_embeddings.weight"];
    assert_eq!(emb.size(), vec![cfg.vocab_size, cfg.hidden_size]);
    assert_eq!(emb.kind(), Kind::Float);
    for layer in 0..cfg.num_hidden_layers {
        let q = &weights[&format!("encoder.layer.{layer}.attention.self.query.weight")];
        assert_eq!(q.size(), vec![cfg.hidden_size, cfg.hidden_size]);
        let ff = &weights[&format!("encoder.layer.{layer}.intermediate.dense.weight")];
        assert_eq!(ff.size(), vec![cfg.intermediate_size, cfg.hidden_size]);
    }
    // Real weights, not zeros: embedding rows have a sensible norm, and lookup works.
    let ids = Tensor::from_slice(&[101i64, 2023, 2003, 102]).unsqueeze(0);
    let looked_up = Tensor::embedding(emb, &ids, cfg.pad_token_id, false, false);
    assert_eq!(looked_up.size(), vec![1, 4, cfg.hidden_size]);
    let norm = looked_up.norm().double_value(&[]);
    assert!(norm > 0.1 && norm.is_finite(), "norm {norm}");
}

#[test]
fn bad_directories_give_errors_naming_the_file() {
    let missing = HfModelDir::open("/nonexistent/model").unwrap_err();
    assert!(matches!(missing, ModelDirError::Missing(_)), "{missing}");

    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("config.json"), "{\"hidden_size\": 3").unwrap();
    let err = HfModelDir::open(tmp.path()).unwrap_err();
    assert!(matches!(err, ModelDirError::Config { .. }), "{err}");
    assert!(err.to_string().contains("config.json"), "{err}");

    let cfg = std::fs::read_to_string(encoder_dir().path().join("config.json")).unwrap();
    std::fs::write(tmp.path().join("config.json"), &cfg).unwrap();
    let err = HfModelDir::open(tmp.path()).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    std::fs::write(tmp.path().join("model.safetensors"), b"not safetensors").unwrap();
    std::fs::write(tmp.path().join("vocab.txt"), "[PAD]\n").unwrap();
    let dir = HfModelDir::open(tmp.path()).unwrap();
    let err = dir.load_weights(Device::Cpu).unwrap_err();
    assert!(matches!(err, ModelDirError::Weights { .. }), "{err}");

    // An activation bioner does not implement is named, not replaced by GELU; so is a model
    // type outside the BERT family.
    let mut v: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    v["hidden_act"] = "swish".into();
    std::fs::write(tmp.path().join("config.json"), v.to_string()).unwrap();
    let err = HfModelDir::open(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("\"swish\"") && err.contains("config.json"),
        "{err}"
    );
    v["hidden_act"] = "gelu".into();
    v["model_type"] = "gpt2".into();
    std::fs::write(tmp.path().join("config.json"), v.to_string()).unwrap();
    let err = HfModelDir::open(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("\"gpt2\"") && err.contains("mpnet"), "{err}");
}

/// A model whose windows would outrun the encoder's position embeddings is refused when it is
/// built, with the setting to change.
#[test]
fn windows_longer_than_the_positions_are_refused() {
    let dir = encoder_dir();
    let tok = dir.tokenizer().unwrap();
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let encoder = bioner::encoder::Encoder::new(dir.config(), vs.root());
    let mut config = bioner::model::SpanNerConfig::new(vec!["Chemical".into()]);
    config.max_subwords = 600;
    let err = bioner::model::NerModel::new(config, None, encoder, &tok, vs.root())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("600") && err.contains("512") && err.contains("max_subwords"),
        "{err}"
    );
}

#[test]
fn tokenizer_has_no_baked_in_padding_and_vocab_txt_gives_the_same_ids() {
    let dir = encoder_dir();
    let text = "Famotidine-associated delirium in 12 patients (IL-2\u{3b1}).";
    let from_json = dir.tokenizer().unwrap().encode(text, true).unwrap();
    let tokens = from_json.get_tokens();
    assert_eq!(tokens.first().map(String::as_str), Some("[CLS]"));
    assert_eq!(tokens.last().map(String::as_str), Some("[SEP]"));
    assert!(!tokens.iter().any(|t| t == "[PAD]"), "{tokens:?}");
    let long = "word ".repeat(600);
    assert!(
        dir.tokenizer()
            .unwrap()
            .encode(long.as_str(), false)
            .unwrap()
            .len()
            >= 600
    );

    // A BioBERT-style directory with vocab.txt only builds BERT's WordPiece pipeline.
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "vocab.txt", "model.safetensors"] {
        std::os::unix::fs::symlink(dir.path().join(f), tmp.path().join(f)).unwrap();
    }
    let vocab_only = HfModelDir::open(tmp.path()).unwrap();
    let from_vocab = vocab_only.tokenizer().unwrap().encode(text, true).unwrap();
    assert_eq!(from_vocab.get_ids(), from_json.get_ids());
    assert_eq!(from_vocab.get_offsets(), from_json.get_offsets());
}

use serde::Deserialize;

use super::*;
use crate::testing::model_dir;

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    token_counts: Vec<usize>,
    vectors: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/st_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn embedder() -> CandleEmbedder {
    CandleEmbedder::load(ModelDir::open(&model_dir()).unwrap()).unwrap()
}

#[test]
fn vectors_match_sentence_transformers() {
    let r = reference();
    let e = embedder();
    assert_eq!(e.dimension(), 384);
    assert_eq!(e.max_tokens(), 256);
    let got = e.embed_blocking(&r.texts, TextKind::Document).unwrap();
    assert_eq!(got.len(), r.texts.len());
    for (i, (g, want)) in got.iter().zip(&r.vectors).enumerate() {
        let c = cosine(g, want);
        assert!(c > 0.999, "text {i} ({} tokens): cosine {c}", r.token_counts[i]);
        let norm: f32 = g.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "normalised: {norm}");
    }
}

#[test]
fn long_texts_are_not_cut_at_128_tokens() {
    let r = reference();
    let info = ModelDir::open(&model_dir()).unwrap();
    let tokenizer = info.tokenizer(true).unwrap();
    let counts: Vec<usize> = r.texts.iter().map(|t| tokenizer.encode(t.as_str(), true).unwrap().len()).collect();
    assert_eq!(counts, r.token_counts);
    assert!(counts.iter().any(|&n| n > 128 && n < 256));
    assert!(counts.contains(&256));
}

#[test]
fn a_text_embeds_the_same_alone_and_in_a_mixed_batch() {
    let r = reference();
    let e = embedder();
    let batch = e.embed_blocking(&r.texts, TextKind::Document).unwrap();
    for (i, text) in r.texts.iter().enumerate() {
        let alone = e.embed_blocking(std::slice::from_ref(text), TextKind::Document).unwrap();
        assert!(cosine(&alone[0], &batch[i]) > 0.99999, "text {i}");
    }
    assert!(e.embed_blocking(&[], TextKind::Query).unwrap().is_empty());
}

#[test]
fn missing_model_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = ModelDir::open(dir.path()).unwrap_err().to_string();
    assert!(err.contains("config.json is missing"), "{err}");
    assert!(err.contains("KB_MODEL_DIR"), "{err}");
}

#[test]
fn packed_kernels_embed_as_candle_does() {
    use super::matmul::Kernel;
    let r = reference();
    let info = ModelDir::open(&model_dir()).unwrap();
    let tokenizer = info.tokenizer(true).unwrap();
    let ids: Vec<Vec<u32>> = r.texts.iter().map(|t| tokenizer.encode(t.as_str(), true).unwrap().get_ids().to_vec()).collect();
    // A short query on its own (the packed kernels' case) and every reference text in one pass.
    let passes: Vec<Vec<&[u32]>> = vec![vec![ids[0].as_slice()], ids.iter().map(Vec::as_slice).collect()];
    let embed = |kernel: Option<Kernel>| -> Vec<Vec<Vec<f32>>> {
        let model = BertModel::load_with(&info.dir, &Device::Cpu, kernel).unwrap();
        passes.iter().map(|texts| model.sentence_embeddings(texts, false, true).unwrap()).collect()
    };
    let candle = embed(None);
    let kernels = Kernel::available_all();
    if kernels.is_empty() {
        eprintln!("NOTICE: this CPU has no packed kernel: the embedder runs candle's product only");
    }
    for kernel in kernels {
        for (pass, want) in embed(Some(kernel)).iter().zip(&candle) {
            assert_eq!(pass.len(), want.len());
            for (i, (g, w)) in pass.iter().zip(want).enumerate() {
                assert!(cosine(g, w) > 0.99999, "{kernel:?}, text {i}: cosine {}", cosine(g, w));
            }
        }
    }
}

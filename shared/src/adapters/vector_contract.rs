//! Behaviour every vector index adapter must have, run against each real backend.

use uuid::Uuid;

use crate::domain::{ChunkId, KbId, PageId, SearchMode, SourceId};
use crate::ports::{hybrid_search, ChunkPayload, IndexPoint, IndexQuery, SearchFilter, VectorIndex};

pub(crate) fn point(kb: KbId, source: SourceId, n: u128, url: &str, text: &str, vector: Vec<f32>) -> IndexPoint {
    IndexPoint {
        id: ChunkId(Uuid::from_u128(n)),
        vector,
        keyword_text: text.to_owned(),
        payload: ChunkPayload {
            kb_id: kb,
            source_id: source,
            page_id: PageId(Uuid::from_u128(1000 + n)),
            url: url.to_owned(),
            title: Some("T".into()),
            heading_path: vec!["H".into()],
            anchor: None,
            text: text.to_owned(),
            index: 0,
            start: 0,
            end: text.len() as u32,
            token_count: 3,
        },
    }
}

pub(crate) fn unit(v: [f32; 4]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn query(kb: KbId, vector: Vec<f32>, text: &str, mode: SearchMode) -> IndexQuery {
    IndexQuery { kb_id: kb, vector, text: text.into(), mode, top_k: 10, score_threshold: None, filter: SearchFilter::default() }
}

/// Upserts (twice), every search mode, filters, counts and deletes; KBs stay apart.
pub(crate) async fn dense_sparse_hybrid_filters_and_deletes(index: &dyn VectorIndex) {
    let (kb, other) = (KbId::random(), KbId::random());
    let (s1, s2) = (SourceId::random(), SourceId::random());
    let base = u128::from(kb.0.as_u64_pair().0);
    let points = vec![
        point(kb, s1, base + 1, "https://e.com/docs/install", "install the package with cargo", unit([1.0, 0.0, 0.0, 0.0])),
        point(kb, s1, base + 2, "https://e.com/docs/config", "configuration file options", unit([0.0, 1.0, 0.0, 0.0])),
        point(kb, s2, base + 3, "https://e.com/blog/news", "release notes and news", unit([0.0, 0.0, 1.0, 0.0])),
    ];
    index.upsert(kb, 4, points.clone()).await.unwrap();
    index.upsert(kb, 4, points.clone()).await.unwrap();
    let elsewhere = point(other, s1, base + 9, "https://o.com/", "install elsewhere", unit([1.0, 0.0, 0.0, 0.0]));
    index.upsert(other, 4, vec![elsewhere]).await.unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 3, "the same ids twice do not duplicate");
    assert_eq!(index.count(KbId::random()).await.unwrap(), 0);

    let hits = index.search(&query(kb, unit([0.9, 0.1, 0.0, 0.0]), "", SearchMode::Dense)).await.unwrap();
    assert_eq!(hits.len(), 3, "only this KB's points");
    assert_eq!(hits[0].id, points[0].id);
    assert!(hits[0].score > 0.9);
    assert_eq!(hits[0].payload, points[0].payload);

    let hits = index.search(&query(kb, vec![0.0; 4], "configuration options", SearchMode::Sparse)).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![points[1].id], "keyword search needs the words");

    // Dense favours 1, keywords favour 3: both are in the fused top two.
    let hits = index.search(&query(kb, unit([1.0, 0.0, 0.2, 0.0]), "release news", SearchMode::Hybrid)).await.unwrap();
    assert_eq!(hits.len(), 3);
    let top2: Vec<_> = hits[..2].iter().map(|h| h.id).collect();
    assert!(top2.contains(&points[0].id) && top2.contains(&points[2].id), "{top2:?}");
    // An adapter may fuse in its own way (in one pass, payloads read last): the results are
    // those of the fusion over its dense and keyword searches, scores and payloads included.
    for (vector, text) in [(unit([1.0, 0.0, 0.2, 0.0]), "release news"), (unit([0.1, 1.0, 0.0, 0.3]), "install news")] {
        let q = query(kb, vector, text, SearchMode::Hybrid);
        let own = index.search(&q).await.unwrap();
        let fused = hybrid_search(index, &q).await.unwrap();
        assert_eq!(own.iter().map(|h| h.id).collect::<Vec<_>>(), fused.iter().map(|h| h.id).collect::<Vec<_>>(), "{text}");
        for (a, b) in own.iter().zip(&fused) {
            assert!((a.score - b.score).abs() < 1e-6 && a.payload == b.payload, "{text}: {a:?} != {b:?}");
        }
    }
    let mut q = query(kb, unit([1.0, 0.0, 0.2, 0.0]), "release news", SearchMode::Hybrid);
    q.filter.url_prefix = Some("https://e.com/docs".into());
    let hits = index.search(&q).await.unwrap();
    assert!(hits.len() == 2 && hits.iter().all(|h| h.payload.url.starts_with("https://e.com/docs/")), "{hits:?}");

    let mut q = query(kb, unit([0.0, 0.0, 1.0, 0.0]), "", SearchMode::Dense);
    q.filter.source_ids = vec![s1];
    let hits = index.search(&q).await.unwrap();
    assert!(hits.len() == 2 && hits.iter().all(|h| h.payload.source_id == s1));
    q.filter = SearchFilter { source_ids: vec![], url_prefix: Some("https://e.com/docs".into()) };
    let hits = index.search(&q).await.unwrap();
    assert!(hits.len() == 2 && hits.iter().all(|h| h.payload.url.starts_with("https://e.com/docs/")));
    q.filter.url_prefix = None;
    q.score_threshold = Some(0.5);
    assert_eq!(index.search(&q).await.unwrap().len(), 1);
    // With a threshold, hybrid keeps only chunks that clear it in the dense ranking: the
    // keyword-only match (config) does not slip past it.
    let mut h = query(kb, unit([1.0, 0.0, 0.0, 0.0]), "configuration options", SearchMode::Hybrid);
    assert!(index.search(&h).await.unwrap().iter().any(|x| x.id == points[1].id), "without a threshold it is found");
    h.score_threshold = Some(0.5);
    assert_eq!(index.search(&h).await.unwrap().iter().map(|x| x.id).collect::<Vec<_>>(), vec![points[0].id]);

    index.delete_points(kb, &[points[0].id]).await.unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 2);
    index.finish_kb(kb).await.unwrap();
    index.delete_kb(kb).await.unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 0);
    assert!(index.search(&query(kb, unit([1.0, 0.0, 0.0, 0.0]), "install", SearchMode::Hybrid)).await.unwrap().is_empty());
    assert_eq!(index.count(other).await.unwrap(), 1, "other KBs keep their points");
    index.delete_kb(other).await.unwrap();
}

/// A vector of the wrong size is refused.
pub(crate) async fn wrong_dimension_is_refused(index: &dyn VectorIndex) {
    let kb = KbId::random();
    let p = point(kb, SourceId::random(), 77, "https://e.com/", "x", vec![1.0; 3]);
    assert!(index.upsert(kb, 4, vec![p]).await.is_err());
}

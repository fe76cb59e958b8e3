use super::*;
use crate::domain::{PageId, SourceId};

fn point(kb: KbId, source: SourceId, n: u128, url: &str, text: &str, vector: Vec<f32>) -> IndexPoint {
    IndexPoint {
        id: ChunkId(uuid::Uuid::from_u128(n)),
        vector,
        keyword_text: text.to_owned(),
        payload: ChunkPayload {
            kb_id: kb,
            source_id: source,
            page_id: PageId(uuid::Uuid::from_u128(1000 + n)),
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

fn unit(v: [f32; 4]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn query(kb: KbId, vector: Vec<f32>, text: &str, mode: SearchMode) -> IndexQuery {
    IndexQuery { kb_id: kb, vector, text: text.into(), mode, top_k: 10, score_threshold: None, filter: SearchFilter::default() }
}

#[test]
fn url_prefixes_at_segments() {
    assert_eq!(
        url_prefixes("https://e.com/docs/a.html"),
        ["https://e.com/", "https://e.com/docs/", "https://e.com/docs/a.html"]
    );
    assert_eq!(url_prefixes("http://127.0.0.1:8080/x/"), ["http://127.0.0.1:8080/", "http://127.0.0.1:8080/x/"]);
}

#[tokio::test]
async fn dense_sparse_hybrid_filters_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let index = EdgeVectorIndex::open(dir.path()).unwrap();
    let kb = KbId::random();
    let (s1, s2) = (SourceId::random(), SourceId::random());
    let points = vec![
        point(kb, s1, 1, "https://e.com/docs/install", "install the package with cargo", unit([1.0, 0.0, 0.0, 0.0])),
        point(kb, s1, 2, "https://e.com/docs/config", "configuration file options", unit([0.0, 1.0, 0.0, 0.0])),
        point(kb, s2, 3, "https://e.com/blog/news", "release notes and news", unit([0.0, 0.0, 1.0, 0.0])),
    ];
    index.upsert(kb, 4, points.clone()).await.unwrap();
    index.upsert(kb, 4, points.clone()).await.unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 3, "upserting the same ids twice does not duplicate");
    assert_eq!(index.count(KbId::random()).await.unwrap(), 0);

    let hits = index.search(&query(kb, unit([0.9, 0.1, 0.0, 0.0]), "", SearchMode::Dense)).await.unwrap();
    assert_eq!(hits[0].id, points[0].id);
    assert!(hits[0].score > 0.9);
    assert_eq!(hits[0].payload, points[0].payload);

    let hits = index.search(&query(kb, vec![0.0; 4], "configuration options", SearchMode::Sparse)).await.unwrap();
    assert_eq!(hits[0].id, points[1].id);
    assert_eq!(hits.len(), 1, "keyword search only returns chunks with the words");

    // Hybrid: dense favours 1, keywords favour 3; both lists are fused.
    let hits = index.search(&query(kb, unit([1.0, 0.0, 0.2, 0.0]), "release news", SearchMode::Hybrid)).await.unwrap();
    let ids: Vec<_> = hits.iter().map(|h| h.id).collect();
    assert!(ids.contains(&points[0].id) && ids.contains(&points[2].id));
    assert_eq!(ids.len(), 3);

    let mut q = query(kb, unit([0.0, 0.0, 1.0, 0.0]), "", SearchMode::Dense);
    q.filter.source_ids = vec![s1];
    let hits = index.search(&q).await.unwrap();
    assert!(hits.iter().all(|h| h.payload.source_id == s1) && hits.len() == 2);
    q.filter = SearchFilter { source_ids: vec![], url_prefix: Some("https://e.com/docs".into()) };
    let hits = index.search(&q).await.unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().all(|h| h.payload.url.starts_with("https://e.com/docs/")));
    q.filter.url_prefix = None;
    q.score_threshold = Some(0.5);
    assert_eq!(index.search(&q).await.unwrap().len(), 1);

    index.delete_points(kb, &[points[0].id]).await.unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 2);
    index.finish_kb(kb).await.unwrap();
    index.delete_kb(kb).await.unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 0);
    assert!(index.search(&query(kb, unit([1.0, 0.0, 0.0, 0.0]), "x", SearchMode::Hybrid)).await.unwrap().is_empty());
}

#[tokio::test]
async fn survives_reopening_and_refuses_a_second_holder() {
    let dir = tempfile::tempdir().unwrap();
    let kb = KbId::random();
    {
        let index = EdgeVectorIndex::open(dir.path()).unwrap();
        index.upsert(kb, 4, vec![point(kb, SourceId::random(), 1, "https://e.com/", "hello", unit([1.0, 0.0, 0.0, 0.0]))]).await.unwrap();
        let second = EdgeVectorIndex::open(dir.path());
        assert!(matches!(second, Err(StoreError::Conflict(m)) if m.contains("another process")));
    }
    let index = EdgeVectorIndex::open(dir.path()).unwrap();
    assert_eq!(index.count(kb).await.unwrap(), 1);
}

#[tokio::test]
async fn wrong_dimension_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let index = EdgeVectorIndex::open(dir.path()).unwrap();
    let kb = KbId::random();
    let err = index.upsert(kb, 4, vec![point(kb, SourceId::random(), 1, "https://e.com/", "x", vec![1.0; 3])]).await;
    assert!(err.is_err());
}

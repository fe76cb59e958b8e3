//! The `kb` program end to end: ingest a fixture site, search it, evaluate it on a question
//! file, list its pages, and the errors a user gets for bad input.

use std::process::{Command, Output};

use kb_e2e::docs_site::{topic_sentence, DocsSite};
use kb_e2e::{FixtureServer, Response, Site};
use serde_json::Value;

/// `kb` on the embedded default and the test model, whatever the caller's environment.
fn local_kb() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kb"));
    cmd.env("KB_MODEL_DIR", kb_shared::testing::model_dir());
    for var in kb_shared::testing::SERVICE_VARS {
        cmd.env_remove(var);
    }
    cmd
}

fn kb(data_dir: &std::path::Path, args: &[&str]) -> Output {
    kb_with_env(data_dir, args, &[])
}

fn kb_with_env(data_dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    local_kb()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .envs(env.iter().copied())
        .output()
        .expect("run kb")
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "kb failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is one JSON object ({e}): {stdout}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn ingest_search_pages_and_list() {
    let site = DocsSite::generate();
    let server = FixtureServer::start(site.site.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/docs/");
    let data = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        kb(&data, &["ingest", &url, "--max-depth", "3", "--include", "/docs/**", "--exclude", "/docs/private/**", "--json"])
    })
    .await
    .unwrap();
    let report = json(&out);
    assert_eq!(report["status"], "ready");
    let stats = &report["stats"];
    assert_eq!(stats["pages_discovered"], site.expected.len());
    assert_eq!(stats["pages_scraped"], site.expected.len());
    assert_eq!(stats["pages_failed"], 0);
    assert_eq!(stats["chunks_created"], stats["embeddings_generated"]);
    assert_eq!(stats["chunks_created"], stats["vectors_indexed"]);
    assert!(report["failed_pages"].as_array().unwrap().is_empty());
    assert!(report["duration_ms"].as_u64().unwrap() > 0);
    let kb_id = report["kb_id"].as_str().unwrap().to_owned();

    let data = dir.path().to_owned();
    let id = kb_id.clone();
    let query = topic_sentence(2, 3);
    let out = tokio::task::spawn_blocking(move || kb(&data, &["search", "--kb", &id, "--top-k", "3", "--json", &query]))
        .await
        .unwrap();
    let results = json(&out);
    let first = &results["results"][0];
    assert!(first["url"].as_str().unwrap().ends_with("/docs/s2/t3"), "{first}");
    for field in ["title", "heading_path", "text", "score", "chunk_id"] {
        assert!(!first[field].is_null(), "{field} present");
    }
    assert_eq!(results["results"].as_array().unwrap().len(), 3);

    // `kb eval`: one question answered by its page, one whose answer is not in the KB.
    let qa = dir.path().join("qa.jsonl");
    let answered = serde_json::json!({"question": topic_sentence(2, 3), "pages": ["s2/t3"]});
    let unanswered = serde_json::json!({"question": topic_sentence(1, 1), "pages": ["nowhere.html"]});
    std::fs::write(&qa, format!("# two questions\n{answered}\n\n{unanswered}\n")).unwrap();
    let qa_path = qa.to_str().unwrap();
    let report = json(&kb(dir.path(), &["eval", "--kb", &kb_id, "--qa", qa_path, "--top-k", "4", "--json"]));
    let m = &report["metrics"];
    assert_eq!(m["questions"], 2);
    for (metric, want) in [("recall_at_1", 0.5), ("recall_at_5", 0.5), ("recall_at_10", 0.5), ("mrr_at_10", 0.5)] {
        assert!((m[metric].as_f64().unwrap() - want).abs() < 1e-9, "{metric}: {m}");
    }
    let rows = report["questions"].as_array().unwrap();
    assert_eq!(rows[0]["rank"], 1);
    assert!(rows[1]["rank"].is_null());
    for row in rows {
        let results = row["results"].as_array().unwrap();
        assert_eq!(results.len(), 4, "{row}");
        assert_eq!(results[0]["url"], row["top"]);
        let scores: Vec<f64> = results.iter().map(|r| r["score"].as_f64().unwrap()).collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    }
    std::fs::write(&qa, format!("{answered}\nnot json\n")).unwrap();
    let out = kb(dir.path(), &["eval", "--kb", &kb_id, "--qa", qa_path]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));

    let pages = json(&kb(dir.path(), &["pages", "--kb", &kb_id, "--json"]));
    let pages = pages["pages"].as_array().unwrap();
    assert_eq!(pages.len(), site.expected.len());
    assert!(pages.iter().all(|p| p["status"] == "indexed" && p["chunks"].as_u64().unwrap() > 0));
    assert!(pages.iter().any(|p| p["depth"] == 3));

    let list = json(&kb(dir.path(), &["list", "--json"]));
    let kbs = list["knowledge_bases"].as_array().unwrap();
    assert_eq!(kbs.len(), 1);
    assert_eq!(kbs[0]["kb_id"], kb_id.as_str());
    assert_eq!(kbs[0]["status"], "ready");
}

/// A site where one page has many chunks on the question's topic and three other pages
/// one each: grouped results name each page once, ungrouped ones repeat the long page.
#[tokio::test(flavor = "multi_thread")]
async fn search_groups_results_by_page_unless_told_not_to() {
    let mut site = Site::default();
    let page = |title: &str, body: &str| {
        Response::html(format!("<html><head><title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"))
    };
    site.page(
        "/",
        page(
            "Operations",
            r#"<nav><a href="/backups">Backups</a> <a href="/restores">Restores</a> <a href="/retention">Retention</a> <a href="/alerts">Alerts</a></nav>
            <p>The operations team answers pager calls during office hours.</p>"#,
        ),
    );
    // More matching chunks on this one page than a grouped search first asks the index for
    // (50 for 4 results): the search has to look deeper to find the other pages.
    let notes: String = (0..64)
        .map(|i| format!("<p>Backup note {i}: the nightly backup of the orders database starts at two in the morning.</p>"))
        .collect();
    site.page("/backups", page("Backups", &notes));
    site.page("/restores", page("Restores", "<p>A restore from the nightly backup of the orders database takes an hour.</p>"));
    site.page("/retention", page("Retention", "<p>Each nightly backup of the orders database is kept for thirty days.</p>"));
    site.page("/alerts", page("Alerts", "<p>An alert fires when the nightly backup of the orders database fails.</p>"));
    let server = FixtureServer::start(site).await;
    let dir = tempfile::tempdir().unwrap();
    let ingest = |extra: &'static [&'static str]| {
        let (data, url) = (dir.path().to_owned(), server.url("/"));
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["ingest", &url, "--chunk-size", "100", "--chunk-overlap", "0", "--json"];
            args.extend_from_slice(extra);
            let report = json(&kb(&data, &args));
            assert_eq!(report["status"], "ready", "{report}");
            assert_eq!(report["stats"]["pages_scraped"], 5, "{report}");
            report["kb_id"].as_str().unwrap().to_owned()
        })
    };
    let grouped_kb = ingest(&[]).await.unwrap();
    let ungrouped_kb = ingest(&["--group-by-page", "false"]).await.unwrap();
    let question = "When does the nightly backup of the orders database start?";
    let urls = |kb_id: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["search", "--kb", kb_id, "--top-k", "4", "--json"];
        args.extend_from_slice(extra);
        args.push(question);
        let out = json(&kb(dir.path(), &args));
        let results = out["results"].as_array().unwrap().clone();
        assert_eq!(results.len(), 4, "{out}");
        results.iter().map(|r| r["url"].as_str().unwrap().to_owned()).collect()
    };
    let distinct = |urls: &[String]| urls.iter().collect::<std::collections::HashSet<_>>().len();

    // The default: each page once, the long page first, then the others.
    let grouped = urls(&grouped_kb, &[]);
    assert_eq!(grouped[0], server.url("/backups"), "{grouped:?}");
    assert_eq!(distinct(&grouped), 4, "{grouped:?}");
    assert_eq!(urls(&grouped_kb, &["--group-by-page", "true"]), grouped);
    // Told not to group, the long page's chunks fill the list.
    let ungrouped = urls(&grouped_kb, &["--group-by-page", "false"]);
    assert_eq!(ungrouped[0], server.url("/backups"), "{ungrouped:?}");
    assert!(distinct(&ungrouped) < 4, "the long page comes back more than once: {ungrouped:?}");
    let deep = json(&kb(dir.path(), &["search", "--kb", &grouped_kb, "--group-by-page", "false", "--top-k", "50", "--json", question]));
    let deep: Vec<&str> = deep["results"].as_array().unwrap().iter().map(|r| r["url"].as_str().unwrap()).collect();
    assert_eq!(deep.len(), 50);
    assert!(deep.iter().all(|u| *u == server.url("/backups")), "the 50 best chunks are all the long page's: {deep:?}");
    // A knowledge base built with `--group-by-page false` does not group unless asked.
    assert_eq!(urls(&ungrouped_kb, &[]), ungrouped);
    assert_eq!(urls(&ungrouped_kb, &["--group-by-page", "true"]), grouped);

    // `kb eval` says which it ran; the other pages move up when grouped.
    let qa = dir.path().join("qa.jsonl");
    std::fs::write(&qa, format!("{}\n", serde_json::json!({"question": question, "pages": ["/alerts", "/restores", "/retention"]}))).unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--kb", grouped_kb.as_str(), "--qa", qa.to_str().unwrap(), "--top-k", "4", "--json"];
        args.extend_from_slice(extra);
        json(&kb(dir.path(), &args))
    };
    let (on, off) = (eval(&[]), eval(&["--group-by-page", "false"]));
    assert_eq!((on["group_by_page"].as_bool(), off["group_by_page"].as_bool()), (Some(true), Some(false)));
    assert_eq!(on["questions"][0]["rank"], 2, "{on}");
    assert!(off["questions"][0]["rank"].as_u64().is_none_or(|r| r > 2), "{off}");

    let out = kb(dir.path(), &["search", "--kb", &grouped_kb, "--group-by-page", "maybe", "backup"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--group-by-page"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_error_and_a_nonzero_exit() {
    let mut site = Site::default();
    site.page("/file.pdf", Response::new(200, "application/pdf", b"%PDF-1.4 not html".to_vec()));
    site.page("/gone", Response::new(404, "text/html", b"<h1>gone</h1>".to_vec()));
    let server = FixtureServer::start(site).await;
    let dir = tempfile::tempdir().unwrap();
    let pdf = server.url("/file.pdf");
    let gone = server.url("/gone");
    let data = dir.path().to_owned();
    let cases = tokio::task::spawn_blocking(move || {
        vec![
            ("malformed URL", kb(&data, &["ingest", "http://exa mple.com/"]), 2, "malformed URL"),
            ("unsupported scheme", kb(&data, &["ingest", "ftp://example.com/"]), 2, "unsupported scheme"),
            ("unreachable host", kb(&data, &["ingest", "http://127.0.0.1:9/"]), 1, "cannot fetch"),
            ("not HTML", kb(&data, &["ingest", &pdf]), 1, "not an HTML page"),
            ("HTTP error", kb(&data, &["ingest", &gone]), 1, "HTTP 404"),
            ("max pages 0", kb(&data, &["ingest", "http://127.0.0.1:9/", "--max-pages", "0"]), 2, "--max-pages"),
            ("unknown KB", kb(&data, &["search", "--kb", "00000000-0000-0000-0000-000000000000", "x"]), 2, "no knowledge base"),
            ("not a KB id", kb(&data, &["pages", "--kb", "nope"]), 2, "not a knowledge base id"),
        ]
    })
    .await
    .unwrap();
    for (case, out, code, message) in cases {
        assert_eq!(out.status.code(), Some(code), "{case}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{case}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{case}: nothing on stdout");
    }
    let list = json(&kb(dir.path(), &["list", "--json"]));
    assert!(list["knowledge_bases"].as_array().unwrap().is_empty(), "failed commands create nothing");
}

/// Reads `kb serve`'s stderr until it prints its address; returns (address, everything read).
fn serve_banner(child: &mut std::process::Child) -> (String, String) {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = String::new();
    while let Some(Ok(line)) = lines.next() {
        seen.push_str(&line);
        seen.push('\n');
        if let Some(addr) = line.strip_prefix("Listening on ") {
            let addr = addr.trim().to_owned();
            std::thread::spawn(move || for _ in lines {});
            return (addr, seen);
        }
    }
    panic!("kb serve exited before listening: {seen}");
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_prints_a_token_without_a_secret_and_token_signs_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |secret: Option<&str>| {
        let mut cmd = local_kb();
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(s) = secret {
            cmd.env("KB_JWT_SECRET", s);
        }
        Killed(cmd.spawn().unwrap())
    };
    let http = reqwest::Client::new();

    // No secret: a random one, and a ready token on stderr.
    let mut server = serve(None);
    let (base, banner) = serve_banner(&mut server.0);
    let token = banner
        .lines()
        .find(|l| l.split('.').count() == 3 && !l.contains(' '))
        .unwrap_or_else(|| panic!("a token in {banner}"))
        .to_owned();
    let ok = http.get(format!("{base}/api/v1/kbs")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let anonymous = http.get(format!("{base}/api/v1/kbs")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    drop(server);

    // `kb token` signs with the configured secret; `kb serve` with it accepts the token.
    let secret = "a-shared-secret-of-at-least-thirty-two-characters";
    let out = local_kb()
        .args(["token", "--user", "me", "--workspace", "default", "--ttl", "1h"])
        .env("KB_JWT_SECRET", secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let mut server = serve(Some(secret));
    let (base, banner) = serve_banner(&mut server.0);
    assert!(!banner.contains("random secret"), "{banner}");
    let ok = http.get(format!("{base}/api/v1/kbs")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(ok.status(), 200);

    // Without a secret `kb token` cannot sign: a clear error, exit 2.
    let out = local_kb().args(["token", "--user", "me", "--workspace", "w"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KB_JWT_SECRET"), "{}", stderr(&out));
    let out = local_kb()
        .args(["token", "--user", "me", "--workspace", "w", "--ttl", "soon"])
        .env("KB_JWT_SECRET", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--ttl"), "{}", stderr(&out));
}

/// `kb` killed outright (no chance to clean up) while pages render: its Chromium goes too.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_kb_takes_its_browser_with_it() {
    let mut site = Site::default();
    let links: String = (1..20).map(|i| format!("<li><a href=\"/p{i}\">Page {i}</a></li>")).collect();
    site.page("/", Response::html(format!("<html><body><main><h1>Index</h1><ul>{links}</ul></main></body></html>")));
    for i in 1..20 {
        let text = format!("Page {i} of a site slow enough that the crawl is still on when kb is killed. ").repeat(5);
        let page = format!("<html><body><main><h1>Page {i}</h1><p>{text}</p></main></body></html>");
        site.page(&format!("/p{i}"), Response::html(page).delayed(std::time::Duration::from_secs(1)));
    }
    let server = FixtureServer::start(site).await;
    let dir = tempfile::tempdir().unwrap();
    // The browser's profile directory goes under kb's TMPDIR: its processes name it.
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().to_str().unwrap().to_owned();
    let mut child = local_kb()
        .args(["ingest", server.url("/").as_str(), "--render", "browser", "--data-dir"])
        .arg(dir.path())
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the browser has loaded a few pages: a browser killed while it starts up may
    // go by itself, one in the middle of a crawl does not.
    let started = std::time::Instant::now();
    while server.requests().iter().filter(|p| p.starts_with("/p")).count() < 2 {
        assert!(started.elapsed().as_secs() < 60, "the browser loaded no pages: {:?}", server.requests());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!kb_e2e::processes_with(&marker).is_empty(), "kb renders in a browser of its own");
    assert!(child.try_wait().unwrap().is_none(), "kb is still crawling when it is killed");
    child.kill().unwrap();
    child.wait().unwrap();
    kb_e2e::assert_no_processes(&marker).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kb_browser_connect_timeout_secs_bounds_a_remote_browser_that_never_answers() {
    let mut site = Site::default();
    site.page("/", Response::html("<html><body><main><h1>Only page</h1><p>Rendered remotely.</p></main></body></html>"));
    let server = FixtureServer::start(site).await;
    // A "browser service" that accepts connections and never sends a byte; it reports how
    // long each connection stayed open before kb gave up on it and closed it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (held_tx, held) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let held_tx = held_tx.clone();
            std::thread::spawn(move || {
                let opened = std::time::Instant::now();
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
                let _ = held_tx.send(opened.elapsed());
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/");
    let run = |timeout: &str| {
        let env = [("KB_BROWSER_WS_URL", endpoint.as_str()), ("KB_BROWSER_CONNECT_TIMEOUT_SECS", timeout)];
        kb_with_env(dir.path(), &["ingest", url.as_str(), "--render", "browser", "--json"], &env)
    };

    let out = tokio::task::block_in_place(|| run("1"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {}", stderr(&out)));
    let failed = report["failed_pages"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{report}");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.contains("KB_BROWSER_WS_URL") && reason.contains("did not answer within 1s"), "{reason}");
    // Measured at the service, not around the whole run, so a loaded machine's slow start-up
    // does not count: kb closed every connection well before the default 10 s.
    let first = held.recv_timeout(std::time::Duration::from_secs(10)).expect("kb connected to the browser service");
    let waits: Vec<_> = std::iter::once(first)
        .chain(std::iter::from_fn(|| held.recv_timeout(std::time::Duration::from_millis(500)).ok()))
        .collect();
    assert!(waits.iter().all(|w| *w < std::time::Duration::from_secs(5)), "the default 10 s applied: {waits:?}");
    assert_eq!(out.status.code(), Some(1), "no page indexed: the knowledge base failed");

    let out = tokio::task::block_in_place(|| run("0"));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("KB_BROWSER_CONNECT_TIMEOUT_SECS"), "{}", stderr(&out));
}

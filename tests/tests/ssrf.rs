//! SSRF protection of the page fetcher: in server mode, loopback, private, link-local and
//! other reserved addresses are refused, whether written as an address, reached through a
//! name, or reached through a redirect.

use std::time::Duration;

use kb_e2e::{FixtureServer, Response, Site};
use kb_shared::adapters::http_fetcher::HttpFetcher;
use kb_shared::crawl::ssrf::NetworkPolicy;
use kb_shared::domain::RenderMode;
use kb_shared::ports::{FetchError, FetchRequest, PageFetcher};

fn request(url: &str) -> FetchRequest {
    FetchRequest { url: url.parse().unwrap(), render: RenderMode::Http, timeout: Duration::from_secs(5), max_bytes: 1 << 20 }
}

async fn site() -> FixtureServer {
    // Redirect targets are refused before any connection, so their ports need no server.
    let mut site = Site::default();
    site.page("/ok", Response::html("<html><body><p>fine</p></body></html>"));
    site.page("/to-loopback", Response::redirect(302, "http://127.0.0.2:9/ok"));
    site.page("/to-metadata", Response::redirect(301, "http://169.254.169.254/latest/meta-data/"));
    site.page("/to-private", Response::redirect(307, "http://10.0.0.1/admin"));
    site.page("/to-v6", Response::redirect(302, "http://[::1]:9/ok"));
    FixtureServer::start(site).await
}

fn assert_blocked(result: Result<kb_shared::ports::FetchedPage, FetchError>, what: &str) {
    match result {
        Err(e @ FetchError::Blocked(_)) => {
            assert_eq!(e.code(), "blocked");
            assert!(!e.is_transient(), "a refused address is a permanent failure");
            assert!(e.to_string().contains("KB_ALLOW_PRIVATE_NETWORKS"), "{e}");
        }
        other => panic!("{what}: expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn server_mode_refuses_private_addresses_on_every_hop() {
    let server = site().await;
    let port = server.addr.port();
    let strict = HttpFetcher::new("kb-test", NetworkPolicy::new(false)).unwrap();
    assert_blocked(strict.fetch(&request(&server.url("/ok"))).await, "an address literal");
    assert_blocked(strict.fetch(&request(&format!("http://localhost:{port}/ok"))).await, "a name resolving to loopback");
    assert_blocked(strict.fetch(&request(&format!("http://[::1]:{port}/ok"))).await, "IPv6 loopback");
    assert_blocked(strict.fetch(&request("http://169.254.169.254/latest/meta-data/")).await, "the metadata service");
    // Other spellings of the same addresses (URL parsing normalises them; all are refused).
    for spelled in [
        format!("http://2130706433:{port}/ok"),       // decimal 127.0.0.1
        format!("http://0177.0.0.1:{port}/ok"),       // octal
        format!("http://0x7f.0x0.0x0.0x1:{port}/ok"), // hex
        format!("http://127.1:{port}/ok"),            // short form
        format!("http://[::ffff:127.0.0.1]:{port}/ok"), // IPv4-mapped IPv6
        format!("http://[::ffff:a9fe:a9fe]/latest"),  // mapped 169.254.169.254
        "http://0.0.0.0/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "http://[fd00::1]/".to_owned(),
    ] {
        assert_blocked(strict.fetch(&request(&spelled)).await, &spelled);
    }
    assert_eq!(server.hits("/ok"), 0, "nothing reached the server");

    // The fixture server itself exempted: redirects into private space are still refused.
    let exempt = NetworkPolicy { allow_private: false, exempt: vec!["127.0.0.1".parse().unwrap()] };
    let fetcher = HttpFetcher::new("kb-test", exempt).unwrap();
    assert_eq!(fetcher.fetch(&request(&server.url("/ok"))).await.unwrap().status, 200);
    for hop in ["/to-loopback", "/to-metadata", "/to-private", "/to-v6"] {
        assert_blocked(fetcher.fetch(&request(&server.url(hop))).await, hop);
    }
    assert_eq!(server.hits("/ok"), 1, "no redirect reached a refused address");

    // Names listed for the fetcher (as tests list theirs) are checked like any other name.
    let hosts = std::collections::HashMap::from([("docs.example.test".to_owned(), vec!["127.0.0.1".parse().unwrap()])]);
    let listed = HttpFetcher::with_hosts("kb-test", NetworkPolicy::new(false), hosts.clone()).unwrap();
    assert_blocked(listed.fetch(&request(&format!("http://docs.example.test:{port}/ok"))).await, "a listed name");
    let listed = HttpFetcher::with_hosts("kb-test", NetworkPolicy::new(true), hosts).unwrap();
    assert_eq!(listed.fetch(&request(&format!("http://docs.example.test:{port}/ok"))).await.unwrap().status, 200);
    assert_eq!(server.hits("/ok"), 2, "only the allowed fetch of the listed name arrived");

    // The local CLI's policy (or KB_ALLOW_PRIVATE_NETWORKS=true) allows them.
    let open = HttpFetcher::new("kb-test", NetworkPolicy::new(true)).unwrap();
    assert_eq!(open.fetch(&request(&format!("http://localhost:{port}/ok"))).await.unwrap().status, 200);
    assert_eq!(open.fetch(&request(&server.url("/ok"))).await.unwrap().status, 200);
}

#[test]
fn server_settings_refuse_private_networks_unless_allowed() {
    use kb_shared::settings::Settings;
    let server = Settings::from_lookup(|_| None).unwrap().for_server();
    assert_eq!(server.allow_private_networks, Some(false));
    let allowed = Settings::from_lookup(|k| (k == "KB_ALLOW_PRIVATE_NETWORKS").then(|| "true".to_owned())).unwrap().for_server();
    assert_eq!(allowed.allow_private_networks, Some(true));
    assert_eq!(Settings::from_lookup(|_| None).unwrap().allow_private_networks, None, "the local CLI decides (allowed)");
}

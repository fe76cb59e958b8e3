//! A small HTTP server for fixture sites: fixed responses per path, optional delays, and a
//! log of every request path with its arrival time (so tests can assert what was, and was
//! not, fetched, and how requests were spaced), and the most requests it had in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Router;

/// One canned response.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

impl Response {
    #[must_use]
    pub fn html(body: impl Into<String>) -> Self {
        Self::new(200, "text/html; charset=utf-8", body.into().into_bytes())
    }

    #[must_use]
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self { status, content_type: content_type.to_owned(), body, headers: Vec::new(), delay: Duration::ZERO }
    }

    #[must_use]
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::new(status, "text/plain", Vec::new()).header("location", location)
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    #[must_use]
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What a path serves: the same response every time, or a sequence (the last one repeats).
#[derive(Clone, Debug)]
pub enum Route {
    Fixed(Response),
    Sequence(Vec<Response>),
}

/// A site: responses by path (with query string, when it has one).
#[derive(Clone, Debug, Default)]
pub struct Site {
    pub routes: HashMap<String, Route>,
}

impl Site {
    pub fn page(&mut self, path: &str, response: Response) -> &mut Self {
        self.routes.insert(path.to_owned(), Route::Fixed(response));
        self
    }

    pub fn sequence(&mut self, path: &str, responses: Vec<Response>) -> &mut Self {
        self.routes.insert(path.to_owned(), Route::Sequence(responses));
        self
    }
}

struct Shared {
    site: Site,
    started: Instant,
    log: Mutex<Vec<(String, Duration)>>,
    hits: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running fixture server; stops when dropped.
pub struct FixtureServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FixtureServer {
    /// Serves `site` on 127.0.0.1 on a free port.
    ///
    /// # Panics
    /// The port cannot be bound.
    pub async fn start(site: Site) -> Self {
        Self::start_on(site, 0).await
    }

    /// Serves `site` on 127.0.0.1:`port` (0 for a free one).
    ///
    /// # Panics
    /// The port cannot be bound.
    pub async fn start_on(site: Site, port: u16) -> Self {
        let shared = Arc::new(Shared {
            site,
            started: Instant::now(),
            log: Mutex::new(Vec::new()),
            hits: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind fixture server");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fixture server");
        });
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every requested path (with query), in order.
    #[must_use]
    pub fn requests(&self) -> Vec<String> {
        self.shared.log.lock().expect("log lock").iter().map(|(p, _)| p.clone()).collect()
    }

    /// Every requested path (with query) with its arrival time since the server started,
    /// in order.
    #[must_use]
    pub fn timed_requests(&self) -> Vec<(String, Duration)> {
        self.shared.log.lock().expect("log lock").clone()
    }

    /// The most requests the server was answering at once.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// How many times `path` was requested.
    #[must_use]
    pub fn hits(&self, path: &str) -> usize {
        self.shared.hits.lock().expect("hits lock").get(path).copied().unwrap_or(0)
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> axum::response::Response {
    let path = request.uri().path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    shared.log.lock().expect("log lock").push((path.clone(), shared.started.elapsed()));
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    // Counted out also when the client gives up and the request is dropped half-way.
    let _in_flight = InFlight(&shared.in_flight);
    respond(&shared, request.uri().path().to_owned(), &path).await
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn respond(shared: &Shared, bare_path: String, path: &str) -> axum::response::Response {
    let n = {
        let mut hits = shared.hits.lock().expect("hits lock");
        let n = hits.entry(path.to_owned()).or_insert(0);
        *n += 1;
        *n
    };
    let route = shared.site.routes.get(path).or_else(|| shared.site.routes.get(&bare_path));
    let response = match route {
        Some(Route::Fixed(r)) => r.clone(),
        Some(Route::Sequence(rs)) => rs[(n - 1).min(rs.len() - 1)].clone(),
        None => Response::new(404, "text/html", b"<html><body><h1>Not found</h1></body></html>".to_vec()),
    };
    if !response.delay.is_zero() {
        tokio::time::sleep(response.delay).await;
    }
    let mut out = (StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK), Body::from(response.body)).into_response();
    let headers = out.headers_mut();
    headers.insert("content-type", HeaderValue::from_str(&response.content_type).expect("content type"));
    for (k, v) in &response.headers {
        headers.insert(
            HeaderName::from_bytes(k.as_bytes()).expect("header name"),
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    out
}

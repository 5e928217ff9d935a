//! The /mlflow/ reverse proxy against a real MLflow server (from the virtualenv that
//! `.ci/run` installs, or `MLFLOW_BIN`), and against upstreams that are down or silent.

use reqwest::header::{HOST, LOCATION, ORIGIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestApp};

/// A real MLflow tracking server on a free loopback port, stopped on drop.
struct Mlflow {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Mlflow {
    async fn start() -> Mlflow {
        let binary = std::env::var("MLFLOW_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-mlflow/bin/mlflow"));
        assert!(
            binary.exists(),
            "MLflow is needed at {} (bash .ci/run installs it) or in MLFLOW_BIN",
            binary.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(binary)
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.path().join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.path().join("artifacts"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start MLflow");
        let mlflow = Mlflow { child, url: format!("http://127.0.0.1:{port}"), _dir: dir };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(90) {
            if reqwest::get(format!("{}/health", mlflow.url)).await.is_ok_and(|r| r.status().is_success()) {
                return mlflow;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("MLflow did not start within 90 s");
    }
}

impl Drop for Mlflow {
    /// SIGTERM first: MLflow then stops its own workers (uvicorn, the job runner),
    /// which SIGKILL would leave running as orphans.
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// What the MLflow UI does in a browser framed by the dashboard: load the page and its
/// script, then call the AJAX API, with the Host and Origin of a dashboard served
/// under a public name (which MLflow itself refuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mlflow_ui_and_its_api_work_through_the_proxy() {
    let mlflow = Mlflow::start().await;
    // Served under a name of its own, as behind a team's DNS name.
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.mlflow_uri = Some(mlflow.url.clone());
        config.access.allowed_hosts = vec!["dashboard.example.com".to_owned()];
    })
    .await;
    let client = no_redirects();

    let response = client.get(app.url("/mlflow")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(response.headers()[LOCATION], "/mlflow/");

    let page = client.get(app.url("/mlflow/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get("x-frame-options").is_none_or(|v| v != "DENY"), "the page may be framed");
    let html = page.text().await.unwrap();
    let script = html
        .split('"')
        .find(|part| part.starts_with("static-files/static/js/main.") && part.ends_with(".js"))
        .unwrap_or_else(|| panic!("the MLflow page names its main script: {html}"));
    let asset = client.get(app.url(&format!("/mlflow/{script}"))).send().await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(asset.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let bytes = asset.bytes().await.unwrap();
    assert!(bytes.len() > 1_000_000, "the whole {} byte script streams through", bytes.len());

    let create = |base: &str| {
        client
            .post(format!("{base}/ajax-api/2.0/mlflow/experiments/create"))
            .header(HOST, "dashboard.example.com")
            .header(ORIGIN, "http://dashboard.example.com")
            .json(&json!({ "name": "team/proxied" }))
            .send()
    };
    assert_eq!(create(&mlflow.url).await.unwrap().status(), StatusCode::FORBIDDEN, "MLflow alone refuses this");
    let created = create(&app.url("/mlflow")).await.unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let experiment: Value = created.json().await.unwrap();
    let experiment_id = experiment["experiment_id"].as_str().unwrap().to_owned();

    let run: Value = client
        .post(app.url("/mlflow/ajax-api/2.0/mlflow/runs/create"))
        .header(HOST, "dashboard.example.com")
        .header(ORIGIN, "http://dashboard.example.com")
        .json(&json!({ "experiment_id": experiment_id, "run_name": "through-the-proxy" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let search = client
        .post(app.url("/mlflow/ajax-api/2.0/mlflow/runs/search"))
        .header(HOST, "dashboard.example.com")
        .header(ORIGIN, "http://dashboard.example.com")
        .json(&json!({ "experiment_ids": [experiment_id] }))
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), StatusCode::OK);
    let found: Value = search.json().await.unwrap();
    assert_eq!(found["runs"][0]["info"]["run_id"], run["run"]["info"]["run_id"]);

    // Raw query strings pass through unchanged, encoded slashes included.
    let by_name = client
        .get(app.url("/mlflow/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=team%2Fproxied"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_name.status(), StatusCode::OK);
    let by_name: Value = by_name.json().await.unwrap();
    assert_eq!(by_name["experiment"]["experiment_id"], experiment_id.as_str());

    let status: Value = app.fetch("/api/mlflow").await;
    assert_eq!((status["configured"].as_bool(), status["reachable"].as_bool()), (Some(true), Some(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_mlflow_is_a_quick_502() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.mlflow_uri = Some(format!("http://127.0.0.1:{port}"))).await;
    let started = Instant::now();
    let (status, body) = app.get("/mlflow/").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "mlflow_unreachable");
    assert!(started.elapsed() < Duration::from_secs(5));
    let status: Value = app.fetch("/api/mlflow").await;
    assert_eq!((status["configured"].as_bool(), status["reachable"].as_bool()), (Some(true), Some(false)));
    let (health, _) = app.get("/api/health").await;
    assert_eq!(health, StatusCode::OK, "the rest of the dashboard is unaffected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_mlflow_is_a_504_within_the_timeout() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.mlflow_uri = Some(format!("http://{address}"));
        c.mlflow_timeout = Duration::from_secs(1);
    })
    .await;
    let started = Instant::now();
    let (status, body) = app.get("/mlflow/").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body["error"]["code"], "mlflow_timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mlflow_the_prefix_says_how_to_configure_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = app.get("/mlflow/ajax-api/2.0/mlflow/experiments/search").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"]["message"].as_str().unwrap().contains("--mlflow-uri"));
    let status: Value = app.fetch("/api/mlflow").await;
    assert_eq!(status["configured"], false);
}

/// With `--auth tokens`, MLflow's reads need a viewer and its writes an operator; an
/// artifact upload is held to the body cap; a path with a second spelling is refused
/// before MLflow sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlflow_writes_need_an_operator_and_fit_the_body_cap() {
    let mlflow = Mlflow::start().await;
    let db = crate::helpers::TestDb::create(Backend::Sqlite).await;
    let viewer = db.token("viewer", shared::Role::Viewer, &[]).await;
    let operator = db.token("operator", shared::Role::Operator, &[]).await;
    let mut config = crate::helpers::config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    config.mlflow_uri = Some(mlflow.url.clone());
    let app = TestApp::start(db, config).await;
    let (viewer, operator) = (app.with_token(&viewer), app.with_token(&operator));
    let artifact = "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/notes.txt";
    let put = |api: &crate::helpers::Api, path: &str, body: Vec<u8>| api.client.put(app.url(path)).body(body).send();
    assert_eq!(app.client.put(app.url(artifact)).body("x").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(put(&viewer, artifact, b"x".to_vec()).await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(put(&operator, artifact, b"written through the proxy".to_vec()).await.unwrap().status(), StatusCode::OK);
    let read = viewer.client.get(app.url(artifact)).send().await.unwrap();
    assert_eq!(read.text().await.unwrap(), "written through the proxy");
    let large = put(&operator, "/mlflow/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/large.bin", vec![7; 2 << 20]);
    assert_eq!(large.await.unwrap().status(), StatusCode::PAYLOAD_TOO_LARGE);
    let listed: Value = viewer.fetch("/mlflow/api/2.0/mlflow-artifacts/artifacts?path=0/r1/artifacts").await;
    let names: Vec<&str> = listed["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(names, ["notes.txt"], "nothing of the large body was stored");
}

/// What the proxy sends upstream and passes back, seen by an upstream that records
/// it: none of the dashboard's credentials go out, and no cookie of the dashboard's
/// comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_of_ours_reaches_mlflow_or_comes_back() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<reqwest::header::HeaderMap>>> = Arc::default();
    let recorder = seen.clone();
    let upstream = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        recorder.lock().unwrap().push(headers);
        async {
            let mut answer = axum::http::HeaderMap::new();
            for cookie in
                ["ca_session=planted; Path=/", "__Host-ca_session=; Max-Age=0; Secure; Path=/", "mlflow_theme=dark"]
            {
                answer.append("set-cookie", cookie.parse().unwrap());
            }
            (answer, "upstream")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, upstream).await });
    let db = crate::helpers::TestDb::create(Backend::Sqlite).await;
    let operator = db.token("operator", shared::Role::Operator, &[]).await;
    let mut config = crate::helpers::config(db.url());
    config.access.auth = server::config::AuthMode::Tokens;
    config.mlflow_uri = Some(url);
    let app = TestApp::start(db, config).await;
    let signed_in = app.client.post(app.url("/api/session")).json(&json!({"token": operator})).send().await.unwrap();
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = signed_in.json::<Value>().await.unwrap()["csrf"].as_str().unwrap().to_owned();
    for request in [
        app.client.get(app.url("/mlflow/")).bearer_auth(&operator),
        app.client
            .post(app.url("/mlflow/ajax-api/2.0/mlflow/runs/delete"))
            .header("cookie", format!("{cookie}; mlflow_theme=light"))
            .header("x-csrf-token", &csrf),
    ] {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let cookies: Vec<&str> = answer.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(cookies, ["mlflow_theme=dark"], "MLflow sets its own cookies, never ours");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    for headers in seen.iter() {
        for ours in ["authorization", "x-csrf-token"] {
            assert!(!headers.contains_key(ours), "{ours} reached MLflow: {headers:?}");
        }
        let cookies = headers.get("cookie").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(!cookies.contains("ca_session"), "{cookies}");
    }
    assert_eq!(seen[1]["cookie"], "mlflow_theme=light", "MLflow's own cookies pass");
}

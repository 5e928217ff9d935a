// Embedded at compile time, so the server is rebuilt whenever they change: the browser
// app in ../dist (rust-embed; else the binary would serve a stale app) and the
// migrations (sqlx::migrate!; else a new one would not be applied).
fn main() {
    // Cargo reruns a build script on every build while a path it watches is missing,
    // which rebuilt the server (and every test binary) on each command before the app
    // was first built; an empty dist/ is watched like a full one.
    if let Err(error) = std::fs::create_dir_all("../dist") {
        println!("cargo:warning=cannot create ../dist: {error}");
    }
    println!("cargo:rerun-if-changed=../dist");
    println!("cargo:rerun-if-changed=migrations");
}

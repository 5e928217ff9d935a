// Embedded at compile time, so the server is rebuilt whenever they change: the browser
// app in ../dist (rust-embed; else the binary would serve a stale app) and the
// migrations (sqlx::migrate!; else a new one would not be applied).
fn main() {
    println!("cargo:rerun-if-changed=../dist");
    println!("cargo:rerun-if-changed=migrations");
}

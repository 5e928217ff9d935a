// The browser app in ../dist is embedded at compile time (rust-embed); rebuild the
// server whenever `trunk build` changes it, or the binary would serve a stale app.
fn main() {
    println!("cargo:rerun-if-changed=../dist");
}

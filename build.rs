//! `sqlx::migrate!` embeds `migrations/` at compile time; without this, a new migration file
//! does not make cargo rebuild, and a stale binary runs without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

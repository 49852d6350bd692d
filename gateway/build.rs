//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds the files at compile time,
//! and Cargo does not know a proc macro read them.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

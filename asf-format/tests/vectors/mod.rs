//! Where the real-world corpus lives: `WMPUSH_VECTORS`, else `shared/test-vectors/asf/real` beside the
//! repository (CI puts `shared/` beside its clone). A missing corpus fails the test under
//! `WMPUSH_INTEROP=require` and is a printed skip otherwise.

use std::path::PathBuf;

/// The corpus folder, or `None` after saying why the test is skipped.
pub fn dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("WMPUSH_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/asf/real")
        }
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("WMPUSH_INTEROP").as_deref() == Ok("require") {
        panic!(
            "WMPUSH_INTEROP=require but the test vectors directory {} is missing",
            dir.display()
        );
    }
    println!(
        "SKIPPED: test vectors directory {} is missing",
        dir.display()
    );
    None
}

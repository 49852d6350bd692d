//! Files only the gateway's user may read: the data dir (0700), the SQLite database and its
//! journals (0600). Created with those modes, and tightened when they already exist with looser
//! ones, because the data dir holds the signing keys and the store holds partner records.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Mode of the data dir and the key store.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file the gateway writes into the data dir.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents, as usual) with mode 0700, or tightens an existing one.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => {
            tighten(dir, DIR_MODE)
        }
        Err(e) => Err(e),
    }
}

/// Creates `file` empty with mode 0600 if it does not exist, or tightens an existing one; SQLite
/// gives its `-wal` and `-shm` files the mode of the database file.
pub fn create_private_file(file: &Path) -> io::Result<()> {
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(file)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => tighten(file, FILE_MODE),
        Err(e) => Err(e),
    }
}

/// Removes group and other bits from `path` when it has any.
fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            was = format!("{current:o}"),
            now = format!("{mode:o}"),
            "tightened the permissions of a gateway file"
        );
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_paths_end_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let file = dir.join("db");
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        fs::write(&file, "kept").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        create_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(fs::read_to_string(&file).unwrap(), "kept");
    }
}

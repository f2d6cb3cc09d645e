//! The files memo keeps are private to its user: the data dir it creates is
//! 0700, and the SQLite database and the generated secret are 0600, whatever
//! the umask. SQLite creates `-wal` and `-shm` with the database file's own
//! mode, so creating that file 0600 before SQLite opens it makes them 0600
//! too. Files that exist already are left as they are, with a warning when
//! other users can read them.

use std::{
    fs::{DirBuilder, OpenOptions, Permissions},
    io,
    path::{Path, PathBuf},
};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};

/// Creates `dir` (and missing parents) as 0700, or warns when it exists and
/// is open to other users.
///
/// # Errors
/// The I/O error when it cannot be created.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.exists() {
        warn_if_open_to_others(dir);
        return Ok(());
    }
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir)?;
    // The umask may have taken bits away (never added any): set it exactly.
    set_mode(dir, 0o700)
}

/// Opens `file` for writing only if it does not exist yet, as 0600.
///
/// # Errors
/// `AlreadyExists` when it exists; any other I/O error.
pub fn create_private_file(file: &Path) -> io::Result<std::fs::File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let created = options.open(file)?;
    set_mode(file, 0o600)?;
    Ok(created)
}

/// Before SQLite opens `sqlite://PATH`: its folder private, and the file
/// itself created 0600 when missing (so are its `-wal` and `-shm`); an
/// existing file, or its `-wal`/`-shm`, that others can read is warned
/// about. Nothing to do for an in-memory database.
///
/// # Errors
/// The I/O error when the folder or the file cannot be created.
pub fn prepare_sqlite_file(file: &Path) -> io::Result<()> {
    let file_name = file.to_string_lossy();
    if file_name.is_empty() || file_name == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    match create_private_file(file) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            for path in [
                file.to_path_buf(),
                suffixed(file, "-wal"),
                suffixed(file, "-shm"),
            ] {
                if path.exists() {
                    warn_if_open_to_others(&path);
                }
            }
            Ok(())
        }
        Err(err) => Err(err),
    }
}

/// Logs a warning when `path` can be read or entered by other users.
pub fn warn_if_open_to_others(path: &Path) {
    #[cfg(unix)]
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", metadata.permissions().mode() & 0o777),
            "other users can read this file or folder of memo's data; `chmod go= {}` keeps them out",
            path.display()
        );
    }
}

fn suffixed(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

//! Backups: a consistent copy of the database, sealed so that a stolen backup reveals
//! nothing, its restore, and the daily job that takes one and prunes old ones. The CLI and the
//! job share these functions; the caller passes the file paths.
//!
//! The container (version 1) is text, one line each:
//!
//! ```text
//! FRONTDESK-BACKUP 1
//! 1/3 fd1.<key id>.<sealed bytes 1 MiB>
//! 2/3 fd1.<key id>.<…>
//! 3/3 fd1.<key id>.<…>
//! ```
//!
//! Each chunk is up to [`CHUNK_BYTES`] of the database copy, sealed with the keyring for
//! `SealedAt { tenant_id: 0, table: "backup", column: "chunk", row: "<index>/<count>" }`. The
//! seal binds each chunk to its place and to the count, so a chunk reordered, dropped,
//! altered or cut off does not open; the plain `<index>/<count>` label in front only lets a
//! refusal say what happened. The key id inside each sealed value names the key that is
//! needed to read the backup.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Days, NaiveDate};

use super::Engine;
use super::scheduler::Job;
use crate::port::{SealError, SealedAt, Secrets};
use crate::store::{Db, StoreError, sqlite_integrity_problems};

/// The first line of every backup.
pub const MAGIC: &str = "FRONTDESK-BACKUP 1";
/// The most database bytes sealed in one chunk.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Daily backups are `frontdesk-YYYY-MM-DD.backup` in the backup folder.
const DAILY_PREFIX: &str = "frontdesk-";
const DAILY_SUFFIX: &str = ".backup";

/// Why a backup cannot be taken or restored; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a Frontdesk backup (it does not start with `{MAGIC}`)")]
    NotABackup,
    #[error(
        "the backup is truncated: it holds {present} of its {expected} chunks (take or copy it again)"
    )]
    Truncated { present: u64, expected: u64 },
    #[error("the backup is truncated: its last chunk is cut short (take or copy it again)")]
    CutShort,
    #[error("chunk {chunk} of the backup is altered (the file was damaged or tampered with)")]
    Altered { chunk: u64 },
    #[error(
        "chunk {chunk} of the backup is out of place: chunk {found} of {count} is there (chunks were dropped, reordered or mixed from another backup)"
    )]
    OutOfPlace { chunk: u64, found: u64, count: u64 },
    #[error("the backup holds more than its {count} chunks (something was appended to the file)")]
    Extra { count: u64 },
    #[error(
        "the backup was sealed with key {key_id}, which this server does not hold: put the sealing key file that was in use when the backup was taken in place (the data dir's sealing.key or [security] sealing_key_file)"
    )]
    UnknownKey { key_id: String },
    #[error(
        "{} exists already; restore into a data dir without a database (or move it away first)",
        .0.display()
    )]
    DatabaseExists(PathBuf),
    #[error(
        "no SQLite database (this server uses PostgreSQL: back it up with pg_dump, see the README)"
    )]
    NotSqlite,
    #[error("the restored database fails its integrity check: {}", .0.join("; "))]
    Integrity(Vec<String>),
    #[error("{doing} {}: {source}", .path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A closure that names the file an I/O error happened on.
fn io_at(doing: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackupError + use<> {
    let path = path.to_owned();
    move |source| BackupError::Io {
        doing,
        path,
        source,
    }
}

/// Where chunk `row` (`<index>/<count>`) of a backup is sealed.
fn chunk_at(row: &str) -> SealedAt<'_> {
    SealedAt {
        tenant_id: 0,
        table: "backup",
        column: "chunk",
        row,
    }
}

/// Writes the container of `len` bytes read from `database` to `out`, in chunks of
/// `chunk_bytes`.
fn write_container(
    secrets: &dyn Secrets,
    mut database: impl Read,
    len: u64,
    chunk_bytes: usize,
    mut out: impl Write,
) -> io::Result<()> {
    // An empty input still makes one (empty) chunk, so every backup holds its count.
    let count = len.div_ceil(chunk_bytes as u64).max(1);
    writeln!(out, "{MAGIC}")?;
    let mut remaining = len;
    let mut buffer = vec![0; chunk_bytes];
    for index in 1..=count {
        let take = remaining.min(chunk_bytes as u64) as usize;
        database.read_exact(&mut buffer[..take])?;
        remaining -= take as u64;
        let row = format!("{index}/{count}");
        writeln!(
            out,
            "{row} {}",
            secrets.seal(&buffer[..take], chunk_at(&row))
        )?;
    }
    out.flush()
}

/// Reads the container from `input`, writing the database bytes to `out`; names the first
/// thing wrong with it. `out` may have received part of the bytes when this fails.
fn read_container(
    secrets: &dyn Secrets,
    mut input: impl BufRead,
    mut out: impl Write,
) -> Result<(), ContainerError> {
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    if line != format!("{MAGIC}\n").as_bytes() {
        return Err(BackupError::NotABackup.into());
    }
    let mut expected = None;
    let mut chunk = 0;
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let Some(text) = line.strip_suffix(b"\n") else {
            return Err(BackupError::CutShort.into());
        };
        chunk += 1;
        let altered = BackupError::Altered { chunk };
        let (label, sealed) = std::str::from_utf8(text)
            .ok()
            .and_then(|text| text.split_once(' '))
            .ok_or(BackupError::Altered { chunk })?;
        let (found, count) = label
            .split_once('/')
            .and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?)))
            .ok_or(BackupError::Altered { chunk })?;
        // The first chunk's count is believed only once that chunk opens with it.
        let expected = *expected.get_or_insert(count);
        if chunk > expected {
            return Err(BackupError::Extra { count: expected }.into());
        }
        let bytes = match secrets.open(sealed, chunk_at(&format!("{chunk}/{expected}"))) {
            Ok(bytes) => bytes,
            Err(SealError::UnknownKey(key_id)) => {
                return Err(BackupError::UnknownKey { key_id }.into());
            }
            Err(SealError::Malformed) => return Err(altered.into()),
            Err(SealError::KeyUnavailable(reason)) => {
                return Err(ContainerError::Io(io::Error::other(reason)));
            }
            Err(SealError::DoesNotOpen) => {
                let elsewhere = (found, count) != (chunk, expected)
                    && secrets.open(sealed, chunk_at(label)).is_ok();
                return Err(if elsewhere {
                    BackupError::OutOfPlace {
                        chunk,
                        found,
                        count,
                    }
                } else {
                    altered
                }
                .into());
            }
        };
        out.write_all(&bytes)?;
    }
    match expected {
        Some(expected) if chunk == expected => Ok(()),
        expected => Err(BackupError::Truncated {
            present: chunk,
            expected: expected.unwrap_or(1),
        }
        .into()),
    }
}

/// A container failure: what is wrong with it, or an I/O error (whose file the caller
/// knows).
#[derive(Debug)]
enum ContainerError {
    Invalid(BackupError),
    Io(io::Error),
}

impl From<BackupError> for ContainerError {
    fn from(err: BackupError) -> Self {
        ContainerError::Invalid(err)
    }
}

impl From<io::Error> for ContainerError {
    fn from(err: io::Error) -> Self {
        ContainerError::Io(err)
    }
}

/// A new file beside `path`, for writing aside and renaming into place.
fn beside(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{what}-{}", uuid::Uuid::new_v4().simple()))
}

/// Creates `path`, which must not exist, readable by this user only.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// A file removed when dropped, unless kept: no half-written or plain copy is left behind.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    fn new(path: &Path) -> Scratch {
        Scratch {
            path: path.to_owned(),
            keep: false,
        }
    }

    /// A new name beside `path` (same folder, so a rename into place is atomic), not
    /// created yet.
    pub fn beside(path: &Path, what: &str) -> Scratch {
        Scratch::new(&beside(path, what))
    }

    /// The scratch file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Seals the file `plain` into the backup `out`: written aside, then renamed over `out`,
/// mode 0600.
pub fn seal_file(secrets: &dyn Secrets, plain: &Path, out: &Path) -> Result<(), BackupError> {
    let input = File::open(plain).map_err(io_at("reading", plain))?;
    let len = input.metadata().map_err(io_at("reading", plain))?.len();
    let aside = beside(out, "partial");
    let file = create_private(&aside).map_err(io_at("creating", &aside))?;
    let _scratch = Scratch::new(&aside);
    let mut writer = BufWriter::new(file);
    write_container(
        secrets,
        BufReader::new(input),
        len,
        CHUNK_BYTES,
        &mut writer,
    )
    .map_err(io_at("writing", &aside))?;
    let file = writer
        .into_inner()
        .map_err(|err| io_at("writing", &aside)(err.into_error()))?;
    file.sync_all().map_err(io_at("writing", &aside))?;
    std::fs::rename(&aside, out).map_err(io_at("renaming into", out))?;
    Ok(())
}

/// Opens the backup `from` into the new file `plain` (which must not exist); on failure
/// nothing is left at `plain`.
pub fn open_file(secrets: &dyn Secrets, from: &Path, plain: &Path) -> Result<(), BackupError> {
    let input = File::open(from).map_err(io_at("reading", from))?;
    let file = create_private(plain).map_err(io_at("creating", plain))?;
    let mut scratch = Scratch::new(plain);
    let mut writer = BufWriter::new(file);
    match read_container(secrets, BufReader::new(input), &mut writer) {
        Ok(()) => {}
        Err(ContainerError::Invalid(err)) => return Err(err),
        Err(ContainerError::Io(err)) => return Err(io_at("reading or writing", from)(err)),
    }
    let file = writer
        .into_inner()
        .map_err(|err| io_at("writing", plain)(err.into_error()))?;
    file.sync_all().map_err(io_at("writing", plain))?;
    scratch.keep = true;
    Ok(())
}

/// Takes a consistent backup of the SQLite database behind `db` (others may keep writing)
/// into `out`, sealed with `secrets`.
pub async fn backup_sqlite(
    db: &Db,
    secrets: Arc<dyn Secrets>,
    out: &Path,
) -> Result<(), BackupError> {
    let copy = Scratch::beside(out, "copy");
    db.vacuum_into(copy.path())
        .await?
        .ok_or(BackupError::NotSqlite)?;
    let out = out.to_owned();
    tokio::task::spawn_blocking(move || seal_file(&*secrets, copy.path(), &out))
        .await
        // Sealing has no await point to cancel at, so a failed join is its panic: pass it on.
        .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))
}

/// Restores the backup `from` as the SQLite database file `database`, which must not
/// exist: opened aside, checked with `PRAGMA integrity_check`, then renamed into place.
/// Migrating it to this version is the caller's next step.
pub async fn restore_sqlite(
    secrets: Arc<dyn Secrets>,
    from: &Path,
    database: &Path,
) -> Result<(), BackupError> {
    refuse_existing(database)?;
    let aside = Scratch::beside(database, "restoring");
    {
        let (from, aside) = (from.to_owned(), aside.path().to_owned());
        tokio::task::spawn_blocking(move || open_file(&*secrets, &from, &aside))
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))?;
    }
    let problems = sqlite_integrity_problems(aside.path()).await?;
    if !problems.is_empty() {
        return Err(BackupError::Integrity(problems));
    }
    // Checked once more just before the rename: a server may have started meanwhile.
    refuse_existing(database)?;
    std::fs::rename(aside.path(), database).map_err(io_at("renaming into", database))
}

/// Refuses when `database` or its write-ahead log exists: a stale log beside a restored
/// file would be replayed into it.
fn refuse_existing(database: &Path) -> Result<(), BackupError> {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    for file in [database.to_owned(), PathBuf::from(wal)] {
        if file.exists() {
            return Err(BackupError::DatabaseExists(file));
        }
    }
    Ok(())
}

/// The daily backup's file name for `date`: `frontdesk-YYYY-MM-DD.backup`.
pub fn daily_file_name(date: NaiveDate) -> String {
    format!("{DAILY_PREFIX}{}{DAILY_SUFFIX}", date.format("%Y-%m-%d"))
}

/// The date in a daily backup's file name; `None` for any other file (never pruned).
fn daily_file_date(name: &str) -> Option<NaiveDate> {
    let date = name
        .strip_prefix(DAILY_PREFIX)?
        .strip_suffix(DAILY_SUFFIX)?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// Removes the daily backups in `dir` dated more than `keep_days` before `today` (by their
/// names, so copying or touching a file does not change its age); returns them. Other files
/// are left alone.
pub fn prune(dir: &Path, keep_days: u32, today: NaiveDate) -> Result<Vec<PathBuf>, BackupError> {
    let oldest_kept = today
        .checked_sub_days(Days::new(keep_days.into()))
        .unwrap_or(NaiveDate::MIN);
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_at("listing", dir))? {
        let path = entry.map_err(io_at("listing", dir))?.path();
        let dated = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(daily_file_date);
        if dated.is_some_and(|date| date < oldest_kept) {
            std::fs::remove_file(&path).map_err(io_at("removing", &path))?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

/// Takes today's backup into `dir` and prunes those older than `keep_days`; returns the new
/// backup's path.
pub async fn daily_backup(
    engine: &Engine,
    dir: &Path,
    keep_days: u32,
) -> Result<PathBuf, BackupError> {
    std::fs::create_dir_all(dir).map_err(io_at("creating", dir))?;
    let today = engine.ports.clock.now().date_naive();
    let out = dir.join(daily_file_name(today));
    backup_sqlite(&engine.db, engine.ports.secrets.clone(), &out).await?;
    let removed = prune(dir, keep_days, today)?;
    tracing::info!(backup = %out.display(), pruned = removed.len(), "daily backup");
    Ok(out)
}

/// The daily backup job (SQLite only: the binary adds it when the database is SQLite).
pub fn daily_job(dir: PathBuf, keep_days: u32) -> Job {
    Job::new("backup", "0 30 2 * * *", move |engine: Engine| {
        let dir = dir.clone();
        async move {
            daily_backup(&engine, &dir, keep_days)
                .await
                .map(drop)
                .map_err(|err| crate::Error::internal("taking the daily backup", err))
        }
    })
    .expect("the backup schedule is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::Keyring;

    fn keyring(byte: u8) -> Keyring {
        Keyring::new(&[[byte; 32]]).unwrap()
    }

    /// A container of `data` in chunks of 4 bytes, as lines.
    fn sealed_lines(ring: &Keyring, data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        write_container(ring, data, data.len() as u64, 4, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn read(ring: &Keyring, container: &str) -> Result<Vec<u8>, BackupError> {
        let mut out = Vec::new();
        match read_container(ring, container.as_bytes(), &mut out) {
            Ok(()) => Ok(out),
            Err(ContainerError::Invalid(err)) => Err(err),
            Err(ContainerError::Io(err)) => panic!("{err}"),
        }
    }

    fn joined(lines: &[String]) -> String {
        lines.iter().map(|line| format!("{line}\n")).collect()
    }

    const DATA: &[u8] = b"employee Alice Sato";

    #[test]
    fn a_container_reads_back_what_was_sealed_and_shows_no_plaintext() {
        let ring = keyring(1);
        let lines = sealed_lines(&ring, DATA);
        assert_eq!(lines[0], MAGIC);
        assert_eq!(lines.len(), 1 + 5, "19 bytes in chunks of 4");
        assert!(lines[1].starts_with("1/5 fd1."), "{}", lines[1]);
        let container = joined(&lines);
        assert!(!container.contains("Alice"), "{container}");
        assert_eq!(read(&ring, &container).unwrap(), DATA);
        assert_eq!(
            read(&ring, &joined(&sealed_lines(&ring, b""))).unwrap(),
            b""
        );
    }

    #[test]
    fn reordered_dropped_and_altered_chunks_are_named() {
        let ring = keyring(1);
        let lines = sealed_lines(&ring, DATA);

        let mut reordered = lines.clone();
        reordered.swap(2, 3);
        let err = read(&ring, &joined(&reordered)).unwrap_err();
        assert!(
            matches!(
                err,
                BackupError::OutOfPlace {
                    chunk: 2,
                    found: 3,
                    count: 5
                }
            ),
            "{err}"
        );

        let mut dropped = lines.clone();
        dropped.remove(2);
        let err = read(&ring, &joined(&dropped)).unwrap_err();
        assert!(
            matches!(err, BackupError::OutOfPlace { chunk: 2, .. }),
            "{err}"
        );

        // A relabelled chunk still carries its sealed place.
        let mut relabelled = lines.clone();
        relabelled[3] = relabelled[3].replacen("3/5", "2/5", 1);
        relabelled.swap(2, 3);
        let err = read(&ring, &joined(&relabelled)).unwrap_err();
        assert!(matches!(err, BackupError::Altered { chunk: 2 }), "{err}");

        let mut altered = lines.clone();
        let last = altered[4].pop().unwrap();
        altered[4].push(if last == 'A' { 'B' } else { 'A' });
        let err = read(&ring, &joined(&altered)).unwrap_err();
        assert!(matches!(err, BackupError::Altered { chunk: 4 }), "{err}");

        let mut appended = lines.clone();
        appended.push(lines[5].clone());
        let err = read(&ring, &joined(&appended)).unwrap_err();
        assert!(matches!(err, BackupError::Extra { count: 5 }), "{err}");
    }

    #[test]
    fn truncated_containers_are_named_as_truncated() {
        let ring = keyring(1);
        let lines = sealed_lines(&ring, DATA);
        let err = read(&ring, &joined(&lines[..4])).unwrap_err();
        assert!(
            matches!(
                err,
                BackupError::Truncated {
                    present: 3,
                    expected: 5
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
        let mut cut = joined(&lines);
        cut.truncate(cut.len() - 10);
        let err = read(&ring, &cut).unwrap_err();
        assert!(matches!(err, BackupError::CutShort), "{err}");
        let err = read(&ring, &joined(&lines[..1])).unwrap_err();
        assert!(
            matches!(err, BackupError::Truncated { present: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn another_file_and_another_key_are_named() {
        let ring = keyring(1);
        let err = read(&ring, "SQLite format 3\0").unwrap_err();
        assert!(matches!(err, BackupError::NotABackup), "{err}");
        let container = joined(&sealed_lines(&ring, DATA));
        let other = keyring(2);
        let err = read(&other, &container).unwrap_err();
        let BackupError::UnknownKey { key_id } = &err else {
            panic!("{err}");
        };
        assert_eq!(key_id, ring.newest_key_id());
        assert!(err.to_string().contains(ring.newest_key_id()), "{err}");
    }

    #[test]
    fn pruning_removes_daily_backups_older_than_keep_days_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let dated = |days: u64| daily_file_name(today - Days::new(days));
        for name in [
            dated(0),
            dated(30),
            dated(31),
            dated(90),
            "notes.txt".into(),
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = prune(dir.path(), 30, today).unwrap();
        assert_eq!(
            removed,
            vec![dir.path().join(dated(90)), dir.path().join(dated(31))]
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec![dated(30), dated(0), "notes.txt".to_owned()]);
        assert_eq!(daily_file_name(today), "frontdesk-2026-11-26.backup");
    }
}

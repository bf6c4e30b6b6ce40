//! journal: the simulated cloud kept in a SQLite file (`--data PATH`).
//!
//! The [`Sim`] is deterministic, so what is kept is its *inputs*: every
//! [`Op`] applied from outside, in order, with where the simulation stood
//! when it was applied (envelopes delivered so far, the virtual clock).
//! Opening a data file replays them into a fresh `Sim` built from the
//! stored configuration (seed, epoch, handler), which reproduces the same
//! state: flows, executions, histories, task tokens, timers on the bus,
//! topics, queues and their messages.
//!
//! Durability: an op is appended under the sim lock (so the journal's
//! order is the order ops were applied) to an in-memory queue; one writer
//! thread commits whatever queued up in one transaction (group commit:
//! requests arriving while a commit is in flight share the next one) and
//! publishes the last sequence number committed. A front end answers a
//! mutating request only once its op is committed ([`Journal::wait`]).
//! WAL mode, `synchronous=NORMAL`: a commit is written to the WAL file
//! (the OS has it) before it counts, so a killed process loses nothing it
//! acknowledged; a power loss may lose the last commits (never corrupts).
//!
//! Executions that `--retain` evicts from memory are written to the
//! `executions` table (their `DescribeExecution` and history JSON) so the
//! API can still answer them. The file is locked while open (SQLite's
//! exclusive locking mode): a second flowsim on it is refused.
//!
//! Owns only the file; what an op does is [`Sim::apply`]'s business.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use crate::engine::Execution;
use crate::engine::history::event_json;
use crate::fc::HandlerConfig;
use crate::kernel::Millis;
use crate::sim::op::{Applied, Op};
use crate::sim::{Sim, SimConfig};

/// The schema this build reads and writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// The file inside a folder given as `--data`.
pub const FILE_NAME: &str = "flowsim.db";

const SCHEMA: &str = "
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE journal (
    seq       INTEGER PRIMARY KEY,
    delivered INTEGER NOT NULL,
    at_ms     INTEGER NOT NULL,
    wall_ms   INTEGER NOT NULL,
    op        TEXT NOT NULL
);
CREATE TABLE executions (
    id          INTEGER PRIMARY KEY,
    flow        TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    started     TEXT NOT NULL,
    stopped     TEXT,
    description TEXT NOT NULL,
    history     TEXT NOT NULL
);
CREATE INDEX executions_by_name ON executions (flow, name);
CREATE INDEX executions_by_flow ON executions (flow, id);
";

/// Why a data file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data file `{path}` is in use by another flowsim (it is locked): stop that one, or use another --data"
    )]
    Locked { path: PathBuf },
    #[error(
        "the data file `{path}` was written by a newer flowsim (schema {found}; this one reads {SCHEMA_VERSION}): use that version, or another --data"
    )]
    Newer { path: PathBuf, found: i64 },
    #[error("the data file `{path}` cannot be used: {message}")]
    Bad { path: PathBuf, message: String },
    #[error("the data file `{path}` does not replay at journal entry {seq}: {message}")]
    Replay {
        path: PathBuf,
        seq: i64,
        message: String,
    },
}

/// What survives in `meta` of the simulation's configuration: what makes
/// the replay exact (the seed, the epoch, the function at the start).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredConfig {
    seed: u64,
    epoch_ms: i64,
    handler: HandlerConfig,
    subscribe_handler: bool,
}

/// What opening a data file found.
#[derive(Debug, Clone, Default)]
pub struct Restored {
    /// The file held nothing yet (it was created).
    pub fresh: bool,
    /// Journal entries replayed.
    pub ops: u64,
    /// Wall-clock Unix ms and virtual time of the last one replayed.
    pub last: Option<(i64, Millis)>,
    /// Settings of the command line that the stored ones overrode.
    pub overridden: Vec<String>,
    /// The seed the simulation runs with (the stored one, for a file that
    /// existed).
    pub seed: u64,
    /// What the simulated function does (`none`: not subscribed), as it
    /// runs (the stored setting, for a file that existed).
    pub handler: &'static str,
}

/// A data file opened: the simulation replayed from it, and the journal
/// that keeps what happens next.
pub struct Opened {
    pub sim: Sim,
    pub journal: Arc<Journal>,
    pub restored: Restored,
}

/// Progress of the writer, published to the requests waiting on it.
#[derive(Debug, Clone, Default)]
struct Progress {
    committed: u64,
    /// Evicted executions written so far.
    evicted_written: u64,
    failed: Option<Arc<str>>,
}

struct Entry {
    seq: u64,
    delivered: u64,
    at: Millis,
    wall: i64,
    op: String,
}

#[derive(Default)]
struct Pending {
    entries: Vec<Entry>,
    evicted: Vec<Execution>,
    /// The sequence number of the last entry appended.
    appended: u64,
    /// Evicted executions handed over so far.
    evicted_handed: u64,
    closing: bool,
    /// The writer sleeps on the condvar (else it looks again before it
    /// sleeps): appends wake it only then, not with a syscall each.
    idle: bool,
}

/// The open data file: the journal's writer and the evicted executions'
/// reader. Shared by the runtime and the API.
pub struct Journal {
    path: PathBuf,
    epoch_ms: i64,
    conn: Arc<Mutex<Connection>>,
    pending: Mutex<Pending>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Whole-value updates only: a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Unix milliseconds now.
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The file `--data PATH` names: PATH, or `PATH/flowsim.db` for a folder.
pub fn data_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_owned()
    }
}

fn bad(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Bad {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Maps SQLite's refusals to what they mean here.
fn sql_error(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked {
            path: path.to_owned(),
        },
        Some(ErrorCode::NotADatabase) => bad(path, "it is not a flowsim data file (not SQLite)"),
        Some(ErrorCode::DatabaseCorrupt) => bad(path, "it is damaged (SQLite says corrupt)"),
        Some(ErrorCode::ReadOnly) => bad(
            path,
            "it is read-only: flowsim writes every change to it (check its permissions and the folder's)",
        ),
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::SystemIoFailure) => {
            bad(
                path,
                format!(
                    "{e}: check that the folder exists and that you may write the file and the folder (flowsim creates `-wal` files beside it)"
                ),
            )
        }
        _ => bad(path, e),
    }
}

/// Opens (or creates) the data file at `path` and replays it. `config` is
/// the command line's; for a file that exists, the stored seed, epoch and
/// handler win (the replay needs them), and [`Restored::overridden`] says
/// which differed. `retain` is `--retain`.
pub fn open(path: &Path, config: &SimConfig, retain: Option<usize>) -> Result<Opened, StoreError> {
    let path = data_file(path);
    let p = path.as_path();
    // `--data ~/.flowsim/dev.db` on a new machine: the folder is made.
    if let Some(dir) = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            bad(
                p,
                format!("cannot create its folder `{}`: {e}", dir.display()),
            )
        })?;
    }
    let conn = Connection::open(p).map_err(|e| sql_error(p, e))?;
    conn.busy_timeout(Duration::ZERO)
        .map_err(|e| sql_error(p, e))?;
    // Exclusive locking before WAL: no shared-memory index, and the file
    // stays locked from the first write until the connection closes.
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
        .map_err(|e| sql_error(p, e))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| sql_error(p, e))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Newer {
            path: path.clone(),
            found: version,
        });
    }
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| sql_error(p, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(bad(p, format!("SQLite refused WAL mode (it is `{mode}`)")));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| sql_error(p, e))?;
    // Take the write lock now, so a second flowsim is refused at start.
    conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
        .map_err(|e| sql_error(p, e))?;
    let mut restored = Restored::default();
    if version == 0 {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| sql_error(p, e))?;
        if tables > 0 {
            return Err(bad(
                p,
                "it is an SQLite database, but not a flowsim data file",
            ));
        }
        conn.execute_batch(&format!(
            "BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        ))
        .map_err(|e| sql_error(p, e))?;
        restored.fresh = true;
    }
    let stored: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'config'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| sql_error(p, e))?;
    let mut config = config.clone();
    match stored {
        Some(text) => {
            let s: StoredConfig = serde_json::from_str(&text)
                .map_err(|e| bad(p, format!("its stored configuration does not read: {e}")))?;
            if s.seed != config.seed {
                restored.overridden.push(format!("seed {}", s.seed));
            }
            if s.epoch_ms != config.epoch_ms {
                restored.overridden.push(format!(
                    "epoch {}",
                    crate::engine::history::format_time(s.epoch_ms)
                ));
            }
            if s.handler != config.handler || s.subscribe_handler != config.subscribe_handler {
                restored
                    .overridden
                    .push("the simulated function's settings".into());
            }
            config.seed = s.seed;
            restored.seed = s.seed;
            config.epoch_ms = s.epoch_ms;
            config.handler = s.handler;
            config.subscribe_handler = s.subscribe_handler;
        }
        None => {
            restored.seed = config.seed;
            let s = StoredConfig {
                seed: config.seed,
                epoch_ms: config.epoch_ms,
                handler: config.handler.clone(),
                subscribe_handler: config.subscribe_handler,
            };
            let text = serde_json::to_string(&s).map_err(|e| bad(p, e))?;
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('config', ?1), ('created', ?2), ('flowsim_version', ?3)",
                params![text, crate::engine::history::format_time(unix_ms()), env!("CARGO_PKG_VERSION")],
            )
            .map_err(|e| sql_error(p, e))?;
        }
    }
    restored.handler = if config.subscribe_handler {
        config.handler.behaviour.as_str()
    } else {
        "none"
    };
    // Subscriptions given at start are journaled as ops by the caller.
    config.subscriptions = Vec::new();
    let mut sim = Sim::new(config);
    sim.engine.set_retention(retain);
    sim.engine.keep_evicted();
    let last_seq = replay(&conn, p, &mut sim, &mut restored)?;
    // What the last ops set in motion at once (a push's answer is an
    // envelope due now) was delivered live right after them: deliver it
    // before telling the pushes still waiting for an answer.
    sim.advance_to(sim.now());
    sim.keep_unanswered_pushes();
    let journal = Arc::new(Journal {
        path: path.clone(),
        epoch_ms: sim.epoch_ms(),
        conn: Arc::new(Mutex::new(conn)),
        pending: Mutex::new(Pending {
            appended: last_seq,
            ..Pending::default()
        }),
        wake: Condvar::new(),
        progress: watch::Sender::new(Progress {
            committed: last_seq,
            evicted_written: 0,
            failed: None,
        }),
        writer: Mutex::new(None),
    });
    let writer = {
        let j = journal.clone();
        std::thread::Builder::new()
            .name("flowsim-journal".into())
            .spawn(move || j.write_loop())
            .map_err(|e| bad(p, format!("cannot start the journal writer: {e}")))?
    };
    *lock(&journal.writer) = Some(writer);
    Ok(Opened {
        sim,
        journal,
        restored,
    })
}

/// Replays every journal entry into `sim`; answers the last sequence
/// number. Evicted executions are written back as the replay evicts them
/// (a crash may have lost the last ones written).
fn replay(
    conn: &Connection,
    p: &Path,
    sim: &mut Sim,
    restored: &mut Restored,
) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare("SELECT seq, delivered, at_ms, wall_ms, op FROM journal ORDER BY seq")
        .map_err(|e| sql_error(p, e))?;
    let mut rows = stmt.query([]).map_err(|e| sql_error(p, e))?;
    let mut last = 0u64;
    let mut evicted = Vec::new();
    while let Some(row) = rows.next().map_err(|e| sql_error(p, e))? {
        let seq: i64 = row.get(0).map_err(|e| sql_error(p, e))?;
        let delivered: i64 = row.get(1).map_err(|e| sql_error(p, e))?;
        let at: i64 = row.get(2).map_err(|e| sql_error(p, e))?;
        let wall: i64 = row.get(3).map_err(|e| sql_error(p, e))?;
        let text: String = row.get(4).map_err(|e| sql_error(p, e))?;
        let replay_error = |message: String| StoreError::Replay {
            path: p.to_owned(),
            seq,
            message,
        };
        let op: Op = serde_json::from_str(&text)
            .map_err(|e| replay_error(format!("the op does not read ({e}): {text}")))?;
        sim.replay_to(delivered.max(0) as u64, at.max(0) as Millis)
            .map_err(replay_error)?;
        sim.apply(op);
        evicted.append(&mut sim.engine.take_evicted());
        last = seq.max(0) as u64;
        restored.ops += 1;
        restored.last = Some((wall, at.max(0) as Millis));
    }
    drop(rows);
    drop(stmt);
    if !evicted.is_empty() {
        let epoch = sim.epoch_ms();
        let tx = conn.unchecked_transaction().map_err(|e| sql_error(p, e))?;
        write_executions(&tx, &evicted, epoch).map_err(|e| sql_error(p, e))?;
        tx.commit().map_err(|e| sql_error(p, e))?;
    }
    Ok(last)
}

fn write_executions(
    conn: &Connection,
    executions: &[Execution],
    epoch_ms: i64,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO executions (id, flow, name, status, started, stopped, description, history) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for x in executions {
        let description = x.to_json(epoch_ms);
        let history: Vec<Value> = x
            .history
            .iter()
            .map(|ev| event_json(&x.flow, ev, epoch_ms))
            .collect();
        let time = |ms: Millis| crate::engine::history::format_time(epoch_ms + ms as i64);
        stmt.execute(params![
            x.id.0,
            x.flow.name,
            &*x.name,
            x.status.as_str(),
            time(x.started),
            x.stopped.map(time),
            description.to_string(),
            Value::Array(history).to_string(),
        ])?;
    }
    Ok(())
}

/// One page of evicted executions (see [`Journal::list_evicted`]).
pub struct EvictedPage {
    /// Ids and `DescribeExecution` JSON, ids ascending.
    pub executions: Vec<(u32, Value)>,
}

impl Journal {
    /// The data file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an op applied at (`delivered`, `at`), with the executions
    /// it evicted; answers its sequence number. Call it under the sim lock,
    /// right after applying the op, so the journal's order is the order of
    /// application. Both go in one batch: whoever sees the op committed
    /// finds the executions it evicted on disk.
    pub fn append(
        &self,
        delivered: u64,
        at: Millis,
        op: String,
        mut evicted: Vec<Execution>,
    ) -> u64 {
        let mut p = lock(&self.pending);
        p.appended += 1;
        let seq = p.appended;
        p.entries.push(Entry {
            seq,
            delivered,
            at,
            wall: unix_ms(),
            op,
        });
        p.evicted_handed += evicted.len() as u64;
        p.evicted.append(&mut evicted);
        let idle = p.idle;
        drop(p);
        if idle {
            self.wake.notify_one();
        }
        seq
    }

    /// Hands over executions the engine evicted (as deliveries do), to be
    /// written with the next commit. Call it under the sim lock.
    pub fn add_evicted(&self, mut executions: Vec<Execution>) {
        if executions.is_empty() {
            return;
        }
        let mut p = lock(&self.pending);
        p.evicted_handed += executions.len() as u64;
        p.evicted.append(&mut executions);
        drop(p);
        self.wake.notify_one();
    }

    /// The sequence number of the last op appended.
    pub fn appended(&self) -> u64 {
        lock(&self.pending).appended
    }

    /// Completes once op `seq` (and every one before it) is committed; an
    /// error if the file could not be written.
    pub async fn wait(&self, seq: u64) -> Result<(), String> {
        let mut rx = self.progress.subscribe();
        let result = rx
            .wait_for(|p| p.committed >= seq || p.failed.is_some())
            .await
            .map(|p| p.failed.clone());
        match result {
            Ok(None) => Ok(()),
            Ok(Some(e)) => Err(format!(
                "the data file `{}` could not be written: {e}",
                self.path.display()
            )),
            Err(_) => Err("the journal writer has stopped".into()),
        }
    }

    /// Completes once every op appended and every execution evicted so far
    /// is committed (a read that missed an execution in memory looks on
    /// disk after this).
    pub async fn sync(&self) -> Result<(), String> {
        let (seq, evicted) = {
            let p = lock(&self.pending);
            (p.appended, p.evicted_handed)
        };
        self.wait(seq).await?;
        let mut rx = self.progress.subscribe();
        let written = rx
            .wait_for(|p| p.evicted_written >= evicted || p.failed.is_some())
            .await
            .is_ok_and(|p| p.failed.is_none());
        if written {
            Ok(())
        } else {
            // Says why (the write failed, or the writer stopped).
            self.wait(u64::MAX).await
        }
    }

    /// Writes what is pending and stops the writer (a graceful stop).
    pub fn close(&self) {
        lock(&self.pending).closing = true;
        self.wake.notify_one();
        if let Some(w) = lock(&self.writer).take() {
            let _ = w.join();
        }
    }

    /// The writer: commits whatever queued up, in one transaction, until
    /// closed.
    fn write_loop(&self) {
        loop {
            let (entries, evicted, closing) = {
                let mut p = lock(&self.pending);
                while p.entries.is_empty() && p.evicted.is_empty() && !p.closing {
                    p.idle = true;
                    p = self.wake.wait(p).unwrap_or_else(|e| e.into_inner());
                    p.idle = false;
                }
                (
                    std::mem::take(&mut p.entries),
                    std::mem::take(&mut p.evicted),
                    p.closing,
                )
            };
            if !entries.is_empty() || !evicted.is_empty() {
                let last = entries.last().map(|e| e.seq);
                match self.commit(&entries, &evicted) {
                    Ok(()) => {
                        let written = evicted.len() as u64;
                        self.progress.send_modify(|p| {
                            if let Some(seq) = last {
                                p.committed = seq;
                            }
                            p.evicted_written += written;
                        });
                    }
                    Err(e) => {
                        tracing::error!(path = %self.path.display(), "journal: commit failed: {e}");
                        let e: Arc<str> = Arc::from(e.to_string());
                        self.progress.send_modify(|p| p.failed = Some(e));
                        return;
                    }
                }
            }
            if closing && lock(&self.pending).entries.is_empty() {
                return;
            }
        }
    }

    fn commit(&self, entries: &[Entry], evicted: &[Execution]) -> rusqlite::Result<()> {
        let conn = lock(&self.conn);
        let tx = conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO journal (seq, delivered, at_ms, wall_ms, op) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for e in entries {
                stmt.execute(params![
                    e.seq as i64,
                    e.delivered as i64,
                    e.at as i64,
                    e.wall,
                    e.op
                ])?;
            }
        }
        write_executions(&tx, evicted, self.epoch_ms)?;
        tx.commit()
    }

    /// The `DescribeExecution` JSON and history of an evicted execution
    /// (the newest of that name).
    pub fn evicted(&self, flow: &str, name: &str) -> Option<(Value, Vec<Value>)> {
        let conn = lock(&self.conn);
        let row: Option<(String, String)> = conn
            .query_row(
                "SELECT description, history FROM executions WHERE flow = ?1 AND name = ?2 ORDER BY id DESC LIMIT 1",
                params![flow, name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .unwrap_or_else(|e| {
                tracing::warn!("journal: cannot read an evicted execution: {e}");
                None
            });
        let (d, h) = row?;
        let d = serde_json::from_str(&d).ok()?;
        let h = match serde_json::from_str(&h).ok()? {
            Value::Array(a) => a,
            _ => return None,
        };
        Some((d, h))
    }

    /// Evicted executions of `flow` with ids from `from` on, whose status
    /// is `status` (any when `None`) and whose name starts with `prefix`:
    /// at most `limit`, ids ascending.
    pub fn list_evicted(
        &self,
        flow: &str,
        from: u32,
        status: Option<&str>,
        prefix: &str,
        limit: usize,
    ) -> EvictedPage {
        let conn = lock(&self.conn);
        let like = format!(
            "{}%",
            prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let read = || -> rusqlite::Result<Vec<(u32, Value)>> {
            let mut stmt = conn.prepare_cached(
                "SELECT id, description FROM executions WHERE flow = ?1 AND id >= ?2 \
                 AND (?3 IS NULL OR status = ?3) AND name LIKE ?4 ESCAPE '\\' ORDER BY id LIMIT ?5",
            )?;
            let rows = stmt.query_map(params![flow, from, status, like, limit as i64], |r| {
                Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, d) = row?;
                if let Ok(v) = serde_json::from_str(&d) {
                    out.push((id, v));
                }
            }
            Ok(out)
        };
        EvictedPage {
            executions: read().unwrap_or_else(|e| {
                tracing::warn!("journal: cannot list evicted executions: {e}");
                Vec::new()
            }),
        }
    }

    /// Counts for the start-up line: executions, queues, messages.
    pub fn evicted_count(&self) -> u64 {
        let conn = lock(&self.conn);
        conn.query_row("SELECT count(*) FROM executions", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_or(0, |n| n.max(0) as u64)
    }
}

/// Applies `op` to `sim` and, with a journal, appends it; answers what it
/// did and the sequence number to wait for before acknowledging it. The
/// caller holds the sim lock (and has brought the clock where it wants).
pub fn record(journal: Option<&Journal>, sim: &mut Sim, op: Op) -> (Applied, Option<u64>) {
    let Some(journal) = journal else {
        return (sim.apply(op), None);
    };
    let text = match serde_json::to_string(&op) {
        Ok(t) => t,
        Err(e) => {
            // Plain data with string keys: serde_json cannot fail on it.
            tracing::error!("journal: an op did not serialize: {e}");
            return (sim.apply(op), None);
        }
    };
    let (delivered, at) = (sim.delivered(), sim.now());
    let applied = sim.apply(op);
    let seq = journal.append(delivered, at, text, sim.engine.take_evicted());
    (applied, Some(seq))
}

#[cfg(test)]
mod tests;

//! What every command that runs a live simulation needs around it: the
//! log (a file for the TUI, batched stderr for `serve`), the tokio
//! runtimes, and the shutdown signal.

use super::*;

/// Where [`init_logging`] sends the log.
pub(super) enum LogTo<'a> {
    /// Standard error (`serve`: the request log).
    Stderr,
    /// A file, appended to, its folder created (`tui`: the screen is taken).
    File(&'a Path),
}

/// Standard error for the request log of `serve`: lines gather in a
/// buffer that a thread writes out every 50 ms (at once past 64 KiB, and
/// at exit through [`flush_log`]), so logging a request costs the thread
/// that answered it no system call.
#[derive(Clone)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    fn take(&self) -> Vec<u8> {
        let mut b = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *b)
    }

    fn write_out(&self) {
        let bytes = self.take();
        if !bytes.is_empty() {
            // Nowhere to report a failing stderr.
            let _ = io::stderr().write_all(&bytes);
        }
    }
}

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let full = {
            let mut b = self.0.lock().unwrap_or_else(|p| p.into_inner());
            b.extend_from_slice(buf);
            b.len() > 64 * 1024
        };
        if full {
            self.write_out();
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out();
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// The log buffer of this process, and its writer thread (started once).
fn log_buffer() -> &'static LogBuffer {
    static BUFFER: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = LogBuffer(std::sync::Arc::default());
        let writer = buffer.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
                writer.write_out();
            }
        });
        buffer
    })
}

/// Writes out what the log buffer holds (before exiting).
pub(super) fn flush_log() {
    log_buffer().write_out();
}

/// Sets up logging for the commands that run a live simulation, at the
/// level `FLOWSIM_LOG` names (INFO by default), without colours.
pub(super) fn init_logging(to: LogTo<'_>) -> anyhow::Result<()> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let writer = match to {
        LogTo::Stderr => BoxMakeWriter::new(log_buffer().clone()),
        LogTo::File(path) => {
            let open = || -> io::Result<std::fs::File> {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
            };
            let file =
                open().with_context(|| format!("cannot open the log file `{}`", path.display()))?;
            BoxMakeWriter::new(std::sync::Mutex::new(file))
        }
    };
    let level = std::env::var("FLOWSIM_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    // A subscriber already set (a second start in the same process: tests)
    // stays.
    let _ = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_max_level(level)
        .try_init();
    Ok(())
}

/// The tokio runtime a live simulation runs on: one thread, with time and
/// I/O.
/// The runtime of `serve` and `bench --api`: a worker per core, so HTTP
/// parsing, signature checks and answers run beside the simulation (which
/// stays one task behind the runtime's lock, see `runtime::Handle::sim`).
pub(super) fn server_runtime() -> io::Result<tokio::runtime::Runtime> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
}

pub(super) fn tokio_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are
/// installed when this is called (inside the tokio runtime), not when the
/// future is first polled, so no signal between the two is missed.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // A handler that cannot be installed never fires; the other may.
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        let mut terminate = signal(SignalKind::terminate()).ok();
        async move {
            let int = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let term = async {
                match terminate.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = int => {}
                () = term => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

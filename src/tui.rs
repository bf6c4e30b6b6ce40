//! tui: the terminal front end (ratatui + crossterm on tokio), a client of
//! the [`runtime`](crate::runtime) like any other.
//!
//! Owns the terminal (raw mode, alternate screen, bracketed paste, mouse
//! capture, all restored on quit, Ctrl-C and panic; cleared on resize and
//! before leaving, so nothing of it stays on screen), the clipboard (OSC
//! 52, written after a frame) and the event loop; the log file, the runtime and the HTTP
//! API it may show are set up by [`cli`](crate::cli). The loop selects over
//! terminal events, runtime updates, command replies and a tick that runs
//! only while the clock animates; it drains everything pending, then draws
//! once, and only when something changed. Key -> [`Action`] ->
//! [`App::update`] -> maybe a [`Command`]. It never touches the simulation
//! except through commands and short read locks.
//!
//! Submodules: [`action`] (key mapping), [`app`] (state), [`editor`]
//! (forms), [`graph`] (the flow graph widget), [`theme`] (every style),
//! [`ui`] (layout and the other panes).

pub mod action;
pub mod app;
pub mod editor;
pub mod graph;
pub mod theme;
pub mod ui;

use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream, KeyEventKind,
};
use futures_util::StreamExt as _;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use crate::runtime::{Command, Handle, Mode, Reply, RunState};
pub use action::{Action, map_key};
pub use app::App;
use theme::Theme;

/// How the TUI starts: on a running simulation, inside the tokio runtime
/// that drives it (the caller starts both, and the API if any).
pub struct Options {
    /// The runtime of the simulation shown.
    pub handle: Handle,
    /// The address the HTTP API is served on alongside, for the header.
    pub api: Option<SocketAddr>,
    /// Capture the mouse (clicks select, the wheel scrolls); off leaves
    /// the terminal's own selection alone (`--no-mouse`).
    pub mouse: bool,
    /// Open with this execution selected (a flow test case replayed:
    /// `flowsim tui --test FILE --case NAME`), instead of the newest.
    pub open_at: Option<app::OpenAt>,
}

/// Why the TUI could not run. A variant with a cause keeps it as the
/// error's source, out of its own message: `flowsim` prints the chain
/// (`{e:#}`), so naming it in both would print it twice.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("the TUI needs a terminal; use `flowsim run` for scripts and pipes")]
    NotATerminal,
    #[error("terminal")]
    Io(#[from] io::Error),
}

/// The default log file: `$XDG_STATE_HOME/flowsim/tui.log`, else the OS
/// temp dir's `flowsim-tui.log`.
pub fn default_log_path() -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("flowsim").join("tui.log"),
        None => std::env::temp_dir().join("flowsim-tui.log"),
    }
}

/// Runs the TUI until the user quits. Must run on the tokio runtime of
/// `opts.handle` (its clock, its tasks).
pub async fn run(opts: Options) -> Result<(), TuiError> {
    if !io::stdout().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let api_url = opts.api.map(|addr| format!("http://{addr}"));
    // Installs a panic hook that restores the terminal first.
    let mut terminal = ratatui::try_init()?;
    enable_input_modes(opts.mouse)?;
    let result = event_loop(&mut terminal, opts.handle, api_url, opts.open_at).await;
    // Blank the screen before leaving it: a terminal that resized (or has
    // no alternate screen) keeps nothing of the TUI.
    let _ = terminal.clear();
    disable_input_modes();
    ratatui::restore();
    result
}

/// Turns on bracketed paste (a paste arrives as one [`Event::Paste`], not
/// as keys that could submit a form) and, if asked, mouse capture, and
/// chains a panic hook that turns them off again before ratatui's hook
/// restores the terminal.
fn enable_input_modes(mouse: bool) -> io::Result<()> {
    crossterm::execute!(io::stdout(), EnableBracketedPaste)?;
    if mouse {
        crossterm::execute!(io::stdout(), EnableMouseCapture)?;
    }
    let restore = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        disable_input_modes();
        restore(info);
    }));
    Ok(())
}

/// Turns bracketed paste and mouse capture off (best effort: the terminal
/// may be gone; turning off what was never on is harmless).
fn disable_input_modes() {
    let _ = crossterm::execute!(io::stdout(), DisableMouseCapture, DisableBracketedPaste);
}

/// The OSC 52 sequence that asks the terminal to put `text` on the system
/// clipboard (`c`). Terminals that do not support it ignore it; tmux needs
/// `set-clipboard on` (its default, `external`, passes it to the outer
/// terminal).
pub fn osc52(text: &str) -> String {
    use base64::Engine as _;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

async fn event_loop(
    terminal: &mut DefaultTerminal,
    handle: Handle,
    api: Option<String>,
    open_at: Option<app::OpenAt>,
) -> Result<(), TuiError> {
    let mut events = EventStream::new();
    let mut state = handle.state();
    let (reply_tx, mut replies) = mpsc::unbounded_channel::<Reply>();
    let mut app = {
        let sim = handle.sim();
        let mut app = App::new(&sim, *state.borrow_and_update(), Theme::from_env());
        if let Some(at) = open_at {
            app.open_at(&sim, at);
        }
        app
    };
    app.api = api;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    loop {
        if dirty {
            let run = *state.borrow_and_update();
            draw(terminal, &mut app, &handle, run)?;
            dirty = false;
            // After the frame, outside the sim lock: the clipboard.
            if let Some(text) = app.clipboard.take() {
                use std::io::Write as _;
                let backend = terminal.backend_mut();
                backend.write_all(osc52(&text).as_bytes())?;
                backend.flush()?;
            }
        }
        if app.quit {
            return Ok(());
        }
        // The clock moves on screen only while virtual time flows.
        let animating = app.run.mode == Mode::Run && app.run.anchor.is_some();
        let mut send: Vec<Command> = Vec::new();
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) => dirty |= on_event(terminal, &mut app, &handle, ev, &mut send)?,
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            changed = state.changed() => match changed {
                Ok(()) => dirty = true,
                Err(_) => return Ok(()), // the runtime ended
            },
            Some(reply) = replies.recv() => {
                app.on_reply(reply, &handle.sim());
                dirty = true;
            }
            _ = tick.tick(), if animating => dirty = true,
        }
        // Drain whatever else is pending, then draw once. Only through the
        // stream, polled with this task's own waker (a zero timeout polls
        // the stream first): mixing in crossterm's sync `poll`/`read`,
        // which share its global reader, left a burst (a paste) stuck
        // behind the stream's wake-up thread, 1 KiB per later key.
        loop {
            match tokio::time::timeout(Duration::ZERO, events.next()).await {
                Ok(Some(Ok(ev))) => dirty |= on_event(terminal, &mut app, &handle, ev, &mut send)?,
                Ok(Some(Err(e))) => return Err(e.into()),
                Ok(None) => return Ok(()),
                Err(_) => break, // nothing more is pending
            }
        }
        while let Ok(reply) = replies.try_recv() {
            app.on_reply(reply, &handle.sim());
            dirty = true;
        }
        for command in send {
            let rx = handle.send(command);
            let tx = reply_tx.clone();
            tokio::spawn(async move {
                if let Ok(reply) = rx.await {
                    let _ = tx.send(reply);
                }
            });
        }
    }
}

/// Draws a frame in two halves, so the terminal's I/O never holds the
/// simulation's lock: the frame is rendered into ratatui's buffer under a
/// short lock (with the app synced to the simulation first), then, the
/// lock released, the difference from the last frame is written out. What
/// [`ratatui::Terminal::draw`] does, with the lock released in between.
fn draw(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    handle: &Handle,
    run: RunState,
) -> io::Result<()> {
    // Queries the terminal's size (and clears it if that changed).
    terminal.autoresize()?;
    {
        let sim = handle.sim();
        app.sync(&sim, run);
        let clock = run.clock_at(sim.now(), tokio::time::Instant::now());
        let mut frame = terminal.get_frame();
        ui::draw(&mut frame, app, &sim, clock);
    }
    // Writes the changed cells, hides the cursor (the UI never places it:
    // the editor draws its own), swaps the buffers and flushes stdout.
    terminal.apply_buffer()?;
    Ok(())
}

/// Handles one terminal event; answers whether the screen must be redrawn.
fn on_event(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    handle: &Handle,
    ev: Event,
    send: &mut Vec<Command>,
) -> io::Result<bool> {
    Ok(match ev {
        Event::Key(key) if key.kind != KeyEventKind::Release => {
            let Some(action) = map_key(app.key_context(), key) else {
                return Ok(false);
            };
            tracing::debug!(?action, "key");
            let command = {
                let sim = handle.sim();
                app.update(action, &sim)
            };
            if let Some(c) = command {
                send.push(c);
            }
            true
        }
        // Bracketed paste: text for the open editor, never a submit.
        Event::Paste(text) => app.paste(&text),
        Event::Mouse(m) => {
            let sim = handle.sim();
            app.mouse(m, &sim)
        }
        // Redraw every cell at the new size: a terminal that reflowed the
        // old frame keeps none of it.
        Event::Resize(..) => {
            terminal.autoresize()?;
            terminal.clear()?;
            true
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests;

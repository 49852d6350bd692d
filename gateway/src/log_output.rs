//! Where the binary's log lines go: stderr, without ANSI colour codes unless stderr is a terminal
//! (a pipe or a file gets plain text), and above the progress bar a long CLI command shows, so a
//! log line never tears the bar apart. The bar itself is hidden when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::ops::Deref;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The bar on screen, if any: log lines are written while it is suspended.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Installs the global subscriber: `DPP_GATEWAY_LOG` filter (default `info,sqlx=warn`), plain
/// text or `json` lines on stderr.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_env("DPP_GATEWAY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(LogWriter);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// A progress bar on stderr if it is a terminal (hidden otherwise), with `len` steps or a
/// spinner; while the returned guard lives, log lines are printed above it.
pub fn progress_bar(len: Option<u64>) -> ProgressGuard {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = match len {
        Some(len) => ProgressBar::with_draw_target(Some(len), target),
        None => ProgressBar::with_draw_target(None, target),
    };
    *ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
    ProgressGuard(bar)
}

/// The progress bar log lines go around; dropping it returns logging to plain stderr.
pub struct ProgressGuard(ProgressBar);

impl Deref for ProgressGuard {
    type Target = ProgressBar;

    fn deref(&self) -> &ProgressBar {
        &self.0
    }
}

impl Drop for ProgressGuard {
    fn drop(&mut self) {
        let mut active = ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner());
        *active = None;
    }
}

/// Makes one [`LogLine`] per event.
#[derive(Debug, Clone, Copy)]
pub struct LogWriter;

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// One formatted event, written to stderr in one piece when dropped (above the progress bar if
/// one is shown).
#[derive(Debug)]
pub struct LogLine(Vec<u8>);

impl Write for LogLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let bar = ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        // Nowhere to report a failed write of a log line.
        let write = || {
            let _ = std::io::stderr().lock().write_all(&self.0);
        };
        match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }
}

//! The terminal: entered with `ratatui::try_init` (raw mode, alternate screen, and a panic
//! hook that restores the terminal before the panic message), left when the [`Terminal`]
//! guard drops, however the dashboard ends.

use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::DefaultTerminal;

use super::app::App;

/// Whether a [`Terminal`] is in raw mode on the alternate screen now.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Restores the terminal if the dashboard holds it (a process about to exit without
/// unwinding); does nothing otherwise, so a headless run's output is left alone.
pub fn restore_if_active() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = ratatui::try_restore();
    }
}

/// The terminal in raw mode on the alternate screen; dropping it restores the terminal.
#[derive(Debug)]
pub struct Terminal {
    inner: DefaultTerminal,
}

impl Terminal {
    /// Enters raw mode and the alternate screen.
    ///
    /// # Errors
    /// The terminal cannot be set up (not a terminal); whatever was changed is put back.
    pub fn enter() -> std::io::Result<Self> {
        match ratatui::try_init() {
            Ok(inner) => {
                ACTIVE.store(true, Ordering::SeqCst);
                Ok(Self { inner })
            }
            Err(e) => {
                let _ = ratatui::try_restore();
                Err(e)
            }
        }
    }

    /// Draws the dashboard (ratatui diffs against the last frame: only changed cells are
    /// written, so nothing flickers).
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub fn draw(&mut self, app: &App) -> std::io::Result<()> {
        self.inner.draw(|f| f.render_widget(app, f.area()))?;
        Ok(())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::SeqCst);
        ratatui::restore();
    }
}

//! The live status panel: a few lines at the bottom of a terminal (mid, our quotes against the
//! touch, position in USD, net PnL, fills per minute, the checklist), redrawn in place every
//! second. Log lines do not break it: the log writer ([`PanelMakeWriter`], installed by
//! [`crate::init_logging`]) erases the panel, writes the line, and draws the panel again below
//! it, under one lock. Off a terminal nothing is drawn and log lines pass straight through
//! (the heartbeat line of `live --heartbeat` takes the panel's place).

use std::io::Write;
use std::sync::Mutex;

/// What is on the screen now.
struct State {
    lines: Vec<String>,
    /// Lines of the panel currently drawn (0: none).
    drawn: usize,
}

static PANEL: Mutex<State> = Mutex::new(State { lines: Vec::new(), drawn: 0 });

/// Moves the cursor to the start of a panel `drawn` lines tall and erases it to the end of the
/// screen (nothing when nothing is drawn).
pub fn erase(drawn: usize) -> String {
    if drawn == 0 {
        String::new()
    } else {
        format!("\x1b[{drawn}F\x1b[J")
    }
}

/// The panel's lines, each cleared first and ended by a newline.
pub fn draw(lines: &[String]) -> String {
    lines.iter().map(|l| format!("\x1b[2K{l}\n")).collect()
}

/// The panel redrawn in place over one `drawn` lines tall: each line overwritten, and what is
/// left of a taller old panel cleared below.
pub fn redraw(drawn: usize, lines: &[String]) -> String {
    let mut out = if drawn == 0 { String::new() } else { format!("\x1b[{drawn}F") };
    out.push_str(&draw(lines));
    if drawn > lines.len() {
        out.push_str("\x1b[J");
    }
    out
}

/// What goes to the terminal for one log line written while a panel `drawn` lines tall shows
/// `lines`: the panel erased, the log line, the panel again below it.
pub fn frame(drawn: usize, log: &[u8], lines: &[String]) -> Vec<u8> {
    let mut out = erase(drawn).into_bytes();
    out.extend_from_slice(log);
    if drawn > 0 {
        if !log.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.extend_from_slice(draw(lines).as_bytes());
    }
    out
}

/// Shows `lines` as the panel (replacing the one drawn).
pub fn show(lines: Vec<String>) {
    let mut st = PANEL.lock().unwrap_or_else(|e| e.into_inner());
    let out = redraw(st.drawn, &lines);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
    st.drawn = lines.len();
    st.lines = lines;
}

/// Leaves the last panel on the screen as plain lines: later output goes below it.
pub fn release() {
    let mut st = PANEL.lock().unwrap_or_else(|e| e.into_inner());
    st.drawn = 0;
    st.lines.clear();
}

/// stderr for `tracing`, keeping the panel below the log lines.
pub struct PanelWriter;

impl Write for PanelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let st = PANEL.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr().lock();
        if st.drawn == 0 {
            err.write_all(buf)?;
        } else {
            err.write_all(&frame(st.drawn, buf, &st.lines))?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The `MakeWriter` of [`PanelWriter`].
pub struct PanelMakeWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for PanelMakeWriter {
    type Writer = PanelWriter;
    fn make_writer(&'a self) -> PanelWriter {
        PanelWriter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_goes_above_the_panel() {
        let lines = vec!["mid 100".to_string(), "pnl +1".to_string()];
        let f = String::from_utf8(frame(2, b"INFO hello\n", &lines)).unwrap();
        assert_eq!(f, "\x1b[2F\x1b[JINFO hello\n\x1b[2Kmid 100\n\x1b[2Kpnl +1\n");
        // No panel: the line passes unchanged.
        assert_eq!(frame(0, b"INFO hello\n", &[]), b"INFO hello\n");
    }
}

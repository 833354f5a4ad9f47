//! The line editor: a cursor in a line of text, edited by the keys a VT100 terminal sends (printable
//! bytes, backspace 0x7f/0x08, ESC [ A/B/C/D for the arrows, ESC [ H/F home/end, Ctrl-A/E/U/C), and a
//! history of the last lines, walked with up and down. The screen is redrawn as `\r`, the prompt and the
//! line, `ESC [ K` (clear to the end), then the cursor moved back into place.

use alloc::string::String;
use alloc::vec::Vec;

use libc_rs::sys;

const PROMPT: &str = "pagoda$ ";
const HISTORY: usize = 32;

pub struct Editor {
    history: Vec<String>,
    /// Bytes read but not yet used (several keys can arrive in one read).
    pending: Vec<u8>,
}

impl Editor {
    pub fn new() -> Self {
        Editor { history: Vec::new(), pending: Vec::new() }
    }

    fn byte(&mut self) -> Option<u8> {
        if self.pending.is_empty() {
            let mut buf = [0u8; 64];
            match sys::read(0, &mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
            }
        }
        Some(self.pending.remove(0))
    }

    /// Reads one line; `None` at the end of the input.
    pub fn read_line(&mut self) -> Option<String> {
        let mut line: Vec<char> = Vec::new();
        let mut cursor = 0usize;
        // Position in the history while walking it (len = the line being typed).
        let mut walk = self.history.len();
        let mut typed = String::new();
        loop {
            let b = self.byte()?;
            match b {
                b'\r' | b'\n' => {
                    crate::out(b"\r\n");
                    let text: String = line.iter().collect();
                    if !text.trim().is_empty() && self.history.last() != Some(&text) {
                        if self.history.len() == HISTORY {
                            self.history.remove(0);
                        }
                        self.history.push(text.clone());
                    }
                    return Some(text);
                }
                0x03 => {
                    // Ctrl-C: drop the line.
                    crate::out(b"^C\r\n");
                    return Some(String::new());
                }
                0x7f | 0x08 if cursor > 0 => {
                    cursor -= 1;
                    line.remove(cursor);
                    if cursor == line.len() {
                        // At the end of the line: erase one character in place.
                        crate::out(b"\x08 \x08");
                        continue;
                    }
                }
                0x01 => cursor = 0,
                0x05 => cursor = line.len(),
                0x15 => {
                    line.drain(..cursor);
                    cursor = 0;
                }
                0x1b => {
                    if self.byte()? != b'[' {
                        continue;
                    }
                    match self.byte()? {
                        b'A' if walk > 0 => {
                            if walk == self.history.len() {
                                typed = line.iter().collect();
                            }
                            walk -= 1;
                            line = self.history[walk].chars().collect();
                            cursor = line.len();
                        }
                        b'B' if walk < self.history.len() => {
                            walk += 1;
                            let text = if walk == self.history.len() { &typed } else { &self.history[walk] };
                            line = text.chars().collect();
                            cursor = line.len();
                        }
                        b'C' if cursor < line.len() => cursor += 1,
                        b'D' if cursor > 0 => cursor -= 1,
                        b'H' => cursor = 0,
                        b'F' => cursor = line.len(),
                        _ => {}
                    }
                }
                b if (0x20..0x7f).contains(&b) => {
                    line.insert(cursor, b as char);
                    cursor += 1;
                    if cursor == line.len() {
                        // Typing at the end of the line: echo the character alone.
                        crate::out(&[b]);
                        continue;
                    }
                }
                _ => {}
            }
            redraw(&line, cursor);
        }
    }
}

fn redraw(line: &[char], cursor: usize) {
    let mut screen = String::from("\r");
    screen.push_str(PROMPT);
    screen.extend(line.iter());
    screen.push_str("\x1b[K");
    let back = line.len() - cursor;
    if back > 0 {
        screen.push_str(&alloc::format!("\x1b[{back}D"));
    }
    crate::out(screen.as_bytes());
}

//! The screen side of the harness: a QEMU session with a display device and a monitor socket, whose
//! screen is dumped (`screendump`, a binary PPM) and typed on (`sendkey`, the PS/2 keyboard), and the
//! checks made on a dump — text found by rendering it with the same font and colours the kernel uses
//! (Noto Sans Mono 16, the VGA palette, the same blend), colours counted in a rectangle.
//!
//! A dump can be saved as PNG (README's screenshots come from the tests, never drawn by hand).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use noto_sans_mono_bitmap::{FontWeight, RasterHeight, get_raster, get_raster_width};

use crate::{Firmware, Outcome, Scenario, SerialLog};

/// The kernel's cell size (drivers/fbcon/screen.rs): the font's width, 16 pixels high.
pub const CELL_WIDTH: usize = get_raster_width(FontWeight::Regular, RasterHeight::Size16);
pub const CELL_HEIGHT: usize = 16;

/// The VGA palette the kernel draws with (EGA attribute colours 0–15).
pub const PALETTE: [(u8, u8, u8); 16] = [
    (0x00, 0x00, 0x00),
    (0x00, 0x00, 0xaa),
    (0x00, 0xaa, 0x00),
    (0x00, 0xaa, 0xaa),
    (0xaa, 0x00, 0x00),
    (0xaa, 0x00, 0xaa),
    (0xaa, 0x55, 0x00),
    (0xaa, 0xaa, 0xaa),
    (0x55, 0x55, 0x55),
    (0x55, 0x55, 0xff),
    (0x55, 0xff, 0x55),
    (0x55, 0xff, 0xff),
    (0xff, 0x55, 0x55),
    (0xff, 0x55, 0xff),
    (0xff, 0xff, 0x55),
    (0xff, 0xff, 0xff),
];

pub type Rgb = (u8, u8, u8);

/// An RGB picture (a screen dump).
#[derive(Clone, Debug)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    /// Row-major RGB triples.
    pub rgb: Vec<u8>,
}

impl Image {
    /// Parses a binary PPM (P6, maxval 255) as QEMU's `screendump` writes it.
    pub fn from_ppm(bytes: &[u8]) -> Result<Image, String> {
        // Header: "P6", width, height, maxval, each separated by whitespace, then one whitespace byte.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if bytes.get(at) == Some(&b'#') {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
                continue;
            }
            let start = at;
            while at < bytes.len() && !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if start == at {
                return Err("truncated PPM header".into());
            }
            fields.push(String::from_utf8_lossy(&bytes[start..at]).to_string());
        }
        if fields[0] != "P6" || fields[3] != "255" {
            return Err(format!("not an 8-bit P6 PPM: {fields:?}"));
        }
        let width: usize = fields[1].parse().map_err(|_| "bad width")?;
        let height: usize = fields[2].parse().map_err(|_| "bad height")?;
        let data = &bytes[at + 1..];
        if data.len() < width * height * 3 {
            return Err(format!(
                "PPM has {} bytes of pixels, {width}x{height} needs {}",
                data.len(),
                width * height * 3
            ));
        }
        Ok(Image { width, height, rgb: data[..width * height * 3].to_vec() })
    }

    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// How many pixels of the rectangle `(x, y, w, h)` (clipped) have colour `rgb`.
    pub fn count(&self, rgb: Rgb, (x, y, w, h): (usize, usize, usize, usize)) -> usize {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        (y..y1)
            .flat_map(|py| (x..x1).map(move |px| (px, py)))
            .filter(|&(px, py)| self.pixel(px, py) == rgb)
            .count()
    }

    /// How many pixels of the rectangle `(x, y, w, h)` (clipped) satisfy `test`.
    pub fn count_where(
        &self,
        test: impl Fn(Rgb) -> bool,
        (x, y, w, h): (usize, usize, usize, usize),
    ) -> usize {
        let (x1, y1) = ((x + w).min(self.width), (y + h).min(self.height));
        (y..y1)
            .flat_map(|py| (x..x1).map(move |px| (px, py)))
            .filter(|&(px, py)| test(self.pixel(px, py)))
            .count()
    }

    /// Whether `text`, drawn in colours `fg` on `bg`, appears with its first cell at text cell
    /// (`column`, `row`) — compared pixel for pixel with the kernel's rendering.
    pub fn text_at(&self, text: &str, fg: Rgb, bg: Rgb, column: usize, row: usize) -> bool {
        text.chars().enumerate().all(|(i, c)| {
            let (x0, y0) = ((column + i) * CELL_WIDTH, row * CELL_HEIGHT);
            if x0 + CELL_WIDTH > self.width || y0 + CELL_HEIGHT > self.height {
                return false;
            }
            (0..CELL_HEIGHT)
                .all(|y| (0..CELL_WIDTH).all(|x| self.pixel(x0 + x, y0 + y) == glyph_pixel(c, x, y, fg, bg)))
        })
    }

    /// Every text cell (column, row) where `text` appears in `fg` on `bg`, rows `rows` only.
    pub fn find_text(
        &self,
        text: &str,
        fg: Rgb,
        bg: Rgb,
        rows: std::ops::Range<usize>,
    ) -> Vec<(usize, usize)> {
        let columns = self.width / CELL_WIDTH;
        let rows = rows.start..rows.end.min(self.height / CELL_HEIGHT);
        rows.flat_map(|row| (0..columns).map(move |column| (column, row)))
            .filter(|&(column, row)| self.text_at(text, fg, bg, column, row))
            .collect()
    }

    /// Writes the picture as an 8-bit RGB PNG.
    pub fn save_png(&self, path: &Path) -> std::io::Result<()> {
        let file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut encoder = png::Encoder::new(file, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(&self.rgb).map_err(std::io::Error::other)
    }
}

/// The kernel's glyph pixel: the glyph's intensity blends `bg` into `fg` (drivers/fbcon/screen.rs).
fn glyph_pixel(c: char, x: usize, y: usize, fg: Rgb, bg: Rgb) -> Rgb {
    if c == ' ' {
        return bg;
    }
    let raster = get_raster(c, FontWeight::Regular, RasterHeight::Size16)
        .or_else(|| get_raster('?', FontWeight::Regular, RasterHeight::Size16))
        .expect("the font has '?'");
    let a = u32::from(raster.pixel(x, y).unwrap_or(0));
    let blend = |f: u8, b: u8| ((u32::from(f) * a + u32::from(b) * (255 - a)) / 255) as u8;
    (blend(fg.0, bg.0), blend(fg.1, bg.1), blend(fg.2, bg.2))
}

/// A running QEMU with a screen: serial lines collected as they come, a monitor to dump and type.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    monitor: UnixStream,
    lines: Arc<Mutex<Vec<(Duration, String)>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    start: Instant,
    scenario: Scenario,
    dir: PathBuf,
    dumps: usize,
    vars: Option<PathBuf>,
}

impl Session {
    /// Boots `scenario` with a standard VGA (BIOS) or the default q35 display (OVMF), no window, and a
    /// monitor on a Unix socket.
    pub fn start(scenario: &Scenario) -> Session {
        let iso = crate::iso_for(&scenario.args);
        let dir = crate::repo_root().join("build/screens").join(&scenario.name);
        std::fs::create_dir_all(&dir).expect("create build/screens");
        let socket =
            std::env::temp_dir().join(format!("pagoda-mon-{}-{}.sock", std::process::id(), scenario.name));
        let _ = std::fs::remove_file(&socket);
        let vars = (scenario.firmware == Firmware::Uefi).then(|| {
            let path =
                std::env::temp_dir().join(format!("pagoda-vars-{}-{}.fd", std::process::id(), scenario.name));
            std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &path)
                .expect("copy OVMF_VARS_4M.fd (make deps)");
            path
        });
        let mut scenario = scenario.clone();
        scenario
            .qemu_args
            .extend(["-monitor".to_string(), format!("unix:{},server,nowait", socket.display())]);
        let mut command = crate::qemu_command(&scenario, &iso, vars.as_deref());
        command.stdin(Stdio::piped()).stderr(Stdio::null());
        let start = Instant::now();
        let mut child = command.spawn().expect("start qemu-system-x86_64");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            while reader.read_until(b'\n', &mut buf).map(|n| n > 0).unwrap_or(false) {
                let line = String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string();
                sink.lock().unwrap_or_else(|p| p.into_inner()).push((start.elapsed(), line));
                buf.clear();
            }
        });
        let monitor = (0..200)
            .find_map(|_| {
                UnixStream::connect(&socket).ok().or_else(|| {
                    std::thread::sleep(Duration::from_millis(25));
                    None
                })
            })
            .expect("connect to the QEMU monitor");
        let _ = std::fs::remove_file(&socket);
        let mut session = Session {
            child,
            stdin,
            monitor,
            lines,
            reader: Some(reader),
            start,
            scenario,
            dir,
            dumps: 0,
            vars,
        };
        session.read_prompt();
        session
    }

    /// Reads the monitor's output up to its `(qemu) ` prompt.
    fn read_prompt(&mut self) -> String {
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        self.monitor.set_read_timeout(Some(Duration::from_secs(30))).expect("socket timeout");
        while !out.ends_with(b"(qemu) ") {
            match self.monitor.read(&mut byte) {
                Ok(1) => out.push(byte[0]),
                _ => break,
            }
        }
        String::from_utf8_lossy(&out).to_string()
    }

    /// Runs one monitor command and waits for it to finish.
    pub fn monitor(&mut self, command: &str) -> String {
        self.monitor.write_all(format!("{command}\n").as_bytes()).expect("write to the monitor");
        self.read_prompt()
    }

    /// The serial lines so far.
    pub fn serial(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(_, l)| l.clone()).collect()
    }

    /// Waits until `count` serial lines contain `needle`; returns the last such line.
    pub fn wait_for_nth(&self, needle: &str, count: usize, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let found: Vec<String> = self.serial().into_iter().filter(|l| l.contains(needle)).collect();
            if found.len() >= count {
                return found.last().cloned();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a serial line containing `needle`, panicking with the log after `timeout`.
    pub fn expect_line(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_nth(needle, 1, timeout).unwrap_or_else(|| {
            panic!("no serial line with {needle:?}; serial log:\n{}", self.serial().join("\n"))
        })
    }

    /// Types `text` on the serial line, each line ended with a carriage return.
    pub fn type_serial(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(format!("{text}\r").as_bytes()).expect("type on the serial line");
        stdin.flush().expect("flush stdin");
    }

    /// Presses keys on the PS/2 keyboard through the monitor: each character of `text` (lower case,
    /// digits, space, `-./`, and `\n` for Enter), or named QEMU keys given as `<up>`, `<ret>`.
    pub fn send_keys(&mut self, text: &str) {
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let key = if c == '<' && rest.contains('>') {
                let end = rest.find('>').unwrap_or(0);
                let name = rest[1..end].to_string();
                rest = &rest[end + 1..];
                name
            } else {
                rest = &rest[c.len_utf8()..];
                match c {
                    'a'..='z' | '0'..='9' => c.to_string(),
                    'A'..='Z' => format!("shift-{}", c.to_ascii_lowercase()),
                    ' ' => "spc".into(),
                    '\n' => "ret".into(),
                    '-' => "minus".into(),
                    '.' => "dot".into(),
                    '/' => "slash".into(),
                    other => panic!("no key for {other:?}"),
                }
            };
            self.monitor(&format!("sendkey {key}"));
        }
    }

    /// Dumps the screen; the dump is kept as `build/screens/NAME/N-LABEL.ppm`.
    pub fn screendump(&mut self, label: &str) -> Image {
        let path = self.dir.join(format!("{}-{label}.ppm", self.dumps));
        self.dumps += 1;
        let _ = std::fs::remove_file(&path);
        let answer = self.monitor(&format!("screendump {}", path.display()));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("screendump failed ({e}): {answer}"));
        Image::from_ppm(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Dumps the screen until `check` holds (the console draws on timer ticks), at most `timeout`.
    pub fn screendump_until(
        &mut self,
        label: &str,
        timeout: Duration,
        check: impl Fn(&Image) -> bool,
    ) -> Image {
        let deadline = Instant::now() + timeout;
        loop {
            let image = self.screendump(label);
            if check(&image) || Instant::now() > deadline {
                return image;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for QEMU to end (or kills it at the scenario's timeout) and returns the outcome.
    pub fn finish(mut self) -> Outcome {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for qemu") {
                break status.code();
            }
            if self.start.elapsed() > self.scenario.timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.start.elapsed();
        drop(self.stdin.take());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        if let Some(vars) = self.vars.take() {
            let _ = std::fs::remove_file(vars);
        }
        let mut lines = std::mem::take(&mut *self.lines.lock().unwrap_or_else(|p| p.into_inner()));
        if status.is_none() {
            lines.push((elapsed, format!("<harness: killed after the {:?} timeout>", self.scenario.timeout)));
        }
        Outcome { status, log: SerialLog::new(lines), elapsed }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(vars) = self.vars.take() {
            let _ = std::fs::remove_file(vars);
        }
    }
}

/// Saves `image` as `NAME.png` in the directory named by `PAGODA_SCREENSHOTS` (README's pictures:
/// `make screenshots`), when that variable is set.
pub fn save_screenshot(image: &Image, name: &str) {
    if let Some(dir) = std::env::var_os("PAGODA_SCREENSHOTS") {
        let dir = crate::repo_root().join(dir);
        std::fs::create_dir_all(&dir).expect("create the screenshot directory");
        image.save_png(&dir.join(format!("{name}.png"))).expect("write the PNG");
    }
}

//! The screen console (issue 9): the kernel log in colour on GRUB's framebuffer, the PS/2 keyboard
//! driving the shell, and `memmap`'s picture of physical memory — checked on QEMU screen dumps under
//! SeaBIOS (VBE) and OVMF (GOP).
//!
//! What is asserted, and how:
//! - text: the harness renders the expected text with the kernel's font, palette and blend and compares
//!   every pixel of each glyph cell (`Image::text_at`), so "the banner is on screen in the notice colour"
//!   means exactly those pixels;
//! - keyboard: keys pressed through the monitor (`sendkey`) reach the shell (its output shows on the
//!   serial line and on screen, with the echoed command line), and the up arrow recalls the history;
//!   through the I/O APIC under SeaBIOS and through the 8259 PIC (`noapic`) under OVMF;
//! - memmap: the kernel prints, on serial only, the picture's geometry and each colour with its number of
//!   squares and its frame totals; the dump must hold exactly that many pixels of each colour in the
//!   picture, and each owner's share of squares must be within 2 points of its share of frames.

use std::collections::BTreeMap;
use std::time::Duration;

use qemu_tests::Scenario;
use qemu_tests::screen::{Image, PALETTE, Rgb, Session, save_screenshot};

const BLACK: Rgb = PALETTE[0];
const GREEN: Rgb = PALETTE[2];
const GREY: Rgb = PALETTE[7];
const YELLOW: Rgb = PALETTE[14];
const WHITE: Rgb = PALETTE[15];
const WAIT: Duration = Duration::from_secs(60);

fn scenario(name: &str, uefi: bool) -> Scenario {
    let mut s = Scenario::test("screen", "256M", "");
    s.name = name.to_string();
    // No test=: the shell runs. Log level 6 keeps the screen's first rows for the banner; the unknown
    // option makes a warning line. The OVMF boot takes the keyboard through the 8259 PIC (`noapic`), the
    // SeaBIOS one through the I/O APIC.
    s.args = if uefi { "loglevel=6 screentest=1 noapic" } else { "loglevel=6 screentest=1" }.to_string();
    s.timeout = Duration::from_secs(if uefi { 240 } else { 120 });
    if uefi { s.uefi() } else { s.qemu(&["-vga", "std"]) }
}

/// The memmap report line: `key=value` fields, colours as `name=#rrggbb:squares`, frames after `frames`.
struct MemmapReport {
    fields: BTreeMap<String, usize>,
    /// (name, colour, squares)
    colours: Vec<(String, Rgb, usize)>,
    /// frames per owner character
    frames: BTreeMap<String, u64>,
}

fn parse_report(line: &str) -> MemmapReport {
    let body = &line[line.find("memmap: view").expect("report") + "memmap: view".len()..];
    let (squares, frames) = body.split_once(" frames ").expect("frames part");
    let mut report = MemmapReport { fields: BTreeMap::new(), colours: Vec::new(), frames: BTreeMap::new() };
    for token in squares.split_whitespace() {
        let (key, value) = token.split_once('=').expect("key=value");
        if let Some(colour) = value.strip_prefix('#') {
            let (hex, n) = colour.split_once(':').expect("#rrggbb:n");
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex");
            report.colours.push((key.to_string(), (byte(0), byte(2), byte(4)), n.parse().expect("count")));
        } else {
            report.fields.insert(key.to_string(), value.parse().expect("number"));
        }
    }
    for token in frames.split_whitespace() {
        let (key, value) = token.split_once('=').expect("key=value");
        report.frames.insert(key.to_string(), value.parse().expect("number"));
    }
    report
}

fn console_and_memmap(name: &str, uefi: bool) {
    let mut s = Session::start(&scenario(name, uefi));
    let banner = s.expect_line("Pagoda version", WAIT);
    s.expect_line("Pagoda shell.", if uefi { Duration::from_secs(180) } else { WAIT });

    // 1. The log from the first line: the banner in the top row, timestamp green, message in the notice
    //    colour; the warning about the unknown option in yellow; the shell's banner in the default grey.
    let message = &banner[banner.find("] ").expect("timestamp") + 2..];
    let head: String = message.chars().take_while(|&c| c != '—').collect();
    let shell_banner = |image: &Image| image.find_text("Pagoda shell.", GREY, BLACK, 0..20).len() == 1;
    let first = s.screendump_until("boot", WAIT, shell_banner);
    assert!(first.text_at("[    0.000000] ", GREEN, BLACK, 0, 0), "timestamp of the banner in green");
    assert!(
        first.text_at(head.trim_end(), WHITE, BLACK, 15, 0),
        "the banner {head:?} in white in the top row"
    );
    let warning = first.find_text("Kernel command line: unknown parameter", YELLOW, BLACK, 0..10);
    assert_eq!(warning.len(), 1, "one warning line in yellow: {warning:?}");
    assert!(shell_banner(&first), "the shell's banner below the log, in grey");

    // 2. The keyboard: a command typed on it runs (serial shows its output) and its echo and output are
    //    on screen; the up arrow brings it back.
    s.send_keys("free\n");
    s.expect_line("Mem:", WAIT);
    let typed = s.screendump_until("free", WAIT, |image| {
        !image.find_text("pagoda$ free", GREY, BLACK, 0..60).is_empty()
    });
    assert!(!typed.find_text("pagoda$ free", GREY, BLACK, 0..60).is_empty(), "the typed command on screen");
    assert!(!typed.find_text("Mem:", GREY, BLACK, 0..60).is_empty(), "free's output on screen");
    s.send_keys("<up><ret>");
    assert!(
        s.wait_for_nth("Mem:", 2, WAIT).is_some(),
        "the up arrow recalled `free`:\n{}",
        s.serial().join("\n")
    );
    let again = s.screendump_until("history", WAIT, |image| {
        image.find_text("pagoda$ free", GREY, BLACK, 0..60).len() >= 2
    });
    assert_eq!(again.find_text("pagoda$ free", GREY, BLACK, 0..60).len(), 2, "two `free` command lines");
    if !uefi {
        save_screenshot(&again, "console");
    }

    // 3. memmap: the picture against the kernel's own counts.
    s.type_serial("memmap");
    let line = s.expect_line("memmap: view", WAIT);
    assert!(s.wait_for_nth("  #  reserved", 1, WAIT).is_some(), "the text form is still printed");
    let report = parse_report(&line);
    let field = |k: &str| report.fields[k];
    let (square, row) = (field("square"), field("row"));
    let rect = (field("x"), field("y"), field("per_row") * square, field("rows") * row);
    let image = s.screendump_until("memmap", WAIT, |image| {
        report.colours.iter().all(|&(_, colour, n)| image.count(colour, rect) == n * square * square)
    });
    check_picture(&image, &report, rect, square);
    if !uefi {
        save_screenshot(&image, "memmap");
    }

    // 4. --watch beside a hog: the pictures follow memory filling up with user pages, the OOM kill and
    //    the memory coming back (the kernel's figures on serial, one report per picture).
    let user_share = |r: &MemmapReport| r.frames["U"] as f64 / r.frames.values().sum::<u64>() as f64;
    let idle_share = user_share(&report);
    let reports_before = s.serial().iter().filter(|l| l.contains("memmap: view")).count();
    let legends_before = s.serial().iter().filter(|l| l.contains("Legend:")).count();
    // Paused 10 ms per MiB, the hog takes a few of the watch's half-second pictures to fill memory.
    s.type_serial("oom_hog 10 &");
    s.type_serial("memmap --watch 5");
    s.expect_line("redrawing every 500 ms for 5 s", WAIT);
    // Dump while it runs; keep the picture with the most user memory for the README.
    let user = report.colours.iter().find(|c| c.0 == "U").map(|c| c.1).expect("user colour");
    let mut fullest: Option<(usize, Image)> = None;
    let deadline = std::time::Instant::now() + WAIT;
    while s.wait_for_nth("Legend:", legends_before + 1, Duration::from_millis(10)).is_none() {
        assert!(std::time::Instant::now() < deadline, "--watch 5 did not end:\n{}", s.serial().join("\n"));
        let image = s.screendump("watch");
        let red = image.count(user, rect);
        if fullest.as_ref().is_none_or(|(best, _)| red > *best) {
            fullest = Some((red, image));
        }
    }
    let watched: Vec<MemmapReport> = s
        .serial()
        .iter()
        .filter(|l| l.contains("memmap: view"))
        .skip(reports_before)
        .map(|l| parse_report(l))
        .collect();
    assert!(watched.len() >= 5, "--watch redrew the picture {} times in 5 s", watched.len());
    let peak = watched.iter().map(user_share).fold(0.0, f64::max);
    let last = user_share(watched.last().expect("a report"));
    assert!(
        peak >= idle_share + 0.25,
        "the hog's pages show: user share {idle_share:.3} idle, {peak:.3} at the peak"
    );
    assert!(
        s.serial().iter().any(|l| l.contains("Out of memory: Killed process") && l.contains("(oom_hog)"))
    );
    assert!(
        last <= idle_share + 0.05,
        "after the kill the user share is back: {last:.3} vs {idle_share:.3} idle"
    );
    if let Some((_, image)) = fullest.filter(|_| !uefi) {
        save_screenshot(&image, "memmap-oom");
    }
    s.type_serial("memmap off");
    let cleared = s.screendump_until("off", WAIT, |image| {
        report.colours.iter().all(|&(_, colour, _)| image.count(colour, rect) == 0)
    });
    for (name, colour, _) in &report.colours {
        assert_eq!(cleared.count(*colour, rect), 0, "{name} still drawn after `memmap off`");
    }

    // The route the keys took, from the kernel log.
    s.type_serial("dmesg");
    let route = if uefi { "IRQ 1 through the 8259 PIC" } else { "IRQ 1 through the I/O APIC (GSI 1" };
    s.expect_line(&format!("keyboard: PS/2 (i8042), US layout, {route}"), WAIT);

    s.type_serial("poweroff");
    let out = s.finish();
    assert!(out.log.has("reboot: Power down"), "{}", out.log.text());
    assert!(out.status.is_some(), "QEMU powered off instead of timing out");
}

fn check_picture(image: &Image, report: &MemmapReport, rect: (usize, usize, usize, usize), square: usize) {
    let total_squares: usize = report.colours.iter().map(|c| c.2).sum();
    let per_row = report.fields["per_row"];
    let rows = report.fields["rows"];
    assert!(total_squares <= per_row * rows && total_squares > per_row * (rows - 1), "squares fill the rows");
    for (name, colour, squares) in &report.colours {
        assert_eq!(
            image.count(*colour, rect),
            squares * square * square,
            "{name} ({colour:02x?}): the kernel drew {squares} squares of {square}x{square}"
        );
        if *squares > 0 {
            assert!(
                image.count(*colour, (0, 0, image.width, image.height)) > image.count(*colour, rect)
                    || name.starts_with("free"),
                "{name}'s colour has a legend swatch"
            );
        }
    }
    // Each owner's share of squares against its share of frames (the kernel's own counts).
    let total_frames: u64 = report.frames.values().sum();
    let squares_of = |owner: &str| -> usize {
        report
            .colours
            .iter()
            .filter(|(n, _, _)| if owner == "." { n.starts_with("free") } else { n == owner })
            .map(|c| c.2)
            .sum()
    };
    for (owner, &frames) in &report.frames {
        let frame_share = frames as f64 / total_frames as f64;
        let square_share = squares_of(owner) as f64 / total_squares as f64;
        assert!(
            (frame_share - square_share).abs() <= 0.02,
            "owner {owner:?}: {frames} of {total_frames} frames ({frame_share:.3}) but {} of {total_squares} squares ({square_share:.3})",
            squares_of(owner)
        );
    }
}

#[test]
fn screen_console_keyboard_and_memmap_under_seabios_vbe() {
    console_and_memmap("bios", false);
}

#[test]
fn screen_console_keyboard_and_memmap_under_ovmf_gop() {
    console_and_memmap("uefi", true);
}

/// EGA text mode (`vga=normal`: grub/mkiso.sh keeps GRUB in text mode): QEMU renders the 80×25 cells
/// with its own VGA font, so the checks are on colours by rows: the banner's green timestamp and white
/// text in the top row, the warning's yellow near the top, the shell's grey output growing after `free`
/// is typed on the keyboard.
#[test]
fn ega_text_console_under_seabios() {
    let mut scenario = scenario("ega", false);
    scenario.args = "loglevel=6 screentest=1 vga=normal".to_string();
    let mut s = Session::start(&scenario);
    s.expect_line("Pagoda shell.", WAIT);
    // QEMU's text-mode colours are the 6-bit VGA DAC values scaled up: compare by closeness.
    let near = |a: u8, b: u8| a.abs_diff(b) <= 8;
    let green = move |(r, g, b): Rgb| r == 0 && near(g, 0xaa) && b == 0;
    let white = move |(r, g, b): Rgb| r >= 0xf8 && g >= 0xf8 && b >= 0xf8;
    let yellow = move |(r, g, b): Rgb| r >= 0xf8 && g >= 0xf8 && near(b, 0x55);
    let grey = move |(r, g, b): Rgb| r == g && g == b && near(r, 0xaa);
    let top_rows = |rows: usize| (0, 0, 720, rows * 16);
    let first = s.screendump_until("boot", WAIT, |image| image.count_where(yellow, top_rows(6)) > 0);
    assert_eq!((first.width, first.height), (720, 400), "QEMU shows 80x25 text (9x16 character cells)");
    assert!(first.count_where(green, top_rows(1)) > 0, "the banner's timestamp in green in the top row");
    assert!(first.count_where(white, top_rows(1)) > 0, "the banner in white in the top row");
    assert!(first.count_where(yellow, top_rows(6)) > 0, "the warning in yellow");
    let grey_before = first.count_where(grey, top_rows(25));
    s.send_keys("free\n");
    s.expect_line("Mem:", WAIT);
    let after =
        s.screendump_until("free", WAIT, |image| image.count_where(grey, top_rows(25)) > grey_before + 300);
    assert!(after.count_where(grey, top_rows(25)) > grey_before + 300, "free's output in grey on screen");
    s.type_serial("dmesg");
    s.expect_line("Console: colour EGA text 80x25 on the screen", WAIT);
    s.type_serial("poweroff");
    let out = s.finish();
    assert!(out.status.is_some(), "QEMU powered off instead of timing out");
}

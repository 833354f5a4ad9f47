//! The texts: maps, smaps and status as Linux prints them, and Window paging.

use alloc::format;
use alloc::string::String;

use abi::mman::{MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED};
use abi::{RangeInfo, range_kind, vm};

use super::{ANON, DATA, PAGE, RW, RX, STACK_START, TEXT, Task, range};
use crate::proc::{Window, maps, smaps, status};

fn maps_text(t: &Task, name: &str) -> String {
    let mut text = String::new();
    maps(&mut text, &t.mm, name).unwrap();
    text
}

#[test]
fn maps_lines_look_like_linux() {
    let mut t = Task::new();
    t.brk(DATA.1 + 2 * PAGE);
    t.mmap(0x4000_0000, PAGE, RW, ANON | MAP_FIXED).unwrap();
    t.mmap(0x4000_2000, PAGE, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED).unwrap();
    let text = maps_text(&t, "hello");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "00200000-00202000 r-xp 00000000 00:00 0                                  hello");
    assert_eq!(lines[1], format!("{:<73}hello", "00202000-00205000 rw-p 00000000 00:00 0"));
    assert_eq!(lines[2], format!("{:<73}[heap]", "00205000-00207000 rw-p 00000000 00:00 0"));
    assert_eq!(lines[3], "40000000-40001000 rw-p 00000000 00:00 0 ", "anonymous: no name, trailing space");
    assert_eq!(lines[4], "40002000-40003000 rw-s 00000000 00:00 0 ", "shared");
    assert_eq!(lines[5], format!("{:<73}[stack]", "7ffffffde000-7fffffffe000 rw-p 00000000 00:00 0"));
    assert_eq!(lines.len(), 6);
    assert!(text.ends_with('\n'));
    for line in lines.iter().filter(|l| l.contains(['h', '['])) {
        assert!(line.find(['h', '[']) == Some(73), "name at column 73: {line:?}");
    }
}

#[test]
fn maps_of_an_unnamed_program_has_no_image_name() {
    let text = maps_text(&Task::new(), "");
    assert!(text.starts_with("00200000-00202000 r-xp 00000000 00:00 0 \n"), "{text}");
}

/// The kernel's view of the test task with some resident pages.
fn resident_ranges() -> [RangeInfo; 4] {
    let with = |r: RangeInfo, private, shared, dirty| RangeInfo {
        resident_private: private,
        resident_shared: shared,
        dirty,
        ..r
    };
    [
        with(range(TEXT.0, TEXT.1, RX, range_kind::IMAGE), 0, 2, 0),
        with(range(DATA.0, DATA.1, RW, range_kind::IMAGE), 3, 0, 1),
        with(
            RangeInfo { flags: vm::HEAP, ..range(DATA.1, DATA.1 + 2 * PAGE, RW, range_kind::HEAP) },
            2,
            0,
            1,
        ),
        with(range(STACK_START, STACK_START + 0x20000, RW, range_kind::STACK), 3, 0, 3),
    ]
}

#[test]
fn smaps_entries_look_like_linux() {
    let mut t = Task::new();
    t.brk(DATA.1 + 2 * PAGE);
    let mut text = String::new();
    smaps(&mut text, &t.mm, "hello", &resident_ranges()).unwrap();
    let heap = format!(
        "{:<73}[heap]\n{}",
        "00205000-00207000 rw-p 00000000 00:00 0",
        "Size:                  8 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                   8 kB
Pss:                   8 kB
Pss_Dirty:             4 kB
Shared_Clean:          0 kB
Shared_Dirty:          0 kB
Private_Clean:         4 kB
Private_Dirty:         4 kB
Referenced:            8 kB
Anonymous:             8 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
THPeligible:    0
VmFlags: rd wr mr mw me ac 
"
    );
    assert!(text.contains(&heap), "{text}");
    assert!(text.contains("Shared_Clean:          8 kB\n"), "the module's pages of the text");
    assert!(text.contains("VmFlags: rd ex mr mw me \n"), "text flags");
    assert_eq!(text.matches("\nSize: ").count(), 4, "one entry per VMA");
}

#[test]
fn smaps_flags_of_shared_and_growsdown() {
    let mut t = Task::new();
    t.mmap(0x4000_0000, PAGE, RW, MAP_ANONYMOUS | MAP_SHARED | MAP_FIXED).unwrap();
    t.mmap(0x5000_0000, PAGE, RW, ANON | MAP_FIXED | abi::mman::MAP_GROWSDOWN).unwrap();
    let mut text = String::new();
    smaps(&mut text, &t.mm, "hello", &[]).unwrap();
    assert!(text.contains("VmFlags: rd wr sh mr mw me ms \n"), "{text}");
    assert!(text.contains("VmFlags: rd wr mr mw me gd ac \n"), "{text}");
}

#[test]
fn status_looks_like_linux() {
    let mut t = Task::new();
    t.brk(DATA.1 + 2 * PAGE);
    let mut text = String::new();
    status(&mut text, &t.mm, "hello", 42, 1, 10, 12, 5, &resident_ranges()).unwrap();
    let expected = "Name:\thello
State:\tR (running)
Tgid:\t42
Pid:\t42
PPid:\t1
VmPeak:\t     156 kB
VmSize:\t     156 kB
VmLck:\t       0 kB
VmPin:\t       0 kB
VmHWM:\t      48 kB
VmRSS:\t      40 kB
RssAnon:\t      32 kB
RssFile:\t       8 kB
RssShmem:\t       0 kB
VmData:\t      20 kB
VmStk:\t     128 kB
VmExe:\t       8 kB
VmLib:\t       0 kB
VmPTE:\t      20 kB
VmSwap:\t       0 kB
Threads:\t1
";
    assert_eq!(text, expected);
}

#[test]
fn status_counts_shared_memory_apart_and_keeps_the_peak() {
    let mut t = Task::new();
    let (addr, _) = t.mmap(0, 16 * PAGE, RW, MAP_ANONYMOUS | MAP_SHARED).unwrap();
    t.munmap(addr, 16 * PAGE).unwrap();
    let shared =
        RangeInfo { flags: vm::SHARED, resident_private: 2, ..range(0x4000_0000, 0x4000_2000, RW, 0) };
    let mut text = String::new();
    status(&mut text, &t.mm, "hello", 2, 1, 2, 0, 0, &[shared]).unwrap();
    assert!(text.contains("VmPeak:\t     212 kB\n"), "{text}");
    assert!(text.contains("VmSize:\t     148 kB\n"), "{text}");
    assert!(text.contains("RssShmem:\t       8 kB\nVmData"), "{text}");
    assert!(text.contains("VmHWM:\t       8 kB\n"), "the peak is at least the current RSS");
}

#[test]
fn a_window_cuts_the_text_in_pieces() {
    let mut t = Task::new();
    for i in 0..40 {
        t.mmap(0x4000_0000 + 2 * i * PAGE, PAGE, RW, ANON | MAP_FIXED).unwrap();
    }
    let full = maps_text(&t, "hello");
    for size in [1, 7, 100, 4096] {
        let mut pieces = Vec::new();
        loop {
            let mut buf = vec![0u8; size];
            let mut window = Window::new(&mut buf, pieces.len());
            maps(&mut window, &t.mm, "hello").unwrap();
            assert_eq!(window.total(), full.len());
            if window.filled() == 0 {
                break;
            }
            pieces.extend_from_slice(window.bytes());
        }
        assert_eq!(pieces, full.as_bytes(), "pieces of {size}");
    }
}

//! `mmap_maps` (seed 004 §4.4): print this process's memory map, mmap 100 MiB, print the map again — a new
//! 0x6400000-byte region appears — then munmap it and show it is gone. The map text comes from memd
//! (`/proc/self/maps`, Linux's format).
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{memd, prot};
use userland::sys;
use userland::{Args, fail, println};

userland::entry!(main);

const SIZE: u64 = 100 << 20;

fn print_maps() {
    if let Err(e) = sys::print_text(|buf, offset| sys::memd_text(memd::OP_MAPS, 0, buf, offset)) {
        fail!("mmap_maps: cannot read /proc/self/maps: {e}");
    }
}

/// Whether the maps text has a line for exactly `[start, start + len)`.
fn maps_has(start: u64, len: u64) -> bool {
    let mut page = [0u8; 4096];
    let mut offset = 0;
    let mut found = false;
    let wanted_start = start;
    let wanted_end = start + len;
    while let Ok(n) = sys::memd_text(memd::OP_MAPS, 0, &mut page, offset) {
        if n == 0 {
            break;
        }
        for line in core::str::from_utf8(&page[..n as usize]).unwrap_or("").lines() {
            let Some((range, _)) = line.split_once(' ') else { continue };
            let Some((a, b)) = range.split_once('-') else { continue };
            if u64::from_str_radix(a, 16) == Ok(wanted_start) && u64::from_str_radix(b, 16) == Ok(wanted_end)
            {
                found = true;
            }
        }
        offset += n;
    }
    found
}

fn main(_args: &Args) -> i32 {
    println!("mmap_maps: /proc/self/maps before:");
    print_maps();
    let addr = sys::mmap(0, SIZE, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap_or_else(|e| fail!("mmap_maps: mmap of 100 MiB failed: {e}"));
    println!("mmap_maps: mmap(NULL, 100 MiB) = {addr:#x}, a region of {SIZE:#x} bytes");
    println!("mmap_maps: /proc/self/maps after mmap:");
    print_maps();
    if !maps_has(addr, SIZE) {
        fail!("mmap_maps: the new {SIZE:#x}-byte region is not in the map");
    }
    // SAFETY: the region was just mapped here and holds nothing.
    if let Err(e) = unsafe { sys::munmap(addr, SIZE) } {
        fail!("mmap_maps: munmap: {e}");
    }
    if maps_has(addr, SIZE) {
        fail!("mmap_maps: the region is still in the map after munmap");
    }
    println!("mmap_maps: after munmap the region is gone from the map");
    0
}

//! Reading C variadic arguments from a `va_list` in Rust, as the x86-64 psABI lays it out (System V AMD64
//! psABI §3.5.7 "Variable Argument Lists"): stable Rust cannot define `...` functions, but the C shims in
//! `c/variadic.c` can hand their `va_list` to Rust, and on x86-64 a `va_list` parameter is a pointer to
//! one [`VaListTag`].
//!
//! ```text
//! va_list = struct { u32 gp_offset;          // next general-purpose register slot in reg_save_area (0..=48)
//!                    u32 fp_offset;          // next SSE slot (48..=176), unused here: no floating point
//!                    void *overflow_arg_area; // next argument passed on the stack
//!                    void *reg_save_area; }[1]
//! ```
//! Every INTEGER-class argument (`int`, `long`, pointers, `size_t`, …) takes one 8-byte slot: from the saved
//! registers while `gp_offset < 48`, then from the stack area. `va_arg(ap, int)` reads the slot and keeps the
//! low 32 bits; callers here narrow the `u64` the same way.

use crate::format::Arguments;
use core::ffi::{c_char, c_void};

/// Bytes of the six saved argument registers (RDI, RSI, RDX, RCX, R8, R9) in `reg_save_area`.
const GP_AREA_BYTES: u32 = 6 * 8;

/// One `va_list` (psABI figure 3.34).
#[repr(C)]
#[derive(Debug)]
pub struct VaListTag {
    pub gp_offset: u32,
    pub fp_offset: u32,
    pub overflow_arg_area: *mut c_void,
    pub reg_save_area: *mut c_void,
}

/// A cursor over the INTEGER-class arguments of a `va_list` (advancing it, as `va_arg` does).
#[derive(Debug)]
pub struct VaArgs {
    tag: *mut VaListTag,
}

impl VaArgs {
    /// # Safety
    /// `tag` points to a `va_list` initialized by `va_start` (or `va_copy`) that stays valid while this value
    /// is used; every argument read through it is of INTEGER class and was passed by the caller; an argument
    /// read as a string ([`Arguments::next_string`]) is null, a NUL-terminated string, or an array of at least
    /// the `max_len` bytes asked for, which stays valid and unchanged while this value is used.
    pub unsafe fn new(tag: *mut VaListTag) -> VaArgs {
        VaArgs { tag }
    }

    /// The next argument slot (`va_arg(ap, unsigned long)`).
    pub fn next_u64(&mut self) -> u64 {
        // SAFETY: `new`'s contract: the tag is live and the argument exists. Register slots lie in the save
        // area below `GP_AREA_BYTES`; stack arguments are 8-byte slots in the overflow area, which may not be
        // 16-byte aligned for our reads, so they are read unaligned.
        unsafe {
            let tag = &mut *self.tag;
            if tag.gp_offset < GP_AREA_BYTES {
                let slot = tag.reg_save_area.cast::<u8>().add(tag.gp_offset as usize).cast::<u64>();
                tag.gp_offset += 8;
                slot.read_unaligned()
            } else {
                let slot = tag.overflow_arg_area.cast::<u64>();
                tag.overflow_arg_area = slot.add(1).cast();
                slot.read_unaligned()
            }
        }
    }
}

impl Arguments for VaArgs {
    fn next_u64(&mut self) -> u64 {
        VaArgs::next_u64(self)
    }

    fn next_string(&mut self, max_len: Option<usize>) -> Option<&[u8]> {
        let pointer = VaArgs::next_u64(self) as usize as *const c_char;
        if pointer.is_null() {
            return None;
        }
        // SAFETY: `new`'s contract: a string argument is NUL-terminated or has `max_len` readable bytes, and
        // stays valid while `self` is borrowed.
        unsafe {
            let len = crate::string::c_string_len(pointer, max_len.unwrap_or(usize::MAX));
            Some(core::slice::from_raw_parts(pointer.cast(), len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A va_list as `va_start` leaves it after `named` named integer arguments, over the given register
    /// and stack areas.
    fn tag(named: u32, registers: &mut [u64; 6], stack: &mut [u64]) -> VaListTag {
        VaListTag {
            gp_offset: named * 8,
            fp_offset: 48,
            overflow_arg_area: stack.as_mut_ptr().cast(),
            reg_save_area: registers.as_mut_ptr().cast(),
        }
    }

    #[test]
    fn registers_then_stack() {
        // printf(fmt, 1, 2, 3, 4, 5, 6, 7): fmt in RDI, five in registers, two on the stack.
        let mut registers = [0xf0f0, 1, 2, 3, 4, 5];
        let mut stack = [6, 7];
        let mut tag = tag(1, &mut registers, &mut stack);
        // SAFETY: the tag describes the two live arrays.
        let mut args = unsafe { VaArgs::new(&mut tag) };
        let got: std::vec::Vec<u64> = (0..7).map(|_| args.next_u64()).collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(tag.gp_offset, 48);
        assert_eq!(tag.overflow_arg_area, stack.as_mut_ptr().wrapping_add(2).cast());
    }

    #[test]
    fn all_named_in_registers_goes_to_stack_at_once() {
        // snprintf(buf, size, fmt, …) with three named arguments and a full register area.
        let mut registers = [0; 6];
        let mut stack = [42];
        let mut tag = tag(6, &mut registers, &mut stack);
        // SAFETY: as above.
        let mut args = unsafe { VaArgs::new(&mut tag) };
        assert_eq!(args.next_u64(), 42);
    }

    #[test]
    fn strings_through_the_format_engine() {
        let text = c"pagoda";
        let mut registers = [0, 7, text.as_ptr() as u64, 0, 0, 0];
        let mut stack = [];
        let mut tag = tag(1, &mut registers, &mut stack);
        // SAFETY: the tag describes live arrays; the string argument is NUL-terminated and outlives `args`.
        let mut args = unsafe { VaArgs::new(&mut tag) };
        let mut out = [0u8; 32];
        let mut buffer = crate::format::BufferOutput::new(&mut out);
        let count = crate::format::format(b"%d:%.4s", &mut args, &mut buffer);
        assert_eq!(count, 6);
        assert_eq!(buffer.finish(), 6);
        assert_eq!(&out[..7], b"7:pago\0");
    }

    #[test]
    fn narrowing_like_va_arg_int() {
        let mut registers = [0, (-5i32) as u32 as u64 | 0xdead_0000_0000_0000, 0, 0, 0, 0];
        let mut stack = [];
        let mut tag = tag(1, &mut registers, &mut stack);
        // SAFETY: as above.
        let mut args = unsafe { VaArgs::new(&mut tag) };
        assert_eq!(args.next_u64() as i32, -5);
    }
}

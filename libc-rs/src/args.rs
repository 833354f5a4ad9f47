//! The program's arguments, environment and auxiliary vector as the kernel puts them on the initial stack
//! (System V x86-64 psABI §3.4.1 "Initial Stack and Register State"), and the packing of spawn arguments.
//!
//! ```text
//! rsp →  argc
//!        argv[0] … argv[argc-1]   pointers to NUL-terminated strings
//!        NULL
//!        envp[0] … envp[n-1]
//!        NULL
//!        auxv: (type, value) pairs … (AT_NULL = 0, _)
//! ```
//! The strings and vectors live as long as the program (nothing ever pops the initial stack).

use crate::errno::Errno;
use core::ffi::c_char;

/// `AT_PAGESZ`.
pub const AT_PAGESZ: u64 = 6;
/// `AT_RANDOM`: address of 16 random bytes.
pub const AT_RANDOM: u64 = 25;

/// argc, argv, envp and auxv of the program.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const c_char,
    envp: *const *const c_char,
    auxv: *const [u64; 2],
}

impl Args {
    /// Reads the initial stack.
    ///
    /// # Safety
    /// `stack` points to an initial stack laid out as the module documentation shows, which stays valid and
    /// unchanged for the rest of the program.
    pub unsafe fn from_initial_stack(stack: *const u64) -> Args {
        // SAFETY: argc is at stack[0] and argv follows it (contract).
        let (argc, argv) = unsafe { (*stack as usize, stack.add(1) as *const *const c_char) };
        // SAFETY: envp starts after argv's NULL (contract).
        unsafe { Args::from_main(argc, argv, argv.add(argc + 1)) }
    }

    /// Rebuilds the arguments from what C's `main` gets (the auxiliary vector follows envp's NULL).
    ///
    /// # Safety
    /// `argv` and `envp` are the vectors of the initial stack (as passed to `main` by crt0).
    pub unsafe fn from_main(argc: usize, argv: *const *const c_char, envp: *const *const c_char) -> Args {
        let mut end = envp;
        // SAFETY: envp is NULL-terminated (contract); the loop stops at the NULL.
        while unsafe { !(*end).is_null() } {
            // SAFETY: not past the NULL yet.
            end = unsafe { end.add(1) };
        }
        // SAFETY: the auxiliary vector follows envp's NULL (contract).
        Args { argc, argv, envp, auxv: unsafe { end.add(1) } as *const [u64; 2] }
    }

    /// argc.
    pub fn len(&self) -> usize {
        self.argc
    }

    /// Whether argc is 0 (the kernel always passes argv[0]).
    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// argv as C sees it.
    pub fn argv(&self) -> *const *const c_char {
        self.argv
    }

    /// envp as C sees it.
    pub fn envp(&self) -> *const *const c_char {
        self.envp
    }

    /// argv[index]'s bytes (without the NUL).
    pub fn get_bytes(&self, index: usize) -> Option<&'static [u8]> {
        if index >= self.argc {
            return None;
        }
        // SAFETY: index < argc: argv[index] is a valid NUL-terminated string for the program's life.
        Some(unsafe { c_string(*self.argv.add(index)) })
    }

    /// argv[index] as text (`"<non-UTF-8>"` if it is not valid UTF-8).
    pub fn get(&self, index: usize) -> Option<&'static str> {
        self.get_bytes(index).map(|bytes| core::str::from_utf8(bytes).unwrap_or("<non-UTF-8>"))
    }

    /// argv[index] parsed as a decimal or `0x` hexadecimal number.
    pub fn get_u64(&self, index: usize) -> Option<u64> {
        self.get(index).and_then(parse_u64)
    }

    /// argv[0], argv[1], ….
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        (0..self.argc).filter_map(|index| self.get(index))
    }

    /// The environment strings (`NAME=value`).
    pub fn env(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        (0..)
            // SAFETY: envp is NULL-terminated; `take_while` stops at the NULL, so nothing past it is read.
            .map(|index| unsafe { *self.envp.add(index) })
            .take_while(|pointer| !pointer.is_null())
            // SAFETY: non-NULL entries are NUL-terminated strings on the initial stack.
            .map(|pointer| unsafe { c_string(pointer) })
    }

    /// The value of `NAME` in the environment.
    pub fn getenv(&self, name: &str) -> Option<&'static [u8]> {
        self.env().find_map(|entry| entry.strip_prefix(name.as_bytes())?.strip_prefix(b"="))
    }

    /// The value of auxiliary vector entry `key` (`AT_PAGESZ`, `AT_RANDOM`, …).
    pub fn aux(&self, key: u64) -> Option<u64> {
        let mut index = 0;
        loop {
            // SAFETY: the vector ends with AT_NULL (0), where the loop stops.
            let [kind, value] = unsafe { *self.auxv.add(index) };
            match kind {
                0 => return None,
                _ if kind == key => return Some(value),
                _ => index += 1,
            }
        }
    }
}

/// Parses a decimal or `0x`-prefixed hexadecimal number.
pub fn parse_u64(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Packs spawn arguments as the kernel wants them (each NUL-terminated, back to back) into `packed`; returns
/// the bytes used. EINVAL for an argument containing a NUL, E2BIG when they do not fit.
pub fn pack_spawn_args(args: &[&str], packed: &mut [u8]) -> Result<usize, Errno> {
    let mut len = 0;
    for arg in args {
        let bytes = arg.as_bytes();
        if bytes.contains(&0) {
            return Err(Errno::EINVAL);
        }
        let end = len + bytes.len();
        if end + 1 > packed.len() {
            return Err(Errno::E2BIG);
        }
        packed[len..end].copy_from_slice(bytes);
        packed[end] = 0;
        len = end + 1;
    }
    Ok(len)
}

/// The bytes of a NUL-terminated string, without the NUL.
///
/// # Safety
/// `pointer` points to a NUL-terminated string that stays valid and unchanged for the program's life.
unsafe fn c_string(pointer: *const c_char) -> &'static [u8] {
    // SAFETY: the string is NUL-terminated (contract).
    let len = unsafe { crate::string::c_string_len(pointer, usize::MAX) };
    // SAFETY: the `len` bytes before the NUL are valid and never change.
    unsafe { core::slice::from_raw_parts(pointer.cast(), len) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    /// Builds an initial stack image with leaked strings (they must live "for the program").
    fn stack(argv: &[&str], envp: &[&str], auxv: &[(u64, u64)]) -> Vec<u64> {
        let leak =
            |text: &str| Box::leak(std::ffi::CString::new(text).unwrap().into_boxed_c_str()).as_ptr() as u64;
        let mut words = vec![argv.len() as u64];
        words.extend(argv.iter().map(|arg| leak(arg)));
        words.push(0);
        words.extend(envp.iter().map(|entry| leak(entry)));
        words.push(0);
        for &(kind, value) in auxv {
            words.extend([kind, value]);
        }
        words.extend([0, 0]);
        words
    }

    #[test]
    fn parses_the_initial_stack() {
        let words = stack(
            &["malloc_c", "--n", "0x10"],
            &["HOME=/", "TERM=dumb"],
            &[(AT_PAGESZ, 4096), (9, 0x20_1000)],
        );
        // SAFETY: `words` is a well-formed stack image that outlives `args` (leaked strings).
        let args = unsafe { Args::from_initial_stack(words.as_ptr()) };
        assert_eq!(args.len(), 3);
        assert_eq!(args.get(0), Some("malloc_c"));
        assert_eq!(args.get_u64(2), Some(16));
        assert_eq!(args.get(3), None);
        assert_eq!(args.iter().collect::<Vec<_>>(), ["malloc_c", "--n", "0x10"]);
        assert_eq!(args.env().collect::<Vec<_>>(), [b"HOME=/".as_slice(), b"TERM=dumb"]);
        assert_eq!(args.getenv("TERM"), Some(b"dumb".as_slice()));
        assert_eq!(args.getenv("TER"), None);
        assert_eq!(args.aux(AT_PAGESZ), Some(4096));
        assert_eq!(args.aux(9), Some(0x20_1000));
        assert_eq!(args.aux(AT_RANDOM), None);
    }

    #[test]
    fn from_main_finds_the_same_vectors() {
        let words = stack(&["a"], &[], &[(AT_PAGESZ, 4096)]);
        // SAFETY: as above.
        let from_stack = unsafe { Args::from_initial_stack(words.as_ptr()) };
        // SAFETY: the vectors of that same stack.
        let from_main = unsafe { Args::from_main(1, from_stack.argv(), from_stack.envp()) };
        assert_eq!(from_main.aux(AT_PAGESZ), Some(4096));
        assert_eq!(from_main.env().count(), 0);
    }

    #[test]
    fn parse_numbers() {
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64("0xff"), Some(255));
        assert_eq!(parse_u64("-1"), None);
        assert_eq!(parse_u64(""), None);
    }

    #[test]
    fn packs_spawn_arguments() {
        let mut packed = [0xffu8; 8];
        assert_eq!(pack_spawn_args(&["ab", "c"], &mut packed), Ok(5));
        assert_eq!(&packed[..5], b"ab\0c\0");
        assert_eq!(pack_spawn_args(&["a\0b"], &mut packed), Err(Errno::EINVAL));
        assert_eq!(pack_spawn_args(&["12345678"], &mut packed), Err(Errno::E2BIG));
        assert_eq!(pack_spawn_args(&[], &mut packed), Ok(0));
    }
}

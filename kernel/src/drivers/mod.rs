//! Device drivers above the hardware glue of `arch/`: the screen console and the PS/2 keyboard.

pub mod fbcon;
pub mod keyboard;

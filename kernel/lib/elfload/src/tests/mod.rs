//! Host tests: ELF images built in memory (no files on disk) are planned or refused with the right error,
//! damaged images never panic, and stacks decode back to what was put in.

mod builder;
mod plan;
mod plan_fuzz;
mod stack;

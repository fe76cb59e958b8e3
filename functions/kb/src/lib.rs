//! The `kb` program's commands, shared by the `kb` and `kb-bench` binaries.

pub mod alloc;
pub mod cli;
pub mod commands;

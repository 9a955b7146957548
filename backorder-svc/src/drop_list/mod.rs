//! Importing the pending-delete list: files (HEXONET zip, CSV) and the registry's feed,
//! through one validating, batching pipeline.

pub mod cli;
pub mod feed;
pub mod import;
pub mod source;

pub use import::{ImportError, ImportReport, LineError, Scope, import_file, import_lines};
pub use source::{FileFormat, LIMITS, check_file, read_file};

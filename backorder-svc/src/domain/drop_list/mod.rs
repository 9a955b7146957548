//! The pending-delete list ("drop list", spec/pending-delete.md): names, their derived
//! features and score, queries and keyword alerts. Pure rules: no I/O, no clock reads.

pub mod filter;
pub mod name;
pub mod query;
pub mod score;

pub use filter::{Catenation, FieldError, Filter, Keyword, KeywordMatch, LabelFacts, LabelFilter};
pub use name::{DropName, LabelFeatures};
pub use query::{DropQuery, FinalizationPoint, LabelRegex, OrderBy, Paging};

//! The gRPC services of `registry.v1`: parse the request, call the simulator, map the answer.
//! Protocol outcomes travel as EPP result codes with gRPC status OK; only malformed control
//! requests and misuse (e.g. moving a system clock) become gRPC errors.

mod control;
mod convert;
mod feed;
mod registrar;

pub use control::ControlService;
pub use feed::FeedService;
pub use registrar::RegistrarService;

//! The event store (work in progress).

//! Projections: checkpointed, rebuildable read models over the event log.
//!
//! Not built yet: the runtime and the read models are the subject of issue 4.
//! This crate exists so that the workspace has its final shape; it exports
//! nothing.

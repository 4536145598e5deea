//! The parts of the ecoute benchmarks, shared by the binaries: `ecoute-bench` (the
//! store's durable appends against the `fdatasync` floor, raw sled and PostgreSQL,
//! then reads), `bench-projections` (rebuilding the read models) and `bench-http`
//! (the server over HTTP, its ratio to the store, and its resident memory).

pub mod fsync;
pub mod http_load;
pub mod pg;
pub mod reads;
pub mod server;
pub mod stats;
pub mod writes;

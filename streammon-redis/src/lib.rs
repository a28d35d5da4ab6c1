#![doc = include_str!("../README.md")]

mod buffer;
pub mod cluster;
mod config;
mod error;
mod flusher;
mod keys;
mod store;

pub use config::{RedisConfig, Settings};
pub use error::RedisError;
pub use keys::Keys;
pub use store::RedisStore;

//! The binary's library half: glue and policy only. `main.rs` parses the
//! command line and calls into [`commands`]; integration tests drive
//! [`startup::Application`] and [`web::router`] directly.
#![warn(missing_docs)]

pub mod commands;
pub mod configuration;
pub mod startup;
pub mod web;

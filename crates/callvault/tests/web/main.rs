//! The web UI against a real server on loopback: one module per capability.

mod helpers;
// Only `skip` of it: the schema helpers here are the web's own.
#[allow(dead_code)]
#[path = "../support/common.rs"]
mod common;
#[path = "../support/listening.rs"]
mod listening;
#[path = "../support/login.rs"]
mod login_support;

// Login, sessions, CSRF and rate limits.
mod auth;
// Every POST route refuses a form without its CSRF token.
mod csrf;
// Who may see and hear what.
mod access;
// The deploy/ files, run by their real tools.
mod deploy;
// Audio delivery: Range, headers, downloads, the audit log.
mod audio;
// The sealed audit trail: logins, CLI seal, verify, export, tampering.
mod audit_trail;
// eDiscovery bundles from the CLI and the web; tampering caught.
mod ediscovery;
// The calls list's filters, the conversation page, the status page.
mod pages;
// Retention rules, legal holds, disposed recordings.
mod records;
// The same on PostgreSQL.
mod postgres;
// Handlers in-process through oneshot.
mod oneshot;
// Real headless Chromium (skips with a message when it is not installed).
mod browser;
// The login throttle under concurrency.
mod throttle;
// Real `serve` processes sharing a catalog; log injection.
mod processes;
// `next` after login stays on the site.
mod redirects;
// Security headers on every response.
mod headers;
// Header, idle and body timeouts, the connection cap, graceful shutdown.
mod timeouts;

//! Who is asking: passwords, session cookies, CSRF tokens and the extractors
//! handlers use to require a login.

pub mod cookies;
pub mod csrf;
pub mod extract;
pub mod password;
pub mod tokens;

pub use extract::{AdminUser, ClientAddr, CurrentUser};

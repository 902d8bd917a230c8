//! Who is asking: passwords, session cookies, CSRF tokens, the login
//! throttle and the extractors handlers use to require a login.

pub mod cookies;
pub mod csrf;
pub mod extract;
pub mod local_path;
pub mod login_csrf;
pub mod password;
pub mod throttle;
pub mod tokens;

pub use csrf::{CsrfForm, LoginCsrfForm, NoFields};
pub use extract::{AdminUser, ClientAddr, CurrentUser};
pub use local_path::LocalPath;

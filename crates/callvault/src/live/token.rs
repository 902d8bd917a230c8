//! The verification token: made and compared by [`crate::secret_token`],
//! under the names the receiver and the subscription use.

/// Compares the stored token with the one a delivery presents, in constant
/// time (see [`crate::secret_token::same_secret`]).
pub use crate::secret_token::same_secret as constant_time_eq;

/// A fresh random token (32 bytes, hex): what RingCentral will echo in
/// every delivery's `Verification-Token` header. Hex: letters and digits
/// only, safe in any header.
pub fn generate() -> String {
    crate::secret_token::hex_token()
}

//! Authentication and authorisation: JWT verification (fixed key or JWKS), the roles →
//! permissions table, sudo (step-up) tokens, token minting and guest-lookup tokens. No axum
//! types here; the extractors live in `api::auth`.

pub mod api_keys;
mod claims;
pub mod guest;
mod jwks;
pub mod mint;
pub mod roles;
pub mod sessions;
mod verify;

pub use claims::{Act, Claims, PrincipalKind};
pub use jwks::JWKS_MIN_REFRESH;
pub use mint::{MintRequest, can_mint, mint, parse_ttl};
pub use roles::{Permission, ROLE_PERMISSIONS, Role, permissions_markdown};
pub use verify::{SUDO_MAX_LIFETIME, Verifier};

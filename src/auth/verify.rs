//! The [`Verifier`]: checks a bearer or sudo token against the configured keys, issuer and
//! audience, and turns every failure into a stable problem code.

use std::time::Duration;

use http::StatusCode;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::api_keys;
use super::claims::{Claims, PrincipalKind};
use super::jwks::{JwksKeys, VerifyingKey};
use super::sessions::{self, Opened, Session, SessionSeal};
use crate::config::{Config, JwtKeys};
use crate::error::{Error, Result};

/// A sudo token whose `exp - iat` exceeds this is refused, whatever minted it.
pub const SUDO_MAX_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Verifies tokens. The algorithm comes from configuration, never from the token.
pub struct Verifier {
    keys: Keys,
    /// What a token must pass, by the algorithm of the key that checks it (HS256, RS256,
    /// ES256: all a key can have), built once rather than per request.
    validations: [Validation; 3],
    /// Where API keys and console sessions are looked up; without it a key is refused like
    /// any bad token, and so is a session cookie.
    store: Option<sqlx::PgPool>,
    sessions: SessionSeal,
}

enum Keys {
    /// One configured key (HS256 secret or RS256/ES256 PEM); a token's `kid` is ignored.
    Fixed(VerifyingKey),
    Jwks(JwksKeys),
}

impl Verifier {
    /// Loads the keys of `cfg.jwt`; with a JWKS URL this fetches the key set.
    pub async fn new(cfg: &Config) -> anyhow::Result<Verifier> {
        let keys = match &cfg.jwt {
            JwtKeys::Hs256 { secret } => Keys::Fixed(VerifyingKey {
                alg: Algorithm::HS256,
                key: DecodingKey::from_secret(secret),
            }),
            JwtKeys::PublicKeyPem { alg, pem } => {
                let key = match alg {
                    Algorithm::RS256 => DecodingKey::from_rsa_pem(pem),
                    Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
                    other => {
                        anyhow::bail!("unsupported JWT algorithm {other:?}: use RS256 or ES256")
                    }
                }
                .map_err(|e| {
                    anyhow::anyhow!("ORDERDESK_JWT_PUBLIC_KEY is not a {alg:?} key: {e}")
                })?;
                Keys::Fixed(VerifyingKey { alg: *alg, key })
            }
            JwtKeys::Jwks { url } => Keys::Jwks(JwksKeys::fetch(url).await?),
        };
        let validation = |alg| validation(alg, &cfg.jwt_issuer, &cfg.jwt_audience);
        Ok(Verifier {
            keys,
            validations: [
                validation(Algorithm::HS256),
                validation(Algorithm::RS256),
                validation(Algorithm::ES256),
            ],
            store: None,
            sessions: SessionSeal::new(&cfg.data_key),
        })
    }

    /// Also accepts the API keys stored in `pool` as bearer tokens, and the console's
    /// sessions stored there.
    pub fn with_credential_store(self, pool: sqlx::PgPool) -> Verifier {
        Verifier {
            store: Some(pool),
            ..self
        }
    }

    fn store(&self) -> Result<&sqlx::PgPool> {
        self.store.as_ref().ok_or_else(sessions::ended)
    }

    /// Signs an agent (or an API key) in to the console with `credential`: a session whose
    /// cookie then stands for it. A customer's token is refused.
    pub async fn sign_in(&self, credential: &str) -> Result<(Claims, Opened)> {
        let claims = self.verify(credential).await?;
        let principal = match claims.kind {
            PrincipalKind::Agent => format!("agent:{}", claims.sub),
            PrincipalKind::ApiKey => format!("key:{}", claims.sub),
            PrincipalKind::Customer => {
                return Err(Error::forbidden(
                    "auth.wrong_principal",
                    "the console is for agents; this is a customer's token",
                ));
            }
        };
        let opened = sessions::create(
            self.store()?,
            &self.sessions,
            credential,
            &claims,
            &principal,
        )
        .await?;
        Ok((claims, opened))
    }

    /// The claims of a console session's cookie secret: its credential verified again, so
    /// a revoked key or an expired token ends the session.
    pub async fn verify_session(&self, secret: &str) -> Result<(Claims, Session)> {
        let (credential, session) = sessions::open(self.store()?, &self.sessions, secret).await?;
        let claims = self.verify(&credential).await?;
        Ok((claims, session))
    }

    /// Keeps a step-up token in the session of `bearer`, once verified as [`Self::verify_sudo`]
    /// does, until the token expires.
    pub async fn keep_sudo(&self, session: &Session, bearer: &Claims, token: &str) -> Result<()> {
        let sudo = self.verify_sudo(token, bearer).await?;
        let expires_at =
            chrono::DateTime::<chrono::Utc>::from_timestamp(sudo.exp as i64, 0).unwrap_or_default();
        sessions::keep_sudo(self.store()?, &self.sessions, session, token, expires_at).await
    }

    pub async fn sign_out(&self, session: &Session) -> Result<()> {
        sessions::end(self.store()?, session).await
    }

    /// Verifies a bearer token: [`Verifier::decode`], and not a sudo token — a step-up token
    /// is accepted only in `X-Admin-Auth-Sudo`, next to the bearer it steps up. Any failure
    /// is 401 `auth.invalid_token`.
    pub async fn verify(&self, token: &str) -> Result<Claims> {
        if let (Some(pool), true) = (&self.store, token.starts_with(api_keys::PREFIX)) {
            return api_keys::verify(pool, token).await;
        }
        let claims = self.decode(token).await?;
        if claims.sudo {
            return Err(invalid_token_detail(
                "a sudo token is accepted only in the X-Admin-Auth-Sudo header, next to your own token",
            ));
        }
        Ok(claims)
    }

    /// Verifies signature, algorithm, `exp`, `nbf`, `iss`, `aud` and the presence of
    /// `exp`, `iss`, `aud` and `sub`. Any failure is 401 `auth.invalid_token`.
    async fn decode(&self, token: &str) -> Result<Claims> {
        let decoded = match &self.keys {
            // the key's algorithm is checked against the header's by `decode`
            Keys::Fixed(key) => {
                jsonwebtoken::decode::<Claims>(token, &key.key, self.validation(key.alg)?)
            }
            Keys::Jwks(jwks) => {
                let header =
                    jsonwebtoken::decode_header(token).map_err(|e| invalid_token(e.kind()))?;
                let kid = header.kid.as_deref().ok_or_else(|| {
                    invalid_token_detail("the token has no kid, so no configured key can verify it")
                })?;
                let key = jwks.find(kid).await.ok_or_else(|| {
                    invalid_token_detail("the token's kid names no key of the configured key set")
                })?;
                jsonwebtoken::decode::<Claims>(token, &key.key, self.validation(key.alg)?)
            }
        };
        Ok(decoded.map_err(|e| invalid_token(e.kind()))?.claims)
    }

    /// Verifies a step-up token for the agent of `bearer`: it must be a valid token with
    /// `sudo: true`, a lifetime of at most [`SUDO_MAX_LIFETIME`], and the same agent and
    /// tenant. Any failure is 403 `auth.sudo_required`.
    pub async fn verify_sudo(&self, token: &str, bearer: &Claims) -> Result<Claims> {
        let claims = self.decode(token).await.map_err(|e| {
            sudo_required(&format!("the sudo token is not valid ({})", detail_of(&e)))
        })?;
        if !claims.sudo {
            return Err(sudo_required(
                "the token in X-Admin-Auth-Sudo is not a sudo token",
            ));
        }
        if claims.kind != PrincipalKind::Agent
            || claims.sub != bearer.sub
            || claims.tenant != bearer.tenant
        {
            return Err(sudo_required(
                "the sudo token belongs to another agent or tenant than the bearer token",
            ));
        }
        let Some(iat) = claims.iat else {
            return Err(sudo_required("the sudo token has no iat"));
        };
        if claims.exp.saturating_sub(iat) > SUDO_MAX_LIFETIME.as_secs() {
            return Err(sudo_required(&format!(
                "the sudo token lives longer than {} minutes",
                SUDO_MAX_LIFETIME.as_secs() / 60
            )));
        }
        Ok(claims)
    }

    fn validation(&self, alg: Algorithm) -> Result<&Validation> {
        self.validations
            .iter()
            .find(|v| v.algorithms == [alg])
            .ok_or_else(|| invalid_token(&ErrorKind::InvalidAlgorithm))
    }
}

/// The checks of a token signed with `alg`: `exp`, `iss`, `aud` and `sub` required, the
/// issuer and audience configured, `nbf` honoured.
fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(alg);
    // jsonwebtoken checks aud/iss only when present unless they are required.
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.validate_nbf = true;
    v
}

fn invalid_token(kind: &ErrorKind) -> Error {
    let detail = match kind {
        ErrorKind::ExpiredSignature => "the token has expired".to_string(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_string(),
        ErrorKind::InvalidAudience => "the token's audience is not accepted".to_string(),
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted".to_string(),
        ErrorKind::MissingRequiredClaim(c) => format!("the token lacks the required claim `{c}`"),
        ErrorKind::InvalidClaimFormat(c) => format!("the token's `{c}` claim is malformed"),
        ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
            "the token's algorithm or signature is not accepted".to_string()
        }
        // Serde's message names the missing or mistyped claim and carries no secret.
        ErrorKind::Json(e) if e.is_data() => format!("the token's claims are invalid: {e}"),
        _ => "the token is malformed".to_string(),
    };
    invalid_token_detail(&detail)
}

fn invalid_token_detail(detail: &str) -> Error {
    Error::new(StatusCode::UNAUTHORIZED, "auth.invalid_token", detail)
        .with_next_step("obtain a new token and send it as `Authorization: Bearer <token>`")
}

fn sudo_required(detail: &str) -> Error {
    Error::forbidden("auth.sudo_required", detail).with_next_step(
        "re-authenticate to obtain a sudo token and send it in the X-Admin-Auth-Sudo header",
    )
}

fn detail_of(e: &Error) -> String {
    match e {
        Error::Problem(p) => p.detail.clone(),
        Error::Internal(_) => "internal error".to_string(),
    }
}

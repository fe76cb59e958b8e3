//! Authentication and per-user rate limits. Every route but `/health` needs
//! `Authorization: Bearer <JWT>`: HS256 signed with `KB_JWT_SECRET`, or RS256 verified with
//! the public key of `KB_JWT_PUBLIC_KEY`. Claims: `sub` (the user id), `workspaces` (the
//! workspaces the user may use), `exp`.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::ApiState;

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub workspaces: Vec<String>,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
}

/// How tokens are checked (and, with a shared secret, issued).
pub struct Auth {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    algorithm: Algorithm,
}

/// Why the authentication keys cannot be built.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct AuthConfigError {
    pub var: &'static str,
    pub message: String,
}

impl Auth {
    /// HS256 with a shared secret (can issue tokens).
    ///
    /// # Errors
    /// The secret is shorter than 32 bytes.
    pub fn hs256(secret: &str) -> Result<Self, AuthConfigError> {
        if secret.len() < 32 {
            return Err(AuthConfigError { var: "KB_JWT_SECRET", message: "use at least 32 characters".to_owned() });
        }
        Ok(Self {
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            encoding: Some(EncodingKey::from_secret(secret.as_bytes())),
            algorithm: Algorithm::HS256,
        })
    }

    /// RS256 with an RSA public key in PEM (verifies tokens issued elsewhere).
    ///
    /// # Errors
    /// The key does not parse.
    pub fn rs256(public_key_pem: &str) -> Result<Self, AuthConfigError> {
        let decoding = DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
            .map_err(|e| AuthConfigError { var: "KB_JWT_PUBLIC_KEY", message: e.to_string() })?;
        Ok(Self { decoding, encoding: None, algorithm: Algorithm::RS256 })
    }

    /// The keys the settings configure (`KB_JWT_SECRET`, else `KB_JWT_PUBLIC_KEY`), if any.
    ///
    /// # Errors
    /// A configured key is unusable.
    pub fn from_settings(settings: &crate::settings::Settings) -> Result<Option<Self>, AuthConfigError> {
        if let Some(secret) = &settings.jwt_secret {
            return Self::hs256(secret.expose()).map(Some);
        }
        if let Some(key) = &settings.jwt_public_key {
            let pem = if key.trim_start().starts_with("-----BEGIN") {
                key.clone()
            } else {
                std::fs::read_to_string(key)
                    .map_err(|e| AuthConfigError { var: "KB_JWT_PUBLIC_KEY", message: format!("reading {key}: {e}") })?
            };
            return Self::rs256(&pem).map(Some);
        }
        Ok(None)
    }

    /// A fresh random secret (for `kb serve` without one configured).
    #[must_use]
    pub fn random_secret() -> String {
        use rand::Rng as _;
        let bytes: [u8; 32] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Issues a token (HS256 only).
    ///
    /// # Errors
    /// This process only verifies tokens (RS256).
    pub fn issue(&self, user: &str, workspaces: &[String], ttl: Duration) -> Result<String, AuthConfigError> {
        let key = self.encoding.as_ref().ok_or_else(|| AuthConfigError {
            var: "KB_JWT_SECRET",
            message: "tokens can only be issued with a shared secret".to_owned(),
        })?;
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Claims { sub: user.to_owned(), workspaces: workspaces.to_vec(), iat: now, exp: now + ttl.as_secs() };
        encode(&Header::new(self.algorithm), &claims, key).map_err(|e| AuthConfigError { var: "KB_JWT_SECRET", message: e.to_string() })
    }

    /// Checks a token's signature and expiry.
    ///
    /// # Errors
    /// Why the token is refused.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            ApiError::unauthorized(match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                ErrorKind::InvalidSignature => "the token's signature is invalid".to_owned(),
                _ => format!("invalid token: {e}"),
            })
        })?;
        if data.claims.sub.trim().is_empty() {
            return Err(ApiError::unauthorized("the token has no subject"));
        }
        Ok(data.claims)
    }
}

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub workspaces: Vec<String>,
}

impl User {
    #[must_use]
    pub fn can_use(&self, workspace: &str) -> bool {
        self.workspaces.iter().any(|w| w == workspace)
    }
}

impl FromRequestParts<ApiState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let claims = state.auth.verify(token.trim())?;
        let user = User { id: claims.sub, workspaces: claims.workspaces };
        rate_limit(state, &user).await?;
        Ok(user)
    }
}

async fn rate_limit(state: &ApiState, user: &User) -> Result<(), ApiError> {
    let limit = state.limits.requests_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let minute = chrono::Utc::now().timestamp() / 60;
    let key = format!("rate:{}:{minute}", user.id);
    let count = state.ctx.kv.incr(&key, 1, Some(Duration::from_secs(61))).await?;
    if count > i64::from(limit) {
        let wait = 60 - (chrono::Utc::now().timestamp() % 60);
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("more than {limit} requests in a minute; retry in {wait} s"),
        );
        e.retry_after = Some(u64::try_from(wait).unwrap_or(60));
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_ones_are_refused() {
        let auth = Auth::hs256(&"s".repeat(40)).unwrap();
        let token = auth.issue("alice", &["ws1".into()], Duration::from_secs(60)).unwrap();
        let claims = auth.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.workspaces.as_slice()), ("alice", &["ws1".to_owned()][..]));
        let other = Auth::hs256(&"t".repeat(40)).unwrap();
        assert!(other.verify(&token).unwrap_err().message.contains("signature"));
        let now = chrono::Utc::now().timestamp() as u64;
        let expired = Claims { sub: "alice".into(), workspaces: vec![], iat: now - 7200, exp: now - 3600 };
        let token = encode(&Header::default(), &expired, &EncodingKey::from_secret("s".repeat(40).as_bytes())).unwrap();
        assert!(auth.verify(&token).unwrap_err().message.contains("expired"));
        assert!(auth.verify("not.a.token").is_err());
        assert!(Auth::hs256("short").is_err());
    }
}

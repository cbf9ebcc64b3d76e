//! The OAuth 2.0 client-credentials flow: `POST {instance_url}/services/oauth2/token` with the
//! connected app's key and secret. The access token lives in memory only; a 401
//! `INVALID_SESSION_ID` renews it, once for all requests that saw the same expired token.

use crate::error::ApiError;
use crate::wire::{OAuthError, TokenAnswer};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

/// The connected app's consumer key and secret.
pub(crate) struct Credentials {
    pub(crate) client_id: SecretString,
    pub(crate) client_secret: SecretString,
}

/// An access token and its generation (how many were fetched before it).
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) value: SecretString,
    pub(crate) generation: u64,
}

pub(crate) struct Auth {
    http: reqwest::Client,
    url: url::Url,
    credentials: Credentials,
    current: Mutex<Option<Token>>,
}

impl Auth {
    pub(crate) fn new(http: reqwest::Client, url: url::Url, credentials: Credentials) -> Auth {
        Auth {
            http,
            url,
            credentials,
            current: Mutex::new(None),
        }
    }

    /// The current token, fetching one first if there is none.
    pub(crate) async fn token(&self) -> Result<Token, ApiError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref() {
            return Ok(token.clone());
        }
        let token = self.fetch(0).await?;
        *current = Some(token.clone());
        Ok(token)
    }

    /// A new token in place of `expired`. Requests that saw the same expired token share one
    /// renewal: whoever comes second finds a newer generation and takes it.
    pub(crate) async fn renew(&self, expired: &Token) -> Result<Token, ApiError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref()
            && token.generation > expired.generation
        {
            return Ok(token.clone());
        }
        let token = self.fetch(expired.generation + 1).await?;
        tracing::info!("Salesforce access token renewed.");
        *current = Some(token.clone());
        Ok(token)
    }

    async fn fetch(&self, generation: u64) -> Result<Token, ApiError> {
        let what = "the OAuth token request";
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.credentials.client_id.expose_secret()),
            (
                "client_secret",
                self.credentials.client_secret.expose_secret(),
            ),
        ];
        let response = self
            .http
            .post(self.url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|source| ApiError::Transport {
                what: what.into(),
                source,
            })?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|source| ApiError::Transport {
                what: what.into(),
                source,
            })?;
        if !(200..300).contains(&status) {
            if status >= 500 {
                return Err(ApiError::Status {
                    what: what.into(),
                    status,
                    code: None,
                    message: String::from_utf8_lossy(&body).chars().take(200).collect(),
                });
            }
            let refused: Option<OAuthError> = serde_json::from_slice(&body).ok();
            return Err(ApiError::Credentials {
                status,
                error: refused
                    .as_ref()
                    .map_or_else(|| "refused".to_string(), |r| r.error.clone()),
                description: refused.and_then(|r| r.error_description),
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
            what: what.into(),
            message: e.to_string(),
        })?;
        Ok(Token {
            value: answer.access_token,
            generation,
        })
    }
}

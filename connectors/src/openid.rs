//! OpenID Connect (authorization code + PKCE) against a tenant's identity provider, with
//! the `openidconnect` crate: discovery, the authorization URL, the code exchange and the
//! ID token's verification (signature against the provider's key set, issuer, audience,
//! expiry, nonce).
//!
//! Every request goes through [`OidcHttpClient::send`]: time-limited, no redirects followed
//! (a provider's endpoint that redirects elsewhere is refused, not obeyed), and answers
//! larger than [`MAX_RESPONSE_BYTES`] refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use frontdesk_core::error::with_causes;
use frontdesk_core::port::{
    AttemptSecrets, OidcClient, OidcError, OpenIdProvider, VerifiedIdentity,
};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;

/// The largest answer read from an identity provider (discovery documents and key sets
/// are a few kilobytes; an ID token response rarely passes 10).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// How long one request to an identity provider may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Only asymmetric signatures: an HMAC-signed token (keyed with the client secret) would
/// let whoever holds the secret mint tokens, and `none` is never accepted.
const ALLOWED_ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why one request to an identity provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpFailure {
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("the answer could not be read: {0}")]
    Malformed(#[from] openidconnect::http::Error),
}

/// [`OpenIdProvider`] over HTTPS (rustls with the ring provider and the webpki roots).
#[derive(Debug, Clone)]
pub struct OidcHttpClient {
    http: reqwest::Client,
}

impl OidcHttpClient {
    /// A client with the bounds above.
    pub fn new() -> Result<OidcHttpClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(OidcHttpClient { http })
    }

    /// One request, with its answer read up to [`MAX_RESPONSE_BYTES`].
    async fn send(
        http: reqwest::Client,
        request: HttpRequest,
    ) -> Result<HttpResponse, HttpFailure> {
        let (parts, body) = request.into_parts();
        let mut response = http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        if response
            .content_length()
            .is_some_and(|length| length > MAX_RESPONSE_BYTES as u64)
        {
            return Err(HttpFailure::TooLarge);
        }
        let mut answer = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(HttpFailure::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(answer.body(body)?)
    }

    /// The provider's metadata and key set.
    async fn metadata(&self, issuer: &str) -> Result<CoreProviderMetadata, OidcError> {
        let issuer = IssuerUrl::new(issuer.to_owned())
            .map_err(|err| OidcError::Discovery(err.to_string()))?;
        let http = self.http.clone();
        let send = move |request| Self::send(http.clone(), request);
        CoreProviderMetadata::discover_async(issuer, &send)
            .await
            .map_err(|err| OidcError::Discovery(with_causes(&err)))
    }

    async fn client(
        &self,
        client: &OidcClient,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let metadata = self.metadata(&client.issuer).await?;
        let redirect = RedirectUrl::new(client.redirect_uri.clone())
            .map_err(|err| OidcError::Discovery(format!("redirect URI: {err}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.client_id.clone()),
            Some(ClientSecret::new(
                client.client_secret.expose_secret().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }
}

#[async_trait::async_trait]
impl OpenIdProvider for OidcHttpClient {
    async fn discover(&self, issuer: &str) -> Result<(), OidcError> {
        self.metadata(issuer).await.map(|_| ())
    }

    async fn authorization_url(
        &self,
        client: &OidcClient,
        attempt: &AttemptSecrets,
    ) -> Result<String, OidcError> {
        let client = self.client(client).await?;
        let verifier = PkceCodeVerifier::new(attempt.pkce_verifier.clone());
        let state = attempt.state.clone();
        let nonce = attempt.nonce.clone();
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            .url();
        Ok(url.to_string())
    }

    async fn verify_code(
        &self,
        client: &OidcClient,
        code: &str,
        attempt: &AttemptSecrets,
        now: DateTime<Utc>,
    ) -> Result<VerifiedIdentity, OidcError> {
        let client = self.client(client).await?;
        let http = self.http.clone();
        let send = move |request| Self::send(http.clone(), request);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|err| OidcError::TokenExchange(with_causes(&err)))?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
            .request_async(&send)
            .await
            .map_err(|err| OidcError::TokenExchange(with_causes(&err)))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::IdToken("the token response has no ID token".into()))?;
        // The engine's clock decides expiry, as it decides every other instant.
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGORITHMS)
            .set_time_fn(move || now);
        let claims = id_token
            .claims(&verifier, &Nonce::new(attempt.nonce.clone()))
            .map_err(|err| OidcError::IdToken(with_causes(&err)))?;
        Ok(VerifiedIdentity {
            subject: claims.subject().to_string(),
            email: claims.email().map(|email| email.to_string()),
            email_verified: claims.email_verified() == Some(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server on loopback that answers one request with `head` and `body`; its URL.
    async fn answer_once(head: String, body: Vec<u8>) -> (String, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 8192];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&body).await;
        });
        (url, server)
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_bound_is_refused_unread() {
        let body = vec![b' '; MAX_RESPONSE_BYTES + 1];
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let (issuer, server) = answer_once(head, body).await;
        let err = OidcHttpClient::new()
            .unwrap()
            .discover(&issuer)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        server.abort();
    }

    #[tokio::test]
    async fn an_answer_without_a_length_is_cut_at_the_bound() {
        // No Content-Length: the body is read until the connection closes.
        let body = vec![b' '; MAX_RESPONSE_BYTES + 1];
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
            .to_owned();
        let (issuer, server) = answer_once(head, body).await;
        let err = OidcHttpClient::new()
            .unwrap()
            .discover(&issuer)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        server.abort();
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let head = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n"
            .to_owned();
        let (issuer, server) = answer_once(head, Vec::new()).await;
        let err = OidcHttpClient::new()
            .unwrap()
            .discover(&issuer)
            .await
            .unwrap_err();
        // Followed, it would fail to connect to port 9 instead.
        assert!(
            !with_causes(&err).contains("connect"),
            "{}",
            with_causes(&err)
        );
        assert!(matches!(err, OidcError::Discovery(_)));
        server.abort();
    }
}

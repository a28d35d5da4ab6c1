//! A small HTTP/1.1 client for one destination: one kept-alive connection
//! (plain or TLS), re-opened after an error, every request bounded by a
//! timeout.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::endpoint::Endpoint;
use crate::error::NotifyError;

/// Most of an answer's body read (and thrown away).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What a destination answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// `Retry-After` in seconds, when given as a number.
    pub(crate) retry_after_s: Option<u64>,
}

/// The TLS settings of every https destination: the system's roots.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, NotifyError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, NotifyError>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(NotifyError::Tls(format!(
                    "no usable root certificate found in the system's store ({} errors)",
                    found.errors.len()
                )));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| NotifyError::Tls(e.to_string()))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// One destination's connection.
#[derive(Debug)]
pub(crate) struct Client {
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Client {
    /// A client of `endpoint`, not yet connected.
    ///
    /// # Errors
    /// [`NotifyError::Tls`] for an https endpoint when the system has no
    /// root certificates.
    pub(crate) fn new(endpoint: Endpoint) -> Result<Self, NotifyError> {
        let tls = if endpoint.tls { Some(tls_config()?) } else { None };
        Ok(Self { endpoint, tls, sender: None })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let host = self.endpoint.host.trim_start_matches('[').trim_end_matches(']');
        let tcp = TcpStream::connect((host, self.endpoint.port)).await.map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let (sender, done) = match &self.tls {
            None => {
                let (sender, conn) =
                    http1::handshake(TokioIo::new(tcp)).await.map_err(|e| format!("handshake: {e}"))?;
                (sender, tokio::spawn(async move { conn.await.map_err(|e| e.to_string()) }))
            }
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .map_err(|e| format!("TLS server name {host:?}: {e}"))?;
                let stream = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS: {e}"))?;
                let (sender, conn) =
                    http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
                (sender, tokio::spawn(async move { conn.await.map_err(|e| e.to_string()) }))
            }
        };
        drop(done);
        Ok(sender)
    }

    /// POSTs `body` with `headers`, within `timeout`. On any error the
    /// connection is dropped, to be opened again by the next request.
    pub(crate) async fn post(
        &mut self,
        headers: &[(&str, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let result = tokio::time::timeout(timeout, self.post_inner(headers, body)).await;
        let result = result.unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())));
        if result.is_err() {
            self.sender = None;
        }
        result
    }

    async fn post_inner(&mut self, headers: &[(&str, String)], body: Bytes) -> Result<Answer, String> {
        let reusable = self.sender.as_ref().is_some_and(|s| !s.is_closed());
        if !reusable {
            self.sender = Some(self.connect().await?);
        }
        let sender = self.sender.as_mut().ok_or("not connected")?;
        sender.ready().await.map_err(|e| format!("connection: {e}"))?;
        let mut request = hyper::Request::post(self.endpoint.target.as_str())
            .header(hyper::header::HOST, self.endpoint.authority())
            .header(hyper::header::CONTENT_LENGTH, body.len());
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request.body(Full::new(body)).map_err(|e| format!("request: {e}"))?;
        let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let retry_after_s = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        // Read the answer through, so the connection can carry the next
        // request; a body past the bound closes it instead.
        if Limited::new(response.into_body(), MAX_ANSWER_BYTES).collect().await.is_err() {
            self.sender = None;
        }
        Ok(Answer { status, retry_after_s })
    }
}

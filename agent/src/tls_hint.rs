//! Connection failures to the entitlement server in words, with what to do:
//! the TLS mistakes an administrator makes (a CA certificate used as the
//! server's certificate, an unknown CA, a name mismatch, an expired
//! certificate) and plain HTTP spoken to a TLS port or the reverse. The
//! rustls error is found in the chain by type; what is not recognised keeps
//! the chain's own words.

use std::error::Error as StdError;
use std::path::Path;

use rustls::{CertificateError, InvalidMessage};

/// What went wrong on the way to the server, by what the admin must fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mistake {
    /// The server presents a CA certificate as its own.
    CaAsServerCertificate,
    /// The certificate's issuer is not trusted here.
    UnknownCa,
    /// The certificate does not name the host in the URL.
    NameMismatch,
    /// The certificate's validity has ended.
    Expired,
    /// The certificate is not valid yet.
    NotValidYet,
    /// The URL says https but the server answered in plain HTTP.
    PlainHttpAnswer,
    /// The URL says http but the server speaks TLS.
    TlsAnswer,
}

/// The mistake behind `e`, if it is one of the known ones.
pub fn classify(e: &(dyn StdError + 'static)) -> Option<Mistake> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(m) = mistake_in(err) {
            return Some(m);
        }
        cur = err.source();
    }
    None
}

fn mistake_in(err: &(dyn StdError + 'static)) -> Option<Mistake> {
    if let Some(m) = rustls_mistake(err) {
        return Some(m);
    }
    // io::Error hides its payload from source() (and hyper-util wraps one
    // io::Error in another): look inside.
    if let Some(inner) = err
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return mistake_in(inner);
    }
    // hyper's parse error when TLS bytes come back to a plain request.
    let text = err.to_string();
    if text.contains("invalid HTTP version parsed")
        || text.contains("received HTTP/0.9")
        || text.contains("invalid HTTP status-code parsed")
    {
        return Some(Mistake::TlsAnswer);
    }
    None
}

fn rustls_mistake(err: &(dyn StdError + 'static)) -> Option<Mistake> {
    let r = err.downcast_ref::<rustls::Error>()?;
    Some(match r {
        rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType) => {
            Mistake::PlainHttpAnswer
        }
        rustls::Error::InvalidCertificate(c) => match c {
            // BadSignature: an issuer of that name is trusted, but it did
            // not sign this certificate (e.g. a CA made again): the same fix.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => Mistake::UnknownCa,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Mistake::NameMismatch
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => Mistake::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Mistake::NotValidYet
            }
            // webpki's CaUsedAsEndEntity has no variant of its own in rustls.
            CertificateError::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
                Mistake::CaAsServerCertificate
            }
            _ => return None,
        },
        _ => return None,
    })
}

/// The sentence for `m` when talking to `url`, trusting `ca_file` besides
/// the built-in roots.
pub fn explain(m: &Mistake, url: &reqwest::Url, ca_file: Option<&Path>) -> String {
    let host = url.host_str().unwrap_or("the server");
    let port = url.port_or_known_default().unwrap_or(443);
    match m {
        Mistake::CaAsServerCertificate => format!(
            "the server {host} presents a CA certificate as its own TLS certificate (e.g. one made by `openssl req -x509` without extensions); give the server a certificate signed by that CA, with {host} in its subjectAltName, and trust the CA here with --ca-file (docs/server.md, TLS)"
        ),
        Mistake::UnknownCa => match ca_file {
            Some(f) => format!(
                "the server {host}'s certificate is signed by a CA that is neither in {} nor among the built-in roots; give the file of the CA that signed it with --ca-file FILE (server.ca_file)",
                f.display()
            ),
            None => format!(
                "the server {host}'s certificate is signed by a CA this machine does not trust; give that CA's certificate (PEM) with --ca-file FILE (recorded as server.ca_file)"
            ),
        },
        Mistake::NameMismatch => format!(
            "the server's certificate is not valid for {host} (its subjectAltName does not name it); use the name the certificate was issued for in the URL, or issue the server a certificate that names {host}"
        ),
        Mistake::Expired => format!(
            "the server {host}'s certificate has expired; renew it on the server (and check that this machine's clock is right: `date`)"
        ),
        Mistake::NotValidYet => format!(
            "the server {host}'s certificate is not valid yet; check this machine's clock (`date`) or the certificate's start date"
        ),
        Mistake::PlainHttpAnswer => format!(
            "the server at {host}:{port} answered in plain HTTP, not TLS (https:// is assumed when the URL has no scheme); point the URL at the server's TLS port, or, for a plain-HTTP server on loopback, write http://{host}:{port}"
        ),
        Mistake::TlsAnswer => format!(
            "the server at {host}:{port} speaks TLS, but the URL says http://; write https://{host}:{port}"
        ),
    }
}

/// `e`'s chain, with the known mistakes put in words first.
pub fn describe(
    e: &(dyn StdError + 'static),
    chain: String,
    url: &reqwest::Url,
    ca_file: Option<&Path>,
) -> String {
    match classify(e) {
        Some(m) => format!("{} ({chain})", explain(&m, url, ca_file)),
        None => chain,
    }
}

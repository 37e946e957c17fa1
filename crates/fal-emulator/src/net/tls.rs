//! HTTPS for clients that insist on it (fal's Python client builds
//! `https://` URLs from `FAL_QUEUE_RUN_HOST`): a CA and a server certificate
//! generated at start with rcgen, served with rustls. The CA is what a client
//! trusts (`SSL_CERT_FILE`, `NODE_EXTRA_CA_CERTS`, …).

use std::io;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The names the server certificate is valid for: this machine, and fal's
/// public hosts, which the forward proxy (see `proxy.rs`) maps to the
/// emulator for clients whose hosts are fixed.
pub(crate) const SERVED_NAMES: [&str; 9] = [
    "127.0.0.1",
    "localhost",
    "queue.fal.run",
    "fal.run",
    "rest.fal.ai",
    "api.fal.ai",
    "fal.ai",
    "v3.fal.media",
    "fal.media",
];

pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) ca_pem: String,
}

fn to_io(error: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(error)
}

pub(crate) fn generate() -> io::Result<Tls> {
    let ca_key = KeyPair::generate().map_err(to_io)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(to_io)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fal-emulator local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(to_io)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().map_err(to_io)?;
    let names: Vec<String> = SERVED_NAMES.iter().map(|name| (*name).to_owned()).collect();
    let mut server_params = CertificateParams::new(names).map_err(to_io)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "fal-emulator");
    server_params.use_authority_key_identifier_extension = true;
    let server_cert = server_params
        .signed_by(&server_key, &issuer)
        .map_err(to_io)?;

    let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(to_io)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(to_io)?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_pem: ca_cert.pem(),
    })
}

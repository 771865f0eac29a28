//! ILS over TLS: the rustls configurations a cluster builds at start from its topology files
//! (`[ils] tls_ca`, the cluster's `tls_cert` and `tls_key`), and the check that a peer's
//! certificate names the cluster ID it claims. Mutual TLS 1.3, ring provider. Reads the PEM
//! files once, at start; no sockets here.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::verify_server_name;
use rustls::crypto::CryptoProvider;
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::error::IlsTlsError;
use crate::topology::{ClusterSpec, IlsRole, Topology};

/// A cluster's ILS TLS: the listener's acceptor and the dialers' connector.
#[derive(Clone)]
pub(crate) struct IlsTls {
    pub(super) acceptor: TlsAcceptor,
    pub(super) connector: TlsConnector,
}

impl std::fmt::Debug for IlsTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IlsTls").finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, IlsTlsError> {
    let file = |what: String| IlsTlsError::File {
        path: path.to_owned(),
        what,
    };
    let v = CertificateDer::pem_file_iter(path)
        .map_err(|e| file(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file(e.to_string()))?;
    if v.is_empty() {
        return Err(file("no CERTIFICATE in the file".into()));
    }
    Ok(v)
}

impl IlsTls {
    /// The cluster's ILS TLS, or `None` when the topology does not run ILS over TLS or the
    /// cluster is standalone.
    ///
    /// # Errors
    /// A file cannot be read, a key does not fit its certificate, the CA gives no trust
    /// anchor, or the certificate does not name the cluster.
    pub(crate) fn load(topo: &Topology, spec: &ClusterSpec) -> Result<Option<IlsTls>, IlsTlsError> {
        let (Some(ca), Some(files)) = (&topo.ils.tls_ca, &spec.ils_tls) else {
            return Ok(None);
        };
        if spec.ils == IlsRole::Standalone {
            return Ok(None);
        }
        let mut roots = RootCertStore::empty();
        for c in certs(ca)? {
            roots.add(c)?;
        }
        let roots = Arc::new(roots);
        let chain = certs(&files.cert)?;
        let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| IlsTlsError::File {
            path: files.key.clone(),
            // The error names the problem (no key, bad PEM), never the key's bytes.
            what: e.to_string(),
        })?;
        let me = dns_name(&spec.id)?;
        if !names(&chain[0], &me) {
            return Err(IlsTlsError::NotNamed {
                path: files.cert.clone(),
                cluster: spec.id.clone(),
            });
        }
        let p = provider();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), p.clone()).build()?;
        let server = rustls::ServerConfig::builder_with_provider(p.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())?;
        let client = rustls::ClientConfig::builder_with_provider(p)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        Ok(Some(IlsTls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        }))
    }
}

/// `id` as the name a certificate must carry.
pub(super) fn dns_name(id: &str) -> Result<ServerName<'static>, IlsTlsError> {
    DnsName::try_from(id.to_owned())
        .map(ServerName::DnsName)
        .map_err(|_| IlsTlsError::BadId(id.to_owned()))
}

/// Whether the certificate `cert` (already verified against the CA) names `who`.
pub(super) fn names(cert: &CertificateDer<'_>, who: &ServerName<'_>) -> bool {
    ParsedCertificate::try_from(cert).is_ok_and(|p| verify_server_name(&p, who).is_ok())
}

/// Whether the certificate `cert` names the cluster `id`.
pub(super) fn names_id(cert: &CertificateDer<'_>, id: &str) -> bool {
    dns_name(id).is_ok_and(|n| names(cert, &n))
}

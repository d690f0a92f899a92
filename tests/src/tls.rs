//! HTTPS with a self-signed certificate (`tests/fixtures/tls_server.py`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::paths::fixtures_dir;
use crate::process::ServerProcess;

/// What it answers every request with (200, `text/plain; charset=utf-8`), to a
/// client that trusts the certificate.
pub const TLS_BODY: &str = "self-signed TLS fixture";

/// An HTTPS server on `127.0.0.1` whose certificate nobody signed: a client
/// with the usual trust roots must refuse it; one given [`SelfSignedTls::cert_pem`]
/// as a root reaches it and gets [`TLS_BODY`]. Killed on drop, and its
/// certificate folder deleted.
///
/// The certificate is made fresh with `openssl req -x509` (P-256, valid two
/// days, subject `CN=127.0.0.1`, subjectAltName `IP:127.0.0.1, DNS:localhost`).
/// It says `CA:FALSE` with `extendedKeyUsage=serverAuth`, so that rustls/webpki
/// accepts it as an end-entity certificate when it is added as a trusted root
/// (webpki rejects a `CA:TRUE` certificate used as the server's own, which is
/// what a bare `openssl req -x509` makes). Served by `python3` (standard
/// library only) from `PATH`, or `$SWITCHBOARD_PYTHON3`.
pub struct SelfSignedTls {
    // Field order matters: the server stops before its certificate is deleted.
    process: ServerProcess,
    url: String,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

impl SelfSignedTls {
    /// Make a certificate and start the server.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("switchboard-tls-")
            .tempdir()
            .expect("create a temporary folder for the certificate");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        make_certificate(&cert, &key);

        let python = std::env::var_os("SWITCHBOARD_PYTHON3").unwrap_or_else(|| "python3".into());
        let mut command = Command::new(&python);
        command
            .arg(fixtures_dir().join("tls_server.py"))
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        let hint = format!(
            "It needs python3 (3.8 or newer) as `{}`; set SWITCHBOARD_PYTHON3 to use another.",
            python.to_string_lossy()
        );
        let process = ServerProcess::start("tls_server.py", command, &hint);
        let url = format!("https://{}/mcp", process.addr());
        Self {
            process,
            url,
            cert,
            _dir: dir,
        }
    }

    /// `https://127.0.0.1:<port>/mcp`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.process.addr()
    }

    /// The server's process id (the leader of its own process group), e.g. to
    /// check that it is gone after drop.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The certificate file (PEM), e.g. for `curl --cacert`.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// The certificate (PEM), to add as a trusted root to a client.
    pub fn cert_pem(&self) -> Vec<u8> {
        std::fs::read(&self.cert).expect("read the fixture's certificate")
    }

    /// The server's output so far (it logs requests and failed handshakes).
    pub fn output(&self) -> String {
        self.process.output()
    }
}

fn make_certificate(cert: &Path, key: &Path) {
    let output = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "keyUsage=critical,digitalSignature"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "openssl could not make the certificate ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(err) => panic!("could not run openssl: {err} (Debian: apt-get install -y openssl)"),
    }
}

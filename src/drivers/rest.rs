//! The blocking HTTPS client for REST requests (Binance depth snapshots): `ureq` over rustls,
//! certificates verified against the webpki roots; plain HTTP for a local `serve`.
//! The body is returned exactly as received: it is recorded raw.

use std::io::Read;
use std::time::Duration;

/// The largest body accepted (a 1000-level depth snapshot is about 60 KB).
pub const MAX_BODY_BYTES: u64 = 16 << 20;

/// `GET url`; the body on a 2xx answer, else an error that says what came back.
pub fn get(url: &str, timeout: Duration) -> Result<Vec<u8>, String> {
    let agent = ureq::AgentBuilder::new().timeout(timeout).build();
    let resp = match agent.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let mut text = String::new();
            let _ = r.into_reader().take(512).read_to_string(&mut text);
            return Err(format!("GET {url}: HTTP {code}: {}", text.trim()));
        }
        Err(e) => return Err(format!("GET {url}: {e}")),
    };
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_BODY_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    if body.len() as u64 > MAX_BODY_BYTES {
        return Err(format!("GET {url}: body larger than {MAX_BODY_BYTES} bytes"));
    }
    Ok(body)
}

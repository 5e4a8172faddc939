//! The client side of the daemon's protocol: one request, one (or a stream of) response(s).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use crate::exit::Failure;
use lunet_runtime::protocol::{ErrorBody, ErrorKind, Request, Response};

pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    pub fn connect(socket: &Path) -> Result<Client, Failure> {
        let stream = UnixStream::connect(socket).map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Failure::new(
                    crate::exit::Code::NotRoot,
                    format!(
                        "cannot reach the lunet daemon at {}: {e} (it serves root only: use sudo)",
                        socket.display()
                    ),
                );
            }
            Failure::daemon(format!(
                "cannot reach the lunet daemon at {}: {e} (start it with `sudo lunet daemon`, or use `lunet run --foreground`)",
                socket.display()
            ))
        })?;
        let writer = stream
            .try_clone()
            .map_err(|e| Failure::daemon(e.to_string()))?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
        })
    }

    pub fn send(&mut self, request: &Request) -> Result<(), Failure> {
        let mut line = serde_json::to_vec(request).map_err(|e| Failure::internal(e.to_string()))?;
        line.push(b'\n');
        match self.writer.write_all(&line) {
            Ok(()) => Ok(()),
            // A daemon that refuses a connection (busy, not root) says why in one line and
            // closes, possibly before the request is written: that line is the answer.
            Err(e) => {
                let mut told = String::new();
                let _ = self.reader.read_line(&mut told);
                match serde_json::from_str::<Response>(&told) {
                    Ok(Response {
                        ok: false,
                        error: Some(b),
                        ..
                    }) => Err(Failure::from_kind(b.kind, b.message)),
                    _ => Err(Failure::daemon(format!("the daemon went away: {e}"))),
                }
            }
        }
    }

    /// The next response; an `ok: false` one becomes a [`Failure`] with the matching exit code.
    pub fn next(&mut self) -> Result<Option<serde_json::Value>, Failure> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| Failure::daemon(format!("the daemon went away: {e}")))?;
        if n == 0 {
            return Err(Failure::daemon("the daemon closed the connection".into()));
        }
        let r: Response = serde_json::from_str(&line)
            .map_err(|e| Failure::internal(format!("bad response: {e}")))?;
        if r.ok {
            return Ok(r.result);
        }
        let e = r.error.unwrap_or(ErrorBody {
            kind: ErrorKind::Internal,
            message: "unknown error".into(),
        });
        Err(Failure::from_kind(e.kind, e.message))
    }

    /// Sends `request` and decodes its one answer.
    pub fn call<T: serde::de::DeserializeOwned>(
        socket: &Path,
        request: &Request,
    ) -> Result<T, Failure> {
        let mut c = Client::connect(socket)?;
        c.send(request)?;
        let v = c.next()?.unwrap_or(serde_json::Value::Null);
        serde_json::from_value(v).map_err(|e| Failure::internal(format!("bad response: {e}")))
    }
}

//! Waiting for packets inside the receive itself: one system call per batch fewer than
//! `poll(2)` and then `recvmmsg(2)` (in `lunet bench` a batch held two to three packets, and
//! the poll was 9% of the Lua tier's consumer time).

use std::time::Duration;

use super::{QueueSocket, QueuedPacket, MAX_DATAGRAMS};
use crate::error::{Error, Result};

impl QueueSocket {
    /// [`recv_batch`](Self::recv_batch) that waits up to `timeout` when no packet is
    /// waiting, inside the `recvmmsg(2)` itself: a consumer of one queue needs no `poll(2)`
    /// before each batch (one system call fewer per batch; at a few packets per batch that
    /// was 9% of the Lua tier's consumer time). Returns 0 when none came within `timeout`
    /// (or a signal came first). The first call makes the socket's receives blocking where
    /// they do not say otherwise; every other receive still never waits.
    pub fn recv_batch_wait(
        &mut self,
        out: &mut Vec<QueuedPacket>,
        max: usize,
        timeout: Duration,
    ) -> Result<usize> {
        if !self.ready.is_empty() || self.deferred.is_some() || max == 0 {
            return self.recv_batch(out, max);
        }
        if self.wait_timeout != Some(timeout) {
            self.sock.set_recv_timeout(timeout).map_err(|e| {
                Error::queue(format!("set the receive timeout of queue {}", self.num), e)
            })?;
            self.wait_timeout = Some(timeout);
        }
        let want = max.min(MAX_DATAGRAMS);
        let got = self
            .receive_or_wait(want, true)
            .map_err(|e| self.recv_error(e))?;
        if got == want {
            // Maybe more behind them: the rest as recv_batch takes them.
            return self.recv_batch(out, max);
        }
        // Fewer than asked for: the socket is empty, no other receive is needed.
        let start = out.len();
        out.extend(self.ready.drain(..self.ready.len().min(max)));
        let n = out.len() - start;
        if n == 0 {
            if let Some(e) = self.deferred.take() {
                return Err(e);
            }
        }
        Ok(n)
    }
}

//! Leases kept alive in the background, with an honest notion of "expired".
//!
//! A node holds its registration and a controller its leadership through a lease. The
//! keeper refreshes it every third of its TTL; when it has had no confirmation for a
//! whole TTL (etcd away, or etcd answered that the lease is gone) it reports the lease
//! expired, so the holder stops acting on it. etcd may still keep the lease a little
//! longer (it extends leases when it restarts); the holder's view errs on the safe side,
//! and fencing covers the rest.

use std::time::Duration;

use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

/// etcd's lease TTLs are whole seconds, and it raises any TTL under its minimum (about
/// 2 s with default timings) to that minimum.
pub(crate) fn ttl_seconds(ttl: Duration) -> i64 {
    ttl.as_secs().max(2) as i64
}

/// Grant a lease of `ttl`.
pub(crate) async fn grant(client: &mut Client, ttl: Duration) -> Result<i64, etcd_client::Error> {
    Ok(client.lease_grant(ttl_seconds(ttl), None).await?.id())
}

/// Keep lease `id` alive until it expires (as seen from here), then send `true` on
/// `expired` and return.
pub(crate) async fn keep_alive(
    mut client: Client,
    id: i64,
    ttl: Duration,
    expired: watch::Sender<bool>,
) {
    let ttl = Duration::from_secs(ttl_seconds(ttl) as u64);
    let interval = ttl / 3;
    let mut last_confirmed = Instant::now();
    let mut stream: Option<(LeaseKeeper, LeaseKeepAliveStream)> = None;
    loop {
        if stream.is_none() {
            match tokio::time::timeout(interval, client.lease_keep_alive(id)).await {
                Ok(Ok(opened)) => stream = Some(opened),
                Ok(Err(error)) => debug!(lease = id, %error, "lease keep-alive stream failed"),
                Err(_) => debug!(lease = id, "lease keep-alive stream timed out"),
            }
        }
        if let Some((keeper, responses)) = &mut stream {
            let round = async {
                keeper.keep_alive().await?;
                responses.message().await
            };
            match tokio::time::timeout(interval, round).await {
                Ok(Ok(Some(response))) if response.ttl() > 0 => last_confirmed = Instant::now(),
                Ok(Ok(Some(_))) => {
                    warn!(lease = id, "etcd reports the lease expired");
                    let _ = expired.send(true);
                    return;
                }
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => stream = None,
            }
        }
        if last_confirmed.elapsed() >= ttl {
            warn!(
                lease = id,
                ?ttl,
                "no lease confirmation from etcd for a whole TTL"
            );
            let _ = expired.send(true);
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

/// Revoke lease `id`, ignoring failures (it expires on its own anyway).
pub(crate) async fn revoke_quietly(mut client: Client, id: i64, timeout: Duration) {
    let _ = tokio::time::timeout(timeout, client.lease_revoke(id)).await;
}

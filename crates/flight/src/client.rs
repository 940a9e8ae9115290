//! The broker side: a client of one server's Flight service.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_flight::Ticket;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use futures::{StreamExt, TryStreamExt};
use tessera_query::leaf::Partial;
use tessera_query::partial_ipc;
use tessera_query::plan::QueryPlan;
use tonic::transport::{Channel, Endpoint};

use crate::service::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, ReplyMetadata};
use crate::{LeafRequest, TransportError};
use tessera_status::Status;

/// The largest Flight message a broker accepts (servers send at most 2 MiB each).
const MAX_DECODING_BYTES: usize = 16 * 1024 * 1024;

/// One server's answer, decoded.
#[derive(Debug)]
pub struct LeafReply {
    pub partial: Partial,
    pub freshness_ms: Option<i64>,
    /// `EXPLAIN`: the server's operator lines (text, depth).
    pub explain: Option<Vec<(String, usize)>>,
    /// Bytes of Arrow data received (headers and bodies of the Flight messages).
    pub wire_bytes: u64,
}

/// A broker's connection to one server (HTTP/2, multiplexed: one per server is enough).
#[derive(Debug, Clone)]
pub struct FlightLeafClient {
    address: String,
    client: FlightServiceClient<Channel>,
}

impl FlightLeafClient {
    /// A client of the server at `host:port`. It connects on first use (and reconnects
    /// after failures); call it inside a tokio runtime.
    pub fn connect_lazy(address: &str) -> Result<FlightLeafClient, TransportError> {
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|error| TransportError {
                kind: Status::InvalidInput,
                server: address.to_string(),
                message: format!("not a server address: {error}"),
                query_error_code: None,
            })?
            .connect_timeout(Duration::from_secs(2))
            .tcp_nodelay(true)
            .tcp_keepalive(Some(Duration::from_secs(10)))
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        let client = FlightServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(MAX_DECODING_BYTES);
        Ok(FlightLeafClient {
            address: address.to_string(),
            client,
        })
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Ask the server for its partial of `request`, planned by the broker as `plan`;
    /// gives up after `timeout` (sent along as the call's gRPC deadline, so the server
    /// stops too).
    pub async fn execute(
        &self,
        request: &LeafRequest,
        plan: &QueryPlan,
        timeout: Duration,
    ) -> Result<LeafReply, TransportError> {
        let call = self.call(request, plan, timeout);
        match tokio::time::timeout(timeout, call).await {
            Ok(reply) => reply,
            Err(_) => Err(TransportError {
                kind: Status::Timeout,
                server: self.address.clone(),
                message: format!("no answer within timeoutMs={}", timeout.as_millis()),
                query_error_code: None,
            }),
        }
    }

    async fn call(
        &self,
        request: &LeafRequest,
        plan: &QueryPlan,
        timeout: Duration,
    ) -> Result<LeafReply, TransportError> {
        let status_error =
            |status: tonic::Status| TransportError::from_status(&self.address, &status);
        let mut grpc_request = tonic::Request::new(Ticket {
            ticket: request.to_ticket().into(),
        });
        // The server's deadline, a little after ours: our timer fires first (and its
        // dropped call resets the stream, which cancels the server's work at once); the
        // server's deadline stops the work even if the reset is lost.
        grpc_request.set_timeout(timeout + Duration::from_millis(100));
        let response = self
            .client
            .clone()
            .do_get(grpc_request)
            .await
            .map_err(status_error)?;
        let wire_bytes = Arc::new(AtomicU64::new(0));
        let metadata = Arc::new(Mutex::new(None));
        let (counted_bytes, first_metadata) = (wire_bytes.clone(), metadata.clone());
        let messages = response
            .into_inner()
            .inspect_ok(move |message| {
                counted_bytes.fetch_add(
                    (message.data_header.len() + message.data_body.len()) as u64,
                    Ordering::Relaxed,
                );
                let mut first = first_metadata.lock().unwrap_or_else(|e| e.into_inner());
                if first.is_none() && !message.app_metadata.is_empty() {
                    *first = Some(message.app_metadata.clone());
                }
            })
            .map_err(|status| FlightError::Tonic(Box::new(status)));
        let mut decoder = FlightRecordBatchStream::new_from_flight_data(messages);
        let mut batches: Vec<RecordBatch> = Vec::new();
        while let Some(batch) = decoder.next().await {
            batches.push(batch.map_err(|error| self.flight_error(error))?);
        }
        let schema = match (decoder.schema(), batches.first()) {
            (Some(schema), _) => schema.clone(),
            (None, Some(batch)) => batch.schema(),
            (None, None) => return Err(self.malformed("the answer has no schema")),
        };
        let batch = match batches.len() {
            0 => RecordBatch::new_empty(schema),
            1 => batches.swap_remove(0),
            _ => arrow_select::concat::concat_batches(&schema, &batches)
                .map_err(|error| self.malformed(&error.to_string()))?,
        };
        let partial = partial_ipc::from_record_batch(plan, &batch)
            .map_err(|error| self.malformed(&error.message))?;
        let reply_metadata: ReplyMetadata = metadata
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or_default();
        Ok(LeafReply {
            partial,
            freshness_ms: reply_metadata.freshness_ms,
            explain: reply_metadata.explain,
            wire_bytes: wire_bytes.load(Ordering::Relaxed),
        })
    }

    fn flight_error(&self, error: FlightError) -> TransportError {
        match error {
            FlightError::Tonic(status) => TransportError::from_status(&self.address, &status),
            other => self.malformed(&other.to_string()),
        }
    }

    fn malformed(&self, message: &str) -> TransportError {
        TransportError {
            kind: Status::Internal,
            server: self.address.clone(),
            message: format!("malformed answer: {message}"),
            query_error_code: None,
        }
    }
}

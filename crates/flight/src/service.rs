//! The server side: a Flight service that answers `DoGet` with a leaf ticket by running
//! the leaf half of the query on the server's segments and streaming the partial
//! result back as Arrow record batches (the partial IPC format of
//! `tessera_query::partial_ipc`, split into messages of at most
//! [`MAX_FLIGHT_DATA_BYTES`], so a partial of any size fits gRPC's message limits).
//!
//! Every other Flight method is refused as unimplemented. A malformed ticket, a table
//! the server does not hold or a bad query is an error status naming the problem; the
//! query runs on tokio's blocking pool (the leaf fans out to rayon), never on the async
//! workers, so a long query cannot stall the server's other calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tessera_query::leaf::Partial;
use tessera_query::plan::QueryPlan;
use tessera_query::{QueryError, partial_ipc};
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, warn};

use crate::error::status_of_query_error;
use crate::{LeafRequest, MAX_TICKET_BYTES};

/// The largest Flight message a server sends (arrow-flight splits bigger batches).
pub const MAX_FLIGHT_DATA_BYTES: usize = 2 * 1024 * 1024;
/// HTTP/2 pings on every connection, both ways: a half-open connection (a peer frozen
/// or cut off without a FIN) is found within interval + timeout.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(3);

/// What a leaf runs with besides its request.
#[derive(Debug, Clone, Default)]
pub struct LeafContext {
    /// Set when the broker goes away (it cancelled, its deadline passed, or the
    /// connection broke): the answer will not be read. [`plan_leaf`] puts it in the
    /// plan's options, so the scans stop at their next check.
    pub cancel: tessera_query::Cancel,
}

impl LeafContext {
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// A server's answer to one leaf request.
#[derive(Debug)]
pub struct LeafAnswer {
    /// The plan the server made of the request's SQL.
    pub plan: QueryPlan,
    pub partial: Partial,
    /// How fresh the consuming segments that took part are (`None` when none did).
    pub freshness_ms: Option<i64>,
    /// `EXPLAIN`: the operator lines (text, depth) as this server would run the query
    /// (the partial is then empty).
    pub explain: Option<Vec<(String, usize)>>,
}

/// What a server does with a leaf request: plan it against its schema and run it on the
/// segments it holds. Called on a blocking thread.
pub trait LeafExecutor: Send + Sync + 'static {
    fn execute(
        &self,
        request: &LeafRequest,
        context: &LeafContext,
    ) -> Result<LeafAnswer, QueryError>;
}

/// Plan a leaf request against the server's schema of its table (the options parsed
/// from the request and from `SET` statements before the query, as the broker did; the
/// table checked against the plan's).
pub fn plan_leaf(
    request: &LeafRequest,
    schema: &tessera_query::planner::TableSchema,
    context: &LeafContext,
) -> Result<QueryPlan, QueryError> {
    let mut options = tessera_query::QueryOptions {
        cancel: context.cancel.clone(),
        ..tessera_query::QueryOptions::default()
    };
    options.apply_pinot_string(&request.query_options)?;
    let table = tessera_query::Table {
        schema: schema.clone(),
        segments: Vec::new(),
    };
    let sql = tessera_query::options::split_set_statements(&request.sql, &mut options)?;
    let plan = tessera_query::engine::plan_for(&sql, options, std::slice::from_ref(&table))?;
    if !plan.table.eq_ignore_ascii_case(&request.table) {
        return Err(QueryError::invalid(format!(
            "the SQL queries table `{}` but the request names `{}`",
            plan.table, request.table
        )));
    }
    Ok(plan)
}

/// Sent as the `app_metadata` of the first message of every answer.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplyMetadata {
    #[serde(default)]
    pub freshness_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explain: Option<Vec<(String, usize)>>,
}

/// The Flight service of a server.
pub struct LeafFlightService<E> {
    executor: Arc<E>,
}

impl<E> LeafFlightService<E> {
    pub fn new(executor: Arc<E>) -> LeafFlightService<E> {
        LeafFlightService { executor }
    }
}

fn unimplemented<T>(method: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!(
        "a Tessera server answers DoGet with a leaf ticket only: method=`{method}`"
    )))
}

type Stream<T> = BoxStream<'static, Result<T, Status>>;

#[tonic::async_trait]
impl<E: LeafExecutor> FlightService for LeafFlightService<E> {
    type HandshakeStream = Stream<HandshakeResponse>;
    type ListFlightsStream = Stream<FlightInfo>;
    type DoGetStream = Stream<FlightData>;
    type DoPutStream = Stream<PutResult>;
    type DoExchangeStream = Stream<FlightData>;
    type DoActionStream = Stream<arrow_flight::Result>;
    type ListActionsStream = Stream<ActionType>;

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let leaf = LeafRequest::from_ticket(&request.get_ref().ticket)
            .map_err(|error| Status::invalid_argument(error.message))?;
        debug!(query_id = %leaf.query_id, table = %leaf.table, "leaf request");
        let context = LeafContext::default();
        // Dropped with this call's future when the broker goes away: stops the scans.
        let stop_if_dropped = context.cancel.on_drop();
        let executor = self.executor.clone();
        let task = tokio::task::spawn_blocking(move || executor.execute(&leaf, &context));
        let answer = match task.await {
            Ok(answer) => answer.map_err(|error| status_of_query_error(&error))?,
            Err(error) => {
                warn!(%error, "a leaf task failed");
                return Err(Status::internal(format!("the leaf task failed: {error}")));
            }
        };
        stop_if_dropped.disarm();
        let batch = partial_ipc::to_record_batch(&answer.plan, &answer.partial)
            .map_err(|error| status_of_query_error(&error))?;
        let metadata = serde_json::to_vec(&ReplyMetadata {
            freshness_ms: answer.freshness_ms,
            explain: answer.explain,
        })
        .unwrap_or_default();
        let stream = FlightDataEncoderBuilder::new()
            .with_max_flight_data_size(MAX_FLIGHT_DATA_BYTES)
            .with_metadata(metadata.into())
            .build(futures::stream::once(async move { Ok(batch) }))
            .map_err(|error| Status::internal(format!("encode the partial: {error}")));
        Ok(Response::new(stream.boxed()))
    }

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        unimplemented("Handshake")
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        unimplemented("ListFlights")
    }

    async fn get_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        unimplemented("GetFlightInfo")
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        unimplemented("PollFlightInfo")
    }

    async fn get_schema(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        unimplemented("GetSchema")
    }

    async fn do_put(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        unimplemented("DoPut")
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        unimplemented("DoExchange")
    }

    async fn do_action(
        &self,
        _request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        unimplemented("DoAction")
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        unimplemented("ListActions")
    }
}

/// Serve `executor` over Flight on `listener` until `shutdown` completes.
pub async fn serve<E: LeafExecutor>(
    listener: tokio::net::TcpListener,
    executor: Arc<E>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let service = FlightServiceServer::new(LeafFlightService::new(executor))
        .max_decoding_message_size(MAX_TICKET_BYTES + 64 * 1024)
        .max_encoding_message_size(MAX_FLIGHT_DATA_BYTES * 2);
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(10)));
    let shutdown: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(shutdown);
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

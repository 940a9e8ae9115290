//! Broker ↔ server transport over Arrow Flight (DESIGN §8).
//!
//! A broker sends each server a [`LeafRequest`] as the ticket of a Flight `DoGet`; the
//! server plans the SQL against its schema, runs the leaf half on the segments named
//! (all of the table's when none are), and streams the partial result back as Arrow
//! record batches in the versioned partial format of `tessera_query::partial_ipc`.
//!
//! - [`ticket`]: the request and its versioned wire form;
//! - [`service`]: the server's Flight service over a [`LeafExecutor`];
//! - [`client`]: the broker's [`FlightLeafClient`], with deadlines and HTTP/2 keepalives
//!   so a dead or frozen server is noticed in seconds;
//! - [`TransportError`]: failures with the kind a broker acts on (retry another replica,
//!   or report the query's own error).

pub mod client;
mod error;
pub mod service;
pub mod ticket;

pub use client::{FlightLeafClient, LeafReply};
pub use error::TransportError;
pub use service::{LeafAnswer, LeafContext, LeafExecutor, plan_leaf, serve};
pub use ticket::{LeafRequest, MAX_TICKET_BYTES, TICKET_VERSION};

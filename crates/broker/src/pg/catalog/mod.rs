//! PostgreSQL's system catalogs as Tessera shows them: virtual relations built from
//! the live tables ([`relations`]), the server functions clients call
//! ([`functions`]), and a small interpreter that runs catalog queries over them
//! ([`interpreter`]).

pub mod functions;
pub mod interpreter;
pub mod relations;

pub use interpreter::{Answer, CatalogError, run_query};
pub use relations::{CatalogContext, CatalogTable};

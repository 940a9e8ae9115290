//! The PostgreSQL wire protocol on the broker (`--pg`, default 127.0.0.1:5433), over the
//! `pgwire` crate: psql, psycopg, Grafana's PostgreSQL data source and BI tools query
//! Tessera without a plugin.
//!
//! Each statement is classified ([`statement`]): session commands (SET, SHOW, BEGIN...)
//! are answered here, catalog queries run on the virtual `pg_catalog` /
//! `information_schema` ([`catalog`]), and everything else goes to the broker's query
//! path like `POST /query/sql`. Extended-protocol parameters are inlined as typed
//! literals ([`params`]); results go out in text or binary per column ([`values`]).

pub mod catalog;
mod params;
mod sql_text;
mod statement;
pub mod values;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, stream};
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::mechanism::{AuthMechanism, AuthMechanismFactory, AuthState};
use pgwire::api::auth::{
    AuthDriver, AuthOutcome, AuthSource, LoginInfo, Password, ServerParameterProvider,
    StartupHandler,
};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tessera_query::{ErrorCode, QueryError, QueryOptions};
use tokio::net::TcpListener;
use tracing::{debug, warn};

use self::catalog::relations::{SERVER_VERSION, default_setting, table_oid};
use self::catalog::{Answer, CatalogContext, CatalogError, CatalogTable};
use self::statement::Command;
use self::values::{Cell, data_row, pg_type};
use crate::query_service::QueryService;
use tessera_api::auth::Authenticator;
use tessera_api::server_metrics::{Protocol, QueryStatus};
use tessera_api::tls::Tls;

/// Session settings live in the connection's metadata under this prefix.
const SETTING_PREFIX: &str = "set:";

/// Accept PostgreSQL connections until the runtime stops.
/// With `auth`, clients log in with a configured user's password (or a bearer token
/// as the password) over the cleartext password exchange. With `tls`, the acceptor
/// answers a client's SSLRequest; without `allow_plaintext`, a client that does not
/// ask for TLS is refused at startup.
pub async fn serve(
    listener: TcpListener,
    state: Arc<dyn QueryService>,
    auth: Option<Arc<Authenticator>>,
    tls: Option<Tls>,
) {
    let metrics = state.metrics().clone();
    let manager = Arc::new(ConnectionManager::new());
    let handlers = Arc::new(Handlers {
        backend: Arc::new(Backend {
            state,
            parser: Arc::new(Parser),
        }),
        startup: Arc::new(Startup {
            driver: AuthDriver::new(Parameters).with_connection_manager(manager.clone()),
            passwords: auth.map(|auth| CleartextPasswordAuth::new(Arc::new(Passwords { auth }))),
            require_tls: tls.as_ref().is_some_and(|tls| !tls.allow_plaintext),
        }),
        cancel: Arc::new(DefaultCancelHandler::new(manager)),
    });
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "PG accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        tessera_api::http_listener::no_delay(&socket);
        let handlers = handlers.clone();
        let connection = metrics.connection(Protocol::Pg);
        let acceptor = tls.as_ref().map(|tls| tls.acceptor.clone());
        tokio::spawn(async move {
            let _connection = connection;
            if let Err(error) = pgwire::tokio::process_socket(socket, acceptor, handlers).await {
                debug!(%error, %peer, "PG connection ended with an error");
            }
        });
    }
}

struct Handlers {
    backend: Arc<Backend>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.backend.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.backend.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }
}

/// The parameters every session starts with (psql and drivers read them).
struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let mut parameters = HashMap::new();
        for name in [
            "server_encoding",
            "client_encoding",
            "DateStyle",
            "TimeZone",
            "integer_datetimes",
            "standard_conforming_strings",
            "IntervalStyle",
            "is_superuser",
            "default_transaction_read_only",
        ] {
            if let Some(value) = default_setting(&name.to_ascii_lowercase()) {
                parameters.insert(name.to_string(), value);
            }
        }
        parameters.insert("server_version".into(), SERVER_VERSION.into());
        parameters.insert(
            "application_name".into(),
            client
                .metadata()
                .get("application_name")
                .cloned()
                .unwrap_or_default(),
        );
        Some(parameters)
    }
}

/// Startup: protocol negotiation, then trust (auth off) or a password check.
struct Startup {
    driver: AuthDriver<Parameters>,
    passwords: Option<CleartextPasswordAuth<Passwords>>,
    /// Refuse clients that did not negotiate TLS.
    require_tls: bool,
}

/// Checks PG passwords against the node config's users (and tokens).
#[derive(Debug)]
struct Passwords {
    auth: Arc<Authenticator>,
}

#[async_trait]
impl AuthSource for Passwords {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Secrets are stored hashed: there is no password to hand out.
        Err(PgWireError::InvalidPassword(
            login.user().unwrap_or_default().to_owned(),
        ))
    }

    async fn verify_password(
        &self,
        login: &LoginInfo,
        presented: &[u8],
    ) -> PgWireResult<Option<()>> {
        let user = login.user().unwrap_or_default().to_owned();
        let password = String::from_utf8_lossy(presented).into_owned();
        let auth = self.auth.clone();
        let checked = user.clone();
        let role = tokio::task::spawn_blocking(move || {
            auth.password(&checked, &password)
                .or_else(|| auth.token(&password))
        })
        .await
        .ok()
        .flatten();
        match role {
            Some(_) => Ok(None),
            None => Err(PgWireError::InvalidPassword(user)),
        }
    }
}

/// Accepts every login (auth off).
struct Trust;

#[async_trait]
impl AuthMechanism<()> for Trust {
    async fn begin(
        &mut self,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> PgWireResult<AuthState<()>> {
        Ok(AuthState::Ok {
            final_message: None,
            identity: None,
        })
    }

    async fn next(
        &mut self,
        _client: &(dyn ClientInfo + Send + Sync),
        _message: pgwire::messages::startup::PasswordMessageFamily,
    ) -> PgWireResult<AuthState<()>> {
        Ok(AuthState::Ok {
            final_message: None,
            identity: None,
        })
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let outcome = match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                if self.require_tls && !client.is_secure() {
                    return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                        "FATAL".to_owned(),
                        "28000".to_owned(),
                        "this server requires TLS: connect with sslmode=require or verify-full"
                            .to_owned(),
                    ))));
                }
                pgwire::api::auth::protocol_negotiation(client, startup).await?;
                pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
                let mechanism: Box<dyn AuthMechanism<()>> = match &self.passwords {
                    Some(passwords) => passwords.create(),
                    None => Box::new(Trust),
                };
                self.driver.begin_authentication(client, mechanism).await?
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                self.driver.advance_authentication(client, message).await?
            }
            _ => return Ok(()),
        };
        match outcome {
            AuthOutcome::InProgress => Ok(()),
            AuthOutcome::Authenticated { final_message, .. } => {
                self.driver
                    .complete_authentication(client, final_message)
                    .await
            }
        }
    }
}

/// Parse stores the SQL text; everything happens at Bind/Describe/Execute.
#[derive(Debug)]
struct Parser;

#[async_trait]
impl QueryParser for Parser {
    type Statement = String;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<String>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        Ok(Some(sql.to_string()))
    }

    fn get_parameter_types(&self, sql: &String) -> PgWireResult<Vec<Type>> {
        // Parameters travel as text and are inlined as literals.
        Ok(vec![Type::TEXT; sql_text::parameter_count(sql)])
    }

    fn get_result_schema(
        &self,
        _sql: &String,
        _format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(Vec::new())
    }
}

struct Backend {
    state: Arc<dyn QueryService>,
    parser: Arc<Parser>,
}

/// A statement's answer before it is put on the wire.
enum Outcome {
    Rows(Answer),
    Tag(Tag),
    Begin,
    Commit(&'static str),
    Empty,
}

/// Statements up to this long are parsed on the async worker (it takes microseconds);
/// longer ones on a blocking thread.
const INLINE_PARSE_BYTES: usize = 4096;

fn user_error(sqlstate: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        sqlstate.to_owned(),
        message.into(),
    )))
}

/// A Tessera query error as PostgreSQL reports it: its code's SQLSTATE, finer for the
/// validation errors whose message says which.
fn query_error(error: &QueryError) -> PgWireError {
    let message = &error.message;
    let sqlstate = match error.code {
        ErrorCode::QueryValidation if message.contains("unknown column") => "42703",
        ErrorCode::QueryValidation if message.contains("does not exist") => "42P01",
        ErrorCode::QueryValidation if message.contains("not supported") => "0A000",
        code => code.sqlstate(),
    };
    user_error(sqlstate, message.clone())
}

fn catalog_error(error: CatalogError) -> PgWireError {
    user_error(error.sqlstate, error.message)
}

fn fields(columns: &[(String, Type)], format: &Format) -> Vec<FieldInfo> {
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            FieldInfo::new(name.clone(), None, None, ty.clone(), format.format_for(i))
        })
        .collect()
}

fn rows_response(answer: Answer, format: &Format) -> Response {
    let fields = Arc::new(fields(&answer.columns, format));
    let types: Vec<_> = fields
        .iter()
        .map(|f| (f.datatype().clone(), f.format()))
        .collect();
    let rows = answer
        .rows
        .into_iter()
        .map(move |row| Ok(data_row(&row, &types)));
    Response::Query(QueryResponse::new(fields, stream::iter(rows)))
}

impl Backend {
    fn catalog_context(&self, metadata: &HashMap<String, String>) -> CatalogContext {
        let mut oids: Vec<i64> = Vec::new();
        let tables = self
            .state
            .tables()
            .into_iter()
            .map(|table| {
                let oid = table_oid(&table.schema.name, &oids);
                oids.push(oid);
                CatalogTable {
                    oid,
                    name: table.schema.name.clone(),
                    columns: table
                        .schema
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.ty))
                        .collect(),
                    rows: table.rows,
                    bytes: table.bytes,
                }
            })
            .collect();
        CatalogContext {
            tables,
            settings: session_settings(metadata),
            user: metadata
                .get(pgwire::api::METADATA_USER)
                .cloned()
                .unwrap_or_else(|| "tessera".into()),
            database: metadata
                .get(pgwire::api::METADATA_DATABASE)
                .cloned()
                .unwrap_or_else(|| "tessera".into()),
        }
    }

    fn is_tessera_table(&self, name: &str) -> bool {
        self.state.has_table(name)
    }

    /// What a statement is. Parsing a long text takes a while (a 60,000-term OR, ten
    /// milliseconds to a few hundred): that runs on a blocking thread, not on the async
    /// workers every other connection needs.
    async fn classify(&self, sql: &str) -> PgWireResult<Command> {
        if sql.len() <= INLINE_PARSE_BYTES {
            return Ok(statement::classify(sql, &|t| self.is_tessera_table(t)));
        }
        let state = self.state.clone();
        let sql = sql.to_string();
        tokio::task::spawn_blocking(move || statement::classify(&sql, &|t| state.has_table(t)))
            .await
            .map_err(|e| user_error("XX000", e.to_string()))
    }

    /// Answer one statement.
    async fn answer(
        &self,
        metadata: &mut HashMap<String, String>,
        command: Command,
    ) -> PgWireResult<Outcome> {
        match command {
            Command::Set { name, value } => {
                // A Tessera query option with a bad value fails at SET, not later.
                QueryOptions::default()
                    .set(&name, &value)
                    .map_err(|e| query_error(&e))?;
                metadata.insert(
                    format!("{SETTING_PREFIX}{}", name.to_ascii_lowercase()),
                    value,
                );
                Ok(Outcome::Tag(Tag::new("SET")))
            }
            Command::Reset(name) => {
                match name {
                    Some(name) => {
                        metadata.remove(&format!("{SETTING_PREFIX}{name}"));
                    }
                    None => metadata.retain(|k, _| !k.starts_with(SETTING_PREFIX)),
                }
                Ok(Outcome::Tag(Tag::new("RESET")))
            }
            Command::Show(name) => {
                let ctx = self.catalog_context(metadata);
                let answer = if name == "all" {
                    let rows: Vec<Vec<Cell>> = ctx
                        .all_settings()
                        .into_iter()
                        .map(|(k, v)| vec![Cell::Text(k), Cell::Text(v)])
                        .collect();
                    Answer {
                        columns: vec![("name".into(), Type::TEXT), ("setting".into(), Type::TEXT)],
                        rows,
                    }
                } else {
                    let value = ctx.setting(&name).ok_or_else(|| {
                        user_error(
                            "42704",
                            format!("unrecognized configuration parameter \"{name}\""),
                        )
                    })?;
                    Answer {
                        columns: vec![(name, Type::TEXT)],
                        rows: vec![vec![Cell::Text(value)]],
                    }
                };
                Ok(Outcome::Rows(answer))
            }
            Command::Begin => Ok(Outcome::Begin),
            Command::Commit => Ok(Outcome::Commit("COMMIT")),
            Command::Rollback => Ok(Outcome::Commit("ROLLBACK")),
            Command::Ignored(tag) => Ok(Outcome::Tag(Tag::new(&tag))),
            Command::Unsupported(message) => Err(user_error("0A000", message)),
            Command::Catalog(query) => {
                // Up to catalogMaxRows rows of work: off the async workers.
                let ctx = self.catalog_context(metadata);
                tokio::task::spawn_blocking(move || catalog::run_query(&query, &ctx))
                    .await
                    .map_err(|e| user_error("XX000", e.to_string()))?
                    .map(Outcome::Rows)
                    .map_err(catalog_error)
            }
            Command::Tessera(sql) => {
                let options = query_options(metadata)?;
                // pgwire drops this future on the client's cancel request (and when the
                // connection goes): the guard stops the scans.
                let stop_if_dropped = options.cancel.on_drop();
                let state = self.state.clone();
                let started = std::time::Instant::now();
                let outcome = tokio::task::spawn_blocking(move || state.execute_sql(&sql, options))
                    .await
                    .map_err(|e| user_error("XX000", e.to_string()))?;
                stop_if_dropped.disarm();
                let status = match &outcome {
                    Ok(_) => QueryStatus::Ok,
                    Err(error) => QueryStatus::of(error),
                };
                self.state
                    .metrics()
                    .query(Protocol::Pg, status, started.elapsed());
                match outcome {
                    Ok((outcome, _)) => Ok(Outcome::Rows(tessera_answer(&outcome.result))),
                    Err(error) => Err(query_error(&error)),
                }
            }
        }
    }

    /// The columns a statement would return, without running Tessera queries.
    async fn describe(
        &self,
        metadata: &mut HashMap<String, String>,
        sql: &str,
    ) -> PgWireResult<Vec<(String, Type)>> {
        match self.classify(sql).await? {
            Command::Tessera(sql) => {
                let options = query_options(metadata)?;
                // Planning parses the text again: a long one off the async workers.
                let plan = if sql.len() <= INLINE_PARSE_BYTES {
                    self.state.plan_sql(&sql, options)
                } else {
                    let (state, text) = (self.state.clone(), sql.clone());
                    tokio::task::spawn_blocking(move || state.plan_sql(&text, options))
                        .await
                        .map_err(|e| user_error("XX000", e.to_string()))?
                }
                .map_err(|e| query_error(&e))?;
                if plan.explain {
                    // EXPLAIN's shape comes from running it (cheap: no data is read).
                    let mut scratch = metadata.clone();
                    return match self.answer(&mut scratch, Command::Tessera(sql)).await? {
                        Outcome::Rows(answer) => Ok(answer.columns),
                        _ => Ok(Vec::new()),
                    };
                }
                Ok(plan
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), pg_type(c.ty)))
                    .collect())
            }
            command @ (Command::Catalog(_) | Command::Show(_)) => {
                let mut scratch = metadata.clone();
                match self.answer(&mut scratch, command).await? {
                    Outcome::Rows(answer) => Ok(answer.columns),
                    _ => Ok(Vec::new()),
                }
            }
            _ => Ok(Vec::new()),
        }
    }
}

/// Session settings (lower-case names) from the connection's metadata.
fn session_settings(metadata: &HashMap<String, String>) -> HashMap<String, String> {
    let mut settings: HashMap<String, String> = metadata
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(SETTING_PREFIX)
                .map(|k| (k.to_string(), v.clone()))
        })
        .collect();
    if let Some(name) = metadata.get("application_name") {
        settings
            .entry("application_name".into())
            .or_insert_with(|| name.clone());
    }
    settings
}

/// Tessera query options from the session's SETs (`SET timeoutMs = 500`).
fn query_options(metadata: &HashMap<String, String>) -> PgWireResult<QueryOptions> {
    let mut options = QueryOptions::default();
    for (name, value) in session_settings(metadata) {
        options.set(&name, &value).map_err(|e| query_error(&e))?;
    }
    // No implicit LIMIT over the PG wire: a client asked for every row.
    options.default_selection_limit = options.max_rows;
    Ok(options)
}

fn tessera_answer(result: &tessera_query::merge::ResultTable) -> Answer {
    Answer {
        columns: result
            .columns
            .iter()
            .map(|c| (c.name.clone(), pg_type(c.ty)))
            .collect(),
        rows: result
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&result.columns)
                    .map(|(v, c)| Cell::from_scalar(v, c.ty.element))
                    .collect()
            })
            .collect(),
    }
}

fn to_response(outcome: Outcome, format: &Format) -> Response {
    match outcome {
        Outcome::Rows(answer) => rows_response(answer, format),
        Outcome::Tag(tag) => Response::Execution(tag),
        Outcome::Begin => Response::TransactionStart(Tag::new("BEGIN")),
        Outcome::Commit(tag) => Response::TransactionEnd(Tag::new(tag)),
        Outcome::Empty => Response::EmptyQuery,
    }
}

#[async_trait]
impl SimpleQueryHandler for Backend {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut responses = Vec::new();
        for sql in sql_text::split_statements(query) {
            let command = self.classify(sql).await?;
            match self.answer(client.metadata_mut(), command).await {
                Ok(outcome) => responses.push(to_response(outcome, &Format::UnifiedText)),
                Err(PgWireError::UserError(info)) => {
                    // PostgreSQL stops a multi-statement string at the first error.
                    responses.push(Response::Error(info));
                    break;
                }
                Err(other) => return Err(other),
            }
        }
        if responses.is_empty() {
            responses.push(to_response(Outcome::Empty, &Format::UnifiedText));
        }
        Ok(responses)
    }
}

/// The portal's SQL with its parameters inlined.
fn bound_sql(portal: &Portal<String>) -> PgWireResult<String> {
    let literals = params::literals(
        &portal.parameters,
        &portal.parameter_format,
        &portal.statement.parameter_types,
    )
    .map_err(|e| user_error("22P02", e))?;
    sql_text::bind(&portal.statement.statement, &literals).map_err(|e| user_error("08P01", e))
}

/// One statement per Parse, as PostgreSQL requires of the extended protocol.
fn single_statement(sql: &str) -> PgWireResult<Option<&str>> {
    let statements = sql_text::split_statements(sql);
    match statements.len() {
        0 => Ok(None),
        1 => Ok(Some(statements[0])),
        _ => Err(user_error(
            "42601",
            "cannot insert multiple commands into a prepared statement",
        )),
    }
}

#[async_trait]
impl ExtendedQueryHandler for Backend {
    type Statement = String;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<String>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let sql = bound_sql(portal)?;
        let Some(sql) = single_statement(&sql)? else {
            return Ok(Response::EmptyQuery);
        };
        let command = self.classify(sql).await?;
        let outcome = self.answer(client.metadata_mut(), command).await?;
        Ok(to_response(outcome, &portal.result_column_format))
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        statement: &StoredStatement<String>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let count = sql_text::parameter_count(&statement.statement);
        let parameter_types: Vec<Type> = (0..count)
            .map(|i| {
                statement
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or(Type::TEXT)
            })
            .collect();
        // Unknown parameters read as NULL for the shape of the result.
        let sql = sql_text::bind(&statement.statement, &vec!["NULL".to_string(); count])
            .map_err(|e| user_error("08P01", e))?;
        let columns = match single_statement(&sql)? {
            Some(sql) => self.describe(client.metadata_mut(), sql).await?,
            None => Vec::new(),
        };
        Ok(DescribeStatementResponse::new(
            parameter_types,
            fields(&columns, &Format::UnifiedText),
        ))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<String>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = String>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let sql = bound_sql(portal)?;
        let columns = match single_statement(&sql)? {
            Some(sql) => self.describe(client.metadata_mut(), sql).await?,
            None => Vec::new(),
        };
        Ok(DescribePortalResponse::new(fields(
            &columns,
            &portal.result_column_format,
        )))
    }
}

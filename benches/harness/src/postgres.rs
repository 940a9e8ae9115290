//! A PostgreSQL-wire client for load: the simple query protocol over plain TCP, trust or
//! cleartext-password authentication (what Tessera's PG endpoint asks for), and a pool of
//! idle connections so each request in flight has its own.

use std::sync::Mutex;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::mix::Value;
use crate::target::Outcome;

#[derive(Debug)]
pub struct PgPool {
    address: String,
    user: String,
    password: Option<String>,
    database: String,
    idle: Mutex<Vec<Connection>>,
}

#[derive(Debug)]
struct Connection {
    stream: BufReader<TcpStream>,
}

/// A protocol failure: the connection is not reused after one.
#[derive(Debug)]
struct Broken(Outcome);

impl PgPool {
    /// `postgres://user[:password]@host:port[/database]`.
    pub fn new(dsn: &str) -> anyhow::Result<PgPool> {
        let rest = dsn
            .strip_prefix("postgres://")
            .or_else(|| dsn.strip_prefix("postgresql://"))
            .with_context(|| format!("postgres target `{dsn}` does not start with postgres://"))?;
        let (credentials, host_part) = rest
            .rsplit_once('@')
            .with_context(|| format!("postgres target `{dsn}` names no user (user@host:port)"))?;
        let (user, password) = match credentials.split_once(':') {
            Some((user, password)) => (user.to_string(), Some(password.to_string())),
            None => (credentials.to_string(), None),
        };
        let (address, database) = match host_part.split_once('/') {
            Some((address, database)) => (address.to_string(), database.to_string()),
            None => (host_part.to_string(), "default".to_string()),
        };
        if !address.contains(':') {
            bail!("postgres target `{dsn}` names no port");
        }
        Ok(PgPool {
            address,
            user,
            password,
            database,
            idle: Mutex::new(Vec::new()),
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "postgres://{}@{}/{}",
            self.user, self.address, self.database
        )
    }

    /// Runs `sql`; the outcome, and the first column's values of its rows.
    pub async fn query_values(&self, sql: &str) -> (Outcome, Vec<Value>) {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let mut connection = match idle {
            Some(connection) => connection,
            None => match self.connect().await {
                Ok(connection) => connection,
                Err(Broken(outcome)) => return (outcome, Vec::new()),
            },
        };
        match connection.query(sql).await {
            Ok((answer, idle_again)) => {
                // Only a connection back outside any transaction serves the next request.
                if idle_again && let Ok(mut idle) = self.idle.lock() {
                    idle.push(connection);
                }
                answer
            }
            Err(Broken(outcome)) => (outcome, Vec::new()),
        }
    }

    pub async fn query(&self, sql: &str) -> Outcome {
        self.query_values(sql).await.0
    }

    async fn connect(&self) -> Result<Connection, Broken> {
        let stream = TcpStream::connect(&self.address)
            .await
            .map_err(|e| Broken(Outcome::failed("connect", format!("{}: {e}", self.address))))?;
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            stream: BufReader::new(stream),
        };
        let mut startup = Vec::new();
        startup.extend_from_slice(&196_608u32.to_be_bytes());
        for (key, value) in [("user", &self.user), ("database", &self.database)] {
            startup.extend_from_slice(key.as_bytes());
            startup.push(0);
            startup.extend_from_slice(value.as_bytes());
            startup.push(0);
        }
        startup.push(0);
        let mut message = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
        message.extend_from_slice(&startup);
        connection.write(&message).await?;
        loop {
            let (tag, body) = connection.read_message().await?;
            match tag {
                b'R' => match body
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                {
                    Some(0) => {}
                    Some(3) => {
                        let Some(password) = &self.password else {
                            return Err(Broken(Outcome::failed(
                                "auth",
                                "the server asks for a password; put it in the DSN",
                            )));
                        };
                        let mut body = password.as_bytes().to_vec();
                        body.push(0);
                        connection.send(b'p', &body).await?;
                    }
                    Some(other) => {
                        return Err(Broken(Outcome::failed(
                            "auth",
                            format!(
                                "authentication method {other} is not supported (trust and cleartext are)"
                            ),
                        )));
                    }
                    None => return Err(protocol("short authentication message")),
                },
                b'E' => return Err(Broken(server_error(&body))),
                b'Z' => return Ok(connection),
                _ => {} // ParameterStatus, BackendKeyData, notices
            }
        }
    }
}

fn protocol(message: &str) -> Broken {
    Broken(Outcome::failed("protocol", message))
}

/// An ErrorResponse as an outcome: kind `sqlstate_CODE`, the message.
fn server_error(body: &[u8]) -> Outcome {
    let mut code = String::from("unknown");
    let mut message = String::new();
    for field in body.split(|&b| b == 0) {
        match field.split_first() {
            Some((b'C', value)) => code = String::from_utf8_lossy(value).into_owned(),
            Some((b'M', value)) => message = String::from_utf8_lossy(value).into_owned(),
            _ => {}
        }
    }
    Outcome::failed(format!("sqlstate_{code}"), message)
}

impl Connection {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), Broken> {
        self.stream
            .get_mut()
            .write_all(bytes)
            .await
            .map_err(|e| Broken(Outcome::failed("transport", e.to_string())))
    }

    async fn send(&mut self, tag: u8, body: &[u8]) -> Result<(), Broken> {
        let mut message = Vec::with_capacity(body.len() + 5);
        message.push(tag);
        message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        message.extend_from_slice(body);
        self.write(&message).await
    }

    async fn read_message(&mut self) -> Result<(u8, Vec<u8>), Broken> {
        let failed = |e: std::io::Error| Broken(Outcome::failed("transport", e.to_string()));
        let tag = self.stream.read_u8().await.map_err(failed)?;
        let length = self.stream.read_u32().await.map_err(failed)? as usize;
        if !(4..=1 << 30).contains(&length) {
            return Err(protocol("message length out of range"));
        }
        let mut body = vec![0; length - 4];
        self.stream.read_exact(&mut body).await.map_err(failed)?;
        Ok((tag, body))
    }

    /// One simple query to its ReadyForQuery: the answer, and whether the connection is
    /// idle again (ReadyForQuery's status `I`, not inside a transaction).
    async fn query(&mut self, sql: &str) -> Result<((Outcome, Vec<Value>), bool), Broken> {
        let mut body = sql.as_bytes().to_vec();
        body.push(0);
        self.send(b'Q', &body).await?;
        let mut rows = 0u64;
        let mut values = Vec::new();
        let mut error: Option<Outcome> = None;
        let idle_again = loop {
            // A server that ends the connection after an ErrorResponse (FATAL) sent its
            // reason already: that is the outcome, not the closed socket.
            let (tag, body) = match self.read_message().await {
                Ok(message) => message,
                Err(broken) => return Err(error.map(Broken).unwrap_or(broken)),
            };
            match tag {
                b'D' => {
                    rows += 1;
                    if let Some(value) = first_field(&body) {
                        values.push(value);
                    }
                }
                b'E' => error = Some(server_error(&body)),
                b'Z' => break body.first() == Some(&b'I'),
                _ => {} // RowDescription, CommandComplete, notices
            }
        };
        let answer = match error {
            Some(outcome) => (outcome, Vec::new()),
            None => (
                Outcome {
                    rows: Some(rows),
                    ..Outcome::default()
                },
                values,
            ),
        };
        Ok((answer, idle_again))
    }
}

/// The first field of a DataRow in text format (numbers stay numbers in the SQL written).
fn first_field(body: &[u8]) -> Option<Value> {
    let count = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    if count == 0 {
        return None;
    }
    let length = i32::from_be_bytes(body.get(2..6)?.try_into().ok()?);
    if length < 0 {
        return None;
    }
    let text = String::from_utf8_lossy(body.get(6..6 + length as usize)?).into_owned();
    Some(if text.parse::<f64>().is_ok() {
        Value::Number(text)
    } else {
        Value::Text(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_parts() {
        let pool = PgPool::new("postgres://reader:p@ss@127.0.0.1:5433/default").expect("dsn");
        assert_eq!(pool.user, "reader");
        assert_eq!(pool.password.as_deref(), Some("p@ss"));
        assert_eq!(pool.address, "127.0.0.1:5433");
        assert!(PgPool::new("http://x").is_err());
        assert!(PgPool::new("postgres://u@host").is_err());
    }

    #[test]
    fn error_response_fields() {
        let body = b"SERROR\0C42601\0Msyntax error at line 1\0\0";
        let outcome = server_error(body);
        assert_eq!(outcome.error.as_deref(), Some("sqlstate_42601"));
        assert_eq!(outcome.message.as_deref(), Some("syntax error at line 1"));
    }
}

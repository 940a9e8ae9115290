//! [`EtcdMetaStore`]: the catalog's [`MetaStore`] on etcd — one etcd key per catalog key
//! (a table, a schema, a segment), so no request approaches etcd's 1.5 MiB limit as a
//! table grows, and every catalog transaction is one etcd transaction.
//!
//! Versions are etcd's `mod_revision`s: store-wide, increasing, never reused, which is
//! exactly the [`MetaStore`] contract. `Absent` compares the key's `create_revision`
//! with 0 (etcd's "does not exist").

use etcd_client::{Compare, CompareOp, DeleteOptions, GetOptions, KeyValue, Txn, TxnOp};
use tessera_meta::{Condition, MetaStore, Op, Transaction, Versioned};

use crate::{Error, EtcdSession};

/// Keys per page of a `list`: pages keep each response far below gRPC's 4 MiB message
/// limit however large the catalog grows.
const LIST_PAGE: i64 = 500;

/// The catalog of a cluster, in etcd under the session's namespace.
#[derive(Debug, Clone)]
pub struct EtcdMetaStore {
    session: EtcdSession,
}

impl EtcdMetaStore {
    pub fn new(session: EtcdSession) -> EtcdMetaStore {
        EtcdMetaStore { session }
    }

    fn versioned(&self, kv: &KeyValue) -> Result<Versioned, Error> {
        let value = kv.value_str().map_err(|error| Error::Corrupt {
            key: String::from_utf8_lossy(kv.key()).into_owned(),
            message: error.to_string(),
        })?;
        Ok(Versioned {
            value: value.to_string(),
            version: kv.mod_revision().max(0) as u64,
        })
    }
}

/// The first key after every key starting with `prefix` (etcd's range end for a prefix).
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Only 0xff bytes (or empty): every key.
    vec![0]
}

impl MetaStore for EtcdMetaStore {
    fn get(&self, key: &str) -> tessera_meta::Result<Option<Versioned>> {
        let full_key = self.session.full_key(key);
        let response = self.session.call("get", move |mut client| async move {
            client.get(full_key, None).await
        })?;
        Ok(response
            .kvs()
            .first()
            .map(|kv| self.versioned(kv))
            .transpose()?)
    }

    fn list(&self, prefix: &str) -> tessera_meta::Result<Vec<(String, Versioned)>> {
        let full_prefix = self.session.full_key(prefix).into_bytes();
        let end = prefix_end(&full_prefix);
        let mut listed = Vec::new();
        let mut start = full_prefix;
        // Every page reads at the first page's revision: one consistent snapshot.
        let mut revision = 0;
        loop {
            let (page_start, page_end) = (start.clone(), end.clone());
            let options = GetOptions::new()
                .with_range(page_end)
                .with_limit(LIST_PAGE)
                .with_revision(revision);
            let response = self.session.call("list", move |mut client| async move {
                client.get(page_start, Some(options)).await
            })?;
            if revision == 0 {
                revision = response.header().map_or(0, |header| header.revision());
            }
            for kv in response.kvs() {
                let Some(key) = self.session.cluster_key(kv.key()) else {
                    continue;
                };
                listed.push((key.to_string(), self.versioned(kv)?));
            }
            match response.kvs().last() {
                Some(last) if response.more() => {
                    start = last.key().to_vec();
                    start.push(0);
                }
                _ => return Ok(listed),
            }
        }
    }

    fn commit(&self, transaction: Transaction) -> tessera_meta::Result<()> {
        transaction.validate()?;
        let compares: Vec<Compare> = transaction
            .conditions
            .iter()
            .map(|condition| match condition {
                Condition::Absent(key) => {
                    Compare::create_revision(self.session.full_key(key), CompareOp::Equal, 0)
                }
                Condition::Version(key, version) => Compare::mod_revision(
                    self.session.full_key(key),
                    CompareOp::Equal,
                    i64::try_from(*version).unwrap_or(i64::MAX),
                ),
            })
            .collect();
        let ops: Vec<TxnOp> = transaction
            .ops
            .iter()
            .map(|op| match op {
                Op::Put(key, value) => {
                    TxnOp::put(self.session.full_key(key), value.as_bytes(), None)
                }
                Op::Delete(key) => TxnOp::delete(self.session.full_key(key), None),
                Op::DeletePrefix(prefix) => TxnOp::delete(
                    self.session.full_key(prefix),
                    Some(DeleteOptions::new().with_prefix()),
                ),
            })
            .collect();
        let txn = Txn::new().when(compares).and_then(ops);
        let response =
            self.session.call(
                "commit",
                move |mut client| async move { client.txn(txn).await },
            )?;
        if response.succeeded() {
            return Ok(());
        }
        let conditions: Vec<String> = transaction
            .conditions
            .iter()
            .map(|condition| format!("{condition:?}"))
            .collect();
        Err(tessera_meta::Error::Conflict(format!(
            "a condition does not hold: conditions=`{}`",
            conditions.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_prefix_end() {
        assert_eq!(prefix_end(b"/t/a/"), b"/t/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}

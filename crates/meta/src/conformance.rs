//! The conformance suite every [`MetaStore`] passes (object_store's `integration.rs` is
//! the model): the file store runs it in its unit tests, the etcd store against a real
//! etcd in the system tests. The catalog's protocols (the segment commit, fencing of a
//! deposed controller) rest on exactly these properties, so a new store is usable when
//! this suite passes.
//!
//! Each check takes an empty store (a fresh directory, or a fresh etcd prefix) and
//! panics with a message naming the property that failed.

use std::sync::Arc;

use crate::store::{Condition, MetaStore, Transaction, Versioned};
use crate::{Error, Result};

/// Run every check on `store`, which must be empty.
pub fn check_meta_store(store: Arc<dyn MetaStore>) -> Result<()> {
    check_get_and_versions(store.as_ref())?;
    check_list_by_prefix(store.as_ref())?;
    check_conditions(store.as_ref())?;
    check_failed_transaction_writes_nothing(store.as_ref())?;
    check_delete_and_recreate(store.as_ref())?;
    check_delete_prefix(store.as_ref())?;
    check_values_round_trip(store.as_ref())?;
    check_invalid_transactions(store.as_ref())?;
    check_concurrent_compare_and_set(store)?;
    Ok(())
}

fn version_of(store: &dyn MetaStore, key: &str) -> Result<u64> {
    Ok(store
        .get(key)?
        .unwrap_or_else(|| panic!("key `{key}` should exist"))
        .version)
}

fn assert_conflict(outcome: Result<()>, what: &str) {
    match outcome {
        Err(Error::Conflict(_)) => {}
        Err(other) => panic!("{what}: expected a conflict, got the error {other}"),
        Ok(()) => panic!("{what}: expected a conflict, the transaction was applied"),
    }
}

/// A missing key reads as `None`; a put is read back with a version above 0, and every
/// later write of the key has a greater version.
pub fn check_get_and_versions(store: &dyn MetaStore) -> Result<()> {
    assert_eq!(
        store.get("versions/a")?,
        None,
        "a missing key reads as None"
    );
    store.commit(Transaction::new().put("versions/a", "1"))?;
    let first = store.get("versions/a")?;
    let first_version = first.as_ref().map_or(0, |v| v.version);
    assert_eq!(first.map(|v| v.value).as_deref(), Some("1"));
    assert!(first_version > 0, "versions are never 0");
    store.commit(Transaction::new().put("versions/a", "2"))?;
    let second_version = version_of(store, "versions/a")?;
    assert!(
        second_version > first_version,
        "a rewrite bumps the version: {first_version} then {second_version}"
    );
    // A write of another key also moves the store on: versions are revisions.
    store.commit(Transaction::new().put("versions/b", "x"))?;
    assert!(version_of(store, "versions/b")? > second_version);
    Ok(())
}

/// `list` returns exactly the keys with the prefix, in key order, with the values and
/// versions `get` returns.
pub fn check_list_by_prefix(store: &dyn MetaStore) -> Result<()> {
    assert!(
        store.list("list/")?.is_empty(),
        "an unused prefix lists nothing"
    );
    let keys = [
        "list/t/b",
        "list/t/a",
        "list/t/c/d",
        "list/t0",
        "list/tt/a",
        "list/",
    ];
    for key in keys {
        store.commit(Transaction::new().put(key, format!("value of {key}")))?;
    }
    let listed = store.list("list/t/")?;
    let listed_keys: Vec<&str> = listed.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(listed_keys, ["list/t/a", "list/t/b", "list/t/c/d"]);
    for (key, versioned) in &listed {
        assert_eq!(
            store.get(key)?.as_ref(),
            Some(versioned),
            "list agrees with get"
        );
    }
    assert_eq!(
        store.list("list/")?.len(),
        keys.len(),
        "the prefix itself is a key"
    );
    Ok(())
}

/// `Absent` holds only for a missing key, `Version` only for the key's current version.
pub fn check_conditions(store: &dyn MetaStore) -> Result<()> {
    store.commit(
        Transaction::new()
            .when(Condition::Absent("cond/a".into()))
            .put("cond/a", "1"),
    )?;
    assert_conflict(
        store.commit(
            Transaction::new()
                .when(Condition::Absent("cond/a".into()))
                .put("cond/a", "2"),
        ),
        "Absent on an existing key",
    );
    let version = version_of(store, "cond/a")?;
    assert_conflict(
        store.commit(
            Transaction::new()
                .when(Condition::Version("cond/a".into(), version + 1))
                .put("cond/a", "3"),
        ),
        "Version with a version the key does not have",
    );
    assert_conflict(
        store.commit(
            Transaction::new()
                .when(Condition::Version("cond/missing".into(), version))
                .put("cond/a", "3"),
        ),
        "Version on a missing key",
    );
    store.commit(
        Transaction::new()
            .when(Condition::Version("cond/a".into(), version))
            .when(Condition::Absent("cond/b".into()))
            .put("cond/a", "4")
            .put("cond/b", "5"),
    )?;
    assert_eq!(store.get("cond/a")?.map(|v| v.value).as_deref(), Some("4"));
    assert_eq!(store.get("cond/b")?.map(|v| v.value).as_deref(), Some("5"));
    Ok(())
}

/// A transaction with one failing condition among several writes none of its operations.
pub fn check_failed_transaction_writes_nothing(store: &dyn MetaStore) -> Result<()> {
    store.commit(
        Transaction::new()
            .put("atomic/kept", "old")
            .put("atomic/doomed", "here"),
    )?;
    let kept_version = version_of(store, "atomic/kept")?;
    assert_conflict(
        store.commit(
            Transaction::new()
                .when(Condition::Version("atomic/kept".into(), kept_version))
                .when(Condition::Absent("atomic/doomed".into()))
                .put("atomic/kept", "new")
                .put("atomic/fresh", "new")
                .delete("atomic/doomed")
                .delete_prefix("atomic/doo"),
        ),
        "one failing condition among several",
    );
    assert_eq!(
        store.get("atomic/kept")?,
        Some(Versioned {
            value: "old".into(),
            version: kept_version
        })
    );
    assert_eq!(store.get("atomic/fresh")?, None);
    assert!(store.get("atomic/doomed")?.is_some());
    Ok(())
}

/// A deleted key is gone; deleting a missing key is not an error; a key re-created after
/// its delete gets a version no condition taken before the delete can match.
pub fn check_delete_and_recreate(store: &dyn MetaStore) -> Result<()> {
    store.commit(Transaction::new().put("recreate/a", "1"))?;
    let before = version_of(store, "recreate/a")?;
    store.commit(Transaction::new().delete("recreate/a"))?;
    assert_eq!(store.get("recreate/a")?, None, "a deleted key is gone");
    store.commit(Transaction::new().delete("recreate/never-was"))?;
    store.commit(
        Transaction::new()
            .when(Condition::Absent("recreate/a".into()))
            .put("recreate/a", "2"),
    )?;
    let after = version_of(store, "recreate/a")?;
    assert!(after > before, "a re-created key never reuses a version");
    assert_conflict(
        store.commit(
            Transaction::new()
                .when(Condition::Version("recreate/a".into(), before))
                .put("recreate/a", "3"),
        ),
        "a version taken before the delete",
    );
    Ok(())
}

/// `DeletePrefix` removes every key with the prefix in one operation — more keys than
/// etcd's default limit of 128 operations per transaction — and no other key.
pub fn check_delete_prefix(store: &dyn MetaStore) -> Result<()> {
    const KEYS: usize = 300;
    for chunk in 0..KEYS / 100 {
        let mut transaction = Transaction::new();
        for i in chunk * 100..(chunk + 1) * 100 {
            transaction = transaction.put(format!("prefix/t/{i:04}"), "x");
        }
        store.commit(transaction)?;
    }
    store.commit(
        Transaction::new()
            .put("prefix/t2/a", "sibling")
            .put("prefix/t", "exact"),
    )?;
    assert_eq!(store.list("prefix/t/")?.len(), KEYS);
    store.commit(
        Transaction::new()
            .delete_prefix("prefix/t/")
            .put("prefix/after", "written in the same transaction"),
    )?;
    assert!(
        store.list("prefix/t/")?.is_empty(),
        "every prefixed key is gone"
    );
    assert!(
        store.get("prefix/t2/a")?.is_some(),
        "a sibling prefix is kept"
    );
    assert!(
        store.get("prefix/t")?.is_some(),
        "the prefix without its slash is kept"
    );
    assert!(store.get("prefix/after")?.is_some());
    Ok(())
}

/// Values come back byte for byte: JSON, multi-byte UTF-8, empty, and 256 KiB.
pub fn check_values_round_trip(store: &dyn MetaStore) -> Result<()> {
    let large: String = "0123456789abcdef".repeat(16 * 1024);
    let values = [
        r#"{"name":"events","config":{"a":[1,2,3]}}"#.to_string(),
        "naïve — 東京 — 🚀".to_string(),
        String::new(),
        large,
    ];
    for (i, value) in values.iter().enumerate() {
        let key = format!("values/{i}");
        store.commit(Transaction::new().put(key.clone(), value.clone()))?;
        assert_eq!(store.get(&key)?.map(|v| v.value).as_ref(), Some(value));
    }
    Ok(())
}

/// Transactions no store accepts are refused as invalid, whatever the data: too many
/// operations, a key put twice, a key put and deleted.
pub fn check_invalid_transactions(store: &dyn MetaStore) -> Result<()> {
    let assert_invalid = |transaction: Transaction, what: &str| match store.commit(transaction) {
        Err(Error::InvalidTransaction(_)) => {}
        other => panic!("{what}: expected an invalid transaction, got {other:?}"),
    };
    let mut too_many = Transaction::new();
    for i in 0..=crate::store::MAX_TRANSACTION_OPS {
        too_many = too_many.put(format!("invalid/{i}"), "x");
    }
    assert_invalid(too_many, "more operations than a transaction holds");
    assert_invalid(
        Transaction::new()
            .put("invalid/a", "1")
            .put("invalid/a", "2"),
        "a key put twice",
    );
    assert_invalid(
        Transaction::new()
            .put("invalid/a/b", "1")
            .delete_prefix("invalid/a/"),
        "a key put under a deleted prefix",
    );
    assert!(
        store.list("invalid/")?.is_empty(),
        "refused transactions write nothing"
    );
    store.commit(
        Transaction::new()
            .delete_prefix("invalid/")
            .delete("invalid/a")
            .put("valid", "overlapping deletes are fine"),
    )?;
    Ok(())
}

/// Two threads increment one counter by compare-and-set, retrying on conflict: no
/// increment is lost, so conditions are checked and writes applied as one step.
pub fn check_concurrent_compare_and_set(store: Arc<dyn MetaStore>) -> Result<()> {
    const PER_THREAD: u64 = 25;
    store.commit(Transaction::new().put("counter", "0"))?;
    let increment = |store: Arc<dyn MetaStore>| -> Result<()> {
        let mut done = 0;
        while done < PER_THREAD {
            let current = store
                .get("counter")?
                .unwrap_or_else(|| panic!("the counter exists"));
            let value: u64 = current.value.parse().unwrap_or_else(|_| panic!("a number"));
            match store.commit(
                Transaction::new()
                    .when(Condition::Version("counter".into(), current.version))
                    .put("counter", (value + 1).to_string()),
            ) {
                Ok(()) => done += 1,
                Err(Error::Conflict(_)) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(())
    };
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || increment(store))
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .unwrap_or_else(|_| panic!("an incrementing thread panicked"))?;
    }
    assert_eq!(
        store.get("counter")?.map(|v| v.value),
        Some((2 * PER_THREAD).to_string()),
        "no compare-and-set increment is lost"
    );
    Ok(())
}

//! `/metrics` of a server that serves cold segments (standalone with `--cache-size`, a
//! cluster server with `[server] cache_size`): the disk cache and the deep-store fetches.

use tessera_api::prometheus::Families;
use tessera_storage::cold::ColdStore;

/// The cold-segment cache and its fetches from the deep store.
pub fn render(f: &mut Families, cold: &ColdStore) {
    use std::sync::atomic::Ordering::Relaxed;
    let cache = cold.cache();
    let c = cache.metrics();
    let m = cold.metrics();
    let counters: [(&str, &str, u64); 12] = [
        (
            "tessera_cache_hits_total",
            "Cold-segment sections a query needed and found in the disk cache",
            c.hits.load(Relaxed),
        ),
        (
            "tessera_cache_misses_total",
            "Cold-segment sections a query needed that the disk cache lacked",
            c.misses.load(Relaxed),
        ),
        (
            "tessera_cache_hit_bytes_total",
            "Bytes of sections served from the disk cache",
            c.bytes_hit.load(Relaxed),
        ),
        (
            "tessera_cache_inserted_bytes_total",
            "Bytes written into the disk cache",
            c.inserted_bytes.load(Relaxed),
        ),
        (
            "tessera_cache_evictions_total",
            "Pieces evicted from the disk cache",
            c.evictions.load(Relaxed),
        ),
        (
            "tessera_cache_evicted_bytes_total",
            "Bytes evicted from the disk cache",
            c.evicted_bytes.load(Relaxed),
        ),
        (
            "tessera_cache_damaged_total",
            "Cached pieces found damaged or missing (checked by CRC) and dropped",
            c.damaged.load(Relaxed),
        ),
        (
            "tessera_cold_gets_total",
            "Range GETs to the deep store for cold segments (footers included)",
            m.gets.load(Relaxed),
        ),
        (
            "tessera_cold_get_errors_total",
            "Range GETs to the deep store that failed",
            m.get_errors.load(Relaxed),
        ),
        (
            "tessera_cold_bytes_fetched_total",
            "Bytes fetched from the deep store for cold segments",
            m.bytes_fetched.load(Relaxed),
        ),
        (
            "tessera_cold_footer_gets_total",
            "GETs that read segment footers (opening cold segments)",
            m.footer_gets.load(Relaxed),
        ),
        (
            "tessera_cold_unplanned_fetches_total",
            "Sections read that no prefetch had fetched (one round trip each)",
            m.unplanned_fetches.load(Relaxed),
        ),
    ];
    for (name, help, value) in counters {
        f.family(name, "counter", help);
        f.sample(name, &[], value);
    }
    f.family(
        "tessera_cold_get_seconds_total",
        "counter",
        "Time spent in range GETs to the deep store",
    );
    f.sample(
        "tessera_cold_get_seconds_total",
        &[],
        m.get_micros.load(Relaxed) as f64 / 1e6,
    );
    f.family(
        "tessera_cold_crc_retries_total",
        "counter",
        "Sections fetched again because they arrived damaged",
    );
    f.sample(
        "tessera_cold_crc_retries_total",
        &[],
        m.crc_retries.load(Relaxed),
    );
    f.family(
        "tessera_cache_bytes",
        "gauge",
        "Bytes held by the cold-segment disk cache",
    );
    f.sample("tessera_cache_bytes", &[], cache.used());
    f.family(
        "tessera_cache_capacity_bytes",
        "gauge",
        "The cold-segment disk cache's bound",
    );
    f.sample("tessera_cache_capacity_bytes", &[], cache.capacity());
}

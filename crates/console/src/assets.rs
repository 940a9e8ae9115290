//! The embedded files of the page, as they are in `assets/`.

/// One embedded file.
pub struct Asset {
    /// Its path under `/ui/`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

impl Asset {
    /// A strong ETag: the FNV-1a hash of the bytes, quoted.
    pub fn etag(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("\"{hash:016x}\"")
    }
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

pub const INDEX: &Asset = &ASSETS[0];

/// Every file of the page; `index.html` first.
pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("logo.svg", "image/svg+xml"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("sql.js", "text/javascript; charset=utf-8"),
    asset!("editor.js", "text/javascript; charset=utf-8"),
    asset!("results.js", "text/javascript; charset=utf-8"),
    asset!("chart.js", "text/javascript; charset=utf-8"),
    asset!("explain.js", "text/javascript; charset=utf-8"),
    asset!("prometheus.js", "text/javascript; charset=utf-8"),
    asset!("query_view.js", "text/javascript; charset=utf-8"),
    asset!("tables_view.js", "text/javascript; charset=utf-8"),
    asset!("watch_view.js", "text/javascript; charset=utf-8"),
];

/// The asset named `name` (a path under `/ui/`).
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

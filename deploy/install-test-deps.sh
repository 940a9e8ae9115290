#!/usr/bin/env bash
# Install what Tessera's tests and benchmarks need, if it is missing. Idempotent and
# quick (well under 2 s) when everything is already there; prints what it did.
set -euo pipefail
source "$(dirname "$0")/lib/env.sh"

# Pinned to the versions the test data, oracle results and benchmark figures were made with.
PYTHON_PACKAGES=(duckdb==2.0.1 pyarrow==26.0.1 tpchgen-cli==4.0.0 chdb==4.4.0 'moto[server]==5.2.5'
    pinotdb==9.2.2 sqlalchemy==2.0.58 'psycopg[binary]==3.3.9' requests==2.34.2 prometheus-client==0.26.0
    confluent-kafka==2.16.1 'pyiceberg[pyarrow,sql-sqlite,pyiceberg-core]==0.12.0')

say() { echo "install-test-deps.sh: $*"; }
die() { say "error: $*" >&2; exit 1; }

# Debian packages, keyed by the file we need from them. /usr/bin/time is checked by
# path because `time` is also a bash keyword.
install_debian_packages() {
    # etcd: the cluster's coordination (tests run a real one); protoc: etcd-client's build;
    # curl and openssl: the TLS test's client and its certificates; DejaVu Sans: the font
    # tessera-bench draws its plots' labels with.
    local -A package_for=([/usr/bin/time]=time [/usr/bin/taskset]=util-linux [/usr/bin/psql]=postgresql-client
        [/usr/bin/pkg-config]=pkg-config [/usr/include/openssl/ssl.h]=libssl-dev
        [/usr/bin/etcd]=etcd-server [/usr/bin/etcdctl]=etcd-client [/usr/bin/protoc]=protobuf-compiler
        [/usr/bin/curl]=curl [/usr/bin/openssl]=openssl
        [/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]=fonts-dejavu-core)
    local missing=() path
    for path in "${!package_for[@]}"; do
        [[ -e $path ]] || missing+=("${package_for[$path]}")
    done
    command -v python3 >/dev/null || missing+=(python3 python3-venv)
    if [[ ${#missing[@]} -eq 0 ]]; then
        say "debian packages present"
        return
    fi
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Debian's Chromium and ChromeDriver: the web console's browser tests drive them. Their
# recommended packages (printing, audio, avahi, a terminal) are not needed headless.
install_browser() {
    if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
        say "chromium and chromedriver present"
        return
    fi
    say "apt-get install --no-install-recommends chromium chromium-driver"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
}

# The venv records what it was built from in a stamp file, so a present, matching venv
# costs one file read and one interpreter start.
install_python_venv() {
    local stamp=$TESSERA_VENV/.tessera-packages wanted="${PYTHON_PACKAGES[*]}"
    if [[ -f $stamp && $(<"$stamp") == "$wanted" ]] && "$TESSERA_VENV/bin/python" -c '' 2>/dev/null; then
        say "python venv present at $TESSERA_VENV ($wanted)"
        return
    fi
    if ! "$TESSERA_VENV/bin/python" -c '' 2>/dev/null; then
        say "creating python venv at $TESSERA_VENV"
        rm -rf "$TESSERA_VENV"
        mkdir -p "$TESSERA_CACHE"
        python3 -m venv "$TESSERA_VENV"
    fi
    say "pip install $wanted"
    "$TESSERA_VENV/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}"
    echo "$wanted" >"$stamp"
}

# The Rust toolchain can't be installed from here (no registry serves it): only check it.
check_rust_toolchain() {
    command -v cargo >/dev/null || die "cargo not found; install a Rust toolchain with rustup"
    local sysroot
    sysroot=$(rustc --print sysroot)
    [[ -x $sysroot/bin/cargo-clippy ]] || die "clippy missing from toolchain at $sysroot; run rustup component add clippy"
    [[ -x $sysroot/bin/rustfmt ]] || die "rustfmt missing from toolchain at $sysroot; run rustup component add rustfmt"
    say "rust toolchain present at $sysroot (cargo, clippy, rustfmt)"
}

# tansu: the Kafka-protocol broker the Kafka tests run against (../shared/COMPONENTS.md).
# Built once per machine (about 20 minutes on 2 cores) into the cache, outside the checkout.
TANSU_VERSION=0.6.0
install_tansu() {
    # Captured, not piped into grep -q: with pipefail an early grep exit fails the check.
    if [[ -x $TESSERA_TANSU && $("$TESSERA_TANSU" --help 2>/dev/null) == *dynostore* ]]; then
        say "tansu present at $TESSERA_TANSU"
        return
    fi
    say "cargo install tansu $TANSU_VERSION (about 20 minutes, once per machine)"
    local target
    target=$(mktemp -d)
    CARGO_TARGET_DIR=$target cargo install tansu --version "$TANSU_VERSION" --locked \
        --features dynostore --root "$(dirname "$(dirname "$TESSERA_TANSU")")"
    rm -rf "$target"
    [[ $("$TESSERA_TANSU" --help 2>/dev/null) == *dynostore* ]] ||
        die "tansu at $TESSERA_TANSU has no dynostore storage engine"
}

install_debian_packages
install_browser
install_python_venv
check_rust_toolchain
install_tansu

#!/usr/bin/env bash
# A whole Tessera cluster on loopback, for trying it and for the system tests:
#   bash deploy/cluster/local.sh up DIR [--deep-store URI] [--kafka ADDR]
#   bash deploy/cluster/local.sh add-server DIR NODE_ID [TAG...]
#   bash deploy/cluster/local.sh start DIR NODE_ID      (again, after a kill; etcd too)
#   bash deploy/cluster/local.sh down DIR
# `up` starts etcd, the S3 server (moto: the deep store is s3://tessera/deepstore on it,
# unless --deep-store names another, e.g. a shared directory or a real bucket with the
# AWS_* environment set), 2 controllers (a leader and a standby), 2 brokers and 4
# servers (server-rt-1/2 tagged realtime, server-hist-1/2 historical) on free ports,
# data under DIR; waits until a controller leads and every server is registered; writes
# DIR/cluster.env (BROKER_URLS, BROKER_PG, CONTROLLER_URL, ETCD_ENDPOINTS, DEEP_STORE,
# S3_ENDPOINT) and DIR/pids/<node-id>.pid, so one node can be stopped by name. The
# binary is $TESSERA_BIN (default target/debug/tessera of this checkout); the S3 server
# is $MOTO_SERVER (default: moto_server on PATH, else the test venv's); LEASE_TTL_S and
# RETENTION_CHECK_INTERVAL set every node's lease and the controllers' retention pass;
# AUTH_TOML names a file of `[auth]` tables appended to every node config, and then
# AUTH_HEADER (an `Authorization` value with read access) is what this script sends.
# BROKER_TLS_TOML names a file with a `[tls]` table appended to the brokers' configs (their
# URLs are then https://), and BROKER_CA the CA file this script checks them with.
# SERVER_CACHE_SIZE (e.g. 64M) makes every server serve sealed segments cold, straight
# from the deep store through a disk cache of that size (docs/cold-segments.md).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
TESSERA_BIN=${TESSERA_BIN:-$repo/target/debug/tessera}

say() { echo "local.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# A free port below Linux's ephemeral range (32768-60999): a node restarted on its port
# after a kill must not find it taken by some outgoing connection in between.
# Never a port twice in one cluster (a node may not have bound it yet): the ports given
# out are kept in DIR/config/ports (a file, as this runs in command substitutions).
free_port() {
    local port
    port=$(python3 -c '
import random, socket, sys
given = set(open(sys.argv[1]).read().split()) if __import__("os").path.exists(sys.argv[1]) else set()
for _ in range(1000):
    port = random.randrange(20000, 32000)
    if str(port) in given:
        continue
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    raise SystemExit("no free port in 20000-32000")' "$dir/config/ports")
    echo "$port" >>"$dir/config/ports"
    echo "$port"
}

# wait_for WHAT SECONDS COMMAND...: run COMMAND until it succeeds.
wait_for() {
    local what=$1 seconds=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what did not come up within ${seconds}s (logs in $dir/logs)"
        sleep 0.2
    done
}

# start NODE_ID ROLE: run the role with DIR/config/NODE_ID.toml, log and pid by name,
# with the S3 server's AWS_* environment when the cluster runs one.
start() {
    local node=$1 role=$2
    echo "$role" >"$dir/config/$node.role"
    (
        if [[ -f $dir/config/s3.env ]]; then
            set -a
            # shellcheck disable=SC1091
            source "$dir/config/s3.env"
            set +a
        fi
        exec "$TESSERA_BIN" "$role" --config "$dir/config/$node.toml" >>"$dir/logs/$node.log" 2>&1
    ) &
    echo $! >"$dir/pids/$node.pid"
}

# moto_server: the S3 server's binary, or nothing.
moto_server() {
    if [[ -n ${MOTO_SERVER:-} ]]; then
        echo "$MOTO_SERVER"
    elif command -v moto_server >/dev/null; then
        command -v moto_server
    elif [[ -x $HOME/.cache/tessera/venv/bin/moto_server ]]; then
        echo "$HOME/.cache/tessera/venv/bin/moto_server"
    fi
}

# start_s3: the S3 server on the port `up` chose, with the bucket `tessera`. Its objects
# live in memory: a restarted S3 server is empty (fine for trying a cluster; a real
# deployment names a real bucket with --deep-store).
start_s3() {
    local port
    port=$(cat "$dir/config/s3.port")
    "$(cat "$dir/config/s3.bin")" -H 127.0.0.1 -p "$port" >>"$dir/logs/s3.log" 2>&1 &
    echo $! >"$dir/pids/s3.pid"
    wait_for "the S3 server" 60 curl -sf -X PUT "http://127.0.0.1:$port/tessera"
}

# start_etcd: etcd with the arguments `up` chose (same ports, same data).
start_etcd() {
    mapfile -t args <"$dir/config/etcd.args"
    etcd "${args[@]}" >>"$dir/logs/etcd.log" 2>&1 &
    echo $! >"$dir/pids/etcd.pid"
    wait_for etcd 30 curl -sf "${args[5]}/health"
}

# node_config NODE_ID ROLE_SECTION: the [node] and [etcd] tables, then the role's.
node_config() {
    local node=$1 section=$2
    cat >"$dir/config/$node.toml" <<EOF
[node]
id = "$node"
data_dir = "$dir/data/$node"
deep_store = "$DEEP_STORE"
lease_ttl_s = ${LEASE_TTL_S:-3}

[etcd]
endpoints = ["$ETCD_ENDPOINTS"]
cluster = "local"

$section
EOF
    if [[ -n ${AUTH_TOML:-} ]]; then
        cat "$AUTH_TOML" >>"$dir/config/$node.toml"
    fi
}

server_section() {
    local port http_port tags
    port=$(free_port)
    http_port=$(free_port)
    tags=$(printf '"%s", ' "$@")
    printf '[server]\nflight = "127.0.0.1:%s"\nhttp = "127.0.0.1:%s"\ntags = [%s]\n' \
        "$port" "$http_port" "${tags%, }"
    if [[ -n ${SERVER_CACHE_SIZE:-} ]]; then
        printf 'cache_size = "%s"\n' "$SERVER_CACHE_SIZE"
    fi
}

up() {
    local deep_store="" kafka=""
    while (($#)); do
        case $1 in
            --deep-store) deep_store=$2; shift 2 ;;
            --kafka) kafka=$2; shift 2 ;;
            *) die "unknown option $1" ;;
        esac
    done
    [[ -x $TESSERA_BIN ]] || die "no tessera binary at $TESSERA_BIN (cargo build -p tessera)"
    command -v etcd >/dev/null || die "etcd not found (apt-get install etcd-server)"
    mkdir -p "$dir"/{config,logs,pids,data}
    dir=$(cd "$dir" && pwd)
    local etcd_port etcd_peer s3_endpoint=""
    etcd_port=$(free_port)
    etcd_peer=$(free_port)
    ETCD_ENDPOINTS="http://127.0.0.1:$etcd_port"
    if [[ -n $deep_store ]]; then
        DEEP_STORE=$deep_store
        [[ $deep_store == *://* ]] || mkdir -p "$deep_store"
    else
        local moto
        moto=$(moto_server)
        [[ -n $moto ]] || die "no S3 server: pip install 'moto[server]' (or set MOTO_SERVER), or pass --deep-store DIR"
        echo "$moto" >"$dir/config/s3.bin"
        free_port >"$dir/config/s3.port"
        s3_endpoint="http://127.0.0.1:$(cat "$dir/config/s3.port")"
        printf '%s\n' "AWS_ENDPOINT=$s3_endpoint" AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=test \
            AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 >"$dir/config/s3.env"
        start_s3
        DEEP_STORE=s3://tessera/deepstore
    fi
    printf '%s\n' --name local --data-dir "$dir/data/etcd" \
        --listen-client-urls "$ETCD_ENDPOINTS" --advertise-client-urls "$ETCD_ENDPOINTS" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-cluster "local=http://127.0.0.1:$etcd_peer" --logger zap --log-level error \
        >"$dir/config/etcd.args"
    start_etcd

    local controllers=() brokers=() pgs=() node port pg_port
    for node in controller-1 controller-2; do
        port=$(free_port)
        node_config "$node" "[controller]
http = \"127.0.0.1:$port\"
retention_check_interval = \"${RETENTION_CHECK_INTERVAL:-10m}\""
        controllers+=("http://127.0.0.1:$port")
        start "$node" controller
    done
    for node in server-rt-1 server-rt-2; do
        node_config "$node" "$(server_section realtime)"
        start "$node" server
    done
    for node in server-hist-1 server-hist-2; do
        node_config "$node" "$(server_section historical)"
        start "$node" server
    done
    local scheme=http
    [[ -n ${BROKER_TLS_TOML:-} ]] && scheme=https
    for node in broker-1 broker-2; do
        port=$(free_port)
        pg_port=$(free_port)
        node_config "$node" "[broker]
http = \"127.0.0.1:$port\"
pg = \"127.0.0.1:$pg_port\""
        if [[ -n ${BROKER_TLS_TOML:-} ]]; then
            cat "$BROKER_TLS_TOML" >>"$dir/config/$node.toml"
        fi
        brokers+=("$scheme://127.0.0.1:$port")
        pgs+=("127.0.0.1:$pg_port")
        start "$node" broker
    done
    local url
    for url in "${controllers[@]}" "${brokers[@]}"; do
        wait_for "$url" 60 curl -sf ${BROKER_CA:+--cacert "$BROKER_CA"} "$url/health"
    done
    wait_for "a controller leader with 4 servers" 60 cluster_ready "${controllers[0]}" 4
    local joined_brokers joined_controllers
    joined_brokers=$(IFS=,; echo "${brokers[*]}")
    joined_controllers=$(IFS=,; echo "${controllers[*]}")
    cat >"$dir/cluster.env" <<EOF
BROKER_URLS=$joined_brokers
BROKER_PG=$(IFS=,; echo "${pgs[*]}")
CONTROLLER_URL=${controllers[0]}
CONTROLLER_URLS=$joined_controllers
ETCD_ENDPOINTS=$ETCD_ENDPOINTS
DEEP_STORE=$DEEP_STORE
S3_ENDPOINT=$s3_endpoint
KAFKA=$kafka
EOF
    say "cluster up: brokers $joined_brokers, controllers $joined_controllers, etcd $ETCD_ENDPOINTS"
}

# cluster_ready URL SERVERS: a leader is elected and SERVERS servers are registered.
cluster_ready() {
    local body
    body=$(curl -sf ${AUTH_HEADER:+-H "Authorization: $AUTH_HEADER"} "$1/cluster") || return 1
    python3 - "$body" "$2" <<'EOF'
import json, sys
cluster = json.loads(sys.argv[1])
servers = [n for n in cluster["nodes"] if n["role"] == "server"]
sys.exit(0 if cluster["leader"] and len(servers) >= int(sys.argv[2]) else 1)
EOF
}

add_server() {
    local node=$1
    shift
    (($#)) || set -- historical
    dir=$(cd "$dir" && pwd)
    # shellcheck disable=SC1091
    source "$dir/cluster.env"
    node_config "$node" "$(server_section "$@")"
    start "$node" server
    say "server $node started ($*)"
}

# start_node NODE_ID: start a stopped node again (etcd included) with its config.
start_node() {
    local node=$1
    dir=$(cd "$dir" && pwd)
    if [[ $node == etcd ]]; then
        start_etcd
    elif [[ $node == s3 ]]; then
        start_s3
    else
        [[ -f $dir/config/$node.role ]] || die "no node $node in $dir"
        start "$node" "$(cat "$dir/config/$node.role")"
    fi
    say "$node started"
}

down() {
    [[ -d $dir/pids ]] || die "no cluster in $dir"
    local pid_file
    for pid_file in "$dir"/pids/*.pid; do
        [[ $(basename "$pid_file") == etcd.pid ]] && continue
        kill "$(cat "$pid_file")" 2>/dev/null || true
    done
    sleep 0.5
    for pid_file in "$dir"/pids/*.pid; do
        kill -9 "$(cat "$pid_file")" 2>/dev/null || true
    done
    say "cluster in $dir stopped"
}

command=${1:-}
dir=${2:-}
[[ -n $command && -n $dir ]] || die "usage: local.sh up|down|add-server|start DIR ..."
shift 2
case $command in
    up) up "$@" ;;
    add-server) add_server "$@" ;;
    start) start_node "$@" ;;
    down) down ;;
    *) die "unknown command $command" ;;
esac

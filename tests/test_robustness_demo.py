"""Faults of ``emorl demo``: agent files that carry pickles, Ctrl-C at start-up, turn times."""

from __future__ import annotations

import base64
import io
import json
import pickle
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

N_FEATURES, N_ACTS = 60, 13


@pytest.fixture(scope="module")
def ppo_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny PPO, trained a few hundred steps on EmoDialogue-v1 and saved."""
    import gymnasium as gym
    from stable_baselines3 import PPO

    import emorl  # noqa: F401  (registers the environment)

    env = gym.make("EmoDialogue-v1", recognizer="oracle", estimator=None)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=128,
        batch_size=64,
        n_epochs=2,
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": {"pi": [16, 16], "vf": [8]}},
    )
    model.learn(384)
    path = tmp_path_factory.mktemp("agent") / "ppo.zip"
    model.save(path)
    return path


def _observations(n: int = 24) -> list[np.ndarray]:
    """Observations the environment emits (resets and a few random-act steps)."""
    import gymnasium as gym

    import emorl  # noqa: F401

    env = gym.make("EmoDialogue-v1", recognizer="oracle", estimator=None)
    rng = np.random.default_rng(0)
    out = []
    obs, _ = env.reset(seed=0)
    while len(out) < n:
        out.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(N_ACTS)))
        if terminated or truncated:
            obs, _ = env.reset(seed=len(out))
    return out


def _rewrite(source: Path, target: Path, edit) -> Path:
    """Copy the SB3 archive with its ``data`` JSON changed by ``edit(data)``."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    edit(data)
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return target


class _TouchOnLoad:
    """A pickle payload that, when unpickled, creates a marker file (stands in for malware)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _payload(marker: Path) -> str:
    return base64.b64encode(pickle.dumps(_TouchOnLoad(marker))).decode()


def _ppo_actions(path: Path, observations) -> list[int]:
    from stable_baselines3 import PPO

    model = PPO.load(str(path), device="cpu")
    return [int(model.predict(o, deterministic=True)[0]) for o in observations]


def test_sb3_agent_loads_from_the_state_dict_like_ppo_load(ppo_zip) -> None:
    from stable_baselines3.common.policies import ActorCriticPolicy

    from emorl.demo.agents import load_sb3_agent

    observations = _observations()
    agent = load_sb3_agent(ppo_zip, N_FEATURES, N_ACTS)
    assert isinstance(agent.model, ActorCriticPolicy)  # the policy only, no PPO unpickled
    assert agent.name == "PPO policy ppo.zip"
    assert [agent(o) for o in observations] == _ppo_actions(ppo_zip, observations)
    with pytest.raises(ValueError, match="59 features"):
        load_sb3_agent(ppo_zip, N_FEATURES - 1, N_ACTS)


def test_a_crafted_agent_zip_runs_no_pickle_unless_trusted(ppo_zip, tmp_path) -> None:
    from emorl.demo.agents import load_sb3_agent

    marker = tmp_path / "pickle-ran"

    def plant(data: dict) -> None:
        data["_last_obs"][":serialized:"] = _payload(marker)

    crafted = _rewrite(ppo_zip, tmp_path / "crafted.zip", plant)
    observations = _observations(8)
    agent = load_sb3_agent(crafted, N_FEATURES, N_ACTS)
    assert not marker.exists()
    assert [agent(o) for o in observations] == _ppo_actions(ppo_zip, observations)
    # the explicit flag is SB3's own loader: the file's pickle runs
    load_sb3_agent(crafted, N_FEATURES, N_ACTS, trust_pickle=True)
    assert marker.exists()


def test_net_arch_read_from_the_weights_when_policy_kwargs_is_only_pickled(
    ppo_zip, tmp_path
) -> None:
    from emorl.demo.agents import load_sb3_agent

    marker = tmp_path / "pickle-ran"

    def pickled_only(data: dict) -> None:
        data["policy_kwargs"] = {":type:": "<class 'dict'>", ":serialized:": _payload(marker)}

    crafted = _rewrite(ppo_zip, tmp_path / "pickled-kwargs.zip", pickled_only)
    observations = _observations(12)
    agent = load_sb3_agent(crafted, N_FEATURES, N_ACTS)
    assert not marker.exists()
    assert [agent(o) for o in observations] == _ppo_actions(ppo_zip, observations)
    pi = agent.model.mlp_extractor.policy_net
    assert [layer.out_features for layer in pi if hasattr(layer, "out_features")] == [16, 16]


def _silence(path: Path) -> Path:
    import soundfile as sf

    noise = np.random.default_rng(0).normal(0.0, 0.003, 16_000).astype(np.float32)
    sf.write(path, noise, 16_000)
    return path


def test_an_agent_the_safe_loader_cannot_build_names_the_flag(ppo_zip, tmp_path, capsys) -> None:
    from emorl.cli import main
    from emorl.demo.agents import AgentPickleRequired, load_sb3_agent

    def custom(data: dict) -> None:
        data["policy_class"]["__module__"] = "my_project.policies"

    def custom_extractor(data: dict) -> None:
        data["policy_kwargs"] = {
            ":type:": "<class 'dict'>",
            ":serialized:": "",
            "features_extractor_class": "<class 'my_project.Extractor'>",
        }

    for edit in (custom, custom_extractor):
        crafted = _rewrite(ppo_zip, tmp_path / f"{edit.__name__}.zip", edit)
        with pytest.raises(AgentPickleRequired, match="--trust-agent-pickle"):
            load_sb3_agent(crafted, N_FEATURES, N_ACTS)
    wav = _silence(tmp_path / "silence.wav")
    rc = main(["demo", "--input-file", str(wav), "--plain", "--agent", str(crafted)])
    assert rc == 2
    assert "--trust-agent-pickle" in capsys.readouterr().err


def test_demo_help_warns_that_agent_files_are_pickles(capsys) -> None:
    from emorl.cli import main

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--trust-agent-pickle" in text
    assert "pickled Python objects" in text and "runs any code" in text


def test_ctrl_c_while_loading_the_models_exits_cleanly(tmp_path, monkeypatch, capsys) -> None:
    import emorl.demo.app as app
    from emorl.cli import main

    def interrupted(options):
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "build_session", interrupted)
    wav = _silence(tmp_path / "silence.wav")
    assert main(["demo", "--input-file", str(wav), "--plain"]) == 130
    err = capsys.readouterr().err
    assert "interrupted while loading the models" in err and "Traceback" not in err
    summary = app.run(app.DemoOptions(input_file=wav, live=False))
    assert summary.interrupted and summary.turns == []


def test_ctrl_c_a_library_turns_into_another_error_is_still_an_interrupt(
    tmp_path, monkeypatch, capsys
) -> None:
    import emorl.demo.app as app
    from emorl.cli import main

    def import_interrupted(options):
        try:
            signal.raise_signal(signal.SIGINT)  # Ctrl-C inside a compiled module's import
        except KeyboardInterrupt:
            raise ImportError("initialization failed") from None

    monkeypatch.setattr(app, "build_session", import_interrupted)
    wav = _silence(tmp_path / "silence.wav")
    # Python's own handler, as a fresh `emorl` process has it (an earlier test's library,
    # Ray for one, may have installed another)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert main(["demo", "--input-file", str(wav), "--plain"]) == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, before)
    err = capsys.readouterr().err
    assert "interrupted while loading the models" in err and "initialization failed" not in err


def _turn(recognition: float, shown: float, processing: float = 0.0004):
    from emorl.demo.session import Turn

    p = dict.fromkeys(("neutral", "happy", "sad", "angry"), 0.25)
    return Turn(
        index=0,
        call=1,
        time="2026-01-01T00:00:00.000+00:00",
        segment={"speech_start": 1.0, "speech_end": 3.0, "detected": 3.5, "duration": 2.0},
        transcript="hello",
        label="sad",
        fused=p,
        ser=p,
        ter=p,
        branches=["ter", "ser"],
        answered_act=None,
        reward=None,
        act="greet",
        agent_text="Hi.",
        call_ended=None,
        timings={"recognition": recognition, "turn": 0.002},
        speculative=True,
        latency={
            "endpoint": 0.512,
            "queue": shown - 0.512 - processing,
            "processing": processing,
            "end_of_speech_to_display": shown,
            "recognition": recognition,
        },
    )


def test_the_turn_line_shows_the_recognition_time_not_the_processing_time() -> None:
    from rich.console import Console

    from emorl.demo.display import LiveDisplay, PlainDisplay

    turn = _turn(recognition=0.4634, shown=0.7412)
    out = io.StringIO()
    PlainDisplay(Console(file=out, width=200)).show(turn)
    live = LiveDisplay("file x.wav", "scripted", Console(file=io.StringIO()))
    live.last = turn
    panel = io.StringIO()
    Console(file=panel, width=200).print(live._render())
    for text in (out.getvalue(), panel.getvalue()):
        assert "recognised in 0.46 s, shown 0.74 s after you stopped" in text
        assert "0.00 s" not in text

"""EmoDialogue-v1 speed: environment steps per second per recognizer mode.

Phases (one process, so the ratios compare like with like):
- ``simulator``: the caller and the system's words alone (goal, system utterance,
  dialogue tracker, appraisal, mood, reply wording), no environment or recognizer;
- ``oracle``: the full environment with the oracle recognizer (no model);
- ``text``: 16 vectorised copies sharing the shipped text recognizer as
  ``gym.make("EmoDialogue-v1")`` gets it: batched per step, cached by text, starting
  from the shipped posteriors of every reply;
- ``text_cold``: the same recognizer (model loaded) from an empty cache, so most steps
  run the TER (a scenario or bank of your own before ``emorl env warm-cache``);
- ``bimodal_noisy`` / ``bimodal_asr``: 4 vectorised copies, espeak-ng speech through
  IEmoNet with noisy (6 % WER) or Whisper transcripts, from an empty cache, every voice
  enrolled as an SER speaker beforehand (timed apart: ``enrolment_s_per_voice``);
  ``bimodal_noisy_warm``: the same calls again in a new recognizer that reads the
  posteriors the first wrote to disk (the speech reward in a long run or a later trial). Without a
  shipped IEmoNet the shipped TER and SER are composed with a freshly initialised
  fusion block: the timing is the same, the posteriors are meaningless (noted in the
  results).

Actions mix the scripted support agent and random acts (half each). Writes
``benchmarks/results/env.json`` and prints a markdown table.

    OMP_NUM_THREADS=1 python benchmarks/bench_env.py [--steps N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness import peak_mb, write_results


def _actions(obs: np.ndarray, agent: Any, rng: np.random.Generator, n_acts: int) -> np.ndarray:
    return np.array([agent(o) if rng.random() < 0.5 else int(rng.integers(n_acts)) for o in obs])


def bench_simulator(steps: int) -> dict[str, float]:
    """The caller and the system's words alone: goal, system utterance, tracker, reply."""
    from emorl.envs.emo_dialogue import EmoDialogueEnv

    env = EmoDialogueEnv(recognizer="oracle", estimator=None)
    sim, tracker, words = env.simulator, env.tracker, env.system_language
    rng = np.random.default_rng(0)
    n_acts = len(env.act_names)

    def start() -> None:
        goal = env.draw_goal(rng)
        tracker.reset(goal)
        sim.reset(goal, rng)

    start()
    begun, done = time.perf_counter(), 0
    while done < steps:
        if tracker.state.ended is not None or tracker.state.turn >= 20:
            start()
        act = env.act_names[int(rng.integers(n_acts))]
        heard = dict(tracker.state.heard)
        slot = act[4:] if act.startswith("ask_") else None
        text = words.realise(
            act, rng, scenario=env.scenario, problem=tracker.goal.problem, heard=heard, slot=slot
        )
        turn = sim.respond(tracker.system_turn(act, text), rng)
        tracker.update(act, turn, rng)
        done += 1
    return {"steps_per_s": steps / (time.perf_counter() - begun)}


def bench_vector(steps: int, num_envs: int, **kwargs: Any) -> dict[str, float]:
    from emorl.envs.policies import ScriptedSupportAgent
    from emorl.envs.vector import EmoDialogueVectorEnv

    venv = EmoDialogueVectorEnv(num_envs, **kwargs)
    agent = ScriptedSupportAgent.for_env(venv.envs[0])
    rng = np.random.default_rng(1)
    begun = time.perf_counter()
    obs, _ = venv.reset(seed=0)
    done = 0
    while done < steps:
        obs, *_ = venv.step(_actions(obs, agent, rng, len(venv.envs[0].act_names)))
        done += num_envs
    out: dict[str, float] = {"steps_per_s": done / (time.perf_counter() - begun), "steps": done}
    rec = venv.recognizer
    if hasattr(rec, "hits"):
        total = rec.hits + rec.misses
        out["cache_hit_rate"] = rec.hits / total if total else 0.0
        out["cache_entries"] = len(rec.cache)
    return out


def _bimodal_model() -> tuple[Any, str]:
    from emorl.recognizers.iemonet import DEFAULT_IEMONET_DIR, IEmoNet

    if (DEFAULT_IEMONET_DIR / "config.json").is_file():
        return IEmoNet.from_pretrained(), "shipped IEmoNet"
    from emorl.recognizers.fusion.model import FusionBlock, FusionConfig
    from emorl.recognizers.speech.model import SpeechEmotionRecognizer
    from emorl.recognizers.text.model import TextEmotionRecognizer

    ter = TextEmotionRecognizer.from_pretrained()
    ser = SpeechEmotionRecognizer.from_pretrained()
    config = FusionConfig(text_size=ter.config.hidden_size, speech_size=ser.net.config.feature_size)
    from emorl.recognizers.iemonet import default_asr

    model = IEmoNet(ter, ser, FusionBlock.create(config), asr=default_asr(None))
    return model, "shipped TER + SER, untrained fusion block (timing only)"


def bench_bimodal(
    steps: int, transcripts: str, model: Any, cache: str, posteriors: str | None = None
) -> dict[str, float]:
    from emorl.envs.recognition import BimodalRecognizer
    from emorl.envs.tts import SpeechSynthesiser
    from emorl.simulator.user import N_VOICES

    model_id = None if getattr(model, "parts", None) else "bench-untrained-fusion"
    rec = BimodalRecognizer(
        model,
        SpeechSynthesiser(cache_dir=cache),
        transcripts=transcripts,
        cache_dir=posteriors,
        model_id=model_id if posteriors else None,
    )
    begun = time.perf_counter()
    for voice in range(N_VOICES):  # one-time speaker enrolment, timed apart
        rec.speaker(voice)
    enrolment = (time.perf_counter() - begun) / N_VOICES
    out = bench_vector(steps, 4, recognizer=rec, estimator=None)
    out["enrolment_s_per_voice"] = enrolment
    rec.flush()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--bimodal-steps", type=int, default=400)
    parser.add_argument("--skip-bimodal", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    report: dict[str, Any] = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(),
        },
        "phases": {},
    }
    phases = report["phases"]
    phases["simulator"] = bench_simulator(args.steps * 5)
    phases["oracle"] = bench_vector(args.steps * 5, 16, recognizer="oracle", estimator=None)
    from emorl.envs.recognition import TextRecognizer, shared_text_recognizer

    shared = shared_text_recognizer()
    phases["text"] = bench_vector(args.steps * 5, 16, recognizer="text", estimator="default")
    phases["text"]["ter_loaded"] = shared._model is not None
    cold = TextRecognizer()
    cold.model  # load before timing  # noqa: B018
    phases["text_cold"] = bench_vector(args.steps, 16, recognizer=cold, estimator="default")
    sim = phases["simulator"]["steps_per_s"]
    for name in ("oracle", "text", "text_cold"):
        if name not in phases:
            continue
        phases[name]["ratio_to_simulator"] = phases[name]["steps_per_s"] / sim
    write_results("env", report)
    print(json.dumps(phases), flush=True)
    if not args.skip_bimodal:
        model, note = _bimodal_model()
        report["bimodal_model"] = note
        with tempfile.TemporaryDirectory() as cache:
            shards = str(Path(cache) / "posteriors")
            runs = [
                ("bimodal_noisy", "noisy", args.bimodal_steps, shards),
                # the same calls again in a new recognizer: every reply from the disk shards
                ("bimodal_noisy_warm", "noisy", args.bimodal_steps, shards),
                ("bimodal_asr", "asr", args.bimodal_steps // 4, None),
            ]
            for name, mode, steps, posteriors in runs:
                phases[name] = bench_bimodal(steps, mode, model, cache, posteriors)
                phases[name]["ratio_to_simulator"] = phases[name]["steps_per_s"] / sim
    report["peak_mb"] = peak_mb()
    write_results("env", report)
    print("| phase | steps/s | ratio to simulator | cache hit rate |")
    print("|---|---:|---:|---:|")
    for name, row in phases.items():
        ratio = row.get("ratio_to_simulator")
        hit = row.get("cache_hit_rate")
        print(
            f"| {name} | {row['steps_per_s']:,.0f} | {'' if ratio is None else f'{ratio:.3f}'} "
            f"| {'' if hit is None else f'{hit:.1%}'} |"
        )
    print(json.dumps(report))


if __name__ == "__main__":
    main()

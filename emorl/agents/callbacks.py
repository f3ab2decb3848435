"""Training callbacks on Stable-Baselines3's: episode curves, true-emotion evaluation
(an ``EvalCallback``), atomic checkpoints (a ``CheckpointCallback``); the progress bar is
SB3's own (``learn(progress_bar=True)``, rich)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback, EvalCallback

from emorl.artifacts import atomic_write, write_json


class EpisodeCurve(BaseCallback):
    """Logs every finished training call (success, hang-up, final mood, return) by step.

    Written to ``path`` as JSON at the end of training (the learning curve), and the
    rolling means go to the Stable-Baselines3 logger (TensorBoard).
    """

    def __init__(
        self, path: str | Path, window: int = 100, rows: list[list[float]] | None = None
    ) -> None:
        super().__init__()
        self.path, self.window = Path(path), window
        self.rows: list[list[float]] = list(rows or [])  # a resumed run's earlier calls

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            if info.get("episode_end") and "episode" in info:
                mood = info["final_mood"]["valence"]
                ret = info["episode"]["r"]
                self.rows.append(
                    [self.num_timesteps, float(info["success"]), float(info["hangup"]), mood, ret]
                )
        if self.rows and self.n_calls % 500 == 0:
            recent = np.asarray(self.rows[-self.window :])
            self.logger.record("episode/success_rate", float(recent[:, 1].mean()))
            self.logger.record("episode/hangup_rate", float(recent[:, 2].mean()))
            self.logger.record("episode/final_mood", float(recent[:, 3].mean()))
        return True

    def _on_training_end(self) -> None:
        self.save()

    def save(self) -> None:
        columns = ["timesteps", "success", "hangup", "final_mood", "return"]
        write_json(self.path, {"columns": columns, "rows": self.rows})


class AtomicCheckpoint(CheckpointCallback):
    """Stable-Baselines3's checkpoints (``<name>_<steps>_steps.zip`` every ``save_freq``
    calls), each written to a temporary file and renamed, with the learning curve so far:
    a run killed at any moment leaves whole checkpoints and a curve to resume from
    (``on_save``: told of each, e.g. to hand it to Ray Tune)."""

    def __init__(
        self,
        *args: Any,
        curve: EpisodeCurve | None = None,
        on_save: Callable[[Path], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.curve = curve
        self.on_save = on_save  # called with each checkpoint once it and the curve are whole

    def _on_step(self) -> bool:
        if self.n_calls % self.save_freq == 0:
            path = save_model(self.model, self._checkpoint_path(extension="zip"))
            if self.curve is not None:
                self.curve.save()
            if self.on_save is not None:
                self.on_save(Path(path))
        return True


class SuccessMoodEval(EvalCallback):
    """Stable-Baselines3's periodic evaluation, scored on the caller's true emotions.

    Every ``eval_freq`` calls the policy plays ``n_eval_episodes`` fixed calls (seeded
    apart from the final evaluation's) and is scored by
    :func:`emorl.agents.evaluate.summarise` (success, hang-ups, final true mood, true
    reward) instead of the episode return; the best model by success + final mood goes to
    ``best_model.zip``, every evaluation to ``evaluations.json`` and TensorBoard.
    """

    def __init__(self, eval_env: Any, run_dir: str | Path, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(eval_env, best_model_save_path=None, log_path=None, verbose=0, **kwargs)
        self.calls_env = eval_env  # SB3 keeps a vectorised copy; calls are played on this one
        self.run_dir, self.seed = Path(run_dir), seed
        self.evaluations: list[dict[str, Any]] = []
        self.best = -np.inf

    def _on_step(self) -> bool:
        if self.eval_freq > 0 and self.n_calls % self.eval_freq == 0:
            self.evaluate()
        return True

    def evaluate(self) -> dict[str, Any]:
        from emorl.agents.evaluate import model_policy, run_episodes, summarise

        # evaluation calls are disjoint from the final evaluation's (seeded 10,000 on)
        episodes = run_episodes(
            self.calls_env,
            model_policy(self.model),
            self.n_eval_episodes,
            seed=1_000_000 + self.seed * 1000,
        )
        row = {"timesteps": self.num_timesteps, **summarise(episodes)}
        self.evaluations.append(row)
        for key in ("success_rate", "hangup_rate", "final_mood", "true_reward"):
            self.logger.record(f"eval/{key}", row[key]["value"])
        score = row["success_rate"]["value"] + row["final_mood"]["value"]
        self.last_mean_reward = float(score)
        if score > self.best:
            self.best = score
            save_model(self.model, self.run_dir / "best_model.zip")
        write_json(self.run_dir / "evaluations.json", self.evaluations)
        return row


def save_model(model: Any, path: str | Path) -> Path:
    """``model.save`` through a temporary file and a rename."""
    return atomic_write(path, lambda tmp: _save(model, tmp))


def _save(model: Any, tmp: Path) -> None:
    with tmp.open("wb") as handle:
        model.save(handle)

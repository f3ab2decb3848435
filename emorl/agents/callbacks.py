"""Training callbacks: a rich progress bar, episode curves, evaluation, atomic checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from emorl.artifacts import atomic_write, write_json


class RichProgress(BaseCallback):
    """A rich progress bar over environment steps with the recent success rate and mood."""

    def __init__(self, total: int, description: str = "training", enabled: bool = True) -> None:
        super().__init__()
        self.total, self.description, self.enabled = total, description, enabled
        self._bar: Any = None
        self._context: Any = None

    def _on_training_start(self) -> None:
        from emorl.progress import task_progress

        self._context = task_progress(self.enabled)
        self._bar = self._context.__enter__()
        self._task = self._bar.add_task(self.description, total=self.total)
        self._start = self.num_timesteps

    def _on_step(self) -> bool:
        self._bar.update(self._task, completed=self.num_timesteps - self._start)
        return True

    def _on_training_end(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None


class EpisodeCurve(BaseCallback):
    """Logs every finished training call (success, hang-up, final mood, return) by step.

    Written to ``path`` as JSON at the end of training (the learning curve), and the
    rolling means go to the Stable-Baselines3 logger (TensorBoard).
    """

    def __init__(self, path: str | Path, window: int = 100) -> None:
        super().__init__()
        self.path, self.window = Path(path), window
        self.rows: list[list[float]] = []

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


class EvalAndCheckpoint(BaseCallback):
    """Every ``eval_freq`` steps: evaluate on fixed calls and keep the best model; every
    ``checkpoint_freq`` steps: write ``checkpoints/model_<steps>.zip`` atomically."""

    def __init__(
        self,
        run_dir: str | Path,
        env_id: str,
        env_kwargs: dict[str, Any],
        eval_freq: int = 0,
        eval_episodes: int = 50,
        checkpoint_freq: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.env_id, self.env_kwargs = env_id, env_kwargs
        self.eval_freq, self.eval_episodes = eval_freq, eval_episodes
        self.checkpoint_freq, self.seed = checkpoint_freq, seed
        self.evaluations: list[dict[str, Any]] = []
        self.best = -np.inf
        self._last_eval = self._last_ckpt = 0

    def _on_training_start(self) -> None:
        self._last_eval = self._last_ckpt = self.num_timesteps

    def _on_step(self) -> bool:
        if self.eval_freq and self.num_timesteps - self._last_eval >= self.eval_freq:
            self._last_eval = self.num_timesteps
            self.evaluate()
        if self.checkpoint_freq and self.num_timesteps - self._last_ckpt >= self.checkpoint_freq:
            self._last_ckpt = self.num_timesteps
            save_model(self.model, self.run_dir / "checkpoints" / f"model_{self.num_timesteps}.zip")
        return True

    def evaluate(self) -> dict[str, Any]:
        from emorl.agents.evaluate import evaluate_policy

        # evaluation calls are disjoint from the final evaluation's (seeded 10,000 on)
        result = evaluate_policy(
            "agent",
            self.env_id,
            self.env_kwargs,
            model=self.model,
            episodes=self.eval_episodes,
            seed=1_000_000 + self.seed * 1000,
        )
        row = {"timesteps": self.num_timesteps, **{k: result[k] for k in result if k != "policy"}}
        self.evaluations.append(row)
        for key in ("success_rate", "hangup_rate", "final_mood", "true_reward"):
            self.logger.record(f"eval/{key}", row[key]["value"])
        score = row["success_rate"]["value"] + row["final_mood"]["value"]
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

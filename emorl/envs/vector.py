"""Vectorised ``EmoDialogue``: copies share one recognizer and are heard in one batch."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from emorl.envs.emo_dialogue import EmoDialogueEnv


class EmoDialogueVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`EmoDialogueEnv`; one recognizer call per step.

    Copies are seeded ``seed, seed + 1, ...``; autoreset is next-step (Gymnasium's
    default): the step after an episode ends resets that copy and ignores its action.
    ``gym.make_vec("EmoDialogue-v1", num_envs=N, ...)`` builds one (the registered vector
    entry point). A ``simulator`` passed in is deep-copied for every copy after the first.
    Every action is checked before any copy steps.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        kwargs.pop("render_mode", None)
        first = EmoDialogueEnv(**kwargs)
        rest_kwargs = {**kwargs, "scenario": first.scenario, "bank": first.bank}
        rest_kwargs.pop("simulator", None)
        if (
            not isinstance(kwargs.get("recognizer", "text"), str)
            or kwargs.get("recognizer", "text") != "text"
        ):
            rest_kwargs["recognizer"] = first.recognizer
        if first.estimator is not None:
            rest_kwargs["estimator"] = first.estimator
        user = kwargs.get("simulator")
        self.envs = [first] + [
            EmoDialogueEnv(
                **rest_kwargs, **({"simulator": copy.deepcopy(user)} if user is not None else {})
            )
            for _ in range(num_envs - 1)
        ]
        self.recognizer = first.recognizer
        for env in self.envs:
            env.recognizer = self.recognizer
        self.num_envs = num_envs
        self.single_action_space = first.action_space
        self.single_observation_space = first.observation_space
        self.action_space = batch_space(first.action_space, num_envs)
        self.observation_space = batch_space(first.observation_space, num_envs)
        assert isinstance(self.single_action_space, spaces.Discrete)
        self._autoreset = np.zeros(num_envs, dtype=bool)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        seeds = [None] * self.num_envs if seed is None else seed
        if isinstance(seeds, int):
            seeds = [seeds + i for i in range(self.num_envs)]
        replies = []
        for env, s in zip(self.envs, seeds, strict=True):
            if s is not None:
                env.reset_rng(s)
            replies.append(env.begin_reset())
        posteriors = self.recognizer.posteriors(replies)
        obs, infos = [], {}
        for i, env in enumerate(self.envs):
            o, info = env.finish_reset(posteriors[i])
            obs.append(o)
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return np.stack(obs), infos

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(
                f"expected {self.num_envs} actions (one per copy), got shape {actions.shape}"
            )
        for i, env in enumerate(self.envs):
            if not self._autoreset[i]:
                try:
                    env.check_action(actions[i])
                except (TypeError, ValueError) as err:
                    raise type(err)(f"copy {i}: {err}") from None
        replies = []
        for i, env in enumerate(self.envs):
            replies.append(env.begin_reset() if self._autoreset[i] else env.begin_step(actions[i]))
        posteriors = self.recognizer.posteriors(replies)
        obs = np.zeros((self.num_envs, *self.single_observation_space.shape), np.float32)
        rewards = np.zeros(self.num_envs)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {}
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                obs[i], info = env.finish_reset(posteriors[i])
            else:
                obs[i], rewards[i], terminated[i], truncated[i], info = env.finish_step(
                    posteriors[i]
                )
            infos = self._add_info(infos, info, i)
        self._autoreset = terminated | truncated
        return obs, rewards, terminated, truncated, infos

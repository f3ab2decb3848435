"""Past one machine on Ray (the optional extra ``emorl[ray]``).

``emorl.scale.cluster`` joins or starts Ray (local by default: one worker per core, no
dashboard, no usage stats); ``emorl.scale.data`` maps a list of rows through a pool of
Ray Data actors that each load their model once; ``emorl.scale.asr`` transcribes a
corpus that way into the same manifest and on-disk cache as :mod:`emorl.asr.batch`;
``emorl.scale.recognizers`` produces TER and SER evaluation predictions that way.
The reward study on Ray Tune is :mod:`emorl.agents.tune`, PPO on RLlib
:mod:`emorl.agents.rllib`. Nothing here is imported by ``import emorl``, and nothing
imports Ray before it is needed.
"""

from __future__ import annotations

from emorl.scale.cluster import RAY_INSTALL_HINT, ray_session, require_ray

__all__ = ["RAY_INSTALL_HINT", "ray_session", "require_ray"]

"""The classical baseline for speech: utterance functionals + a scikit-learn classifier.

IS09 (384 values) or eGeMAPSv02 (88) functionals per clip, z-normalised (per speaker
by default, with statistics from each speaker's own clips, labels unused), then an
RBF support vector machine or logistic regression with balanced class weights. Used to
measure the paper network against (``emorl evaluate ser --backend functionals``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from emorl.recognizers.speech.features import FeatureNormalizer


@dataclass
class FunctionalsBaseline:
    """Functionals -> normalisation -> SVM (or logistic regression)."""

    classifier: Literal["svm", "logreg"] = "svm"
    normalization: Literal["speaker", "global"] = "speaker"
    c: float = 1.0
    seed: int = 0
    normalizer: FeatureNormalizer | None = field(default=None, init=False)
    model: object | None = field(default=None, init=False)

    def _classifier(self):
        try:
            from sklearn.linear_model import LogisticRegression
            from sklearn.svm import SVC
        except ImportError as err:
            raise ImportError(
                "the functionals baseline needs scikit-learn: pip install 'emorl[speech]'"
            ) from err
        if self.classifier == "svm":
            return SVC(C=self.c, kernel="rbf", class_weight="balanced", random_state=self.seed)
        return LogisticRegression(
            C=self.c, class_weight="balanced", max_iter=2000, random_state=self.seed
        )

    def fit(
        self,
        vectors: Sequence[np.ndarray],
        labels: Sequence[int],
        speakers: Sequence[str] | None = None,
    ) -> FunctionalsBaseline:
        speakers = self._speakers(speakers)
        self.normalizer = FeatureNormalizer.fit(list(vectors), self.normalization, speakers)
        x = np.stack(self.normalizer.transform_many(list(vectors), speakers))
        self.model = self._classifier().fit(x, np.asarray(labels))
        return self

    def predict(
        self, vectors: Sequence[np.ndarray], speakers: Sequence[str] | None = None
    ) -> np.ndarray:
        if self.model is None or self.normalizer is None:
            raise ValueError("fit the baseline first")
        speakers = self._speakers(speakers)
        normalizer = self.normalizer.covering(vectors, speakers)
        x = np.stack(normalizer.transform_many(list(vectors), speakers))
        return np.asarray(self.model.predict(x))

    def _speakers(self, speakers: Sequence[str] | None) -> list[str] | None:
        if self.normalization == "speaker" and speakers is None:
            raise ValueError("speaker normalisation needs the speaker of every clip")
        return [str(s) for s in speakers] if speakers is not None else None

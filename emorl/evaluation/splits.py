"""Deterministic data splits: shuffled (stratified) k-fold and holdout, and their
speaker- or dialogue-exclusive variants.

The k-fold and group splits are scikit-learn's (:class:`~sklearn.model_selection.KFold`,
:class:`~sklearn.model_selection.StratifiedKFold`, :class:`~sklearn.model_selection.GroupKFold`,
:class:`~sklearn.model_selection.StratifiedGroupKFold`,
:class:`~sklearn.model_selection.GroupShuffleSplit`), wrapped so that every function is a pure
function of its arguments and ``seed`` (passed as ``random_state``). Index arrays are sorted
int64; every k-fold index lies in exactly one test fold. The same seed gives other splits
than the hand-written ones this module had before scikit-learn; each is still the same from
run to run.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Sequence

import numpy as np

Fold = tuple[np.ndarray, np.ndarray]


def _folds(split: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[Fold]:
    """scikit-learn's (train, test) pairs as sorted int64 arrays."""
    return [(np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)) for tr, te in split]


def _labels(stratify: Sequence | None, n: int) -> np.ndarray | None:
    """Per-sample labels as a 1-D array of length ``n`` (or ``None``)."""
    if stratify is None:
        return None
    labels = np.asarray(stratify)
    if labels.ndim != 1 or labels.size != n:
        raise ValueError(f"stratify must hold one label per sample ({n}), got {labels.size}")
    return labels


def _group_ids(groups: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    """Dense group ids (first-appearance order) and the number of groups."""
    index: dict[Hashable, int] = {}
    ids = np.array([index.setdefault(g, len(index)) for g in groups], dtype=np.int64)
    if ids.size == 0:
        raise ValueError("groups must not be empty")
    return ids, len(index)


def _check_fraction(fraction: float) -> None:
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction}")


def kfold(n: int, k: int, *, seed: int, stratify: Sequence | None = None) -> list[Fold]:
    """Shuffled k-fold over ``range(n)``; stratified when ``stratify`` labels are given.

    Unstratified: scikit-learn's ``KFold(shuffle=True, random_state=seed)``, fold sizes
    differ by at most one. Stratified: ``StratifiedKFold(shuffle=True, random_state=seed)``,
    class counts and fold sizes differ by at most one between folds (scikit-learn warns
    when a class has fewer than ``k`` samples). ``k < 2`` or ``k > n`` raises ``ValueError``.
    """
    if k < 2 or k > n:
        raise ValueError(f"k must satisfy 2 <= k <= n, got k={k}, n={n}")
    from sklearn.model_selection import KFold, StratifiedKFold  # on use: keeps imports fast

    labels = _labels(stratify, n)
    x = np.zeros((n, 1))
    if labels is None:
        return _folds(KFold(k, shuffle=True, random_state=seed).split(x))
    return _folds(StratifiedKFold(k, shuffle=True, random_state=seed).split(x, labels))


def group_kfold(
    groups: Sequence[Hashable], k: int, *, seed: int, stratify: Sequence | None = None
) -> list[Fold]:
    """Group-exclusive k-fold (speaker- or dialogue-exclusive): no group is on both sides.

    Unstratified: scikit-learn's ``GroupKFold`` (each group, largest first, goes to the fold
    with the fewest samples so far) over group ids shuffled with ``seed``, so ``seed``
    decides between groups of equal size. With ``stratify`` labels:
    ``StratifiedGroupKFold(shuffle=True, random_state=seed)`` (each group goes to the fold
    that keeps the per-class shares most even); should that leave a fold without samples,
    the unstratified split is returned instead, so no test fold is empty. ``k < 2`` or
    ``k`` above the number of groups raises ``ValueError``.
    """
    ids, n_groups = _group_ids(groups)
    if k < 2 or k > n_groups:
        raise ValueError(f"k={k} folds need 2 <= k <= number of groups, got {n_groups} groups")
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    labels = _labels(stratify, ids.size)
    x = np.zeros((ids.size, 1))
    if labels is not None:
        with warnings.catch_warnings():
            # "The least populated class in y has only n members": expected for rare classes
            warnings.filterwarnings("ignore", message="The least populated class")
            split = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(x, labels, ids)
            folds = _folds(split)
        if all(test.size for _, test in folds):
            return folds
    shuffled = np.random.default_rng(seed).permutation(n_groups)[ids]
    return _folds(GroupKFold(k).split(x, groups=shuffled))


def group_holdout(
    groups: Sequence[Hashable], fraction: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Group-exclusive ``(train_idx, val_idx)`` with about ``fraction`` of the groups in val.

    scikit-learn's ``GroupShuffleSplit`` with ``round(fraction * groups)`` validation groups,
    clamped so that each side keeps at least one group; the share of samples follows the
    share of groups only on average (groups differ in size). Fewer than two groups, or a
    fraction outside (0, 1), raises ``ValueError``.
    """
    _check_fraction(fraction)
    ids, n_groups = _group_ids(groups)
    if n_groups < 2:
        raise ValueError(f"group_holdout needs at least 2 groups, got {n_groups}")
    from sklearn.model_selection import GroupShuffleSplit

    n_val = min(max(round(fraction * n_groups), 1), n_groups - 1)
    split = GroupShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
    [(train, val)] = _folds(split.split(np.zeros((ids.size, 1)), groups=ids))
    return train, val


def _allocate(class_sizes: np.ndarray, total: int, fraction: float) -> np.ndarray:
    """Per-class test counts summing to ``total`` (largest-remainder rounding)."""
    exact = class_sizes * fraction
    counts = np.floor(exact).astype(np.int64)
    remainder = exact - counts
    for c in np.argsort(-remainder, kind="stable"):
        if counts.sum() >= total:
            break
        if counts[c] < class_sizes[c]:
            counts[c] += 1
    return counts


def holdout(
    n: int, fraction: float, *, seed: int, stratify: Sequence | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled ``(train_idx, test_idx)`` with ``round(fraction * n)`` test samples.

    The test size is clamped to ``[1, n - 1]``. With ``stratify`` labels each class gives
    its share (largest-remainder rounding). ``n < 2`` or a fraction outside (0, 1)
    raises ``ValueError``. Kept by hand (numpy's ``default_rng(seed)``): scikit-learn's
    stratified holdout refuses a class with a single sample, which small validation
    splits meet.
    """
    _check_fraction(fraction)
    if n < 2:
        raise ValueError(f"holdout needs n >= 2, got {n}")
    labels = _labels(stratify, n)
    rng = np.random.default_rng(seed)
    n_test = min(max(round(fraction * n), 1), n - 1)
    if labels is None:
        test = rng.permutation(n)[:n_test]
    else:
        members = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        counts = _allocate(np.array([m.size for m in members]), n_test, fraction)
        test = np.concatenate(
            [rng.permutation(m)[:count] for m, count in zip(members, counts, strict=True)]
        )
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)

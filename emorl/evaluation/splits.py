"""Deterministic data splits: shuffled (stratified) k-fold and holdout, and their
speaker- or dialogue-exclusive variants.

Every function is a pure function of its arguments and ``seed`` (numpy's
``default_rng``). Index arrays are sorted int64; every k-fold index lies in
exactly one test fold.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

Fold = tuple[np.ndarray, np.ndarray]


def _fold_pairs(assignment: np.ndarray, k: int) -> list[Fold]:
    """(train, test) index pairs from a per-sample fold number."""
    out = []
    for fold in range(k):
        test = np.flatnonzero(assignment == fold).astype(np.int64)
        train = np.flatnonzero(assignment != fold).astype(np.int64)
        out.append((train, test))
    return out


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

    Unstratified: shuffled indices are dealt round-robin over the folds. Stratified: each
    class (in sorted label order) is shuffled and dealt round-robin, the deal carrying on
    from where the previous class stopped, so class counts and fold sizes differ by at
    most one between folds. ``k < 2`` or ``k > n`` raises ``ValueError``.
    """
    if k < 2 or k > n:
        raise ValueError(f"k must satisfy 2 <= k <= n, got k={k}, n={n}")
    labels = _labels(stratify, n)
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)
    else:
        order = np.concatenate(
            [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
        )
    assignment = np.empty(n, dtype=np.int64)
    assignment[order] = np.arange(n) % k
    return _fold_pairs(assignment, k)


def _stratified_cost(
    counts: np.ndarray, group_counts: np.ndarray, totals: np.ndarray
) -> np.ndarray:
    """Per candidate fold: mean over classes of the std of class shares across folds."""
    k = counts.shape[0]
    costs = np.empty(k)
    for fold in range(k):
        trial = counts.copy()
        trial[fold] += group_counts
        costs[fold] = (trial / totals).std(axis=0).mean()
    return costs


def group_kfold(
    groups: Sequence[Hashable], k: int, *, seed: int, stratify: Sequence | None = None
) -> list[Fold]:
    """Group-exclusive k-fold (speaker- or dialogue-exclusive): no group is on both sides.

    Groups are shuffled with ``seed``, ordered largest first (ties keep the shuffled
    order) and each put in the currently smallest fold (ties: lowest fold number). With
    ``stratify`` labels, a group goes to the fold that keeps the per-class shares most
    even (ties: smallest fold). Either way each fold first receives one group, so none is
    empty. ``k < 2`` or ``k`` above the number of groups raises ``ValueError``.
    """
    ids, n_groups = _group_ids(groups)
    if k < 2 or k > n_groups:
        raise ValueError(f"k={k} folds need 2 <= k <= number of groups, got {n_groups} groups")
    labels = _labels(stratify, ids.size)
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(n_groups)
    sizes = np.bincount(ids, minlength=n_groups)
    order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]
    if labels is not None:
        classes, label_ids = np.unique(labels, return_inverse=True)
        per_group = np.zeros((n_groups, classes.size), dtype=np.int64)
        np.add.at(per_group, (ids, label_ids), 1)
        totals = per_group.sum(axis=0)
        class_counts = np.zeros((k, classes.size), dtype=np.int64)
    fold_sizes = np.zeros(k, dtype=np.int64)
    group_fold = np.empty(n_groups, dtype=np.int64)
    for g in order:
        empty = np.flatnonzero(fold_sizes == 0)
        if empty.size:
            fold = int(empty[0])
        elif labels is None:
            fold = int(np.argmin(fold_sizes))
        else:
            costs = _stratified_cost(class_counts, per_group[g], totals)
            fold = int(np.lexsort((np.arange(k), fold_sizes, costs))[0])
        group_fold[g] = fold
        fold_sizes[fold] += sizes[g]
        if labels is not None:
            class_counts[fold] += per_group[g]
    return _fold_pairs(group_fold[ids], k)


def group_holdout(
    groups: Sequence[Hashable], fraction: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Group-exclusive ``(train_idx, val_idx)`` with about ``fraction`` of samples in val.

    Groups are visited in shuffled order; each joins validation when that brings the
    validation size closer to ``fraction * n``. Each side keeps at least one group;
    fewer than two groups, or a fraction outside (0, 1), raises ``ValueError``.
    """
    _check_fraction(fraction)
    ids, n_groups = _group_ids(groups)
    if n_groups < 2:
        raise ValueError(f"group_holdout needs at least 2 groups, got {n_groups}")
    sizes = np.bincount(ids, minlength=n_groups)
    target = fraction * ids.size
    order = np.random.default_rng(seed).permutation(n_groups)
    in_val = np.zeros(n_groups, dtype=bool)
    val_size = 0
    for g in order:
        if abs(val_size + sizes[g] - target) < abs(val_size - target):
            in_val[g] = True
            val_size += sizes[g]
    if not in_val.any():
        in_val[order[0]] = True
    if in_val.all():
        in_val[order[-1]] = False
    val_mask = in_val[ids]
    return np.flatnonzero(~val_mask).astype(np.int64), np.flatnonzero(val_mask).astype(np.int64)


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
    raises ``ValueError``.
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

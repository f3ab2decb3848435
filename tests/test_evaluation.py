"""Tests of the evaluation core: metrics, splits, cross-validation and plots."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from emorl.evaluation import (
    classification_report,
    confusion_matrix,
    cross_validate,
    expected_calibration_error,
    group_holdout,
    group_kfold,
    holdout,
    kfold,
    plot_confusion_matrix,
    plot_learning_curves,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --- metrics ---------------------------------------------------------------------------

# cm = [[3, 1, 0], [1, 1, 0], [0, 1, 1]]
Y_TRUE = [0, 0, 0, 0, 1, 1, 2, 2]
Y_PRED = [0, 0, 0, 1, 1, 0, 2, 1]


def test_confusion_matrix_counts() -> None:
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.dtype == np.int64
    assert cm.tolist() == [[3, 1, 0], [1, 1, 0], [0, 1, 1]]


def test_confusion_matrix_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="5"):
        confusion_matrix([0, 1], [0, 5], 3)
    with pytest.raises(ValueError, match="-1"):
        confusion_matrix([-1, 1], [0, 1], 3)
    with pytest.raises(ValueError, match="length"):
        confusion_matrix([0, 1], [0], 3)


def test_report_wa_ua_macro_f1_by_hand() -> None:
    r = classification_report(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert r.n == 8
    assert r.accuracy == pytest.approx(5 / 8)  # WA
    assert r.ua == pytest.approx((3 / 4 + 1 / 2 + 1 / 2) / 3)  # 0.5833 != WA
    # precision 3/4, 1/3, 1 -> F1 3/4, 2/5, 2/3
    assert r.macro_f1 == pytest.approx((3 / 4 + 2 / 5 + 2 / 3) / 3)
    assert r.per_class["b"] == pytest.approx(
        {"precision": 1 / 3, "recall": 1 / 2, "f1": 2 / 5, "support": 2}
    )
    assert r.extra == {}


def test_report_ua_skips_classes_without_true_samples() -> None:
    r = classification_report([0, 0, 1], [0, 3, 1], ["a", "b", "c", "d"])
    assert r.ua == pytest.approx(0.75)  # (1/2 + 1) / 2, not / 4
    assert r.macro_f1 == pytest.approx((2 / 3 + 1 + 0 + 0) / 4)  # every class counts
    assert r.per_class["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_macro_f1_over_absent_classes_equals_scikit_learn() -> None:
    from sklearn.metrics import balanced_accuracy_score, f1_score

    # class 3 has no true sample but is predicted once; class 4 is both
    y_true = [0, 0, 0, 1, 1, 2, 2, 4]
    y_pred = [0, 1, 3, 1, 4, 2, 0, 4]
    labels = ["a", "b", "c", "d", "e"]
    r = classification_report(y_true, y_pred, labels)
    expected = f1_score(y_true, y_pred, labels=range(5), average="macro", zero_division=0)
    assert r.macro_f1 == pytest.approx(expected) == pytest.approx(0.44666667)
    assert r.macro_f1 != pytest.approx(0.55833333)  # the mean over present classes only
    assert r.ua == pytest.approx(balanced_accuracy_score(y_true, y_pred))


def test_report_to_dict_is_json() -> None:
    d = classification_report(Y_TRUE, Y_PRED, ["a", "b", "c"]).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["confusion"] == [[3, 1, 0], [1, 1, 0], [0, 1, 1]]
    assert d["labels"] == ["a", "b", "c"]
    assert {"n", "accuracy", "ua", "macro_f1", "per_class"} <= set(d)


def test_semeval_extras_by_hand() -> None:
    labels = ["positive", "negative", "neutral"]  # any order is recognised
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    y_pred = [0, 0, 2, 1, 0, 2, 2, 2, 1, 0]
    r = classification_report(y_true, y_pred, labels)
    assert r.confusion.tolist() == [[2, 0, 1], [1, 1, 0], [1, 1, 3]]
    assert r.accuracy == pytest.approx(0.6)
    # F1(pos): P=1/2, R=2/3 -> 4/7; F1(neg): P=R=1/2 -> 1/2
    assert r.extra["f1_pn"] == pytest.approx((4 / 7 + 1 / 2) / 2)
    assert r.extra["macro_recall"] == pytest.approx((2 / 3 + 1 / 2 + 3 / 5) / 3)
    d = r.to_dict()
    assert d["f1_pn"] == pytest.approx(15 / 28)
    assert "macro_recall" in d


def test_report_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        classification_report([], [], ["a", "b"])


def test_ece_calibrated_is_zero() -> None:
    probs = np.tile([0.8, 0.2], (10, 1))
    y = [0] * 8 + [1] * 2  # 80 % right at confidence 0.8
    assert expected_calibration_error(probs, y) == pytest.approx(0.0, abs=1e-12)


def test_ece_overconfident() -> None:
    probs = np.tile([0.05, 0.95], (10, 1))
    y = [1] * 6 + [0] * 4  # 60 % right at confidence 0.95
    assert expected_calibration_error(probs, y) == pytest.approx(0.35)


def test_ece_bins_by_hand() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    y = [0, 1, 1, 1]
    # bin 0.9: acc 1/2 -> gap 0.4; bin 0.6: acc 1 -> gap 0.4; each half the samples
    assert expected_calibration_error(probs, y) == pytest.approx(0.4)
    # one bin: mean accuracy 0.75 == mean confidence 0.75
    assert expected_calibration_error(probs, y, n_bins=1) == pytest.approx(0.0, abs=1e-12)


def test_ece_bin_edges_are_right_closed() -> None:
    probs = np.array([[0.5, 0.5], [0.0, 1.0]])
    # confidence 0.5 falls in (0, 0.5], 1.0 in (0.5, 1]: gaps 0.5 and 1.0
    assert expected_calibration_error(probs, [0, 0], n_bins=2) == pytest.approx(0.75)


# --- splits ----------------------------------------------------------------------------


def _assert_partition(folds: list, n: int) -> None:
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests.tolist()) == list(range(n))
    for train, test in folds:
        assert not set(train.tolist()) & set(test.tolist())
        assert len(train) + len(test) == n


def test_kfold_covers_each_index_once() -> None:
    folds = kfold(23, 5, seed=0)
    assert len(folds) == 5
    _assert_partition(folds, 23)
    assert sorted(len(test) for _, test in folds) == [4, 4, 5, 5, 5]


def test_kfold_stratified_balances_classes() -> None:
    y = np.array([0] * 10 + [1] * 7 + [2] * 4)
    folds = kfold(len(y), 5, seed=3, stratify=y)
    _assert_partition(folds, len(y))
    per_class = np.array([np.bincount(y[test], minlength=3) for _, test in folds])
    assert per_class[:, 0].tolist() == [2] * 5
    assert per_class.max(axis=0).tolist() == [2, 2, 1]
    assert per_class.min(axis=0).tolist() == [2, 1, 0]
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 1


def test_kfold_deterministic_and_seed_dependent() -> None:
    a = kfold(50, 10, seed=7)
    b = kfold(50, 10, seed=7)
    c = kfold(50, 10, seed=8)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))


def test_kfold_rejects_bad_k() -> None:
    for k in (0, 1, 11):
        with pytest.raises(ValueError, match=f"k={k}"):
            kfold(10, k, seed=0)


def test_group_kfold_is_group_exclusive_and_balanced() -> None:
    rng = np.random.default_rng(0)
    groups = np.repeat([f"spk{i}" for i in range(30)], rng.integers(2, 12, size=30))
    folds = group_kfold(groups, 5, seed=1)
    _assert_partition(folds, len(groups))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= 11  # at most the largest group


def test_group_kfold_greedy_by_hand() -> None:
    sizes = [5, 4, 3, 3, 2, 1]  # 5|1, 4|2, 3|3 -> every fold gets 6
    groups = [g for g, s in enumerate(sizes) for _ in range(s)]
    for seed in range(3):
        folds = group_kfold(groups, 3, seed=seed)
        assert sorted(len(test) for _, test in folds) == [6, 6, 6]


def test_group_kfold_stratified() -> None:
    groups = np.repeat(np.arange(12), 2)
    y = np.repeat([0] * 4 + [1] * 8, 2)  # each speaker one class: 4 of class 0, 8 of class 1
    for seed in range(5):
        folds = group_kfold(groups, 4, seed=seed, stratify=y)
        _assert_partition(folds, len(y))
        for train, test in folds:
            assert not set(groups[train]) & set(groups[test])
            assert np.bincount(y[test], minlength=2).tolist() == [2, 4]


def test_group_kfold_deterministic_and_seed_dependent() -> None:
    groups = np.repeat(np.arange(12), 3)
    a, b, c = (group_kfold(groups, 4, seed=s) for s in (0, 0, 1))
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c, strict=True))


def test_group_kfold_rejects_too_many_folds() -> None:
    with pytest.raises(ValueError, match=r"k=4.*3 groups"):
        group_kfold(["a", "a", "b", "c"], 4, seed=0)


def test_group_holdout_fraction_and_exclusivity() -> None:
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(40), rng.integers(1, 10, size=40))
    train, val = group_holdout(groups, 0.25, seed=0)
    assert len(train) + len(val) == len(groups)
    assert not set(groups[train]) & set(groups[val])
    assert abs(len(val) / len(groups) - 0.25) < 0.03
    equal = np.repeat(np.arange(10), 5)
    assert len(group_holdout(equal, 0.2, seed=4)[1]) == 10


def test_group_holdout_needs_two_groups() -> None:
    with pytest.raises(ValueError, match="2 groups"):
        group_holdout(["a", "a", "a"], 0.3, seed=0)
    with pytest.raises(ValueError, match="fraction"):
        group_holdout(["a", "b"], 1.0, seed=0)
    train, val = group_holdout(["a", "b", "b"], 0.9, seed=0)
    assert len(train) >= 1 and len(val) >= 1


def test_holdout_plain_and_stratified() -> None:
    train, test = holdout(100, 0.2, seed=0)
    assert len(test) == 20 and len(train) == 80
    assert not set(train.tolist()) & set(test.tolist())
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, test = holdout(100, 0.2, seed=0, stratify=y)
    assert np.bincount(y[test]).tolist() == [10, 6, 4]
    assert np.array_equal(test, holdout(100, 0.2, seed=0, stratify=y)[1])


# --- cross-validation ------------------------------------------------------------------


def _majority(y: np.ndarray):
    def fit_predict(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        return np.full(len(test), np.bincount(y[train]).argmax())

    return fit_predict


def test_cross_validate_majority_baseline() -> None:
    y = np.array([0] * 7 + [1] * 3)
    # stratified folds hold 3+1, 2+1, 2+1 samples of classes 0+1 -> WA 3/4, 2/3, 2/3
    res = cross_validate(_majority(y), y, ["a", "b"], folds=3, seeds=(0, 1), progress=False)
    assert len(res.runs) == 6
    assert [(r.fold, r.seed) for r in res.runs][:3] == [(0, 0), (0, 1), (1, 0)]
    assert res.mean("accuracy") == pytest.approx(25 / 36)
    # sample std over the 6 runs (ddof=1): population std sqrt(2)/36 times sqrt(6/5)
    sample_std = np.sqrt(2) / 36 * np.sqrt(6 / 5)
    assert res.std("accuracy") == pytest.approx(sample_std)
    assert res.std("accuracy") == pytest.approx(np.std(res.values("accuracy"), ddof=1))
    assert res.mean("ua") == pytest.approx(0.5)
    assert res.std("ua") == pytest.approx(0.0)
    assert res.format("accuracy") == "0.694 ± 0.043"
    s = res.summary()
    assert json.loads(json.dumps(s)) == s
    assert s["accuracy"] == pytest.approx({"mean": 25 / 36, "std": sample_std})
    assert (s["folds"], s["seeds"], s["n"]) == (3, 2, 10)
    assert s["confusion"] == [[14, 0], [6, 0]]


def test_cross_validate_same_folds_per_seed_and_groups() -> None:
    y = np.array([0, 1] * 12)
    groups = np.repeat(np.arange(8), 3)
    calls: list[tuple[tuple[int, ...], int]] = []

    def fit_predict(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        assert not set(groups[train]) & set(groups[test])
        calls.append((tuple(test.tolist()), seed))
        return y[test]  # oracle

    res = cross_validate(fit_predict, y, ["a", "b"], folds=4, seeds=(5, 9), groups=groups)
    assert [seed for _, seed in calls] == [5, 9] * 4
    assert all(calls[i][0] == calls[i + 1][0] for i in range(0, 8, 2))
    assert res.mean("accuracy") == 1.0 and res.std("accuracy") == 0.0


def test_cross_validate_rejects_wrong_prediction_length() -> None:
    y = np.array([0, 1] * 5)

    def short(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        return np.zeros(len(test) - 1, dtype=int)

    with pytest.raises(ValueError, match="predictions"):
        cross_validate(short, y, ["a", "b"], folds=2, progress=False)


def test_cross_validate_semeval_extras_in_summary() -> None:
    y = np.array([0, 1, 2] * 4)
    res = cross_validate(
        lambda tr, te, s: y[te],
        y,
        ["negative", "neutral", "positive"],
        folds=2,
        seeds=(0,),
        progress=False,
    )
    assert res.summary()["f1_pn"] == {"mean": 1.0, "std": 0.0}


# --- plots -----------------------------------------------------------------------------


def test_plot_confusion_matrix_writes_png(tmp_path) -> None:
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    out = plot_confusion_matrix(
        cm, ["neutral", "happy", "sad"], tmp_path / "a" / "cm.png", title="test"
    )
    assert out == tmp_path / "a" / "cm.png"
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5000
    with pytest.raises(ValueError, match="shape"):
        plot_confusion_matrix(cm, ["a", "b"], tmp_path / "bad.png")


def test_plot_learning_curves_writes_png(tmp_path) -> None:
    history = {"train_loss": [1.0, 0.7, 0.5], "val_ua": [0.4, 0.5, 0.55]}
    data = plot_learning_curves(history, tmp_path / "curves.png").read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 5000


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, emorl.evaluation; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cross_validate_resumes_from_its_journal(tmp_path) -> None:
    y = np.array([0, 1] * 10)
    calls: list[tuple[int, int]] = []

    def fit_predict(train: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
        calls.append((int(test[0]), seed))
        if len(calls) == 3:
            raise KeyboardInterrupt  # interrupted during the third run
        return (y[test] + seed) % 2

    journal = tmp_path / "runs.json"
    with pytest.raises(KeyboardInterrupt):
        cross_validate(fit_predict, y, ("a", "b"), folds=2, seeds=(0, 1), journal=journal, key="k")
    assert len(json.loads(journal.read_text())["runs"]) == 2
    calls.clear()
    result = cross_validate(
        fit_predict, y, ("a", "b"), folds=2, seeds=(0, 1), journal=journal, key="k"
    )
    assert len(calls) == 2  # only the two unfinished runs were trained
    assert [r.report.accuracy for r in result.runs] == [1.0, 0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="different cross-validation"):
        cross_validate(fit_predict, y, ("a", "b"), folds=2, seeds=(0,), journal=journal, key="x")

#!/usr/bin/env python3
"""Writes deploy/prometheus/tests/ground_truth_test.yml: promtool unit tests that check the
realised-performance recording rules (deploy/prometheus/rules/ground_truth.yml) against
scikit-learn and a reference ECE on the same outcomes, to 1e-9.

The outcomes are drawn from fixed seeds; the counters mlotel would export for them
(ml_outcomes_total, ml_outcome_calibration_total, the confidence sums, the regression
error histogram's _sum/_count and the squared-error sum) are written as promtool input
series, spread over two replicas (the rules sum over them), and each rule's value is
compared with:
  accuracy           sklearn.metrics.accuracy_score
  precision/recall/F1 per class, macro-F1
                     sklearn.metrics.precision_recall_fscore_support (zero_division=0;
                     a class never predicted has no precision series: skipped there)
  reliability diagram sklearn.calibration.calibration_curve(n_bins=10, strategy="uniform")
  ECE                expected_calibration_error() below: ten bins (lower, upper] with the
                     edges numpy.linspace(0, 1, 11), the first bin also holding 0 (the
                     bins of calibration_curve), ECE = sum_b n_b/N |acc_b - conf_b|
                     (Naeini et al. 2015, Guo et al. 2017)
  MAE, RMSE          sklearn.metrics.mean_absolute_error, root_mean_squared_error
Each check is `abs(rule - expected) < bool 1e-9`, expected 1. Two model versions are used:
one with the confidence sums under the name a scrape gives them
(..._confidence_ratio_total), one under the Collector's (..._confidence_total).

The output is deterministic (fixed seeds, pinned versions in
scripts/requirements-ground-truth.txt): rerunning the script must leave the file unchanged.

Usage: python scripts/ground_truth_fixtures.py   (from anywhere)
"""

import os

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    precision_recall_fscore_support,
    root_mean_squared_error,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "deploy", "prometheus", "tests", "ground_truth_test.yml")
EDGES = np.linspace(0.0, 1.0, 11)
BIN_NAMES = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"]
CLASSES = ["setosa", "versicolor", "virginica", "__other__"]
INSTANCES = ["predictor-a:8080", "predictor-b:8080"]
TOLERANCE = "1e-9"
EVAL = "30m"  # every counter goes 0 -> its total between t=0 and t=1m, so increase() is exact


def confidence_bins(confidence):
    """The bin of each confidence: mlotel's rule, and calibration_curve's."""
    return np.searchsorted(EDGES[1:-1], confidence, side="left")


def expected_calibration_error(correct, confidence):
    bins = confidence_bins(confidence)
    n = len(confidence)
    total = 0.0
    for b in range(len(EDGES) - 1):
        mask = bins == b
        if mask.any():
            total += mask.sum() / n * abs(correct[mask].mean() - confidence[mask].mean())
    return total


def outcomes(rng, n):
    """True and predicted labels and confidences. __other__ is true sometimes but never
    predicted; some confidences sit exactly on bin edges (and on 0 and 1)."""
    truth = rng.choice(len(CLASSES), size=n, p=[0.35, 0.35, 0.25, 0.05])
    right = rng.random(n) < 0.8
    wrong = (truth + rng.integers(1, 3, size=n)) % 3
    predicted = np.where(right & (truth < 3), truth, np.where(truth == 3, rng.integers(0, 3, size=n), wrong))
    correct = predicted == truth
    confidence = np.where(correct, rng.beta(5, 2, size=n), rng.beta(2, 3, size=n))
    on_edges = [0.0, 0.1, 0.3, 0.30000000000000004, 0.6000000000000001, 0.7000000000000001, 1.0, 0.9]
    confidence[: len(on_edges)] = on_edges
    instance = rng.integers(0, len(INSTANCES), size=n)
    return truth, predicted, confidence, instance


def labels(**pairs):
    return "{" + ", ".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"


def series(name, label_set, total):
    return f"      - series: '{name}{label_set}'\n        values: '0 {float(total)!r}x60'\n"


def check(rule, label_set, value):
    return (
        f"      - expr: 'abs({rule}{label_set} - {float(value)!r}) < bool {TOLERANCE}'\n"
        f"        eval_time: {EVAL}\n"
        f"        exp_samples:\n"
        f"          - labels: '{label_set}'\n"
        f"            value: 1\n"
    )


def classification_fixture(rng, version, confidence_name):
    n = 1500
    truth, predicted, confidence, instance = outcomes(rng, n)
    model = dict(job="predictor", ml_model_name="iris", ml_model_version=version)
    inputs, tests = [], []
    correct = predicted == truth
    for i, where in enumerate(INSTANCES):
        on = instance == i
        for p in range(len(CLASSES)):
            for t in range(len(CLASSES)):
                count = int((on & (predicted == p) & (truth == t)).sum())
                if count:
                    inputs.append(series("ml_outcomes_total", labels(
                        instance=where, **model, ml_prediction_label=CLASSES[p],
                        ml_outcome_label=CLASSES[t], ml_outcome_correct=str(p == t).lower()), count))
        bins = confidence_bins(confidence)
        for b, name in enumerate(BIN_NAMES):
            in_bin = on & (bins == b)
            if not in_bin.any():
                continue
            for is_right in (True, False):
                count = int((in_bin & (correct == is_right)).sum())
                if count:
                    inputs.append(series("ml_outcome_calibration_total", labels(
                        instance=where, **model, ml_confidence_bin=name,
                        ml_outcome_correct=str(is_right).lower()), count))
            # Summed in order, as the SDK's counter does (float addition).
            total = 0.0
            for c in confidence[in_bin]:
                total += float(c)
            inputs.append(series(confidence_name, labels(instance=where, **model, ml_confidence_bin=name), total))

    names = [CLASSES[c] for c in range(len(CLASSES))]
    y_true = [names[t] for t in truth]
    y_pred = [names[p] for p in predicted]
    present = sorted(set(y_true) | set(y_pred))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=present, zero_division=0)
    _, _, macro_f1, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    model_labels = labels(**model)
    for window in ("1h", "1d"):
        tests.append(check(f"job_model_version:ml_outcomes_accuracy:ratio{window}", model_labels,
                           accuracy_score(y_true, y_pred)))
        tests.append(check(f"job_model_version:ml_outcomes_macro_f1:ratio{window}", model_labels, macro_f1))
        for i, name in enumerate(present):
            class_labels = labels(**model, **{"class": name})
            if name in y_pred:
                tests.append(check(f"job_model_version_class:ml_outcomes_precision:ratio{window}",
                                   class_labels, precision[i]))
            tests.append(check(f"job_model_version_class:ml_outcomes_recall:ratio{window}", class_labels, recall[i]))
            tests.append(check(f"job_model_version_class:ml_outcomes_f1:ratio{window}", class_labels, f1[i]))
        tests.append(check(f"job_model_version:ml_outcome_calibration_ece:ratio{window}", model_labels,
                           expected_calibration_error(correct, confidence)))
        prob_true, prob_pred = calibration_curve(correct, confidence, n_bins=10, strategy="uniform")
        used = sorted(set(confidence_bins(confidence)))
        for b, right_share, mean_confidence in zip(used, prob_true, prob_pred):
            bin_labels = labels(**model, ml_confidence_bin=BIN_NAMES[b])
            tests.append(check(f"job_model_version_bin:ml_outcome_calibration_accuracy:ratio{window}",
                               bin_labels, right_share))
            tests.append(check(f"job_model_version_bin:ml_outcome_calibration_confidence:mean{window}",
                               bin_labels, mean_confidence))
    # The precision of a class never predicted is absent (sklearn reports 0).
    never = [name for name in present if name not in y_pred]
    for name in never:
        tests.append(
            f"      - expr: 'job_model_version_class:ml_outcomes_precision:ratio1h{labels(**model, **{'class': name})}'\n"
            f"        eval_time: {EVAL}\n"
            f"        exp_samples: []\n")
    return inputs, tests


def regression_fixture(rng):
    n = 800
    y_true = rng.normal(20.0, 5.0, size=n)
    y_pred = y_true + rng.normal(0.3, 2.0, size=n)
    instance = rng.integers(0, len(INSTANCES), size=n)
    model = dict(job="predictor", ml_model_name="price", ml_model_version="1")
    inputs, tests = [], []
    for i, where in enumerate(INSTANCES):
        on = instance == i
        abs_sum = sq_sum = 0.0
        for t, p in zip(y_true[on], y_pred[on]):
            error = float(t) - float(p)
            abs_sum += abs(error)
            sq_sum += error * error
        at = labels(instance=where, **model)
        inputs.append(series("ml_outcome_absolute_error_sum", at, abs_sum))
        inputs.append(series("ml_outcome_absolute_error_count", at, int(on.sum())))
        inputs.append(series("ml_outcome_squared_error_total", at, sq_sum))
    model_labels = labels(**model)
    for window in ("1h", "1d"):
        tests.append(check(f"job_model_version:ml_outcome_absolute_error:mean{window}", model_labels,
                           mean_absolute_error(y_true, y_pred)))
        tests.append(check(f"job_model_version:ml_outcome_squared_error:rmse{window}", model_labels,
                           root_mean_squared_error(y_true, y_pred)))
    return inputs, tests


def main():
    rng = np.random.default_rng(18)
    scraped_in, scraped_tests = classification_fixture(rng, "2.0.0", "ml_outcome_calibration_confidence_ratio_total")
    collected_in, collected_tests = classification_fixture(rng, "1.0.0", "ml_outcome_calibration_confidence_total")
    regression_in, regression_tests = regression_fixture(rng)
    text = (
        "# Generated by scripts/ground_truth_fixtures.py (scikit-learn's values for the\n"
        "# realised-performance rules); do not edit: change the script and rerun it.\n"
        "rule_files:\n"
        "  - ../rules/ground_truth.yml\n"
        "evaluation_interval: 1m\n"
        "tests:\n"
        "  - interval: 1m\n"
        "    input_series:\n"
        + "".join(scraped_in + collected_in + regression_in)
        + "    promql_expr_test:\n"
        + "".join(scraped_tests + collected_tests + regression_tests)
    )
    with open(OUT, "w", encoding="utf-8") as out:
        out.write(text)
    print(f"wrote {os.path.relpath(OUT, ROOT)}: {text.count('- expr:')} checks")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/fixtures/drift/stats.json: binned drift datasets and scipy's values for them.

crates/mlotel/tests/drift_stats.rs checks mlotel::drift::stats against these values. The
output is deterministic (fixed seeds, pinned numpy/scipy in scripts/requirements-drift.txt):
rerunning the script must leave the file unchanged.

Binning (the same as mlotel's reference profiles):
  * numeric: 9 edges at the reference deciles (numpy.quantile, linear interpolation), open
    outer bins, bin(x) = number of edges <= x, giving 10 value bins; NaN goes to a missing-value
    bin appended last. PSI, Jensen-Shannon and chi-square use all 11 bins; KS and Wasserstein
    use the 10 value bins only, over the non-missing values (`value_*` fields).
    Bin centres: midpoints of the value bins, the outer bins closed by the reference min/max.
    Tail means: the reference's mean below the first edge and at or above the last one.
  * categorical: one bin per category, in a fixed order (a category may be absent from the
    reference: its proportion is 0 and gets floored).

Usage: python scripts/drift_fixtures.py   (from anywhere; needs numpy and scipy)
"""

import json
import math
import os

import numpy as np
from scipy import stats
from scipy.spatial import distance

FLOOR = 1e-4  # mlotel::drift::stats::PROPORTION_FLOOR
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "drift", "stats.json")


def floats(a):
    return [float(x) for x in a]


def psi(r, c):
    """Evidently's psi: zero proportions raised to FLOOR, no renormalisation."""
    r = np.where(r == 0, FLOOR, r)
    c = np.where(c == 0, FLOOR, c)
    return float(np.sum((c - r) * np.log(c / r)))


def chisquare(r, counts):
    rf = np.where(r == 0, FLOOR, r)
    rf = rf / rf.sum()
    n = counts.sum()
    if n == 0 or len(r) < 2:
        return 0.0, 1.0
    res = stats.chisquare(counts, n * rf)
    return float(res.statistic), float(res.pvalue)


def chisquare_two_sample(ref_counts, counts):
    """scipy's contingency test of [reference counts, window counts], bins empty on both
    sides dropped, no continuity correction (mlotel::drift::stats::chi_square_two_sample)."""
    keep = (ref_counts + counts) > 0
    if ref_counts.sum() == 0 or counts.sum() == 0 or keep.sum() < 2:
        return 0.0, 1.0, 0
    res = stats.chi2_contingency(np.array([ref_counts[keep], counts[keep]]), correction=False)
    return float(res.statistic), float(res.pvalue), int(res.dof)


def wasserstein_interpolated(edges, tail_means, vr, vc):
    """W1 between the two CDFs, linear across every inner bin, and in each open outer bin
    the window spread like the reference (so only the reference's tail mean matters).
    Inner bins are integrated by the trapezoid rule over their ends and the point where
    the CDFs cross (exact for piecewise-linear functions); the outer bins are closed-form."""
    if len(edges) == 0:
        return 0.0
    fr, fc = np.cumsum(vr), np.cumsum(vc)
    d = fr[:-1] - fc[:-1]  # the CDF difference at each edge
    xs, ys = [edges[0]], [d[0]]
    for i in range(1, len(edges)):
        if d[i - 1] * d[i] < 0:
            t = d[i - 1] / (d[i - 1] - d[i])
            xs.append(edges[i - 1] + t * (edges[i] - edges[i - 1]))
            ys.append(0.0)
        xs.append(edges[i])
        ys.append(d[i])
    inner = float(np.trapezoid(np.abs(ys), xs))
    low = abs(vr[0] - vc[0]) * max(edges[0] - tail_means[0], 0.0)
    high = abs(vr[-1] - vc[-1]) * max(tail_means[1] - edges[-1], 0.0)
    return low + inner + high


def order_free(case, r, counts, ref_counts):
    """PSI, Jensen-Shannon and chi-square over all bins."""
    n = int(counts.sum())
    c = counts / n
    stat, p = chisquare(r, counts)
    stat2, p2, dof2 = chisquare_two_sample(ref_counts, counts)
    case.update(
        reference_counts=[int(x) for x in ref_counts],
        chisquare_two_sample_statistic=stat2,
        chisquare_two_sample_pvalue=p2,
        chisquare_two_sample_dof=dof2,
        reference=floats(r),
        current=floats(c),
        current_counts=[int(x) for x in counts],
        psi=psi(r, c),
        jensenshannon=float(distance.jensenshannon(r, c, base=2)),
        chisquare_statistic=stat,
        chisquare_pvalue=p,
    )


def numeric_case(name, ref, cur):
    ref_values = ref[~np.isnan(ref)]
    cur_values = cur[~np.isnan(cur)]
    edges = np.quantile(ref_values, np.linspace(0.1, 0.9, 9), method="linear")
    k = len(edges) + 1  # value bins

    def bins(x):
        b = np.searchsorted(edges, x, side="right")  # number of edges <= x
        return np.where(np.isnan(x), k, b)  # the missing-value bin last

    ref_bins, cur_bins = bins(ref), bins(cur)
    ref_counts = np.bincount(ref_bins, minlength=k + 1)
    cur_counts = np.bincount(cur_bins, minlength=k + 1)
    case = {"name": name, "kind": "numeric", "reference_count": int(len(ref))}
    order_free(case, ref_counts / len(ref), cur_counts, ref_counts)

    lower = np.concatenate([[ref_values.min()], edges])
    upper = np.concatenate([edges, [ref_values.max()]])
    centres = (lower + upper) / 2
    ref_std = float(np.std(ref_values))  # ddof=0, as Evidently
    vr_counts, vc_counts = ref_counts[:k], cur_counts[:k]
    n, m = int(vr_counts.sum()), int(vc_counts.sum())
    vr, vc = vr_counts / n, vc_counts / m
    # KS on samples made of the bin indices, as the Rust side sees them.
    ref_idx = np.repeat(np.arange(k), vr_counts)
    cur_idx = np.repeat(np.arange(k), vc_counts)
    ks = stats.ks_2samp(ref_idx, cur_idx, method="asymp")
    en = n * m / (n + m)
    ks_exact = stats.ks_2samp(ref_idx, cur_idx, method="exact") if n * m <= 2_000_000 else None
    w = float(stats.wasserstein_distance(centres, centres, vr, vc))
    below, above = ref_values[ref_values < edges[0]], ref_values[ref_values >= edges[-1]]
    tail_means = [
        float(below.mean()) if len(below) else float(edges[0]),
        float(above.mean()) if len(above) else float(edges[-1]),
    ]
    wi = wasserstein_interpolated(edges, tail_means, vr, vc)
    # The raw-sample value the binned ones approximate (scipy on every value).
    raw = float(stats.wasserstein_distance(ref_values, cur_values))
    case.update(
        value_reference=floats(vr),
        value_current=floats(vc),
        value_reference_count=n,
        value_current_count=m,
        centres=floats(centres),
        reference_std=ref_std,
        ks_statistic=float(ks.statistic),
        ks_pvalue=float(stats.kstwobign.sf(math.sqrt(en) * ks.statistic)),
        ks_2samp_asymp_pvalue=float(ks.pvalue),
        ks_2samp_exact_pvalue=None if ks_exact is None else float(ks_exact.pvalue),
        wasserstein=w,
        wasserstein_normed=w / ref_std if ref_std > 0 else w,
        edges=floats(edges),
        tail_means=tail_means,
        wasserstein_interpolated=wi,
        wasserstein_interpolated_normed=wi / ref_std if ref_std > 0 else wi,
        wasserstein_raw_normed=raw / ref_std if ref_std > 0 else raw,
    )
    return case


def categorical_case(name, ref, cur, categories):
    ref_counts = np.array([np.sum(ref == x) for x in categories])
    cur_counts = np.array([np.sum(cur == x) for x in categories])
    case = {"name": name, "kind": "categorical", "reference_count": int(len(ref))}
    order_free(case, ref_counts / len(ref), cur_counts, ref_counts)
    return case


def with_nans(rng, x, fraction):
    x = x.copy()
    x[rng.random(len(x)) < fraction] = np.nan
    return x


def main():
    cases = []
    for seed, (name, n_ref, n_cur, mu, sigma) in enumerate(
        [
            ("normal_no_drift", 5000, 1000, 0.0, 1.0),
            ("normal_no_drift_large", 20000, 5000, 0.0, 1.0),
            ("normal_mean_shift_0.02", 5000, 2000, 0.02, 1.0),
            ("normal_mean_shift_0.05", 5000, 2000, 0.05, 1.0),
            ("normal_mean_shift_0.1", 5000, 500, 0.1, 1.0),
            ("normal_mean_shift_0.2", 5000, 1000, 0.2, 1.0),
            ("normal_mean_shift_0.5", 5000, 1000, 0.5, 1.0),
            ("normal_mean_shift_3", 5000, 1000, 3.0, 1.0),
            ("normal_scale_1.5", 5000, 1000, 0.0, 1.5),
            ("normal_scale_0.5", 5000, 1000, 0.0, 0.5),
            ("tiny_window_5", 1000, 5, 0.0, 1.0),
            ("tiny_window_8_shifted", 1000, 8, 1.0, 1.0),
            ("tiny_window_12", 200, 12, 0.0, 1.0),
            ("tiny_window_20_shifted", 1000, 20, 0.5, 1.0),
            ("tiny_both_10", 10, 10, 0.0, 1.0),
        ]
    ):
        rng = np.random.default_rng(1000 + seed)
        ref = rng.normal(0.0, 1.0, n_ref)
        cur = rng.normal(mu, sigma, n_cur)
        cases.append(numeric_case(name, ref, cur))

    rng = np.random.default_rng(2000)
    ref = rng.exponential(2.0, 3000)
    cases.append(numeric_case("exponential_scale_change", ref, rng.exponential(2.6, 800)))

    rng = np.random.default_rng(2003)
    ref = rng.lognormal(0.0, 1.0, 10000)
    cases.append(numeric_case("lognormal_no_drift", ref, rng.lognormal(0.0, 1.0, 1000)))
    cases.append(numeric_case("lognormal_shift_0.25", ref, rng.lognormal(0.0, 1.0, 1000) + 0.25 * np.std(ref)))
    rng = np.random.default_rng(2004)
    bimodal = lambda n: np.where(rng.random(n) < 0.5, rng.normal(-2.0, 0.7, n), rng.normal(2.0, 0.7, n))
    ref = bimodal(10000)
    cases.append(numeric_case("bimodal_no_drift", ref, bimodal(2000)))
    cases.append(numeric_case("bimodal_shift_0.5", ref, bimodal(2000) + 0.5 * np.std(ref)))

    cases.append(numeric_case("constant_no_drift", np.full(1000, 3.0), np.full(100, 3.0)))
    rng = np.random.default_rng(2001)
    cases.append(
        numeric_case("constant_reference_moved", np.full(1000, 3.0), rng.normal(3.0, 0.5, 100))
    )

    rng = np.random.default_rng(2002)
    ref = with_nans(rng, rng.normal(10.0, 2.0, 4000), 0.05)
    cases.append(numeric_case("nans_same_rate", ref, with_nans(rng, rng.normal(10.0, 2.0, 1000), 0.05)))
    cases.append(numeric_case("nans_rate_up", ref, with_nans(rng, rng.normal(10.0, 2.0, 1000), 0.3)))
    cases.append(
        numeric_case("nans_only_in_current", rng.normal(0.0, 1.0, 2000), with_nans(rng, rng.normal(0.3, 1.0, 600), 0.1))
    )

    categories = ["a", "b", "c", "d", "other"]
    base = [0.4, 0.3, 0.2, 0.1, 0.0]
    for seed, (name, n_ref, n_cur, mix) in enumerate(
        [
            ("categorical_no_drift", 5000, 1000, base),
            ("categorical_mix_change", 5000, 1000, [0.25, 0.25, 0.25, 0.25, 0.0]),
            ("categorical_small_change", 5000, 2000, [0.37, 0.31, 0.21, 0.11, 0.0]),
            ("categorical_new_category", 5000, 1000, [0.38, 0.28, 0.19, 0.1, 0.05]),
            ("categorical_tiny_window", 5000, 7, base),
            # Every window value in a bin the reference never used.
            ("categorical_only_unseen", 5000, 500, [0.0, 0.0, 0.0, 0.0, 1.0]),
        ]
    ):
        rng = np.random.default_rng(3000 + seed)
        ref = rng.choice(categories, n_ref, p=base)
        cur = rng.choice(categories, n_cur, p=mix)
        cases.append(categorical_case(name, ref, cur, categories))

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(cases, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()

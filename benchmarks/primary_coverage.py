"""Coverage of the primary inference by simulation: the paired TAR difference, and FMR/FNMR at a val-fixed threshold.

Each replicate draws, from :func:`helpers.evaluation.simulation.skewed_split` (LFW-like image counts:
most people 2-5 images, a few over 100; Student t3 person effects; two correlated models A and B,
B's genuine scores shifted by a known amount; model A's genuine mean ``--genuine-mean``: 3.3 puts its
TAR@FAR=1e-2 at 0.79, 4.8 its TAR@FAR=1e-3 at 0.78), a test split of ``--people`` people and an
independent val split of ``max(share * people, fewest people supporting --fmr)`` people, and
builds 95% intervals with the workbench's own code:

(a) the paired difference B - A of TAR@FAR=1e-2 (the primary the configs declare) and of TAR@FAR=1e-3 by
    :func:`helpers.evaluation.bootstrap.resample_paired`, as a percentile interval and, here only,
    as a BCa interval (bias correction from the resamples, acceleration from a leave-one-person-out
    jackknife: leaving out a person removes every pair they are in);
(b) model A's FMR and FNMR at the operating threshold set on val at ``--fmr`` with person weighting
    (:func:`helpers.evaluation.thresholds.operating_point`), the threshold re-derived on every
    resample of the val people (``moving``, :func:`~helpers.evaluation.thresholds.resampled_thresholds`)
    or held at its val value (``held``, :meth:`~helpers.evaluation.bootstrap.Thresholds.fixed`).

Estimands of (b): the ``conditional`` FMR/FNMR, the population rates at the threshold this val draw
gave (known exactly), and the ``expected`` ones, the procedure's population rates averaged over
val draws (Monte Carlo over ``--truth-draws`` further val splits, a separate seeded stream). FNMR is
read with :func:`~helpers.evaluation.metrics.fnmr_of` (the simulation has no failures to acquire,
so FNMR equals FRR). Per people count it reports coverage (with its Monte Carlo SE), the ratio of the
mean bootstrap SD to the SD of the estimate's error (estimate minus estimand) across replicates,
the mean interval width and the bias.

Run: ``make bench-coverage-primary`` or ``OMP_NUM_THREADS=1 python benchmarks/primary_coverage.py
--people 40 120 344 --replicates 400 400 200 --boot 200 [--genuine-mean 3.3]``.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from helpers.core.files import write_json_atomic
from helpers.evaluation.bootstrap import Measure, People, Thresholds, interval, resample, resample_paired
from helpers.evaluation.metrics import RankedScores
from helpers.evaluation.simulation import (
    MAX_IMAGES,
    PRIMARY_GENUINE_MEAN,
    SD,
    SHARED,
    SHIFT,
    ZIPF_EXPONENT,
    genuine_tail,
    impostor_tail,
    primary_truth,
    skewed_split,
)
from helpers.evaluation.statistics import FMR, FRR, TAR_1E2, TAR_1E3, measure
from helpers.evaluation.thresholds import min_val_people, operating_point, resampled_thresholds

TARS = (TAR_1E3, TAR_1E2)
TAR_KEYS = ("tar@1e-3", "tar@1e-2")
RATE_KEYS = ("fmr", "fnmr")
TRUTH_STREAM = 2
"""The truth's val draws come from ``default_rng((seed, val people, TRUTH_STREAM))``, apart from the replicates'."""


def val_people(n_test: int, share: float, fmr: float) -> int:
    """Val people for a test split of ``n_test``: ``share`` of them, but never fewer than support ``fmr`` with person weighting."""
    return max(round(share * n_test), min_val_people(fmr))


def true_rates(threshold: float, genuine_mean: float) -> np.ndarray:
    """Model A's population FMR and FNMR at ``threshold``."""
    return np.array([impostor_tail(threshold), 1 - genuine_tail(threshold, 0, genuine_mean)])


def expected_rates(n_val: int, fmr: float, draws: int, max_impostors: int, genuine_mean: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The procedure's expected FMR and FNMR (over val draws of ``n_val`` people) and their Monte Carlo SEs."""
    rng = np.random.default_rng((seed, n_val, TRUTH_STREAM))
    rates = np.array(
        [true_rates(operating_point(skewed_split(rng, n_val, max_impostors, genuine_mean).frame(0), fmr)["threshold"], genuine_mean) for _ in range(draws)]
    )
    return rates.mean(axis=0), rates.std(axis=0, ddof=1) / math.sqrt(draws)


def jackknife(first: RankedScores, second: RankedScores, people: People, statistic: Measure) -> np.ndarray:
    """``statistic(second) - statistic(first)`` with each person left out in turn (every pair they are in), one row each."""
    in_first, in_second = people.ranked(first.order), people.ranked(second.order)
    rows = []
    for person in range(people.count):
        counts = np.ones(people.count, dtype=np.int64)
        counts[person] = 0
        rows.append(statistic(second.ranked_roc(in_second.weights(counts)), math.nan) - statistic(first.ranked_roc(in_first.weights(counts)), math.nan))
    return np.array(rows, dtype=float)


def bca(resampled: np.ndarray, estimate: float, left_out: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Efron's BCa interval: percentiles of ``resampled`` moved by the bias correction (the share of resamples below
    ``estimate``, ties counted half) and the acceleration (the skewness of the jackknife values ``left_out``)."""
    finite = resampled[np.isfinite(resampled)]
    below = (np.count_nonzero(finite < estimate) + 0.5 * np.count_nonzero(finite == estimate)) / finite.size
    z0 = norm.ppf(np.clip(below, 0.5 / finite.size, 1 - 0.5 / finite.size))
    spread = left_out.mean() - left_out
    acceleration = (spread**3).sum() / (6 * (spread**2).sum() ** 1.5) if spread.any() else 0.0
    z = z0 + norm.ppf([alpha / 2, 1 - alpha / 2])
    low, high = np.quantile(finite, norm.cdf(z0 + z / (1 - acceleration * z)))
    return float(low), float(high)


def paired_tar(first: RankedScores, second: RankedScores, people: People, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """(a): the TAR differences B - A, their bootstrap SDs and their percentile and BCa intervals (rows: :data:`TAR_KEYS`)."""
    statistic, none = measure(TARS), Thresholds.fixed(math.nan, n_boot)
    estimate = statistic(second.roc(), math.nan) - statistic(first.roc(), math.nan)
    resampled = resample_paired(first, second, people, (statistic, statistic), (none, none), seed)
    left_out = jackknife(first, second, people, statistic)
    return {
        "estimate": estimate,
        "sd": np.nanstd(resampled, axis=0, ddof=1),
        "percentile": np.array([interval(resampled[:, k]) for k in range(len(TARS))]),
        "bca": np.array([bca(resampled[:, k], estimate[k], left_out[:, k]) for k in range(len(TARS))]),
    }


def rates_at_val_threshold(
    ranked: RankedScores, people: People, val: pd.DataFrame, fmr: float, genuine_mean: float, n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    """(b): model A's FMR and FNMR at the val threshold, their conditional truth, and per threshold method the bootstrap SDs and intervals."""
    operating = operating_point(val, fmr)
    threshold, statistic = operating["threshold"], measure((FMR, FRR))
    found = {
        "estimate": statistic(ranked.roc(), threshold),
        "conditional": true_rates(threshold, genuine_mean),
        "operating": np.array([threshold, operating["fmr"]]),
    }
    for method, thresholds in (("moving", resampled_thresholds(val, operating, n_boot, seed)), ("held", Thresholds.fixed(threshold, n_boot))):
        resampled = resample(ranked, people, statistic, thresholds, seed)
        found[f"{method}_sd"] = np.nanstd(resampled, axis=0, ddof=1)
        found[f"{method}_interval"] = np.array([interval(resampled[:, k]) for k in range(len(RATE_KEYS))])
    return found


def replicate(rng: np.random.Generator, n_people: int, n_val: int, args: argparse.Namespace, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """One simulated test split and val split: (a) and (b)."""
    test, val = (skewed_split(rng, size, cap, args.genuine_mean) for size, cap in ((n_people, args.max_impostors), (n_val, args.val_max_impostors)))
    people, (first, second) = test.people(), (RankedScores(scores, test.same) for scores in test.scores)
    return {
        "tar": paired_tar(first, second, people, args.boot, seed),
        "rates": rates_at_val_threshold(first, people, val.frame(0), args.fmr, args.genuine_mean, args.boot, seed),
        "split": {
            "images": np.array([test.images.sum(), test.images.max()]),
            "pairs": np.array([test.same.sum(), (~test.same).sum()]),
            "impostor_units": np.array([people.impostor_units()]),
        },
    }


def summarise(estimates: np.ndarray, truths: np.ndarray, bounds: np.ndarray, sds: np.ndarray) -> dict[str, float]:
    """Coverage, its SE, SD ratio, mean width and bias of one statistic's intervals over the replicates (``truths`` per replicate)."""
    valid = np.isfinite(bounds).all(axis=1)
    covered = (bounds[valid, 0] <= truths[valid]) & (truths[valid] <= bounds[valid, 1])
    coverage = float(covered.mean()) if valid.any() else math.nan
    error = estimates - truths
    return {
        "coverage": coverage,
        "coverage_se": math.sqrt(coverage * (1 - coverage) / valid.sum()) if valid.any() else math.nan,
        "intervals": int(valid.sum()),
        "sd_ratio": float(np.nanmean(sds) / np.nanstd(error, ddof=1)),
        "mean_width": float(np.mean(bounds[valid, 1] - bounds[valid, 0])) if valid.any() else math.nan,
        "bias": float(np.nanmean(error)),
    }


def summarise_size(rows: list[dict], truth: dict[str, float], expected: np.ndarray) -> dict[str, dict]:
    """Every (inference, estimand, statistic) summary for one people count."""
    tar, rates = ({key: np.array([row[part][key] for row in rows]) for key in rows[0][part]} for part in ("tar", "rates"))
    differences = np.array([truth[f"difference_{key}"] for key in TAR_KEYS])
    out: dict[str, dict] = {}
    for k, key in enumerate(TAR_KEYS):
        for method in ("percentile", "bca"):
            out[f"difference {key} | {method}"] = summarise(tar["estimate"][:, k], np.full(len(rows), differences[k]), tar[method][:, k], tar["sd"][:, k])
    for k, key in enumerate(RATE_KEYS):
        for method in ("moving", "held"):
            for estimand, truths in (("expected", np.full(len(rows), expected[k])), ("conditional", rates["conditional"][:, k])):
                out[f"{key} | {method} | {estimand}"] = summarise(
                    rates["estimate"][:, k], truths, rates[f"{method}_interval"][:, k], rates[f"{method}_sd"][:, k]
                )
    return out


def table(results: dict[str, dict]) -> str:
    """The figures as a plain-text table, one row per people count, inference and estimand."""
    lines = [f"{'people':>6}  {'inference':<36} {'coverage':>12} {'SD ratio':>9} {'width':>8} {'bias':>9}"]
    for people, found in results.items():
        for name, entry in found["summary"].items():
            coverage = f"{entry['coverage']:.3f}±{entry['coverage_se']:.3f}"
            lines.append(f"{people:>6}  {name:<36} {coverage:>12} {entry['sd_ratio']:>9.3f} {entry['mean_width']:>8.4f} {entry['bias']:>+9.5f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, nargs="+", default=[40, 120, 344], help="test people per simulated split")
    parser.add_argument("--replicates", type=int, nargs="+", default=[400, 400, 200], help="simulated splits per people count (one number: for all)")
    parser.add_argument("--boot", type=int, default=200, help="bootstrap resamples per interval")
    parser.add_argument("--fmr", type=float, default=0.01, help="target FMR of the operating threshold (val, person weighting)")
    parser.add_argument("--val-share", type=float, default=0.5, help="val people per test person (split fractions val 0.1, test 0.2)")
    parser.add_argument("--max-impostors", type=int, default=50_000, help="test impostor pairs per split: every one up to this many, else a sample")
    parser.add_argument("--val-max-impostors", type=int, default=200_000, help="val impostor pairs per split (enough to keep nearly every pair of people)")
    parser.add_argument("--truth-draws", type=int, default=400, help="val splits behind the expected FMR/FNMR, per val size")
    parser.add_argument("--genuine-mean", type=float, default=PRIMARY_GENUINE_MEAN, help="model A's genuine mean: 3.3 (TAR@1e-2 0.79), 4.8 (TAR@1e-3 0.78)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/bench/primary_coverage.json"))
    args = parser.parse_args()
    replicates = args.replicates * len(args.people) if len(args.replicates) == 1 else args.replicates
    if len(replicates) != len(args.people):
        parser.error(f"--replicates needs one number or one per people count ({len(args.people)}), got {len(args.replicates)}")

    began, results, expected = time.perf_counter(), {}, {}
    truth = {}
    for key, far in zip(TAR_KEYS, (1e-3, 1e-2)):
        found = primary_truth(far, args.genuine_mean)
        truth |= {f"{name}_{key}": found[name] for name in ("tar_a", "tar_b", "difference")}
    for n_people, count in zip(args.people, replicates):
        n_val = val_people(n_people, args.val_share, args.fmr)
        if n_val not in expected:
            expected[n_val] = expected_rates(n_val, args.fmr, args.truth_draws, args.val_max_impostors, args.genuine_mean, args.seed)
        rng = np.random.default_rng((args.seed, n_people))
        rows = [replicate(rng, n_people, n_val, args, seed) for seed in range(count)]
        images = np.array([row["split"]["images"] for row in rows])
        pairs = np.array([row["split"]["pairs"] for row in rows])
        thresholds, fmrs = np.array([row["rates"]["operating"] for row in rows]).T
        units = np.array([row["split"]["impostor_units"][0] for row in rows])
        results[str(n_people)] = {
            "replicates": count,
            "val_people": n_val,
            "expected": dict(zip(RATE_KEYS, expected[n_val][0])),
            "expected_se": dict(zip(RATE_KEYS, expected[n_val][1])),
            "split": {
                "images_median": float(np.median(images[:, 0])),
                "largest_person_images_median": float(np.median(images[:, 1])),
                "genuine_pairs_median": float(np.median(pairs[:, 0])),
                "impostor_pairs_median": float(np.median(pairs[:, 1])),
                "impostor_units_median": float(np.median(units)),
                "impostor_units_max": float(units.max()),
                "val_threshold_sd": float(thresholds.std(ddof=1)),
                "val_at_target_share": float(np.mean(fmrs == args.fmr)),
            },
            "summary": summarise_size(rows, truth, expected[n_val][0]),
        }
        print(f"{n_people} people done ({time.perf_counter() - began:.0f} s)", flush=True)
    print(table(results))
    report = {
        "results": results,
        "truth": truth,
        "model": {
            "sd": SD,
            "genuine_mean": args.genuine_mean,
            "shift": SHIFT,
            "shared": SHARED,
            "zipf_exponent": ZIPF_EXPONENT,
            "max_images": MAX_IMAGES,
            "person_effects": "Student t, 3 df",
        },
        "people": args.people,
        "boot": args.boot,
        "fmr": args.fmr,
        "val_share": args.val_share,
        "max_impostors": args.max_impostors,
        "val_max_impostors": args.val_max_impostors,
        "truth_draws": args.truth_draws,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - began, 1),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

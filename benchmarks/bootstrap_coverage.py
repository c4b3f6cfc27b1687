"""Coverage of the two-way identity bootstrap, by simulation, against a one-way bootstrap on the same data.

Scores are drawn from a crossed person-effects model (:mod:`helpers.evaluation.simulation`,
which ``tests/code/test_bootstrap.py`` uses too), on the pairs :func:`helpers.evaluation.pairs.sample_pairs` forms
(at most 10 genuine pairs per person, every impostor pair up to ``--max-impostors``):

    impostor score = v(person a) + v(person b) + w(image a) + w(image b) + e
    genuine score  = mu + u(person) + w(image a) + w(image b) + e

so the true FMR at a fixed threshold and the true AUC are known in closed form. Each replicate
draws new people, images and scores, then a 95% percentile interval by

- two-way: :func:`helpers.evaluation.bootstrap.resample` + :func:`~helpers.evaluation.bootstrap.interval`,
  the workbench's own code (genuine pairs weighted by their person's count, impostor pairs by the
  product of both people's counts);
- one-way (here only, for comparison): the same people drawn (same seed), every pair weighted by
  the count of its gallery-side person ``identity_a`` alone.

Per people count it reports, for FMR and AUC: coverage of the true value, the ratio of the mean
bootstrap SD to the SD of the estimates across replicates (1 = the bootstrap sees the real spread;
below 1 = intervals too narrow), the mean interval width and the estimate's bias.

Run: ``make bench-coverage`` or
``OMP_NUM_THREADS=1 python benchmarks/bootstrap_coverage.py --replicates 300 --people 20 40 120``.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from pathlib import Path

import numpy as np

from helpers.core.files import write_json_atomic
from helpers.evaluation.bootstrap import People, Thresholds, interval, resample
from helpers.evaluation.metrics import RankedScores
from helpers.evaluation.simulation import GENUINE_MEAN, GENUINE_PER_IDENTITY, SD, STATISTICS, THRESHOLD, crossed_scores, measure, true_values

METHODS = ("two_way", "one_way")


def one_way_resample(ranked: RankedScores, people: People, n_boot: int, seed: int) -> np.ndarray:
    """As :func:`helpers.evaluation.bootstrap.resample` (same draws for the same seed), but every pair weighted by the
    count of its gallery-side person only: the one-way cluster bootstrap over ``identity_a``."""
    rng, gallery = np.random.default_rng(seed), people.a[ranked.order]
    return np.array([measure(ranked.ranked_roc(people.draw(rng)[gallery])) for _ in range(n_boot)], dtype=float)


def replicate(rng: np.random.Generator, n_people: int, images: int, max_impostors: int, n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """One simulated split: the estimates, and per method the intervals and bootstrap SDs (arrays over STATISTICS)."""
    scores, same, people = crossed_scores(rng, n_people, images, max_impostors)
    ranked = RankedScores(scores, same)
    found = {"estimate": measure(ranked.roc()), "pairs": np.array([same.sum(), (~same).sum()])}
    for method, resampled in (
        ("two_way", resample(ranked, people, measure, Thresholds.fixed(THRESHOLD, n_boot), seed)),
        ("one_way", one_way_resample(ranked, people, n_boot, seed)),
    ):
        found[f"{method}_interval"] = np.array([interval(resampled[:, k]) for k in range(len(STATISTICS))])
        found[f"{method}_sd"] = np.nanstd(resampled, axis=0, ddof=1)
    return found


def summarise(rows: list[dict[str, np.ndarray]], truth: dict[str, float]) -> dict[str, dict]:
    """Coverage, SD ratio, width and bias per method and statistic over the replicates of one people count."""
    estimates = np.array([row["estimate"] for row in rows])
    spread = np.std(estimates, axis=0, ddof=1)
    out: dict[str, dict] = {}
    for method in METHODS:
        bounds = np.array([row[f"{method}_interval"] for row in rows])  # replicates x statistics x (low, high)
        sds = np.array([row[f"{method}_sd"] for row in rows])
        out[method] = {}
        for k, key in enumerate(STATISTICS):
            low, high = bounds[:, k, 0], bounds[:, k, 1]
            valid = np.isfinite(low) & np.isfinite(high)
            covered = (low[valid] <= truth[key]) & (truth[key] <= high[valid])
            coverage = float(covered.mean()) if valid.any() else math.nan
            out[method][key] = {
                "coverage": coverage,
                "coverage_se": math.sqrt(coverage * (1 - coverage) / valid.sum()) if valid.any() else math.nan,
                "intervals": int(valid.sum()),
                "sd_ratio": float(np.nanmean(sds[:, k]) / spread[k]),
                "mean_width": float(np.mean(high[valid] - low[valid])) if valid.any() else math.nan,
            }
    for k, key in enumerate(STATISTICS):
        out.setdefault("estimates", {})[key] = {"truth": truth[key], "mean": float(estimates[:, k].mean()), "sd": float(spread[k])}
    return out


def table(results: dict[str, dict]) -> str:
    """The figures as a plain-text table, one row per people count, method and statistic."""
    lines = [f"{'people':>6}  {'method':<8} {'stat':<4} {'coverage':>12} {'SD ratio':>9} {'width':>8} {'bias':>9}"]
    for people, found in results.items():
        for method in METHODS:
            for key in STATISTICS:
                entry, estimate = found[method][key], found["estimates"][key]
                coverage = f"{entry['coverage']:.3f}±{entry['coverage_se']:.3f}"
                bias = estimate["mean"] - estimate["truth"]
                lines.append(f"{people:>6}  {method:<8} {key:<4} {coverage:>12} {entry['sd_ratio']:>9.3f} {entry['mean_width']:>8.4f} {bias:>+9.5f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicates", type=int, default=1000, help="simulated splits per people count")
    parser.add_argument("--people", type=int, nargs="+", default=[20, 40, 120], help="people per simulated split")
    parser.add_argument("--images", type=int, default=3, help="images per person (3: three genuine pairs each)")
    parser.add_argument("--boot", type=int, default=200, help="bootstrap resamples per interval")
    parser.add_argument("--max-impostors", type=int, default=6000, help="impostor pairs per split: every one up to this many, else a seeded sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/bench/bootstrap_coverage.json"))
    args = parser.parse_args()

    truth, rng, results, began = true_values(), np.random.default_rng(args.seed), {}, time.perf_counter()
    pairs = {}
    for n_people in args.people:
        rows = [replicate(rng, n_people, args.images, args.max_impostors, args.boot, seed) for seed in range(args.replicates)]
        results[str(n_people)] = summarise(rows, truth)
        pairs[str(n_people)] = {"genuine": int(rows[0]["pairs"][0]), "impostor": int(rows[0]["pairs"][1])}
        print(f"{n_people} people done ({time.perf_counter() - began:.0f} s)", flush=True)
    print(table(results))
    report = {
        "results": results,
        "pairs": pairs,
        "truth": truth,
        "model": {"threshold": THRESHOLD, "sd": SD, "genuine_mean": GENUINE_MEAN, "genuine_per_identity": GENUINE_PER_IDENTITY},
        "replicates": args.replicates,
        "people": args.people,
        "images": args.images,
        "boot": args.boot,
        "max_impostors": args.max_impostors,
        "seed": args.seed,
        "seconds": round(time.perf_counter() - began, 1),
        "machine": platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_json_atomic(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

"""Open-set gallery search at scale: enrolled people plus 150,000 distractors, time per probe.

The gallery holds ``--people`` enrolled people (``--per-person`` images each) and ``--distractors`` more
people with one image each, all random unit vectors in ``--dim`` dimensions (512, the pack's and
buffalo_l's embedding size). Probes are noisy copies of enrolled images (cosine about 0.6 to their
source, a face-recognition-like margin), searched with :func:`helpers.identification.search.search`
(top 20) and ranked with :func:`~helpers.identification.search.true_ranks`, exactly as notebook 04 does.
It reports seconds per probe for each, the peak block size in memory, and rank-1 as a check that the
search found what was planted.

Run: ``make bench-search`` or ``python benchmarks/identification_search.py --distractors 150000 --probes 2000``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from helpers.core.files import write_json_atomic
from helpers.identification.search import Gallery, cmc, search, true_ranks


def unit(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length."""
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def synthetic(rng: np.random.Generator, people: int, per_person: int, distractors: int, probes: int, dim: int) -> tuple[Gallery, np.ndarray, np.ndarray]:
    """A gallery (enrolled people ``0..people-1``, distractors after them) and probes of enrolled people with their labels."""
    enrolled = unit(rng.standard_normal((people * per_person, dim)))
    labels = np.concatenate([np.repeat(np.arange(people), per_person), people + np.arange(distractors)])
    gallery = Gallery.of(np.vstack([enrolled, unit(rng.standard_normal((distractors, dim)))]), labels)
    source = rng.integers(0, len(enrolled), probes)
    probe_vectors = unit(enrolled[source] + 1.3 * unit(rng.standard_normal((probes, dim))))
    return gallery, probe_vectors, labels[source]


def timed(function, *args, **kwargs) -> tuple[object, float]:
    """``function(*args, **kwargs)`` and its wall time in seconds."""
    start = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1000, help="enrolled people")
    parser.add_argument("--per-person", type=int, default=1, help="gallery images per enrolled person")
    parser.add_argument("--distractors", type=int, default=150_000, help="distractor people, one image each")
    parser.add_argument("--probes", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--block", type=int, default=256, help="probes per matrix product")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("results/bench/identification_search.json"))
    args = parser.parse_args()

    gallery, probes, labels = synthetic(np.random.default_rng(args.seed), args.people, args.per_person, args.distractors, args.probes, args.dim)
    search(gallery, probes[:8])  # first-touch of the gallery's pages
    matches, search_s = timed(search, gallery, probes, top_k=20, block=args.block)
    ranks, rank_s = timed(true_ranks, gallery, probes, labels, block=args.block)
    rank1 = float(cmc(ranks, 1)[0])
    if not np.array_equal(matches.people[:, 0] == labels, ranks == 1):
        raise AssertionError("search and true_ranks disagree on rank-1")
    report = {
        "gallery_people": len(gallery),
        "gallery_images": len(gallery.vectors),
        "probes": args.probes,
        "dim": args.dim,
        "block": args.block,
        "search_ms_per_probe": 1000 * search_s / args.probes,
        "true_ranks_ms_per_probe": 1000 * rank_s / args.probes,
        "probes_per_second": args.probes / search_s,
        "block_scores_mib": args.block * len(gallery.vectors) * 4 / 2**20,
        "rank1_planted": rank1,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    write_json_atomic(args.out, report)
    print(
        f"{report['gallery_people']:,} people ({report['gallery_images']:,} images, {args.dim}-d), {args.probes:,} probes: "
        f"search {report['search_ms_per_probe']:.2f} ms/probe ({report['probes_per_second']:.0f} probes/s), "
        f"true ranks {report['true_ranks_ms_per_probe']:.2f} ms/probe; rank-1 of planted probes {rank1:.3f}; wrote {args.out}"
    )


if __name__ == "__main__":
    main()

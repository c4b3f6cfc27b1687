"""Closed-set identification: classifiers trained on face embeddings of known people, scored on their held-out images.

People with at least ``min_images`` images are split *by image* (seeded) into
train and eval; eval images are never used for training or tuning. Two regimes:
``hq`` trains on the full-quality training embeddings, ``mixed`` adds degraded
copies of the same training images. Hyper-parameters come from cross-validation
on the training images only, folds grouped by source image so that a degraded
copy never validates its own original.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold
from sklearn.svm import SVC, LinearSVC

from helpers.data.split import stable_unit

TRAIN, EVAL = "train", "eval"
HQ_ONLY, MIXED = "hq", "mixed"
REGIME_TITLES = {HQ_ONLY: "HQ only", MIXED: "HQ + degraded copies"}
NO_FACE = "(no face)"
"""The prediction for an eval image whose face was not acquired: always wrong."""


class CosineCentroids(ClassifierMixin, BaseEstimator):
    """Nearest class mean by cosine: each class is the normalised mean of its embeddings."""

    def fit(self, x: npt.ArrayLike, y: npt.ArrayLike) -> CosineCentroids:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
        self.classes_ = np.unique(y)
        means = np.stack([x[y == label].mean(axis=0) for label in self.classes_])
        self.centroids_ = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
        return self

    def decision_function(self, x: npt.ArrayLike) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.centroids_.T

    def predict(self, x: npt.ArrayLike) -> np.ndarray:
        return self.classes_[self.decision_function(x).argmax(axis=1)]


@dataclass(frozen=True)
class Classifier:
    """A scikit-learn classifier and the grid its hyper-parameters are chosen from."""

    name: str
    title: str
    estimator: BaseEstimator
    grid: dict[str, list]


CLASSIFIERS = {
    "linear_svm": Classifier("linear_svm", "linear SVM", LinearSVC(dual="auto", max_iter=20_000), {"C": [0.1, 1.0, 10.0]}),
    "rbf_svm": Classifier("rbf_svm", "RBF SVM", SVC(kernel="rbf"), {"C": [1.0, 10.0, 100.0], "gamma": [0.5, 1.0, 2.0]}),
    "nearest_mean": Classifier("nearest_mean", "nearest class mean (cosine)", CosineCentroids(), {}),
}


def split_by_image(images: pd.DataFrame, min_images: int, eval_fraction: float, seed: int) -> pd.DataFrame:
    """The images of people with at least ``min_images`` images, with ``role`` train or eval (at least one of each per person)."""
    if min_images < 2:
        raise ValueError(f"min_images must be at least 2 (one train and one eval image per person), got {min_images}")
    if not 0 < eval_fraction < 1:
        raise ValueError(f"eval_fraction must lie strictly between 0 and 1, got {eval_fraction}")
    kept = images[images.groupby("identity")["sha256"].transform("size") >= min_images]
    if kept["identity"].nunique() < 2:
        raise ValueError(f"only {kept['identity'].nunique()} people have >= {min_images} images: lower min_images or use a larger split")
    counts = kept.groupby("identity")["sha256"].transform("size")
    order = kept["sha256"].map(lambda sha: stable_unit(seed, "closed-set", sha)).groupby(kept["identity"]).rank(method="first")
    n_eval = np.clip(np.round(counts * eval_fraction), 1, counts - 1)
    return kept.assign(role=np.where(order <= n_eval, EVAL, TRAIN))


def _folds(groups: np.ndarray, labels: np.ndarray) -> int:
    """Cross-validation folds: up to 3, no more than the smallest class has source images."""
    per_class = pd.Series(groups).groupby(labels).nunique()
    return int(max(2, min(3, per_class.min())))


def fit_classifier(classifier: Classifier, x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> tuple[BaseEstimator, dict[str, Any]]:
    """Fit ``classifier``, its hyper-parameters chosen by grouped, stratified cross-validation on ``x`` alone."""
    if not classifier.grid:
        return clone(classifier.estimator).fit(x, y), {"params": {}, "cv_accuracy": None, "folds": 0}
    folds = _folds(groups, y)
    search = GridSearchCV(classifier.estimator, classifier.grid, cv=StratifiedGroupKFold(folds, shuffle=True, random_state=seed), scoring="accuracy")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%", category=UserWarning)  # a few images a person
        search.fit(x, y, groups=groups)
    return search.best_estimator_, {"params": search.best_params_, "cv_accuracy": float(search.best_score_), "folds": folds}


def predict(model: BaseEstimator, vectors: np.ndarray, acquired: np.ndarray) -> np.ndarray:
    """Predicted people; :data:`NO_FACE` where the face was not acquired."""
    out = np.full(len(vectors), NO_FACE, dtype=object)
    if acquired.any():
        out[acquired] = model.predict(vectors[acquired])
    return out


def scores(truth: npt.ArrayLike, predicted: npt.ArrayLike, classes: npt.ArrayLike) -> dict[str, float]:
    """Accuracy and macro / weighted precision, recall and F1 over the enrolled ``classes`` (a no-face prediction is a miss)."""
    truth, predicted = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    out = {"accuracy": float(accuracy_score(truth, predicted))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(truth, predicted, labels=list(classes), average=average, zero_division=0)
        out |= {f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)}
    return out


def per_class(truth: npt.ArrayLike, predicted: npt.ArrayLike, classes: npt.ArrayLike) -> pd.DataFrame:
    """The classification report as a table: precision, recall, F1 and support per enrolled person."""
    p, r, f, support = precision_recall_fscore_support(truth, predicted, labels=list(classes), zero_division=0)
    return pd.DataFrame({"person": list(classes), "precision": p, "recall": r, "f1": f, "support": support})


def confusion(truth: npt.ArrayLike, predicted: npt.ArrayLike, classes: npt.ArrayLike) -> pd.DataFrame:
    """Row-normalised confusion matrix, people sorted by name, plus a last column for probes without a face."""
    labels = [*sorted(classes), NO_FACE]
    counts = confusion_matrix(np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object), labels=labels)[:-1]
    rows = counts.sum(axis=1, keepdims=True)
    return pd.DataFrame(counts / np.maximum(rows, 1), index=labels[:-1], columns=labels)


def top_confusions(truth: npt.ArrayLike, predicted: npt.ArrayLike, n: int) -> pd.DataFrame:
    """The ``n`` most frequent (true person, predicted person) mistakes, with their share of the true person's probes."""
    frame = pd.DataFrame({"true": np.asarray(truth, dtype=object), "predicted": np.asarray(predicted, dtype=object)})
    totals = frame["true"].value_counts()
    wrong = frame[frame["true"] != frame["predicted"]].value_counts().rename("count").reset_index()
    wrong["share of true person's probes"] = wrong["count"] / wrong["true"].map(totals).to_numpy()
    return wrong.sort_values(["count", "true", "predicted"], ascending=[False, True, True]).head(n).reset_index(drop=True)

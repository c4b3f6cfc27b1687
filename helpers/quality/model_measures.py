"""Model-based face quality measures: what the recogniser itself makes of a crop, one float per crop, larger = better.

embedding_norm   the L2 norm of the raw features (MagFace's idea)
flip_agreement   cosine of a crop's embedding with its mirror image's (SER-FIQ's stability under perturbation, without dropout)
shift_agreement  cosine of a crop's embedding with that of the crop shifted right and down by a pixel

Each takes N x 112 x 112 x 3 uint8 RGB aligned crops and any recogniser of :mod:`helpers.models.recognisers`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers.models.recognisers import FaceRecogniser, RawFeatures, check_crops, l2_normalise
from helpers.quality.availability import QualityUnavailable


def mirrored(crops_rgb: np.ndarray) -> np.ndarray:
    """Each crop's horizontal mirror image."""
    return crops_rgb[:, :, ::-1]


def shifted(crops_rgb: np.ndarray, pixels: int = 1) -> np.ndarray:
    """Each crop moved ``pixels`` right and down, its top rows and left columns repeating the edge, same size."""
    height, width = crops_rgb.shape[1:3]
    if not 0 < pixels < min(height, width):
        raise ValueError(f"a shift takes 1 to {min(height, width) - 1} pixels, not {pixels}")
    padded = np.pad(crops_rgb, ((0, 0), (pixels, 0), (pixels, 0), (0, 0)), mode="edge")
    return padded[:, :height, :width]


def agreement(embeddings: np.ndarray, perturbed: np.ndarray) -> np.ndarray:
    """Row by row, the cosine of two sets of L2-normalised embeddings, in [-1, 1]."""
    cosines = np.einsum("nd,nd->n", embeddings.astype(np.float64), perturbed.astype(np.float64))
    return np.clip(cosines, -1.0, 1.0)


def raw_features(recogniser: FaceRecogniser, crops_rgb: np.ndarray) -> np.ndarray:
    """The recogniser's features before normalisation; :class:`QualityUnavailable` when it gives only normalised embeddings."""
    if not isinstance(recogniser, RawFeatures):
        raise QualityUnavailable(_no_features(recogniser))
    return recogniser.features(crops_rgb)


def _no_features(recogniser: FaceRecogniser) -> str:
    name = getattr(recogniser, "name", type(recogniser).__name__)
    return f"embedding_norm needs raw features before normalisation, and recogniser {name!r} gives only normalised embeddings (it has no features())"


def _norms(features: np.ndarray) -> np.ndarray:
    return np.linalg.norm(features.reshape(len(features), -1).astype(np.float64), axis=1)


def embedding_norm(recogniser: FaceRecogniser, crops_rgb: np.ndarray) -> np.ndarray:
    """The L2 norm of each crop's raw features.

    The norm tracks quality only for models trained for it (MagFace); for any other recogniser it is reported as
    measured, and EDC judges whether it ranks crops usefully.
    """
    check_crops(crops_rgb)
    return _norms(raw_features(recogniser, crops_rgb))


def flip_agreement(recogniser: FaceRecogniser, crops_rgb: np.ndarray) -> np.ndarray:
    """The cosine of each crop's embedding with its mirror image's: 1 when the model sees the same face both ways."""
    check_crops(crops_rgb)
    return agreement(recogniser.embed(crops_rgb), recogniser.embed(mirrored(crops_rgb)))


def shift_agreement(recogniser: FaceRecogniser, crops_rgb: np.ndarray, pixels: int = 1) -> np.ndarray:
    """The cosine of each crop's embedding with that of the crop shifted ``pixels`` right and down (:func:`shifted`)."""
    check_crops(crops_rgb)
    return agreement(recogniser.embed(crops_rgb), recogniser.embed(shifted(crops_rgb, pixels)))


ModelMeasure = Callable[[FaceRecogniser, np.ndarray], np.ndarray]
MODEL_MEASURES: dict[str, ModelMeasure] = {"embedding_norm": embedding_norm, "flip_agreement": flip_agreement, "shift_agreement": shift_agreement}
"""The model-based measures, by name."""


def model_quality(recogniser: FaceRecogniser, crops_rgb: np.ndarray, pixels: int = 1) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Every model measure that ``recogniser`` allows, by name, and why the others are unavailable, by name.

    The crops themselves go through the model once: a recogniser with raw features gives the norm and, normalised,
    the embeddings both agreements compare against (:class:`~helpers.models.recognisers.RawFeatures`' contract).
    """
    check_crops(crops_rgb)
    values, unavailable = {}, {}
    if isinstance(recogniser, RawFeatures):
        features = recogniser.features(crops_rgb)
        values["embedding_norm"], embeddings = _norms(features), l2_normalise(features)
    else:
        unavailable["embedding_norm"], embeddings = _no_features(recogniser), recogniser.embed(crops_rgb)
    values["flip_agreement"] = agreement(embeddings, recogniser.embed(mirrored(crops_rgb)))
    values["shift_agreement"] = agreement(embeddings, recogniser.embed(shifted(crops_rgb, pixels)))
    return values, unavailable

"""Training losses for fine-tuning a face recogniser.

- :class:`MarginHead`: a classification head over the training identities, with an
  ArcFace (additive angular), CosFace (additive cosine), AdaFace (quality-adaptive) margin
  or none (plain softmax); calling it gives the cross-entropy.
- :func:`triplet_semi_hard`: FaceNet's triplet loss with semi-hard negatives mined in the batch.
- :func:`distillation_loss`: 1 - cosine between a student's embeddings and a frozen teacher's
  (e.g. the student on degraded images, the teacher on their high-quality originals).

All margin and distance math runs in float32 with autocast off, so the losses are safe
under mixed precision.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HEADS = ("arcface", "cosface", "adaface", "softmax")
DEFAULT_MARGINS = {"arcface": 0.5, "cosface": 0.35, "adaface": 0.4}
ADAFACE_H = 0.333
"""AdaFace's concentration: a norm ``1 / h`` standard deviations from the mean gives full quality (+-1)."""
ADAFACE_MOMENTUM = 0.01
"""Weight of each training batch in AdaFace's running mean and std of the feature norms."""
_EPS = 1e-6


def arcface_target(cos: Tensor, margin: float) -> Tensor:
    """ArcFace's target cosine ``cos(theta + m)``.

    Past ``theta + m = pi``, where ``cos(theta + m)`` would turn back up and reward a
    worse angle, it falls back to CosFace's ``cos(theta) - m * sin(m)`` (InsightFace's
    "easy margin off"), so the result keeps falling as ``theta`` grows.
    """
    theta = torch.acos(cos.clamp(-1 + _EPS, 1 - _EPS))
    return torch.where(theta + margin <= math.pi, torch.cos(theta + margin), cos - margin * math.sin(margin))


def adaface_quality(norms: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """AdaFace's image quality ``g`` in [-1, 1]: the feature norm standardised by the running statistics."""
    return ((norms - mean) / (std + _EPS) * ADAFACE_H).clamp(-1, 1)


def adaface_target(cos: Tensor, quality: Tensor, margin: float) -> Tensor:
    """AdaFace's target cosine ``cos(theta - m g) - (m + m g)``: angular margin for poor images, additive for good ones."""
    theta = torch.acos(cos.clamp(-1 + _EPS, 1 - _EPS))
    return torch.cos((theta - margin * quality).clamp(_EPS, math.pi - _EPS)) - (margin + margin * quality)


class MarginHead(nn.Module):
    """Classification head over identities with an additive-angular (ArcFace), additive-cosine (CosFace),
    quality-adaptive (AdaFace) margin, or none (plain softmax).

    The margin heads score ``scale * cos`` between L2-normalised features and class
    weights, with the margin applied at the target class only; ``softmax`` is a plain
    bias-free linear layer on the raw features (``scale`` and ``margin`` unused).
    AdaFace reads quality from the raw feature norm, so pass features before normalising.
    """

    def __init__(self, embedding_size: int, num_classes: int, kind: str = "arcface", scale: float = 64.0, margin: float | None = None) -> None:
        if kind not in HEADS:
            raise ValueError(f"unknown head {kind!r}: choose one of {', '.join(HEADS)}")
        super().__init__()
        self.kind = kind
        self.scale = scale
        self.margin: float | None = None if kind == "softmax" else DEFAULT_MARGINS[kind] if margin is None else margin
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_size).normal_(std=0.01))
        if kind == "adaface":
            self.register_buffer("norm_mean", torch.tensor(20.0))
            self.register_buffer("norm_std", torch.tensor(100.0))

    def extra_repr(self) -> str:
        size, classes = self.weight.shape[1], self.weight.shape[0]
        return f"embedding_size={size}, num_classes={classes}, kind={self.kind}, scale={self.scale}, margin={self.margin}"

    def logits(self, features: Tensor, labels: Tensor) -> Tensor:
        """``(N, num_classes)`` float32 logits, the margin applied at each sample's label."""
        with torch.autocast(device_type=features.device.type, enabled=False):
            features, weight = features.float(), self.weight.float()
            if self.kind == "softmax":
                return F.linear(features, weight)
            cos = F.linear(F.normalize(features), F.normalize(weight))
            index = labels.long()[:, None]
            target = self._target(cos.gather(1, index).squeeze(1), features)
            return self.scale * cos.scatter(1, index, target[:, None])

    def forward(self, features: Tensor, labels: Tensor) -> Tensor:
        """Mean cross-entropy of :meth:`logits`."""
        return F.cross_entropy(self.logits(features, labels), labels.long())

    @torch.no_grad()
    def init_centres(self, centres: Tensor) -> None:
        """Start the class weights at ``(num_classes, embedding_size)`` class centres, L2-normalised."""
        if centres.shape != self.weight.shape:
            raise ValueError(f"centres must have shape {tuple(self.weight.shape)} (num_classes, embedding_size), got {tuple(centres.shape)}")
        self.weight.copy_(F.normalize(centres.float()))

    def _target(self, cos: Tensor, features: Tensor) -> Tensor:
        """The target-class cosine with this head's margin."""
        if self.kind == "arcface":
            return arcface_target(cos, self.margin)
        if self.kind == "cosface":
            return cos - self.margin
        return adaface_target(cos, self._quality(features), self.margin)

    def _quality(self, features: Tensor) -> Tensor:
        """AdaFace's ``g`` from the detached feature norms; in training, first fold the batch into the running statistics."""
        norms = features.detach().norm(dim=1)
        if self.training and len(norms) > 1:  # the std of one norm is undefined
            self.norm_mean.lerp_(norms.mean(), ADAFACE_MOMENTUM)
            self.norm_std.lerp_(norms.std(), ADAFACE_MOMENTUM)
        return adaface_quality(norms, self.norm_mean, self.norm_std)


def pairwise_distances(embeddings: Tensor) -> Tensor:
    """Euclidean distances between unit rows, floored at 1e-6 so the square root keeps a finite gradient."""
    return (2 - 2 * embeddings @ embeddings.T).clamp_min(_EPS**2).sqrt()


def triplet_semi_hard(embeddings: Tensor, labels: Tensor, margin: float = 0.2) -> Tensor:
    """FaceNet's triplet loss over every anchor-positive pair in the batch, with semi-hard negatives.

    Embeddings are L2-normalised first. For each pair ``(a, p)`` the negative is the
    nearest one farther from ``a`` than ``p`` is; failing that, the farthest negative
    (as TensorFlow Addons' ``triplet_semihard_loss``). The loss is the mean over pairs
    of ``max(d(a, p) - d(a, n) + margin, 0)``.
    """
    same = labels[:, None] == labels[None, :]
    anchors, positives = (same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)).nonzero(as_tuple=True)
    if len(anchors) == 0:
        raise ValueError("triplet_semi_hard needs an anchor-positive pair: sample batches with at least 2 images per identity (an identity-balanced sampler)")
    if same.all():
        raise ValueError("triplet_semi_hard needs negatives: sample batches with at least 2 identities (an identity-balanced sampler)")
    with torch.autocast(device_type=embeddings.device.type, enabled=False):
        distances = pairwise_distances(F.normalize(embeddings.float()))
        to_positive, to_all, negative = distances[anchors, positives], distances[anchors], ~same[anchors]
        semi_hard = negative & (to_all > to_positive[:, None])
        nearest_semi_hard = to_all.masked_fill(~semi_hard, math.inf).amin(dim=1)
        farthest = to_all.masked_fill(~negative, -math.inf).amax(dim=1)
        chosen = torch.where(semi_hard.any(dim=1), nearest_semi_hard, farthest)
        return F.relu(to_positive - chosen + margin).mean()


def distillation_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean ``1 - cos`` between student and teacher embeddings; no gradient reaches the teacher."""
    if teacher.shape != student.shape:
        raise ValueError(f"teacher embeddings {tuple(teacher.shape)} must match the student's {tuple(student.shape)}")
    with torch.autocast(device_type=student.device.type, enabled=False):
        return (1 - F.cosine_similarity(student.float(), teacher.detach().float(), dim=-1)).mean()

"""Training losses: margin heads, semi-hard triplets and distillation on hand-checked cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from helpers.models.losses import HEADS, MarginHead, distillation_loss, triplet_semi_hard


def unit(degrees: float) -> list[float]:
    """The 2-D unit vector at ``degrees``."""
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def chord(degrees: float) -> float:
    """Euclidean distance between two unit vectors ``degrees`` apart."""
    return 2 * math.sin(math.radians(degrees) / 2)


def head_with_classes(kind: str, class_degrees: list[float], **kwargs) -> MarginHead:
    """A 2-D head whose class weights point at the given angles (with assorted norms)."""
    head = MarginHead(2, len(class_degrees), kind, **kwargs)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([unit(d) for d in class_degrees]) * torch.linspace(0.5, 3.0, len(class_degrees))[:, None])
    return head


# Classes at 0, 90 and 180 degrees; one feature at 60 degrees (norm 5) of class 0:
# it lies 60, 30 and 120 degrees from the three classes.
CLASSES = [0.0, 90.0, 180.0]
FEATURE = torch.tensor([unit(60.0)]) * 5
LABEL = torch.tensor([0])
NON_TARGET = [64 * math.cos(math.radians(30)), 64 * math.cos(math.radians(120))]


def test_arcface_adds_the_angle_at_the_target_only() -> None:
    head = head_with_classes("arcface", CLASSES)
    expected = torch.tensor([[64 * math.cos(math.pi / 3 + 0.5), *NON_TARGET]])
    torch.testing.assert_close(head.logits(FEATURE, LABEL), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(head(FEATURE, LABEL), F.cross_entropy(expected, LABEL), rtol=1e-4, atol=1e-4)


def test_cosface_subtracts_the_margin_from_the_target_cosine() -> None:
    head = head_with_classes("cosface", CLASSES)
    expected = torch.tensor([[64 * (0.5 - 0.35), *NON_TARGET]])
    torch.testing.assert_close(head.logits(FEATURE, LABEL), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(head(FEATURE, LABEL), F.cross_entropy(expected, LABEL), rtol=1e-4, atol=1e-4)


def test_softmax_is_a_plain_linear_layer() -> None:
    head = MarginHead(3, 4, "softmax", margin=0.5)
    features, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 0])
    assert head.margin is None
    torch.testing.assert_close(head.logits(features, labels), features @ head.weight.T)
    torch.testing.assert_close(head(features, labels), F.cross_entropy(features @ head.weight.T, labels))


def test_default_margins_and_unknown_kind() -> None:
    assert [MarginHead(4, 3, kind).margin for kind in HEADS] == [0.5, 0.35, 0.4, None]
    assert MarginHead(4, 3, "arcface", margin=0.3).margin == 0.3
    head = MarginHead(4, 3)
    assert head.weight.shape == (3, 4) and head.weight.std() < 0.05
    with pytest.raises(ValueError, match="arcface, cosface, adaface, softmax"):
        MarginHead(4, 3, "sphereface")


def test_adaface_target_follows_the_quality_from_the_norm() -> None:
    # Running mean 20 and std 5: norms 30, 80 and 1 give g = 2h, 12h -> 1 and -3.8h -> -1.
    head = head_with_classes("adaface", CLASSES).eval()
    head.norm_mean.fill_(20.0)
    head.norm_std.fill_(5.0)
    norms = torch.tensor([[30.0], [80.0], [1.0]])
    logits = head.logits(torch.tensor([unit(60.0)] * 3) * norms, torch.tensor([0, 0, 0]))
    for row, g in zip(logits, [2 * 0.333, 1.0, -1.0]):
        expected = 64 * (math.cos(math.pi / 3 - 0.4 * g) - (0.4 + 0.4 * g))
        assert row[0].item() == pytest.approx(expected, rel=1e-4)
        assert row[1:].tolist() == pytest.approx(NON_TARGET, rel=1e-4)
    assert head.norm_mean.item() == 20.0 and head.norm_std.item() == 5.0  # eval mode leaves them


def test_adaface_updates_running_norm_statistics_in_training() -> None:
    head = MarginHead(2, 3, "adaface").train()
    features = torch.tensor([[3.0, 4.0], [0.0, 15.0]])  # norms 5 and 15: mean 10, std sqrt(50)
    head(features, torch.tensor([0, 1]))
    assert head.norm_mean.item() == pytest.approx(0.99 * 20 + 0.01 * 10)
    assert head.norm_std.item() == pytest.approx(0.99 * 100 + 0.01 * math.sqrt(50))


def test_adaface_quality_is_detached() -> None:
    # With g detached the loss depends on feature directions only, so its gradient is orthogonal to each feature.
    head = MarginHead(4, 3, "adaface").eval()
    head.norm_mean.fill_(1.0)
    head.norm_std.fill_(1.0)
    features = torch.randn(6, 4, requires_grad=True)
    head(features, torch.tensor([0, 1, 2, 0, 1, 2])).backward()
    radial = (features.grad * features).sum(dim=1)
    torch.testing.assert_close(radial, torch.zeros(6), atol=1e-5, rtol=0)


def test_arcface_past_pi_stays_finite_and_falling() -> None:
    angles = torch.linspace(0, 180, 181)
    features = torch.stack([torch.cos(torch.deg2rad(angles)), torch.sin(torch.deg2rad(angles))], dim=1).requires_grad_()
    head = head_with_classes("arcface", CLASSES)
    target = head.logits(features, torch.zeros(181, dtype=torch.long))[:, 0]
    assert torch.isfinite(target).all()
    assert (target.diff() <= 1e-4).all()
    # Past 180 - m degrees: CosFace's fallback s * (cos(theta) - m sin m).
    past = angles > 180 - math.degrees(0.5)
    expected = 64 * (torch.cos(torch.deg2rad(angles[past])) - 0.5 * math.sin(0.5))
    torch.testing.assert_close(target[past].detach(), expected, rtol=1e-4, atol=1e-3)
    head(features, torch.zeros(181, dtype=torch.long)).backward()
    assert torch.isfinite(features.grad).all() and torch.isfinite(head.weight.grad).all()


@pytest.mark.parametrize("kind", HEADS)
def test_heads_run_in_float32_under_autocast(kind: str) -> None:
    head = MarginHead(8, 5, kind).eval()  # eval: AdaFace's running statistics stay put between the calls
    features, labels = torch.randn(6, 8), torch.tensor([0, 1, 2, 3, 4, 0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = head.logits(features.bfloat16(), labels), head(features.bfloat16(), labels)
    assert logits.dtype == torch.float32 and torch.isfinite(loss)
    torch.testing.assert_close(logits, head.logits(features.bfloat16().float(), labels))


def test_init_centres_copies_normalised_centres() -> None:
    head = MarginHead(3, 4, "arcface", margin=0.0)
    centres = torch.randn(4, 3) * torch.tensor([[1.0], [5.0], [0.2], [30.0]])
    head.init_centres(centres)
    torch.testing.assert_close(head.weight.norm(dim=1), torch.ones(4))
    features, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 1])
    cos = F.cosine_similarity(features[:, None], centres[None], dim=-1)
    torch.testing.assert_close(head.logits(features, labels), 64 * cos, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="shape"):
        head.init_centres(torch.randn(4, 5))


def test_triplet_semi_hard_picks_negatives_by_hand() -> None:
    # A at 0 and 20 degrees, B at 30 and 100 degrees. Per anchor-positive pair (angles to the anchor):
    #   A0-A1 (20): negatives at 30 and 100; nearest beyond 20 is 30.
    #   A1-A0 (20): negatives at 10 and 80; nearest beyond 20 is 80 (loss clipped to 0).
    #   B0-B1 (70): negatives at 30 and 10; none beyond 70, so the farthest, 30.
    #   B1-B0 (70): negatives at 100 and 80; nearest beyond 70 is 80.
    embeddings = torch.tensor([unit(0), unit(20), unit(30), unit(100)]) * torch.tensor([[1.0], [3.0], [0.5], [7.0]])
    labels = torch.tensor([0, 0, 1, 1])
    pairs = [(20, 30), (20, 80), (70, 30), (70, 80)]
    expected = sum(max(chord(p) - chord(n) + 0.2, 0.0) for p, n in pairs) / 4
    assert triplet_semi_hard(embeddings, labels, margin=0.2).item() == pytest.approx(expected, rel=1e-5)


def test_triplet_semi_hard_is_zero_for_far_apart_classes() -> None:
    embeddings = torch.tensor([unit(0), unit(5), unit(-5), unit(180), unit(175), unit(185)], requires_grad=True)
    loss = triplet_semi_hard(embeddings, torch.tensor([0, 0, 0, 1, 1, 1]))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(embeddings.grad).all()


def test_triplet_semi_hard_needs_positives_and_negatives() -> None:
    with pytest.raises(ValueError, match="at least 2 images per identity"):
        triplet_semi_hard(torch.randn(4, 3), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="at least 2 identities"):
        triplet_semi_hard(torch.randn(4, 3), torch.tensor([5, 5, 5, 5]))


def test_distillation_loss_is_one_minus_cosine() -> None:
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    assert distillation_loss(student, student * 4).item() == pytest.approx(0.0, abs=1e-6)
    assert distillation_loss(student[:2], torch.tensor([[0.0, 5.0], [0.5, 0.0]])).item() == pytest.approx(1.0)
    assert distillation_loss(student, -0.1 * student).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="must match"):
        distillation_loss(student, torch.ones(3, 4))


def test_distillation_gradient_skips_the_teacher() -> None:
    student, teacher = torch.randn(4, 3, requires_grad=True), torch.randn(4, 3, requires_grad=True)
    distillation_loss(student, teacher).backward()
    assert teacher.grad is None and student.grad is not None and student.grad.abs().sum() > 0


def test_arcface_training_separates_gaussian_clusters() -> None:
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 16, generator=generator) * 4
    labels = torch.arange(4).repeat_interleave(32)
    inputs = centres[labels] + torch.randn(128, 16, generator=generator)
    torch.manual_seed(0)
    embedder, head = torch.nn.Linear(16, 8), MarginHead(8, 4, "arcface")
    optimiser = torch.optim.SGD([*embedder.parameters(), *head.parameters()], lr=0.01)
    losses = []
    for _ in range(50):
        loss = head(embedder(inputs), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses

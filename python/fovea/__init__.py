"""fovea: timm's vision transformers on the CPU, from timm checkpoints as published.

    import fovea
    model = fovea.load_model("vit_base_patch16_224.augreg_in1k")   # a timm hub folder
    x = fovea.preprocess(model, ["cat.jpg", "dog.png"])             # timm's eval transform
    for row in fovea.top_k(model, model(x), 5):
        print(row)

Arrays are NumPy float32 [N, C, H, W]; a CPU torch tensor is read in place through __array__.
Every failure raises fovea.Error (a ValueError) with fovea's message.
"""
import os as _os

import numpy as _np

from ._fovea import (Error, Model, __version__, attention_blocks, create_model, get_num_threads, inspect,
                     list_models, load_model, preset_cfg, set_num_threads, top_k, zero_shot)
from . import _fovea

__all__ = ["Error", "Model", "__version__", "attention_blocks", "create_model", "embed", "get_num_threads", "inspect",
           "list_models", "load_model", "preprocess", "preset_cfg", "set_num_threads", "top_k", "zero_shot"]


def _pixels(item, channels):
    """A PIL image as a uint8 array in the mode timm's loader gives it (RGB, or L for 1 channel)."""
    convert = getattr(item, "convert", None)
    if convert is not None and hasattr(item, "mode") and hasattr(item, "size"):
        return _np.asarray(convert("L" if channels == 1 else "RGB"))
    return item


def preprocess(model, items):
    """Images -> float32 [N, C, H, W], exactly timm's eval transform for the model's pretrained_cfg.

    model: a fovea.Model, or a preset name (its default data config).
    items: a list (or one) of paths, encoded bytes, PIL images or uint8 [H, W, 3] / [H, W] arrays.
    Decoding, resizing and normalising run without the GIL.
    """
    if isinstance(items, (str, bytes, bytearray, memoryview, _os.PathLike, _np.ndarray)) or hasattr(items, "convert"):
        items = [items]
    try:
        items = list(items)
    except TypeError:
        raise Error(f"preprocess: expected a list of images, got {type(items).__name__}") from None
    cfg = model.pretrained_cfg if isinstance(model, Model) else preset_cfg(model) if isinstance(model, str) else None
    if cfg is None:
        raise Error(f"preprocess: expected a fovea.Model or a preset name, got {type(model).__name__}")
    channels = cfg["input_size"][0]
    prepared = []
    for it in items:
        if isinstance(it, _os.PathLike):
            it = _os.fspath(it)
        elif isinstance(it, (bytearray, memoryview)):
            it = bytes(it)
        prepared.append(_pixels(it, channels))
    return _fovea._preprocess(model, prepared)


embed = _fovea.embed

#!/usr/bin/env python3
"""Full-size models whose weights are a formula, so that only their references are committed.

Every parameter and the input come from a counter-based generator (splitmix64 of seed, tensor
index and element index) that tests/test_precision.cpp reproduces bit for bit: each value is a
24-bit integer times a power of two, exact in float32 on both sides. Scales follow
make_fixtures.py's randomise (O(1) everywhere): tokens, position tables and the input uniform in
[-2, 2); a matrix uniform in [-a, a) with a the power of two nearest sqrt(3 / fan_in) (variance
near 1 / fan_in); norm weights and layer scales in [0.5, 1.5); biases in [-1, 1).

For each model, tests/data/seeded/<name>/ gets timm's config.json, spec.json (seed; per tensor:
name, shape, rule, scale) and ref.safetensors (timm's fp32 logits and float64 logits).

  PYTHONPATH=/tmp/timm_src /usr/bin/python3 tests/tools/make_seeded_fixtures.py [NAME...]
"""
import json
import math
import pathlib
import sys

import numpy as np
import torch
import timm
from timm.models._hub import save_config_for_hf

from safetensors_io import save_file

MODELS = {"vit_base_patch16_224": 21, "swin_tiny_patch4_window7_224": 22,
          # CLIP (norm_pre, QuickGELU, 512-wide projection head) and SigLIP (attention pooling, no head)
          "vit_base_patch16_clip_quickgelu_224": 23, "vit_base_patch16_siglip_224": 24,
          # EVA-02 (rotary embedding, separate q / k / v, SwiGLU with its norm; no head: pooled features)
          # and Swin V2 (cosine attention, continuous position bias, post-norm) at 256
          "eva02_base_patch14_224": 25, "swinv2_tiny_window8_256": 26}
TOKENS = ("pos_embed", "cls_token", "reg_token", "dist_token", "relative_position_bias_table", "latent")
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(M64)
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(M64)
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(M64)
    return x ^ (x >> np.uint64(31))


def values(seed, index, count, rule, scale):
    """As seeded_values() in tests/test_precision.cpp."""
    with np.errstate(over="ignore"):
        ctr = (np.uint64(seed) << np.uint64(56)) ^ (np.uint64(index) << np.uint64(40)) ^ np.arange(count, dtype=np.uint64)
        bits = splitmix64(ctr)
    if rule == "norm":  # 1 + [-0.5, 0.5) in steps of 2^-23
        k = (bits >> np.uint64(41)).astype(np.int64) - (1 << 22)
        return (1.0 + k.astype(np.float64) * 2.0 ** -23).astype(np.float32)
    k = (bits >> np.uint64(40)).astype(np.int64) - (1 << 23)  # [-a, a) in steps of a 2^-23
    return (k.astype(np.float64) * scale * 2.0 ** -23).astype(np.float32)


def rule_of(name, shape):
    leaf = name.rsplit(".", 1)[-1]
    if leaf in TOKENS:
        return "uniform", 2.0
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        return "uniform", 2.0 ** round(math.log2(math.sqrt(3.0 / fan_in)))
    if leaf in ("weight", "gamma"):
        return "norm", 1.0
    return "uniform", 1.0


def main():
    root = pathlib.Path(__file__).resolve().parents[1] / "data" / "seeded"
    for arch, seed in MODELS.items():
        if sys.argv[1:] and arch not in sys.argv[1:]:
            continue
        out = root / arch
        out.mkdir(parents=True, exist_ok=True)
        model = timm.create_model(arch, pretrained=False).eval()
        state = model.state_dict()
        shape = [1, *model.pretrained_cfg["input_size"]]
        spec = {"seed": seed, "input": shape, "tensors": []}
        params = {}
        for i, (name, t) in enumerate(state.items()):
            if t.dtype != torch.float32:  # buffers such as Swin's relative_position_index, attn_mask
                continue
            if name not in dict(model.named_parameters()):
                continue
            rule, scale = rule_of(name, list(t.shape))
            v = values(seed, len(spec["tensors"]) + 1, t.numel(), rule, scale).reshape(t.shape)
            params[name] = torch.from_numpy(v)
            spec["tensors"].append({"name": name, "shape": list(t.shape), "rule": rule, "scale": scale})
        model.load_state_dict(params, strict=False)
        x = torch.from_numpy(values(seed, 0, math.prod(shape), "uniform", 2.0).reshape(shape))
        with torch.no_grad():
            logits32 = model(x)
            logits64 = model.double()(x.double()).float()
        save_config_for_hf(model, out / "config.json")
        (out / "spec.json").write_text(json.dumps(spec, indent=1) + "\n")
        save_file({"logits_timm_f32": logits32, "logits_f64": logits64}, out / "ref.safetensors")
        print(arch, "logits std", float(logits64.std()), "f32 vs f64 max diff", float((logits32 - logits64).abs().max()))


if __name__ == "__main__":
    main()

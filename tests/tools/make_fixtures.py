#!/usr/bin/env python3
"""Make fovea's reference fixtures with timm (the source of truth).

Every fixture is a timm hub folder (model.safetensors + config.json written by timm's own
save_config_for_hf) plus ref.safetensors holding the input and each stage's output, computed
by timm in float64 from the same float32 parameters. All parameters are randomised at O(1)
scale: norm weights in [0.5, 1.5], biases ~ N(0, 0.5^2), tokens, pos_embed and relative
position bias tables ~ N(0, 1), matrices ~ N(0, 1/fan_in), so an indexing mistake shows.

  PYTHONPATH=/tmp/timm_src python3 tests/tools/make_fixtures.py            # tests/data/
  PYTHONPATH=/tmp/timm_src python3 tests/tools/make_fixtures.py --full DIR # full-size checks
"""
import argparse
import json
import math
import pathlib
import re
import struct

import torch
import timm
from timm.models._hub import save_config_for_hf

from safetensors_io import save_file

def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("pos_embed", "cls_token", "reg_token", "dist_token", "relative_position_bias_table",
                        "position_embeddings", "distillation_token", "latent"):  # the last two: transformers' names
                p.copy_(torch.randn(p.shape, generator=g))
            elif p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p[0].numel()))
            elif leaf in ("weight", "gamma"):  # norm scales and layer scale
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:  # biases
                p.copy_(0.5 * torch.randn(p.shape, generator=g))


def run_reference(model, x):
    """Stage outputs, features, pre-logits and logits from timm, in float64."""
    m = model.double().eval()
    x = x.double()
    stages = {}
    hooks = []
    is_swin = hasattr(m, "layers")

    def keep(name):
        def hook(_mod, _inp, out):
            o = out
            if not is_swin and o.ndim == 4:  # dynamic_img_size patch_embed is NHWC
                o = o.reshape(o.shape[0], -1, o.shape[-1])
            stages[name] = o.detach().clone()
        return hook

    hooks.append(m.patch_embed.register_forward_hook(keep("patch_embed")))
    if hasattr(m, "rel_pos_bias"):  # BEiT: no norm_pre, tokens leave pos_drop
        hooks.append(m.pos_drop.register_forward_hook(keep("pos_embed")))
        for i, blk in enumerate(m.blocks):
            hooks.append(blk.register_forward_hook(keep(f"blocks.{i}")))
    elif is_swin:
        for i, layer in enumerate(m.layers):
            if not isinstance(layer.downsample, torch.nn.Identity):
                hooks.append(layer.downsample.register_forward_hook(keep(f"layers.{i}.downsample")))
            for j, blk in enumerate(layer.blocks):
                hooks.append(blk.register_forward_hook(keep(f"layers.{i}.blocks.{j}")))
    else:
        hooks.append(m.norm_pre.register_forward_hook(keep("pos_embed")))
        for i, blk in enumerate(m.blocks):
            hooks.append(blk.register_forward_hook(keep(f"blocks.{i}")))
    with torch.no_grad():
        feats = m.forward_features(x)
        for h in hooks:
            h.remove()
        stages["features"] = feats
        stages["pre_logits"] = m.forward_head(feats, pre_logits=True)
        stages["logits"] = m.forward_head(feats)
        if is_swin:
            for i, t in enumerate(m.forward_intermediates(x, intermediates_only=True)):
                stages[f"intermediates.{i}"] = t
    return {k: v.float() for k, v in stages.items()}


def write_fixture(out_dir, arch, model_args, input_shape, seed, timm_kwargs=None, num_classes=5,
                  dtype=torch.float32):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kwargs = dict(model_args, **(timm_kwargs or {}))
    model = timm.create_model(arch, pretrained=False, num_classes=num_classes, **kwargs)
    randomise(model, seed)
    model.eval()
    if dtype != torch.float32:  # store F16 / BF16: round first, so timm computes with the stored values
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(dtype).float())
    save_file({k: v.to(dtype) for k, v in model.state_dict().items()}, out / "model.safetensors")
    save_config_for_hf(model, out / "config.json", model_args=model_args or None)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(input_shape, generator=g)
    with torch.no_grad():
        logits_f32 = model(x)
    ref = run_reference(model, x)
    ref["logits_timm_f32"] = logits_f32
    ref["input"] = x
    save_file(ref, out / "ref.safetensors")
    return model, x, ref


TINY_VIT = dict(embed_dim=16, depth=2, num_heads=2, img_size=32, patch_size=8)
# patch 14 as DINOv2's; a 3 x 3 grid
TINY_DINOV2 = dict(embed_dim=16, depth=2, num_heads=2, img_size=42)
# giant's packed SwiGLU needs an even hidden width: int(24 * 5.33334) = 128
TINY_DINOV2_GIANT = dict(embed_dim=24, depth=2, num_heads=2, img_size=42)
TINY_BEIT = dict(embed_dim=16, depth=2, num_heads=2, img_size=32, patch_size=8)
# patch 2 keeps inputs small while the maps stay 28, 14, 7, 3 as in a 112 / patch-4 model
TINY_SWIN = dict(embed_dim=4, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), img_size=56, patch_size=2)

VIT_PRESETS = [
    "vit_tiny_patch16_224", "vit_tiny_patch16_384", "vit_small_patch16_224", "vit_small_patch16_384",
    "vit_base_patch16_224", "vit_base_patch16_384", "vit_large_patch16_224", "vit_large_patch16_384",
    "vit_base_patch32_224", "vit_base_patch32_384",
    "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
    "deit_tiny_distilled_patch16_224", "deit_small_distilled_patch16_224", "deit_base_distilled_patch16_224",
    "deit3_small_patch16_224", "deit3_base_patch16_224",
    "vit_medium_patch16_gap_256", "vit_base_patch16_gap_224",
    "vit_medium_patch16_reg4_gap_256", "vit_base_patch16_reg4_gap_256",
]


def tiny_fixtures():
    """(folder name, architecture, model_args, input shape, timm-only kwargs)"""
    fx = [(f"{name}", name, dict(TINY_VIT), (1, 3, 32, 32), None) for name in VIT_PRESETS]
    dyn = dict(dynamic_img_size=True)
    fx += [
        # other input sizes: pos_embed resampled as timm's dynamic_img_size (down, up, non-square)
        ("vit_dynamic_24x40", "vit_small_patch16_224", dict(TINY_VIT), (2, 3, 24, 40), dyn),
        ("deit3_dynamic_48x48", "deit3_small_patch16_224", dict(TINY_VIT), (1, 3, 48, 48), dyn),
        ("deit_distilled_dynamic_40x24", "deit_small_distilled_patch16_224", dict(TINY_VIT), (1, 3, 40, 24), dyn),
        ("vit_reg4_dynamic_16x48", "vit_base_patch16_reg4_gap_256", dict(TINY_VIT), (1, 3, 16, 48), dyn),
        # 307 tokens: attention's online softmax over two key blocks (256 + 51), head_dim 8
        ("vit_long_seq_68x72", "vit_small_patch16_224", dict(TINY_VIT, patch_size=4), (1, 3, 68, 72), dyn),
        ("vit_nonsquare_img_32x48", "vit_small_patch16_224", dict(TINY_VIT, img_size=(32, 48)), (1, 3, 32, 48), None),
        # options reached through model_args
        ("vit_pre_norm", "vit_base_patch16_224", dict(TINY_VIT, pre_norm=True), (1, 3, 32, 32), None),
        ("vit_in_chans1_batch4", "vit_small_patch16_224", dict(TINY_VIT, in_chans=1), (4, 1, 32, 32), None),
        ("vit_avgmax_pool", "vit_small_patch16_224",
         dict(TINY_VIT, class_token=False, global_pool="avgmax"), (1, 3, 32, 32), None),
        ("vit_token_logits", "vit_small_patch16_224", dict(TINY_VIT, global_pool=""), (2, 3, 32, 32), None),
        ("vit_no_final_norm_mlp3", "vit_small_patch16_224", dict(TINY_VIT, final_norm=False, mlp_ratio=3.0),
         (1, 3, 32, 32), None),
        # Swin: window 7 with shifted blocks; stages 3-4 clamp the window (7 and 3 <= 7)
        ("swin_tiny_patch4_window7_224", "swin_tiny_patch4_window7_224", dict(TINY_SWIN), (1, 3, 56, 56), None),
        # padding: maps 20, 10, 5, 3 are not multiples of the window
        ("swin_pad_40", "swin_small_patch4_window7_224", dict(TINY_SWIN), (1, 3, 40, 40), None),
        # smaller input than configured: stage 2 keeps window 7 + shift 3 on a 7x7 map
        ("swin_small_input_28", "swin_tiny_patch4_window7_224", dict(TINY_SWIN), (1, 3, 28, 28), None),
        # non-square input, odd maps before patch merging (18x26 -> 9x13 -> 5x7 -> 3x4)
        ("swin_nonsquare_36x52", "swin_base_patch4_window7_224", dict(TINY_SWIN), (1, 3, 36, 52), None),
        # window clamped in one dimension only: shift (3, 0) at stage 2, one-channel input, batch 2
        ("swin_clamp_one_dim_in1_b2", "swin_tiny_patch4_window7_224",
         dict(TINY_SWIN, img_size=(56, 28), in_chans=1), (2, 1, 56, 28), None),
        # window 12 preset: shifted 2x2 windows at stage 1, clamped from stage 2 on
        ("swin_base_patch4_window12_384", "swin_base_patch4_window12_384", dict(TINY_SWIN, img_size=48),
         (1, 3, 48, 48), None),
        ("swin_large_patch4_window7_224", "swin_large_patch4_window7_224", dict(TINY_SWIN, mlp_ratio=2.0),
         (1, 3, 28, 28), None),
        # DINOv2: patch 14, LayerScale, registers; giant's packed SwiGLU; no head as published; another size
        ("vit_small_patch14_dinov2", "vit_small_patch14_dinov2", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("vit_base_patch14_dinov2", "vit_base_patch14_dinov2", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("vit_large_patch14_dinov2", "vit_large_patch14_dinov2", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("vit_small_patch14_reg4_dinov2", "vit_small_patch14_reg4_dinov2", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("vit_base_patch14_reg4_dinov2", "vit_base_patch14_reg4_dinov2", dict(TINY_DINOV2), (2, 3, 42, 42), None),
        ("vit_giant_patch14_dinov2", "vit_giant_patch14_dinov2", dict(TINY_DINOV2_GIANT), (1, 3, 42, 42), None),
        ("dinov2_dynamic_56x28", "vit_small_patch14_reg4_dinov2", dict(TINY_DINOV2), (1, 3, 56, 28), dict(dynamic_img_size=True)),
        ("dinov2_no_head", "vit_small_patch14_dinov2", dict(TINY_DINOV2), (1, 3, 42, 42), None),  # as published: num_classes 0
        # BEiT: per-block relative position bias, q / v biases, gamma_1 / gamma_2, mean pooling + fc_norm
        ("beit_base_patch16_224", "beit_base_patch16_224", dict(TINY_BEIT), (1, 3, 32, 32), None),
        ("beitv2_base_patch16_224", "beitv2_base_patch16_224", dict(TINY_BEIT), (2, 3, 32, 32), None),
        ("beit_large_patch16_224", "beit_large_patch16_224", dict(TINY_BEIT), (1, 3, 32, 32), None),
        # CLIP image towers: norm_pre, LayerNorm eps 1e-5, QuickGELU; L/14 at 336's structure (patch 14)
        ("vit_base_patch16_clip_224", "vit_base_patch16_clip_224", dict(TINY_VIT), (1, 3, 32, 32), None),
        ("vit_base_patch16_clip_quickgelu_224", "vit_base_patch16_clip_quickgelu_224", dict(TINY_VIT), (2, 3, 32, 32), None),
        ("vit_large_patch14_clip_336", "vit_large_patch14_clip_336", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("clip_quickgelu_dynamic_40x24", "vit_large_patch14_clip_quickgelu_336", dict(TINY_DINOV2), (2, 3, 56, 28),
         dict(dynamic_img_size=True)),
        # SigLIP: no class token, attention pooling (MAP) or GAP; GELU's tanh form (SigLIP 2 entries)
        ("vit_base_patch16_siglip_224", "vit_base_patch16_siglip_224", dict(TINY_VIT), (1, 3, 32, 32), None),
        ("vit_base_patch16_siglip_384", "vit_base_patch16_siglip_384", dict(TINY_VIT, img_size=48), (1, 3, 48, 48), None),
        ("vit_base_patch16_siglip_gap_224", "vit_base_patch16_siglip_gap_224", dict(TINY_VIT), (2, 3, 32, 32), None),
        ("vit_base_patch32_siglip_256", "vit_base_patch32_siglip_256", dict(TINY_VIT), (1, 3, 32, 32), None),
        ("vit_so400m_patch14_siglip_224", "vit_so400m_patch14_siglip_224", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("siglip_dynamic_24x40", "vit_base_patch16_siglip_224", dict(TINY_VIT), (2, 3, 24, 40), dyn),
        ("siglip_no_head", "vit_base_patch16_siglip_224", dict(TINY_VIT), (1, 3, 32, 32), None),  # as published
        # EVA-02: 2-D rotary embedding (grid scaled to ref_feat_shape 16), q / v biases on a fused qkv (tiny,
        # small) or q_proj / k_proj / v_proj (base, large), packed SwiGLU or SwiGLU with its inner norm
        ("eva02_tiny_patch14_224", "eva02_tiny_patch14_224", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("eva02_small_patch14_224", "eva02_small_patch14_224", dict(TINY_DINOV2), (2, 3, 42, 42), None),
        ("eva02_base_patch14_224", "eva02_base_patch14_224", dict(TINY_DINOV2), (1, 3, 42, 42), None),
        ("eva02_large_patch14_448", "eva02_large_patch14_448", dict(TINY_DINOV2, img_size=56), (1, 3, 56, 56), None),
        ("eva02_dynamic_56x28", "eva02_base_patch14_448", dict(TINY_DINOV2), (2, 3, 56, 28), dyn),
        # Swin V2: cosine attention with a clamped per-head logit scale, the continuous position bias MLP,
        # post-norm blocks, reduction-then-norm patch merging; maps 32, 16, 8, 4
        ("swinv2_tiny_window8_256", "swinv2_tiny_window8_256", dict(TINY_SWIN, img_size=64), (1, 3, 64, 64), None),
        ("swinv2_tiny_window16_256", "swinv2_tiny_window16_256", dict(TINY_SWIN, img_size=64), (1, 3, 64, 64), None),
        ("swinv2_base_window12to16_192to256", "swinv2_base_window12to16_192to256", dict(TINY_SWIN, img_size=64),
         (1, 3, 64, 64), None),
        # windows of 17 x 17 = 289 tokens (two key blocks), shifted and padded (28 -> 34)
        ("swin_window17_long", "swin_tiny_patch4_window7_224", dict(TINY_SWIN, window_size=17), (1, 3, 56, 56), None),
        # padding and a non-square map (24x40 -> 12x20 -> 6x10 -> 3x5), batch 2
        ("swinv2_small_window8_48x80", "swinv2_small_window8_256", dict(TINY_SWIN, img_size=64), (2, 3, 48, 80), None),
        # EVA-CLIP's image tower: a LayerNorm of the attention's output before proj, class token, projection head
        ("eva02_base_patch16_clip_224", "eva02_base_patch16_clip_224", dict(TINY_VIT), (2, 3, 32, 32), None),
    ]
    return fx


FULL = [
    # (folder, architecture, input shape, timm kwargs)
    ("vit_base_patch16_224", "vit_base_patch16_224", (1, 3, 224, 224), None),
    ("deit_base_distilled_patch16_224", "deit_base_distilled_patch16_224", (1, 3, 224, 224), None),
    ("vit_base_patch16_reg4_gap_256", "vit_base_patch16_reg4_gap_256", (1, 3, 256, 256), None),
    ("vit_base_patch16_224_160x256", "vit_base_patch16_224", (1, 3, 160, 256), dict(dynamic_img_size=True)),
    ("swin_tiny_patch4_window7_224", "swin_tiny_patch4_window7_224", (1, 3, 224, 224), None),
    ("swin_base_patch4_window12_384", "swin_base_patch4_window12_384", (1, 3, 384, 384), None),
    ("swin_small_patch4_window7_224_192x288", "swin_small_patch4_window7_224", (1, 3, 192, 288),
     dict(strict_img_size=False)),
    ("vit_base_patch14_dinov2", "vit_base_patch14_dinov2", (1, 3, 518, 518), None),
    ("vit_small_patch14_reg4_dinov2_280x420", "vit_small_patch14_reg4_dinov2", (1, 3, 280, 420), dict(dynamic_img_size=True)),
    ("beit_base_patch16_224", "beit_base_patch16_224", (1, 3, 224, 224), None),
    ("beitv2_base_patch16_224", "beitv2_base_patch16_224", (1, 3, 224, 224), None),
]


def patch_merging_order(out_dir):
    """timm's PatchMerging gather alone (norm and reduction made identities) on a hand-made input
    whose every value encodes its (h, w, c) position; odd H and W exercise the zero padding."""
    from timm.models.swin_transformer import PatchMerging
    C, H, W = 3, 5, 7
    pm = PatchMerging(dim=C, out_dim=4 * C)
    pm.norm = torch.nn.Identity()
    with torch.no_grad():
        pm.reduction.weight.copy_(torch.eye(4 * C))
    h, w, c = torch.meshgrid(torch.arange(H), torch.arange(W), torch.arange(C), indexing="ij")
    x = (100 * (h + 1) + 10 * (w + 1) + (c + 1)).float().unsqueeze(0)  # (1, H, W, C)
    with torch.no_grad():
        y = pm(x)
    save_file({"input": x, "output": y}, pathlib.Path(out_dir) / "patch_merging_order.safetensors")


def swin_original_layout(out_dir, fixture="swin_tiny_patch4_window7_224", folder="swin_original"):
    """The tiny Swin-T fixture (or Swin V2's) in the layout of Microsoft's release and timm <= 0.6
    (the inverse of timm's checkpoint_filter_fn): downsample at the end of stages 0-2, head.weight,
    and stored buffers (relative_position_index, attn_mask; V2's relative_coords_table). Same weights,
    so the same reference applies."""
    import json as _json
    import numpy as np
    src = pathlib.Path(out_dir) / fixture
    raw = (src / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = _json.loads(raw[8:8 + n])
    dt = {"F16": np.float16, "F32": np.float32}
    tensors = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dt[v["dtype"]]).reshape(v["shape"])
        k = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)
        tensors[k.replace("head.fc.", "head.")] = torch.from_numpy(arr.copy())
    cfg = _json.loads((src / "config.json").read_text())
    model = timm.create_model(cfg["architecture"], pretrained=False, num_classes=5, **cfg["model_args"])
    for name, buf in model.named_buffers():  # stored buffers, as old checkpoints carry them
        # a sample of them keeps the file small: the last stage's buffers and one shifted-window mask
        if (name.startswith("layers.3.") and name.endswith(("relative_position_index", "relative_coords_table"))) or \
                name == "layers.1.blocks.1.attn_mask":
            tensors[name] = buf.to(torch.float16) if buf.is_floating_point() else buf
    out = pathlib.Path(out_dir) / "layouts" / folder
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, out / "model.safetensors")
    (out / "config.json").write_text((src / "config.json").read_text())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parents[1] / "data"))
    ap.add_argument("--full", metavar="DIR", help="write full-size random-weight models (not for the repo)")
    ap.add_argument("--only", nargs="*", help="fixture names to make")
    a = ap.parse_args()
    if a.full:
        for i, (name, arch, shape, kw) in enumerate(FULL):
            if a.only and name not in a.only:
                continue
            print("full:", name, flush=True)
            write_fixture(pathlib.Path(a.full) / name, arch, {}, shape, 1000 + i, kw, num_classes=1000)
        return
    patch_merging_order(a.out)
    if not a.only:
        swin_original_layout(a.out)
        swin_original_layout(a.out, "swinv2_tiny_window8_256", "swinv2_original")
    for i, (name, arch, args, shape, kw) in enumerate(tiny_fixtures()):
        if a.only and name not in a.only:
            continue
        if arch.startswith("swin"):
            kw = dict(kw or {}, strict_img_size=False)
        # Weights stored as F16 (DeiT: BF16) keep the fixtures small and exercise the loader's
        # conversions; these stay F32, the zero-copy path: vit_base_patch16_224, vit_dynamic_24x40, vit_pre_norm
        f32 = name in ("vit_base_patch16_224", "vit_dynamic_24x40", "vit_pre_norm")
        dtype = torch.float32 if f32 else torch.bfloat16 if name.startswith("deit") else torch.float16
        write_fixture(pathlib.Path(a.out) / name, arch, args, shape, 100 + 7 * i, kw, dtype=dtype,
                      num_classes=0 if name.endswith("no_head") else 5)
        print("fixture:", name, flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""References for fovea's pictures (include/fovea/visualize): timm's attention probabilities and
NumPy's analyses of them, for tests/test_visualize.cpp.

For each model (tiny random fixtures from make_fixtures.py, loaded back into timm, and the two bundled
Fashion-MNIST models on a bundled image), tests/data/visualize/<name>.safetensors holds:
  input                    the input the fixture's ref.safetensors has (bundled: the image, normalised)
  attn.<block>             timm's softmax attention with fused attention off, in float64 then float32:
                           ViT family [N, heads, T, T] (attn_drop's input); Swin [N, heads, windows, w*w, w*w]
                           (attn.softmax's output, windows in timm's order)
  token_pos.<block>        Swin: each window token's place on the block's map (y * W + x), -1 for padding
  received.<block>         Swin: per head, mean attention each token receives from its window's real queries
  rollout                  Abnar & Zuidema over every block: mean over heads + I, rows renormalised,
                           the product; the class token's row (no class token: the patch rows' mean)
  token_attention          the last block's attention from the class token (or the patch rows' mean)
  features / pca_rgb       timm's final features and NumPy's PCA of their patch tokens to RGB
  stage.<i> / pca_rgb.<i>  Swin: each stage's last block output and its PCA RGB
  filters_pca              principal components of patch_embed.proj.weight (first min(28, E - 1, K))
  position_similarity      cosine similarity of the patch positions' embeddings
PCA signs follow fovea's rule: each component's score of largest magnitude is positive.

  PYTHONPATH=/tmp/timm_src python3 tests/tools/make_visualize_fixtures.py [--out DIR]
"""
import json
import pathlib

import numpy as np
import torch
import timm
from PIL import Image

from safetensors_io import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
# (output name, fixture folder or bundled model, image for bundled models)
VIT = [
    ("vit_base_patch16_224", DATA / "vit_base_patch16_224", None),               # class token
    ("deit_tiny_distilled_patch16_224", DATA / "deit_tiny_distilled_patch16_224", None),  # class + distillation
    ("vit_base_patch16_reg4_gap_256", DATA / "vit_base_patch16_reg4_gap_256", None),  # registers, no class token
    ("vit_dynamic_24x40", DATA / "vit_dynamic_24x40", None),                     # batch 2, 3 x 5 grid
    ("beit_base_patch16_224", DATA / "beit_base_patch16_224", None),             # relative position bias
    ("vit_fashion_mnist", ROOT / "examples/fashion_mnist/models/vit_fashion_mnist",
     ROOT / "examples/fashion_mnist/images/test0000_ankle_boot.png"),
]
SWIN = [
    ("swin_tiny_patch4_window7_224", DATA / "swin_tiny_patch4_window7_224", None),  # shifted windows
    ("swin_pad_40", DATA / "swin_pad_40", None),                                   # padding
    ("swin_fashion_mnist", ROOT / "examples/fashion_mnist/models/swin_fashion_mnist",
     ROOT / "examples/fashion_mnist/images/test0008_sandal.png"),
]


def load_model(folder):
    cfg = json.loads((folder / "config.json").read_text())
    kw = dict(cfg.get("model_args", {}))
    arch = cfg["architecture"]
    if arch.startswith("swin"):
        kw["strict_img_size"] = False
    elif not arch.startswith("beit"):
        kw["dynamic_img_size"] = True
    model = timm.create_model(arch, pretrained=False, num_classes=cfg["num_classes"], **kw)
    state = {k: v.float() for k, v in load_file(folder / "model.safetensors").items()}
    model.load_state_dict(state, strict=False)
    return model.double().eval(), cfg


def load_input(folder, image, cfg):
    if image is None:
        return load_file(folder / "ref.safetensors")["input"].double()
    pc = cfg["pretrained_cfg"]
    a = np.asarray(Image.open(image).convert("L"), dtype=np.float64) / 255.0  # 28 x 28, crop_pct 1: no resize
    return torch.from_numpy((a - pc["mean"][0]) / pc["std"][0])[None, None]


def sign_rule(scores, comps):
    for c in range(scores.shape[1]):
        i = int(np.argmax(np.abs(scores[:, c])))  # the first row of largest magnitude
        if scores[i, c] < 0:
            scores[:, c] *= -1
            comps[c] *= -1
    return scores, comps


def pca(x, k):
    x = np.asarray(x, dtype=np.float64)
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    return sign_rule((u * s)[:, :k].copy(), vt[:k].copy())


def pca_rgb(grid):  # [N, H, W, C] -> [N, H, W, 3]
    n, h, w, c = grid.shape
    scores, _ = pca(grid.reshape(-1, c), 3)
    lo, hi = scores.min(0), scores.max(0)
    return ((scores - lo) / (hi - lo)).reshape(n, h, w, 3)


def rollout(maps, prefix, class_token):
    T = maps[0].shape[-1]
    eye = np.eye(T)
    r = np.broadcast_to(eye, (maps[0].shape[0], T, T)).copy()
    for a in maps:
        a = a.mean(1) + eye
        a = a / a.sum(-1, keepdims=True)
        r = a @ r
    rows = r[:, 0] if class_token else r[:, prefix:].mean(1)
    return rows[:, prefix:]


def filters_pca(weight):
    e = weight.shape[0]
    k = min(28, e - 1, int(np.prod(weight.shape[1:])))  # e centred rows span e - 1 directions
    _, comps = pca(weight.reshape(e, -1), k)
    return comps.reshape(k, *weight.shape[1:])


def position_similarity(pos, gh, gw):
    p = pos[-gh * gw:]
    p = p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
    return (p @ p.T).reshape(gh, gw, gh, gw)


def vit_refs(name, folder, image):
    timm.layers.set_fused_attn(False)
    model, cfg = load_model(folder)
    x = load_input(folder, image, cfg)
    probs = {}
    for i, blk in enumerate(model.blocks):
        blk.attn.attn_drop.register_forward_hook(lambda m, inp, out, i=i: probs.__setitem__(i, inp[0].detach().clone()))
    with torch.no_grad():
        feats = model.forward_features(x)
    maps = [probs[i].numpy() for i in range(len(model.blocks))]
    prefix = model.num_prefix_tokens
    class_token = model.cls_token is not None
    gh, gw = x.shape[2] // model.patch_embed.patch_size[0], x.shape[3] // model.patch_embed.patch_size[1]
    n = x.shape[0]
    out = {"input": x, "features": feats}
    for i, m in enumerate(maps):
        out[f"attn.blocks.{i}"] = torch.from_numpy(m)
    out["rollout"] = torch.from_numpy(rollout(maps, prefix, class_token).reshape(n, gh, gw))
    last = maps[-1]
    q = last[:, :, 0, prefix:] if class_token else last[:, :, prefix:, prefix:].mean(2)
    out["token_attention"] = torch.from_numpy(q.reshape(n, -1, gh, gw))
    f32 = feats.float().double().numpy()  # what the C++ test reads: the float32 features
    out["pca_rgb"] = torch.from_numpy(pca_rgb(f32[:, prefix:].reshape(n, gh, gw, -1)))
    w = model.patch_embed.proj.weight.detach().float().double().numpy()
    out["filters_pca"] = torch.from_numpy(filters_pca(w))
    if getattr(model, "pos_embed", None) is not None:
        g0 = model.patch_embed.grid_size
        pos = model.pos_embed.detach().float().double().numpy()[0]
        out["position_similarity"] = torch.from_numpy(position_similarity(pos, g0[0], g0[1]))
    return out


def swin_refs(name, folder, image):
    timm.layers.set_fused_attn(False)
    model, cfg = load_model(folder)
    x = load_input(folder, image, cfg)
    probs, sizes = {}, {}
    for i, layer in enumerate(model.layers):
        for j, blk in enumerate(layer.blocks):
            key = f"layers.{i}.blocks.{j}"
            blk.attn.softmax.register_forward_hook(lambda m, inp, out, k=key: probs.__setitem__(k, out.detach().clone()))
            blk.register_forward_pre_hook(lambda m, inp, k=key: sizes.__setitem__(k, (inp[0].shape[1], inp[0].shape[2],
                                                                                 m.window_size, m.shift_size)))
    stages = {}
    for i, layer in enumerate(model.layers):
        layer.blocks[-1].register_forward_hook(lambda m, inp, o, i=i: stages.__setitem__(i, o.detach().clone()))
    with torch.no_grad():
        model.forward_features(x)
    n = x.shape[0]
    out = {"input": x}
    for key, p in probs.items():
        H, W, ws, ss = sizes[key]
        Hp, Wp = -(-H // ws[0]) * ws[0], -(-W // ws[1]) * ws[1]
        nh, nw = Hp // ws[0], Wp // ws[1]
        heads, N = p.shape[1], p.shape[2]
        p = p.numpy().reshape(n, nh * nw, heads, N, N).transpose(0, 2, 1, 3, 4)  # [N, heads, windows, Q, K]
        pos = np.full((nh * nw, N), -1, dtype=np.int64)
        for wy in range(nh):
            for wx in range(nw):
                for t in range(N):
                    y, xx = wy * ws[0] + t // ws[1], wx * ws[1] + t % ws[1]
                    if y < H and xx < W:  # rolled by -shift, then padded: (y, x) holds ((y + sh) % H, (x + sw) % W)
                        pos[wy * nw + wx, t] = ((y + ss[0]) % H) * W + (xx + ss[1]) % W
        real = pos >= 0
        recv = np.zeros((n, heads, H * W))
        for w in range(nh * nw):
            qsum = p[:, :, w][:, :, real[w]].sum(2) / real[w].sum()  # [N, heads, K]
            for t in range(N):
                if real[w, t]:
                    recv[:, :, pos[w, t]] = qsum[:, :, t]
        out[f"attn.{key}"] = torch.from_numpy(np.ascontiguousarray(p))
        out[f"token_pos.{key}"] = torch.from_numpy(pos.astype(np.float64))
        out[f"received.{key}"] = torch.from_numpy(recv.reshape(n, heads, H, W))
    for i, s in stages.items():
        out[f"stage.{i}"] = s
        out[f"pca_rgb.{i}"] = torch.from_numpy(pca_rgb(s.float().double().numpy()))
    w = model.patch_embed.proj.weight.detach().float().double().numpy()
    out["filters_pca"] = torch.from_numpy(filters_pca(w))
    return out


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(DATA / "visualize"))
    dst = pathlib.Path(ap.parse_args().out)
    dst.mkdir(parents=True, exist_ok=True)
    for name, folder, image in VIT:
        save_file({k: v.float().contiguous() for k, v in vit_refs(name, folder, image).items()}, dst / f"{name}.safetensors")
        print("visualize:", name, flush=True)
    for name, folder, image in SWIN:
        save_file({k: v.float().contiguous() for k, v in swin_refs(name, folder, image).items()}, dst / f"{name}.safetensors")
        print("visualize:", name, flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Train fovea's bundled Fashion-MNIST models: a small Swin and a small ViT, timm architectures.

Each is written as a timm hub folder (model.safetensors + config.json with architecture,
num_classes, model_args, pretrained_cfg and label_names) that timm and fovea both load, plus
torch_test_predictions.bin (the float32 PyTorch CPU prediction for each of the 10k test images,
one byte each) and eval.json with the PyTorch top-1 accuracy.

  python3 train.py --data /usr/share/datasets/fashion-mnist --out examples/fashion_mnist/models

Data: Debian's dataset-fashion-mnist package (idx files, gzip).
"""
import argparse
import gzip
import json
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn.functional as F
import timm
from timm.models._hub import save_config_for_hf

LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530

MODELS = {
    # name: (timm architecture, model_args, epochs)
    "swin_fashion_mnist": ("swin_tiny_patch4_window7_224",
                           dict(img_size=28, patch_size=2, in_chans=1, embed_dim=32, depths=(2, 4, 2),
                                num_heads=(2, 4, 8), window_size=7), 60),
    "vit_fashion_mnist": ("vit_small_patch16_224",
                          dict(img_size=28, patch_size=4, in_chans=1, embed_dim=96, depth=6, num_heads=4), 100),
}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir):
    d = pathlib.Path(data_dir)
    return (read_idx(d / "train-images-idx3-ubyte.gz"), read_idx(d / "train-labels-idx1-ubyte.gz"),
            read_idx(d / "t10k-images-idx3-ubyte.gz"), read_idx(d / "t10k-labels-idx1-ubyte.gz"))


def normalise(u8):
    return (u8.float() / 255.0 - MEAN) / STD


def augment(x):
    """Random 2-pixel translation (pad + crop) and horizontal flip, on the device."""
    n = x.shape[0]
    p = F.pad(x, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), device=x.device)
    dx = torch.randint(0, 5, (n,), device=x.device)
    idx = torch.arange(28, device=x.device)
    rows = (dy[:, None] + idx[None, :])[:, None, :, None].expand(n, 1, 28, 32)
    p = torch.gather(p, 2, rows)
    cols = (dx[:, None] + idx[None, :])[:, None, None, :].expand(n, 1, 28, 28)
    p = torch.gather(p, 3, cols)
    flip = torch.rand(n, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], p.flip(3), p)


def make_model(arch, args):
    cfg = dict(tag="fashion_mnist", input_size=(1, 28, 28), interpolation="bilinear", crop_pct=1.0, crop_mode="center",
               mean=(MEAN,), std=(STD,), num_classes=10)
    return timm.create_model(arch, pretrained=False, num_classes=10, pretrained_cfg_overlay=cfg, **args)


def train(name, arch, args, epochs, data, device, out, budget_s, batch=512, lr=3e-3):
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    model = make_model(arch, args).to(device)
    nparams = sum(p.numel() for p in model.parameters())
    xtr_d = torch.from_numpy(xtr.copy()).to(device)[:, None]
    ytr_d = torch.from_numpy(ytr.astype(np.int64)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    per_epoch = math.ceil(len(xtr) / batch)
    plan = {"steps": epochs * per_epoch}
    warm = per_epoch  # one epoch of linear warm-up, then cosine to zero

    def lr_at(s):
        return (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / (plan["steps"] - warm))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    use_amp = device.type == "cuda"
    t0 = time.time()
    ep = 0
    while ep < epochs:
        model.train()
        perm = torch.randperm(len(xtr), device=device)
        for i in range(0, len(xtr), batch):
            j = perm[i:i + batch]
            x = augment(normalise(xtr_d[j]))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                loss = F.cross_entropy(model(x), ytr_d[j], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if ep == 0 and budget_s:  # fit the schedule into the time budget, measured on epoch 1
            fit = max(2, int(budget_s / (time.time() - t0)))
            if fit < epochs:
                print(f"{name}: {epochs} epochs do not fit in {budget_s}s; training {fit}", flush=True)
                epochs = fit
                plan["steps"] = epochs * per_epoch
        ep += 1
        if ep % 10 == 0 or ep == epochs:
            print(f"{name}: epoch {ep}/{epochs} loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)

    # The reference accuracy: float32 on the CPU, the arithmetic fovea reproduces.
    model = model.float().cpu().eval()
    preds = []
    with torch.no_grad():
        xte_t = normalise(torch.from_numpy(xte.copy())[:, None])
        for i in range(0, len(xte), 500):
            preds.append(model(xte_t[i:i + 500]).argmax(1))
    preds = torch.cat(preds).numpy().astype(np.uint8)
    acc = float((preds == yte).mean())
    print(f"{name}: PyTorch float32 CPU top-1 on the 10k test set: {100 * acc:.2f}% ({nparams} parameters)", flush=True)

    d = pathlib.Path(out) / name
    d.mkdir(parents=True, exist_ok=True)
    try:
        from safetensors.torch import save_file
    except ImportError:  # Debian has no safetensors package: the repository's own writer
        import sys
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "tools"))
        from safetensors_io import save_file
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "model.safetensors"),
              metadata={"format": "pt"})
    save_config_for_hf(model, d / "config.json", model_config={"label_names": LABELS},
                       model_args={k: list(v) if isinstance(v, tuple) else v for k, v in args.items()})
    (d / "torch_test_predictions.bin").write_bytes(preds.tobytes())
    (d / "eval.json").write_text(json.dumps({"pytorch_top1": acc, "test_images": int(len(yte)),
                                             "epochs": epochs, "parameters": nparams}, indent=1) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent / "models"))
    ap.add_argument("--epochs", type=int, default=0, help="override the per-model epochs (smoke tests)")
    ap.add_argument("--train-subset", type=int, default=0, help="train on the first N images (smoke tests)")
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--budget", type=float, default=0, help="seconds of training per model (0: no limit)")
    a = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = list(load(a.data))
    if a.train_subset:
        data[0], data[1] = data[0][:a.train_subset], data[1][:a.train_subset]
    for name, (arch, args, epochs) in MODELS.items():
        if a.only and name not in a.only:
            continue
        train(name, arch, args, a.epochs or epochs, data, device, a.out, a.budget)


if __name__ == "__main__":
    main()

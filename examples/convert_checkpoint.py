#!/usr/bin/env python3
"""Convert a PyTorch pickle checkpoint (.pth / .bin) to a folder fovea loads: model.safetensors
plus config.json. fovea itself never unpickles anything.

  # a timm or Microsoft Swin .pth, with the timm architecture it belongs to
  python3 examples/convert_checkpoint.py swin_tiny_patch4_window7_224.pth out/ --model swin_tiny_patch4_window7_224
  # a transformers folder with pytorch_model.bin (its config.json is copied)
  python3 examples/convert_checkpoint.py vit-base-patch16-224/ out/

The checkpoint is loaded with torch.load(weights_only=True). Wrappers ("model", "state_dict",
"model_ema", "module.") are removed; tensor names and dtypes are kept as they are (fovea maps the
timm <= 0.6, Microsoft and transformers layouts at load, and converts F16 / BF16 to F32).
"""
import argparse
import json
import pathlib
import shutil
import sys

import torch


def state_dict(path):
    sd = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict", "model_ema", "module"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict):
        sys.exit(f"error: {path}: not a state dict")
    out = {}
    for k, v in sd.items():
        if torch.is_tensor(v):
            out[k[7:] if k.startswith("module.") else k] = v.detach().contiguous()
    if not out:
        sys.exit(f"error: {path}: no tensors found")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help=".pth / .bin file, or a transformers folder with pytorch_model.bin")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--model", help="timm architecture name, written to config.json")
    ap.add_argument("--config", help="a config.json to copy (timm hub or transformers)")
    a = ap.parse_args()
    src = pathlib.Path(a.checkpoint)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    config = pathlib.Path(a.config) if a.config else None
    if src.is_dir():
        config = config or (src / "config.json")
        for extra in ("preprocessor_config.json",):
            if (src / extra).exists():
                shutil.copy(src / extra, out / extra)
        src = src / "pytorch_model.bin"
    sd = state_dict(src)
    try:
        from safetensors.torch import save_file
    except ImportError:  # Debian has no safetensors package: the repository's own writer
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "tools"))
        from safetensors_io import save_file
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    if config and config.exists():
        shutil.copy(config, out / "config.json")
    elif a.model:
        head = sd.get("head.weight", sd.get("head.fc.weight"))
        cfg = {"architecture": a.model, "num_classes": int(head.shape[0]) if head is not None else 0}
        (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    else:
        print("note: no --model and no config.json: fovea needs --model NAME to load it", file=sys.stderr)
    print(f"wrote {out / 'model.safetensors'} ({len(sd)} tensors)")


if __name__ == "__main__":
    main()

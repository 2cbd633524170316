#!/usr/bin/env python3
"""fovea vs ONNX Runtime on the same timm model, same input, same threads, same machine.

For each model: build it in timm (random weights), save them as safetensors for fovea and export
the same module to ONNX with torch.onnx; check that both runtimes give the same logits; then time
them in alternating rounds (fovea, ONNX Runtime, fovea, ...) and print the medians and the ratio.

  PYTHONPATH=/path/to/timm python3 bench/compare_onnxruntime.py --ort /tmp/ort \
      --fovea build/examples/fovea-classify --threads 2 --rounds 7 --iters 10 vit_small_patch16_224 swin_tiny_patch4_window7_224

--ort is a folder where `npm install --ignore-scripts onnxruntime-node` was run.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

import numpy as np
import torch
import timm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "tools"))
from safetensors_io import save_file  # noqa: E402


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def median_ms(text, tag):
    return float(re.search(tag + r".*median_ms=([0-9.]+)", text).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--fovea", default="build/examples/fovea-classify")
    ap.add_argument("--ort", required=True, help="folder holding node_modules/onnxruntime-node")
    ap.add_argument("--work", default="/tmp/fovea_vs_ort")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15, help="0: write the model folders and check them, no timing")
    ap.add_argument("--iters", type=int, default=3, help="timed forward passes per round (median taken)")
    args = ap.parse_args()
    env = dict(os.environ, NODE_PATH=os.path.join(os.path.abspath(args.ort), "node_modules"))
    ort_script = os.path.join(HERE, "ort_time.mjs")
    torch.manual_seed(0)
    rows = []
    for name in args.models:
        d = os.path.join(args.work, name)
        os.makedirs(d, exist_ok=True)
        m = timm.create_model(name, pretrained=False).eval()
        save_file(m.state_dict(), os.path.join(d, "model.safetensors"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"architecture": name, "num_classes": m.num_classes}, f)
        x = torch.randn(args.batch, *m.pretrained_cfg["input_size"])
        np.save(os.path.join(d, "x.npy"), x.numpy())
        onnx = os.path.join(d, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(m, x, onnx, opset_version=17, input_names=["x"], output_names=["logits"])
            ref = m(x).numpy()
        fovea_cmd = [args.fovea, "--weights", d, "--input-npy", os.path.join(d, "x.npy"), "--threads", str(args.threads)]
        ort_cmd = ["node", ort_script, onnx, os.path.join(d, "x.npy"), str(args.threads)]
        # Same numbers first: both runtimes against timm on this input.
        run(fovea_cmd + ["--save-logits", os.path.join(d, "fovea.npy")])
        run(ort_cmd + ["1", os.path.join(d, "ort.npy")], env)
        scale = max(1.0, float(np.abs(ref).max()))
        err_f = float(np.abs(np.load(os.path.join(d, "fovea.npy")) - ref).max()) / scale
        err_o = float(np.abs(np.load(os.path.join(d, "ort.npy")) - ref).max()) / scale
        if args.rounds == 0:
            print(f"{name}: written to {d}; relative error vs timm: fovea {err_f:.1e}, onnxruntime {err_o:.1e}", flush=True)
            continue
        tf, to = [], []
        for _ in range(args.rounds):
            tf.append(median_ms(run(fovea_cmd + ["--bench", str(args.iters)]), "bench:"))
            to.append(median_ms(run(ort_cmd + [str(args.iters)], env), "ort:"))
        f, o = statistics.median(tf), statistics.median(to)
        ratio = statistics.median(a / b for a, b in zip(tf, to))
        rows.append((name, f, o, ratio, err_f, err_o))
        print(f"{name}: fovea {f:.2f} ms, onnxruntime {o:.2f} ms, ratio {ratio:.3f} "
              f"(per-round ratios {' '.join(f'{a / b:.3f}' for a, b in zip(tf, to))}; "
              f"relative error vs timm: fovea {err_f:.1e}, onnxruntime {err_o:.1e})", flush=True)
    print(f"\n| model | batch | threads | fovea ms | ONNX Runtime ms | fovea / ORT |")
    print("|---|---|---|---|---|---|")
    for name, f, o, ratio, _, _ in rows:
        print(f"| {name} | {args.batch} | {args.threads} | {f:.1f} | {o:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""fovea from Python vs timm on PyTorch (torch.inference_mode) vs ONNX Runtime (where its Python
package is installed), in one process, same input, same threads; and the Python call's overhead
over fovea-classify --bench on the same model and batch.

For each model and batch: timm builds the model (random weights), fovea loads the same weights from
safetensors, every runtime is checked against timm's logits, then rounds alternate (fovea, PyTorch,
ORT, fovea-classify, ...) and the medians are printed with the median per-round ratios.

  PYTHONPATH=build/python:/path/to/timm python3 bench/compare_python.py --threads 2 --batch 1 8 \\
      vit_base_patch16_224 swin_tiny_patch4_window7_224
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import timm

import fovea

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "tools"))
from safetensors_io import save_file  # noqa: E402


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def timed(f, iters):
    t = []
    for _ in range(iters):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    return statistics.median(t) * 1e3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--classify", default="build/examples/fovea-classify", help="for the overhead column ('' to skip)")
    ap.add_argument("--work", default="/tmp/fovea_vs_torch_py")
    ap.add_argument("--no-ort", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    fovea.set_num_threads(a.threads)
    try:
        if a.no_ort:
            raise ImportError
        import onnxruntime as ort
    except ImportError:
        ort = None
    print(f"cpu: {cpu_model()}; {os.cpu_count()} hardware threads; threads {a.threads}")
    print(f"fovea {fovea.__version__} (Python); torch {torch.__version__}; timm {timm.__version__}; "
          f"onnxruntime {ort.__version__ if ort else 'not installed'}")
    print(f"{a.rounds} alternating rounds of {a.iters} passes; medians", flush=True)
    torch.manual_seed(0)
    rows = []
    for name in a.models:
        d = os.path.join(a.work, name)
        os.makedirs(d, exist_ok=True)
        m = timm.create_model(name, pretrained=False).eval()
        save_file(m.state_dict(), os.path.join(d, "model.safetensors"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"architecture": name, "num_classes": m.num_classes}, f)
        model = fovea.load_model(d)
        for batch in a.batch:
            x = torch.randn(batch, *m.pretrained_cfg["input_size"])
            xn = x.numpy()
            np.save(os.path.join(d, "x.npy"), xn)
            with torch.inference_mode():
                ref = m(x).numpy()
            scale = max(1.0, float(np.abs(ref).max()))
            err = float(np.abs(model(xn) - ref).max()) / scale
            sess = None
            if ort:
                onnx = os.path.join(d, f"model_b{batch}.onnx")
                if not os.path.exists(onnx):
                    with torch.no_grad():
                        torch.onnx.export(m, x, onnx, opset_version=17, input_names=["x"], output_names=["logits"])
                so = ort.SessionOptions()
                so.intra_op_num_threads, so.inter_op_num_threads = a.threads, 1
                sess = ort.InferenceSession(onnx, so, providers=["CPUExecutionProvider"])
                ort_err = float(np.abs(sess.run(None, {"x": xn})[0] - ref).max()) / scale
            print(f"{name} batch {batch}: fovea vs timm max rel err {err:.2g}"
                  + (f", onnxruntime {ort_err:.2g}" if sess else ""), flush=True)

            def torch_call():
                with torch.inference_mode():
                    m(x)
            runs = {"fovea": lambda: model(xn), "torch": torch_call}
            if sess:
                runs["ort"] = lambda: sess.run(None, {"x": xn})
            for f in runs.values():
                f()
            times = {k: [] for k in list(runs) + (["classify"] if a.classify else [])}
            for _ in range(a.rounds):
                for k, f in runs.items():
                    times[k].append(timed(f, a.iters))
                if a.classify:
                    out = subprocess.run([a.classify, "--weights", d, "--input-npy", os.path.join(d, "x.npy"), "--bench",
                                          str(a.iters), "--threads", str(a.threads), "--batch-size", str(batch)],
                                         capture_output=True, text=True, check=True).stdout
                    times["classify"].append(float(re.search(r"median_ms=([0-9.]+)", out).group(1)))
            med = {k: statistics.median(v) for k, v in times.items()}
            ratio = lambda k: statistics.median([f / t for f, t in zip(times["fovea"], times[k])])  # noqa: E731
            row = {"model": name, "batch": batch, "threads": a.threads, **{f"{k}_ms": round(v, 2) for k, v in med.items()},
                   "fovea_over_torch": round(ratio("torch"), 3)}
            if sess:
                row["fovea_over_ort"] = round(ratio("ort"), 3)
            if a.classify:
                row["python_overhead"] = round(ratio("classify") - 1, 4)
            rows.append(row)
            print("  " + ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("model", "batch", "threads")), flush=True)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

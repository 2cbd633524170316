#!/usr/bin/env python3
"""fovea vs ONNX Runtime (and PyTorch) on the same timm model, same input, same threads, same machine.

For each model: build it in timm (random weights), save them as safetensors for fovea and export the
same module to ONNX; check that every runtime gives timm's logits; then time them in alternating
rounds (fovea, ONNX Runtime, PyTorch, fovea, ...) and print the medians and the median of the
per-round ratios. The first lines name the CPU, fovea's compiler and kernels, and each runtime's version.

  PYTHONPATH=/path/to/timm python3 bench/compare_onnxruntime.py --ort /tmp/ort --torch \\
      --fovea build/examples/fovea-classify --threads 2 --rounds 9 vit_small_patch16_224 swin_tiny_patch4_window7_224

--ort DIR: a folder where `npm install --ignore-scripts onnxruntime-node` was run (timed by bench/ort_time.mjs);
--ort python: the onnxruntime Python package. --ort-quant int8 times ONNX Runtime's dynamic int8
(onnxruntime.quantization.quantize_dynamic, QInt8 weights; Python package only). --torch also times
PyTorch in this process (torch.set_num_threads), --torch-dtype bf16 under CPU autocast.
--precision f32|bf16|int8 is fovea's (fovea-classify --precision).
"""
import argparse
import inspect
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

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


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


class OrtPython:
    def __init__(self, onnx, threads):
        import onnxruntime as ort
        o = ort.SessionOptions()
        o.intra_op_num_threads = threads
        o.inter_op_num_threads = 1
        o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.s = ort.InferenceSession(onnx, o, providers=["CPUExecutionProvider"])
        self.name = self.s.get_inputs()[0].name

    def __call__(self, x):
        return self.s.run(None, {self.name: x})[0]

    def time(self, x, iters):
        self(x)
        ms = []
        for _ in range(iters):
            t0 = time.perf_counter()
            self(x)
            ms.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(ms)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--fovea", default="build/examples/fovea-classify")
    ap.add_argument("--ort", required=True, help="folder holding node_modules/onnxruntime-node, or 'python'")
    ap.add_argument("--ort-quant", choices=["none", "int8"], default="none")
    ap.add_argument("--torch", action="store_true", help="also time PyTorch in this process")
    ap.add_argument("--torch-dtype", choices=["f32", "bf16"], default="f32")
    ap.add_argument("--precision", choices=["f32", "bf16", "int8"], default="f32", help="fovea's")
    ap.add_argument("--work", default="/tmp/fovea_vs_ort")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=15, help="0: write the model folders and check them, no timing")
    ap.add_argument("--iters", type=int, default=3, help="timed forward passes per round (median taken)")
    ap.add_argument("--json", help="append one JSON line per model to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    python_ort = args.ort == "python"
    if args.ort_quant != "none" and not python_ort:
        sys.exit("error: --ort-quant needs --ort python (onnxruntime.quantization)")
    env = None if python_ort else dict(os.environ, NODE_PATH=os.path.join(os.path.abspath(args.ort), "node_modules"))
    ort_script = os.path.join(HERE, "ort_time.mjs")
    version = run([args.fovea, "--version"]).strip()
    ort_version = __import__("onnxruntime").__version__ if python_ort else json.load(
        open(os.path.join(args.ort, "node_modules", "onnxruntime-node", "package.json")))["version"]
    print(f"cpu: {cpu_model()}; {os.cpu_count()} hardware threads")
    print(f"fovea: {version}; precision {args.precision}")
    print(f"onnxruntime {ort_version} ({'python' if python_ort else 'node'}, {args.ort_quant if args.ort_quant != 'none' else 'f32'}); "
          f"torch {torch.__version__}{' (' + args.torch_dtype + ')' if args.torch else ' (reference only)'}; timm {timm.__version__}")
    print(f"threads {args.threads}, batch {args.batch}, {args.rounds} rounds of {args.iters} passes each", flush=True)
    rows = []
    for name in args.models:
        d = os.path.join(args.work, name)
        os.makedirs(d, exist_ok=True)
        torch.manual_seed(0)  # a model's weights do not depend on the models listed before it
        m = timm.create_model(name, pretrained=False).eval()
        save_file(m.state_dict(), os.path.join(d, "model.safetensors"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump({"architecture": name, "num_classes": m.num_classes}, f)
        x = torch.randn(args.batch, *m.pretrained_cfg["input_size"])
        np.save(os.path.join(d, "x.npy"), x.numpy())
        onnx = os.path.join(d, "model.onnx")
        # Exported every run (a file left by another run may hold other weights), by the TorchScript
        # exporter (torch >= 2.9 defaults to the dynamo one)
        kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        # traced, eva.py's attention hands scaled_dot_product_attention its is_causal as a tensor (torch
        # 2.11 refuses): export the unfused form, which is what this exporter writes for SDPA anyway
        fused = [(mod, mod.fused_attn) for mod in m.modules() if hasattr(mod, "fused_attn")]
        for mod, _ in fused:
            mod.fused_attn = False
        try:
            with torch.no_grad():
                torch.onnx.export(m, x, onnx, opset_version=17, input_names=["x"], output_names=["logits"], **kw)
        finally:
            for mod, f in fused:
                mod.fused_attn = f
        if args.ort_quant == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic
            q = os.path.join(d, "model.int8.onnx")
            quantize_dynamic(onnx, q, weight_type=QuantType.QInt8)
            onnx = q
        with torch.no_grad():
            ref = m(x).numpy()
        fovea_cmd = [args.fovea, "--weights", d, "--input-npy", os.path.join(d, "x.npy"), "--threads", str(args.threads),
                     "--precision", args.precision]
        ort_cmd = ["node", ort_script, onnx, os.path.join(d, "x.npy"), str(args.threads)]
        ort_py = OrtPython(onnx, args.threads) if python_ort else None
        # Same numbers first: every runtime against timm (float32) on this input.
        run(fovea_cmd + ["--save-logits", os.path.join(d, "fovea.npy")])
        if python_ort:
            ort_out = ort_py(x.numpy())
        else:
            run(ort_cmd + ["1", os.path.join(d, "ort.npy")], env)
            ort_out = np.load(os.path.join(d, "ort.npy"))
        fov_out = np.load(os.path.join(d, "fovea.npy"))
        scale = max(1.0, float(np.abs(ref).max()))

        def agree(out):
            cos = float((out * ref).sum() / np.sqrt((out * out).sum() * (ref * ref).sum()))
            return float(np.abs(out - ref).max()) / scale, cos, float((out.argmax(1) == ref.argmax(1)).mean())

        err_f, err_o = agree(fov_out), agree(ort_out)
        tm = None
        if args.torch:
            def torch_call():
                with torch.inference_mode():
                    if args.torch_dtype == "bf16":
                        with torch.autocast("cpu", dtype=torch.bfloat16):
                            return m(x)
                    return m(x)
            err_t = agree(torch_call().float().numpy())

            def torch_time(iters):
                torch_call()
                ms = []
                for _ in range(iters):
                    t0 = time.perf_counter()
                    torch_call()
                    ms.append((time.perf_counter() - t0) * 1e3)
                return statistics.median(ms)
        print(f"{name}: vs timm f32: fovea rel err {err_f[0]:.1e} cos {err_f[1]:.6f}; onnxruntime rel err {err_o[0]:.1e} "
              f"cos {err_o[1]:.6f}" + (f"; torch rel err {err_t[0]:.1e} cos {err_t[1]:.6f}" if args.torch else ""), flush=True)
        # Timing runtimes that do not compute timm's model would compare other work: f32 must agree.
        if args.precision == "f32" and err_f[0] > 1e-3:
            sys.exit(f"error: {name}: fovea's logits differ from timm's (rel err {err_f[0]:.1e})")
        if args.ort_quant == "none" and err_o[0] > 1e-3:
            sys.exit(f"error: {name}: ONNX Runtime's logits differ from timm's (rel err {err_o[0]:.1e})")
        if args.rounds == 0:
            continue
        tf, to, tt = [], [], []
        for _ in range(args.rounds):
            tf.append(median_ms(run(fovea_cmd + ["--bench", str(args.iters)]), "bench:"))
            to.append(ort_py.time(x.numpy(), args.iters) if python_ort else median_ms(run(ort_cmd + [str(args.iters)], env), "ort:"))
            if args.torch:
                tt.append(torch_time(args.iters))
        f, o = statistics.median(tf), statistics.median(to)
        ratio = statistics.median(a / b for a, b in zip(tf, to))
        t = statistics.median(tt) if tt else None
        tratio = statistics.median(a / b for a, b in zip(tf, tt)) if tt else None
        rows.append((name, f, o, ratio, t, tratio))
        print(f"{name}: fovea {f:.2f} ms, onnxruntime {o:.2f} ms, ratio {ratio:.3f} "
              f"(per-round {' '.join(f'{a / b:.3f}' for a, b in zip(tf, to))})"
              + (f"; torch {t:.2f} ms, fovea/torch {tratio:.3f}" if tt else ""), flush=True)
        if args.json:
            with open(args.json, "a") as jf:
                jf.write(json.dumps({"model": name, "threads": args.threads, "batch": args.batch, "precision": args.precision,
                                     "ort_quant": args.ort_quant, "torch_dtype": args.torch_dtype, "fovea_ms": f,
                                     "ort_ms": o, "ratio": ratio, "torch_ms": t, "torch_ratio": tratio,
                                     "fovea_cos": err_f[1], "fovea_top1": err_f[2], "fovea_relerr": err_f[0],
                                     "ort_cos": err_o[1], "cpu": cpu_model(), "fovea": version}) + "\n")
    if not rows:
        return
    torch_cols = " PyTorch ms | fovea / PyTorch |" if args.torch else ""
    print(f"\n| model | batch | threads | fovea ms | ONNX Runtime ms | fovea / ORT |{torch_cols}")
    print("|---|---|---|---|---|---|" + ("---|---|" if args.torch else ""))
    for name, f, o, ratio, t, tr in rows:
        extra = f" {t:.1f} | {tr:.2f} |" if args.torch else ""
        print(f"| {name} | {args.batch} | {args.threads} | {f:.1f} | {o:.1f} | {ratio:.2f} |{extra}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""fovea-serve side by side with fovea-classify --bench and with a FastAPI + uvicorn + timm/PyTorch
server (bench/serve_anchor.py), on the same cores, under the same load from `hey` on loopback.

  PYTHONPATH=/tmp/timm_src /usr/bin/python3 bench/serve_bench.py --build build --threads 2 --seconds 20

For each model (ViT-B/16 with random timm weights, made here; the bundled Fashion-MNIST Swin):
  overhead   fovea-serve's images/s at saturation (binary FP32 input, one image a request, dynamic
             batching up to --batch) against fovea-classify --bench at that batch and thread count
  anchor     requests/s at saturation, both servers, the same JSON request (one base64 image file:
             decode, timm's eval transform, forward, top-5), then p50 / p99 latency of both at half
             of the anchor's saturated rate
  memory     fovea-serve's resident memory idle and under load, against the weights' size
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, timeout=300):
    import requests
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited")
        try:
            if requests.get(url, timeout=1).status_code in (200, 405):
                return
        except requests.exceptions.ConnectionError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url}: not ready")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024


def hey(url, body_file, seconds, conc, qps=None, headers=()):
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(conc), "-t", "120", "-m", "POST", "-T", "application/json", "-D", body_file]
    for h in headers:
        cmd += ["-H", h]
    if qps:
        cmd += ["-q", f"{qps / conc:.3f}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"{p}% in ([\d.]+) secs", out)
        return float(m.group(1)) * 1e3 if m else float("nan")
    codes = dict((int(c), int(n)) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "codes": codes}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=12, help="per load run on the small model; 3x on ViT-B")
    ap.add_argument("--conc", type=int, default=16, help="clients on the small model; 4 on ViT-B")
    ap.add_argument("--work", default="/tmp/fovea_serve_bench")
    ap.add_argument("--models", default="vit_base_patch16_224,swin_fashion_mnist")
    a = ap.parse_args()
    import timm
    import torch
    from safetensors_io import save_file

    serve = os.path.join(a.build, "examples", "fovea-serve")
    classify = os.path.join(a.build, "examples", "fovea-classify")
    os.makedirs(a.work, exist_ok=True)
    repo = os.path.join(a.work, "repo")
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    photo = os.path.join(ROOT, "tests", "data", "images", "jpeg_q90_263x199.jpg")
    models = {}
    for name in a.models.split(","):
        d = os.path.join(repo, name)
        if name == "swin_fashion_mnist":
            shutil.copytree(os.path.join(ROOT, "examples", "fashion_mnist", "models", name), d)
            image = os.path.join(ROOT, "examples", "fashion_mnist", "images", "test0000_ankle_boot.png")
        else:
            os.makedirs(d)
            torch.manual_seed(0)
            m = timm.create_model(name, pretrained=False).eval()
            save_file({k: v.contiguous() for k, v in m.state_dict().items()}, os.path.join(d, "model.safetensors"))
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump({"architecture": name, "num_classes": m.num_classes}, f)
            image = photo
        models[name] = {"dir": d, "image": image, "weights_mb": os.path.getsize(os.path.join(d, "model.safetensors")) / 2**20}

    print(f"cpu: {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}; "
          f"{os.cpu_count()} hardware threads; threads {a.threads}; hey -c {a.conc}, {a.seconds} s per run")
    port, aport = free_port(), free_port()
    srv = subprocess.Popen([serve, "--model-repository", repo, "--port", str(port), "--threads", str(a.threads),
                            "--max-batch-size", str(a.batch), "--max-queue", "1024"], stdout=subprocess.DEVNULL,
                           stderr=open(os.path.join(a.work, "serve.log"), "w"))
    env = dict(os.environ, FOVEA_ANCHOR_MODELS=",".join(f"{n}={m['dir']}" for n, m in models.items()),
               FOVEA_ANCHOR_THREADS=str(a.threads))
    anchor = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", os.path.join(ROOT, "bench"), "serve_anchor:app",
                               "--port", str(aport), "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(a.work, "anchor.log"), "w"))
    rows = []
    try:
        wait_ready(f"http://127.0.0.1:{port}/v2/health/ready", srv)
        wait_ready(f"http://127.0.0.1:{aport}/v2/models/x/infer", anchor)
        idle_rss = rss_mb(srv.pid)
        for name, m in models.items():
            # ViT-B takes hundreds of ms an image here: fewer clients and longer runs, so that
            # no request waits out the client's timeout and every run completes many requests
            heavy = m["weights_mb"] > 50
            secs, conc = (3 * a.seconds, 4) if heavy else (a.seconds, a.conc)
            url = f"http://127.0.0.1:{port}/v2/models/{name}/infer"
            aurl = f"http://127.0.0.1:{aport}/v2/models/{name}/infer"
            # overhead: one preprocessed image a request, binary, against --bench at the batch the server forms
            cfg = json.load(open(os.path.join(m["dir"], "config.json")))
            shape = cfg.get("pretrained_cfg", {}).get("input_size", [3, 224, 224])
            x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
            raw = x.tobytes()
            header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": list(x.shape),
                                             "parameters": {"binary_data_size": len(raw)}}],
                                 "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}).encode()
            bin_file = os.path.join(a.work, f"{name}.bin")
            open(bin_file, "wb").write(header + raw)
            bench = subprocess.run([classify, "--weights", m["dir"], "--bench", "20", "--batch-size", str(a.batch),
                                    "--threads", str(a.threads)], capture_output=True, text=True).stdout
            bench_ms = float(re.search(r"median_ms=([\d.]+)", bench).group(1))
            bench_ips = a.batch * 1000 / bench_ms
            # the binary body through hey: its -T sets Content-Type only, the header length goes in -H
            serve_sat = hey(url, bin_file, secs, max(conc, 2 * a.batch), headers=[f"Inference-Header-Content-Length: {len(header)}"])
            load_rss = rss_mb(srv.pid)
            # anchor comparison: the same JSON request to both
            req_file = os.path.join(a.work, f"{name}.json")
            with open(m["image"], "rb") as f:
                b64 = base64.b64encode(f.read()).decode()
            json.dump({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64]}],
                       "outputs": [{"name": "probabilities", "parameters": {"classification": 5}}]}, open(req_file, "w"))
            rounds = []
            for r in range(2):  # alternating, the median (of two: the mean) taken
                rounds.append((hey(url, req_file, secs, conc), hey(aurl, req_file, secs, conc)))
            f_sat = float(np.mean([x[0]["rps"] for x in rounds]))
            a_sat = float(np.mean([x[1]["rps"] for x in rounds]))
            half = a_sat / 2
            half_conc = 2 if heavy else conc
            f_half = hey(url, req_file, secs, half_conc, qps=half)
            a_half = hey(aurl, req_file, secs, half_conc, qps=half)
            metrics = __import__("requests").get(f"http://127.0.0.1:{port}/metrics").text
            inf = int(re.search(rf'fovea_inferences_total{{model="{name}"}} (\d+)', metrics).group(1))
            bat = int(re.search(rf'fovea_batches_total{{model="{name}"}} (\d+)', metrics).group(1))
            row = {"model": name, "bench_ips": bench_ips, "serve_ips": serve_sat["rps"], "overhead_ratio": serve_sat["rps"] / bench_ips,
                   "fovea_rps": f_sat, "anchor_rps": a_sat, "speedup": f_sat / a_sat, "half_rate": half,
                   "fovea_p50": f_half["p50"], "fovea_p99": f_half["p99"], "anchor_p50": a_half["p50"], "anchor_p99": a_half["p99"],
                   "codes": [serve_sat["codes"], rounds[0][0]["codes"], rounds[0][1]["codes"]], "mean_batch": inf / max(bat, 1),
                   "weights_mb": m["weights_mb"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
        rss = {"idle_mb": idle_rss, "load_mb": rss_mb(srv.pid), "weights_mb": sum(m["weights_mb"] for m in models.values())}
        print(json.dumps(rss))
    finally:
        for p in (srv, anchor):
            p.send_signal(signal.SIGTERM)
        for p in (srv, anchor):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:  # uvicorn waits for its clients' keep-alive connections
                p.kill()
                p.wait()
    print()
    print("| model | fovea-classify --bench img/s | fovea-serve img/s (binary) | ratio | fovea-serve req/s | FastAPI+timm req/s | "
          "speed-up | at half rate: fovea p50 / p99 ms | FastAPI p50 / p99 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['bench_ips']:.1f} | {r['serve_ips']:.1f} | {r['overhead_ratio']:.2f} | {r['fovea_rps']:.1f} | "
              f"{r['anchor_rps']:.1f} | {r['speedup']:.2f}x | {r['fovea_p50']:.1f} / {r['fovea_p99']:.1f} | "
              f"{r['anchor_p50']:.1f} / {r['anchor_p99']:.1f} |")
    print(f"fovea-serve resident memory: idle {rss['idle_mb']:.0f} MB, after load {rss['load_mb']:.0f} MB, weights {rss['weights_mb']:.0f} MB")


if __name__ == "__main__":
    main()

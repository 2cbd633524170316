#!/usr/bin/env python3
"""The cost of calling fovea from Python: model(x) in this process against fovea-classify --bench
on the same weights, input and threads, in alternating rounds; prints the medians and the median of
the per-round ratios. Nothing else is imported (compare_python.py's overhead column shares the
process, and so the cores, with PyTorch's and ONNX Runtime's spinning threads).

  PYTHONPATH=build/python taskset -c 2,3 python3 bench/python_overhead.py MODEL_DIR --batch 1 --threads 2

--python-threads N also times N Python threads each calling the shared model (fovea at 1 thread
each) against one thread making the same calls alone, in alternating rounds: with the GIL released
inside forward, N calls take about as long as one where N cores are free.
"""
import argparse
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time

import numpy as np

import fovea


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", help="a model folder (model.safetensors, config.json)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--classify", default="build/examples/fovea-classify")
    ap.add_argument("--python-threads", type=int, default=0)
    a = ap.parse_args()
    fovea.set_num_threads(a.threads)
    model = fovea.load_model(a.weights)
    c, h, w = model.pretrained_cfg["input_size"]
    x = np.random.default_rng(0).standard_normal((a.batch, c, h, w), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "x.npy")
        np.save(npy, x)
        model(x)
        py, cl = [], []
        for _ in range(a.rounds):
            t = []
            for _ in range(a.iters):
                s = time.perf_counter()
                model(x)
                t.append(time.perf_counter() - s)
            py.append(statistics.median(t) * 1e3)
            out = subprocess.run([a.classify, "--weights", a.weights, "--input-npy", npy, "--bench", str(a.iters),
                                  "--threads", str(a.threads), "--batch-size", str(a.batch)],
                                 capture_output=True, text=True, check=True).stdout
            cl.append(float(re.search(r"median_ms=([0-9.]+)", out).group(1)))
    ratio = statistics.median(p / q for p, q in zip(py, cl))
    print(f"{model.architecture} batch {a.batch} threads {a.threads}: python {statistics.median(py):.2f} ms, "
          f"fovea-classify {statistics.median(cl):.2f} ms, overhead {100 * (ratio - 1):+.1f}% "
          f"(rounds: python {[round(v, 1) for v in py]}, classify {[round(v, 1) for v in cl]})")
    if a.python_threads > 1:
        python_threads(model, x, a)


def python_threads(model, x, a):
    fovea.set_num_threads(1)

    def calls():
        for _ in range(a.iters):
            model(x)

    def timed(n):
        ts = [threading.Thread(target=calls) for _ in range(n)]
        s = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return (time.perf_counter() - s) * 1e3
    calls()
    one, many = [], []
    for _ in range(a.rounds):
        one.append(timed(1))
        many.append(timed(a.python_threads))
    ratio = statistics.median(m / o for m, o in zip(many, one))
    print(f"{a.python_threads} Python threads x {a.iters} calls (fovea 1 thread each): {statistics.median(many):.1f} ms, "
          f"1 thread alone {statistics.median(one):.1f} ms, ratio {ratio:.2f} (1.00: fully parallel, "
          f"{a.python_threads}.00: serial)")


if __name__ == "__main__":
    main()

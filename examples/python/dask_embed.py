#!/usr/bin/env python3
"""Embed (or classify) many images with fovea over a Dask cluster: one model per worker, loaded
once and reused by every task; a batch of files per task; results as .npy shards with the file
names beside them, in input order.

  dask_embed.py --weights MODEL_DIR IMAGES_DIR --out OUT_DIR            # a LocalCluster here
  dask_embed.py --weights MODEL_DIR --fashion-mnist --out OUT_DIR         # Debian's test set
  dask_embed.py --weights MODEL_DIR IMAGES_DIR --out OUT_DIR --scheduler tcp://HOST:8786
  dask_embed.py --weights MODEL_DIR IMAGES_DIR --out OUT_DIR --workers 0  # one process, no Dask
  dask_embed.py --engine timm ...   # the same job with timm on PyTorch in each worker (to compare)

Writes OUT_DIR/part-00000.npy ([n, C] float32: L2-normalised embeddings, or logits with
--logits) and OUT_DIR/part-00000.txt (one name per row), and prints images/s. Every worker must see
the model folder and the images at the same paths (a shared disk on a real cluster).
"""
import argparse
import gzip
import os
import pathlib
import sys
import time

import numpy as np

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".pgm", ".ppm", ".webp"}
FMNIST = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def list_images(folder):
    """Every image under folder, recursively, sorted (as timm's and torchvision's ImageFolder)."""
    return sorted(str(p) for p in pathlib.Path(folder).rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    n, h, w = int.from_bytes(raw[4:8], "big"), int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, h, w)


class FoveaModel:
    """The per-process state of a worker: the model, loaded on first use and kept. Registered as a
    Dask WorkerPlugin, so each worker loads it once when it starts; tasks carry only paths."""
    name = "fovea-model"

    def __init__(self, weights, precision="f32", threads=0, workers_per_host=None):
        self.weights, self.precision, self.threads = weights, precision, threads
        self.workers_per_host = workers_per_host or {}
        self.model = None
        self._fmnist = None

    def setup(self, worker=None):
        import fovea
        threads = self.threads
        if not threads:  # this worker's share of its machine's cores (Dask's nanny sets OMP_NUM_THREADS=1; fovea ignores it)
            host = worker.address.split("://")[-1].rsplit(":", 1)[0] if worker is not None else None
            threads = max(1, (os.cpu_count() or 1) // self.workers_per_host.get(host, 1))
        fovea.set_num_threads(threads)
        self.model = fovea.load_model(self.weights, precision=self.precision)

    def fashion_mnist(self):
        if self._fmnist is None:
            self._fmnist = read_idx_images(FMNIST)
        return self._fmnist

    def run(self, items, logits):
        import fovea
        if self.model is None:
            self.setup()
        if isinstance(items, tuple):  # (start, stop) of the Fashion-MNIST test set
            pixels = self.fashion_mnist()[items[0]:items[1]]
            names = [f"fashion-mnist/t10k/{i:05d}" for i in range(items[0], items[1])]
            x = fovea.preprocess(self.model, list(pixels))
        else:
            names = items
            x = fovea.preprocess(self.model, items)
        y = self.model(x) if logits else fovea.embed(self.model, x)
        return names, y


class TimmModel(FoveaModel):
    """The same worker state with timm on PyTorch (--engine timm), for comparison: the hub folder's
    config.json and model.safetensors, timm's eval transform, torch's threads set as fovea's."""

    def setup(self, worker=None):
        import json
        import timm
        import torch
        threads = self.threads
        if not threads:
            host = worker.address.split("://")[-1].rsplit(":", 1)[0] if worker is not None else None
            threads = max(1, (os.cpu_count() or 1) // self.workers_per_host.get(host, 1))
        torch.set_num_threads(threads)
        folder = pathlib.Path(self.weights)
        cfg = json.loads((folder / "config.json").read_text())
        self.model = timm.create_model(cfg["architecture"], pretrained=False, num_classes=cfg.get("num_classes", 1000),
                                       pretrained_cfg_overlay=cfg.get("pretrained_cfg", {}), **cfg.get("model_args", {}))
        self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in read_safetensors(folder / "model.safetensors").items()})
        self.model.eval()
        data = timm.data.resolve_data_config(model=self.model)
        self.transform = timm.data.create_transform(**data)

    def run(self, items, logits):
        import torch
        from PIL import Image
        if self.model is None:
            self.setup()
        if isinstance(items, tuple):
            pixels = self.fashion_mnist()[items[0]:items[1]]
            names = [f"fashion-mnist/t10k/{i:05d}" for i in range(items[0], items[1])]
            images = [Image.fromarray(p) for p in pixels]
        else:
            names = items
            images = [Image.open(p) for p in items]
        mode = "L" if self.model.patch_embed.proj.in_channels == 1 else "RGB"
        with torch.inference_mode():
            x = torch.stack([self.transform(im.convert(mode)) for im in images])
            if logits:
                return names, self.model(x).numpy()
            e = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
            return names, torch.nn.functional.normalize(e, dim=1).numpy()


def read_safetensors(path):
    """F32 tensors of a safetensors file as NumPy arrays (timm's fixtures and hub weights)."""
    import json
    raw = pathlib.Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    out = {}
    for k, v in json.loads(raw[8:8 + n]).items():
        if k != "__metadata__":
            if v["dtype"] != "F32":
                raise SystemExit(f"error: {path}: {k} is {v['dtype']}; --engine timm reads F32 weights only")
            a, b = v["data_offsets"]
            out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], np.float32).reshape(v["shape"])
    return out


ENGINES = {"fovea": FoveaModel, "timm": TimmModel}


def run_batch(items, out, index, logits):
    """A Dask task: one batch through the worker's model, written as shard `index`."""
    from distributed import get_worker
    state = get_worker().plugins[FoveaModel.name]
    return write_shard(out, index, *state.run(items, logits))


def write_shard(out, index, names, y):
    stem = pathlib.Path(out) / f"part-{index:05d}"
    np.save(f"{stem}.npy", y)
    pathlib.Path(f"{stem}.txt").write_text("".join(n + "\n" for n in names))
    return index, len(names)


def read_shards(out):
    """All shards of a run, concatenated in input order: (names, array)."""
    out = pathlib.Path(out)
    parts = sorted(out.glob("part-*.npy"))
    names = [line for p in parts for line in p.with_suffix(".txt").read_text().splitlines()]
    return names, (np.concatenate([np.load(p) for p in parts]) if parts else np.zeros((0, 0), np.float32))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", help="a folder of images (recursively, sorted)")
    ap.add_argument("--weights", required=True, help="a timm hub folder or .safetensors file")
    ap.add_argument("--out", required=True, help="where the shards go")
    ap.add_argument("--fashion-mnist", action="store_true", help=f"the Fashion-MNIST test set ({FMNIST})")
    ap.add_argument("--limit", type=int, default=0, help="the first N images only")
    ap.add_argument("--batch", type=int, default=64, help="images per task (default 64)")
    ap.add_argument("--logits", action="store_true", help="logits instead of normalised embeddings")
    ap.add_argument("--precision", default="f32", choices=["f32", "bf16", "int8"])
    ap.add_argument("--scheduler", help="a running cluster's scheduler, tcp://HOST:8786 (default: a LocalCluster)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers (0: this process, no Dask)")
    ap.add_argument("--threads", type=int, default=0, help="fovea threads per worker (default: cores / workers)")
    ap.add_argument("--engine", default="fovea", choices=sorted(ENGINES), help="fovea (default), or timm on PyTorch to compare")
    a = ap.parse_args(argv)
    if bool(a.folder) == a.fashion_mnist:
        ap.error("give a folder of images or --fashion-mnist")
    if a.batch < 1 or a.workers < 0 or a.threads < 0 or a.limit < 0:
        ap.error("--batch must be >= 1; --workers, --threads and --limit >= 0")

    if a.fashion_mnist:
        if not os.path.exists(FMNIST):
            sys.exit(f"error: {FMNIST} not found (Debian: dataset-fashion-mnist)")
        total = a.limit or 10000
        batches = [(s, min(s + a.batch, total)) for s in range(0, total, a.batch)]
    else:
        files = list_images(a.folder)
        if a.limit:
            files = files[:a.limit]
        if not files:
            sys.exit(f"error: no images under {a.folder}")
        total = len(files)
        batches = [files[s:s + a.batch] for s in range(0, total, a.batch)]
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("part-*.npy")) + list(out.glob("part-*.txt")):
        old.unlink()
    weights = os.path.abspath(a.weights)
    cores = os.cpu_count() or 1

    start = time.perf_counter()
    if a.workers == 0 and not a.scheduler:
        state = ENGINES[a.engine](weights, a.precision, a.threads or cores)
        for i, b in enumerate(batches):
            write_shard(out, i, *state.run(b, a.logits))
        workers = 0
    else:
        from distributed import Client, LocalCluster
        cluster = None
        if a.scheduler:
            client = Client(a.scheduler)
        else:
            cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            info = client.scheduler_info()["workers"]
            workers = len(info)
            per_host = {}
            for address in info:
                host = address.split("://")[-1].rsplit(":", 1)[0]
                per_host[host] = per_host.get(host, 0) + 1
            client.register_worker_plugin(ENGINES[a.engine](weights, a.precision, a.threads, per_host), name=FoveaModel.name)
            start = time.perf_counter()
            futures = [client.submit(run_batch, b, str(out.resolve()), i, a.logits, pure=False) for i, b in enumerate(batches)]
            for f in futures:
                f.result()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    seconds = time.perf_counter() - start
    where = f"{workers} workers" if workers else "one process"
    print(f"{total} images in {len(batches)} shards under {out}: {seconds:.2f} s, {total / seconds:.1f} images/s"
          f" ({where}, {a.engine})")


if __name__ == "__main__":
    main()

"""What a user writes instead of fovea-serve: FastAPI + uvicorn + timm on PyTorch, answering the
same Open Inference Protocol request (a BYTES tensor of base64 image files, classification of the
probabilities) with the same decode, timm eval transform and forward. bench/serve_bench.py runs it
beside fovea-serve on the same cores and load.

  PYTHONPATH=/path/to/timm FOVEA_ANCHOR_MODELS=name=folder,... FOVEA_ANCHOR_THREADS=2 \\
    python3 -m uvicorn --app-dir bench serve_anchor:app --port 8001
"""
import base64
import io
import json
import os
import sys

import timm
import torch
from fastapi import FastAPI, HTTPException, Request
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
from safetensors_io import load_file  # noqa: E402 (fovea's own reader: Debian has no safetensors package)

torch.set_num_threads(int(os.environ.get("FOVEA_ANCHOR_THREADS", "2")))
app = FastAPI()
models, cfg_chans = {}, {}
for spec in os.environ["FOVEA_ANCHOR_MODELS"].split(","):
    name, folder = spec.split("=", 1)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    model = timm.create_model(cfg["architecture"], pretrained=False, num_classes=cfg.get("num_classes", 1000),
                              **cfg.get("model_args", {}))
    model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")))
    model.eval()
    if "pretrained_cfg" in cfg:
        data_cfg = timm.data.resolve_data_config(pretrained_cfg=cfg["pretrained_cfg"])
    else:
        data_cfg = timm.data.resolve_data_config({}, model=model)
    models[name] = (model, timm.data.create_transform(**data_cfg), cfg.get("label_names"))
    cfg_chans[name] = data_cfg["input_size"][0]


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    if name not in models:
        raise HTTPException(404, "unknown model")
    model, transform, labels = models[name]
    req = await request.json()
    inp = req["inputs"][0]
    k = req.get("outputs", [{}])[0].get("parameters", {}).get("classification", 5)
    chans = cfg_chans[name]
    images = [Image.open(io.BytesIO(base64.b64decode(s))).convert("L" if chans == 1 else "RGB") for s in inp["data"]]
    x = torch.stack([transform(im) for im in images])
    with torch.inference_mode():
        probs = model(x).softmax(-1)
    top = probs.topk(min(k, probs.shape[1]), dim=-1)
    data = []
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        for pp, ii in zip(p, i):
            data.append(f"{pp:.9g}:{ii}" + (f":{labels[ii]}" if labels else ""))
    return {"model_name": name, "outputs": [{"name": "probabilities", "datatype": "BYTES", "shape": [len(images), len(top.indices[0])],
                                             "data": data}]}

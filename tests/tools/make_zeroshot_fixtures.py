#!/usr/bin/env python3
"""Zero-shot classification references for fovea (tests/data/zeroshot/).

There is no text tower here (OpenCLIP and transformers are not Debian packages), so the class
text embeddings are vectors placed at chosen cosines to the first image's embedding (and scaled
by random norms, so that their normalisation is exercised). The probabilities are then what
OpenCLIP's and transformers' zero-shot recipes compute, in float64 from timm's float64 image
embedding:
  CLIP:   softmax(exp(logit_scale) * normalize(image) @ normalize(text).T)
  SigLIP: sigmoid(exp(logit_scale) * normalize(image) @ normalize(text).T + logit_bias)
For SigLIP the two scalars are stored as OpenCLIP's checkpoint holds them (open_clip_model.safetensors:
logit_scale as a log, logit_bias), which fovea reads from a weights folder.

  PYTHONPATH=/tmp/timm_src /usr/bin/python3 tests/tools/make_zeroshot_fixtures.py
"""
import math
import pathlib

import numpy as np
import torch
import timm

from safetensors_io import load_file, save_file

DATA = pathlib.Path(__file__).resolve().parents[1] / "data"

# (folder, tiny timm fixture it uses, cosines of the class texts to image 0, logit_scale (log), logit_bias)
CASES = [
    ("clip", "vit_base_patch16_clip_224", [0.20, 0.22, 0.25, 0.18, -0.1], math.log(100.0), None),
    ("siglip", "siglip_no_head", [0.05, 0.11, 0.13, 0.09, 0.30], 4.7658, -12.93),
]


def image_embedding(fixture, x):
    import json
    cfg = json.loads((DATA / fixture / "config.json").read_text())
    model = timm.create_model(cfg["architecture"], pretrained=False, num_classes=cfg["num_classes"],
                              **cfg.get("model_args", {}))
    state = {k: v.float() for k, v in load_file(DATA / fixture / "model.safetensors").items()}
    model.load_state_dict(state)
    model = model.double().eval()
    with torch.no_grad():
        return model(x.double())  # CLIP: the projection head; SigLIP: the pooled features (no head)


def main():
    for i, (folder, fixture, cosines, logit_scale, logit_bias) in enumerate(CASES):
        out = DATA / "zeroshot" / folder
        out.mkdir(parents=True, exist_ok=True)
        g = torch.Generator().manual_seed(500 + i)
        x = load_file(DATA / fixture / "ref.safetensors")["input"]
        x = torch.cat([x, torch.randn(x.shape, generator=g)])  # a second image, unrelated to the texts
        img = image_embedding(fixture, x)
        e0 = img[0] / img[0].norm()
        texts = []
        for c in cosines:
            u = torch.randn(e0.shape, generator=g, dtype=torch.float64)
            u -= (u @ e0) * e0
            u /= u.norm()
            t = c * e0 + math.sqrt(1 - c * c) * u
            texts.append(t * (0.5 + torch.rand((), generator=g, dtype=torch.float64) * 3))
        text = torch.stack(texts).float()  # as stored: float32
        imgn = img / img.norm(dim=-1, keepdim=True)
        txtn = text.double() / text.double().norm(dim=-1, keepdim=True)
        logits = math.exp(logit_scale) * imgn @ txtn.T
        if logit_bias is None:
            probs = logits.softmax(dim=-1)
        else:
            logits = logits + logit_bias
            probs = torch.sigmoid(logits)
            save_file({"logit_scale": torch.tensor([logit_scale]), "logit_bias": torch.tensor([logit_bias])},
                      out / "open_clip_model.safetensors")
        np.save(out / "text.npy", text.numpy())
        np.save(out / "input.npy", x.numpy())
        np.save(out / "logits.npy", logits.float().numpy())
        np.save(out / "probs.npy", probs.float().numpy())
        (out / "labels.txt").write_text("".join(f"a photo of class {k}\n" for k in range(len(cosines))))
        (out / "fixture.txt").write_text(fixture + "\n")
        print(folder, "probs", probs.numpy().round(4).tolist())


if __name__ == "__main__":
    main()

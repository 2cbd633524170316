#!/usr/bin/env python3
"""Preprocessing references from timm: create_transform(**resolve_data_config({}, model=m)) applied
to PIL's Image.open(path).convert("RGB"), for odd-sized photos (scikit-image's sample photos,
public domain / CC0), palette, grey, RGBA, grey+alpha, 16-bit, GIF, BMP, JPEG and a tiny image.

Each reference is the uint8 image timm hands to ToTensor, stored as a lossless PNG (the float
tensor is exactly (u8 / 255 - mean) / std; this script checks that inversion is exact).
  PYTHONPATH=/tmp/timm_src python3 tests/tools/make_preprocess_fixtures.py
"""
import json
import pathlib

import numpy as np
import torch
import timm
from PIL import Image
from timm.data import create_transform, resolve_data_config

SK = pathlib.Path("/usr/lib/python3/dist-packages/skimage/data")
DATA = pathlib.Path(__file__).resolve().parents[1] / "data"
IMAGES, REFS = DATA / "images", DATA / "preprocess"

PRESETS = ["vit_base_patch16_224", "swin_tiny_patch4_window7_224", "vit_base_patch16_384"]


def make_images():
    IMAGES.mkdir(parents=True, exist_ok=True)
    astro = Image.open(SK / "astronaut.png").convert("RGB")
    cat = Image.open(SK / "chelsea.png").convert("RGB")
    coffee = Image.open(SK / "coffee.png").convert("RGB")
    camera = Image.open(SK / "camera.png").convert("L")
    out = {}

    def save(name, im, **kw):
        im.save(IMAGES / name, **kw)
        out[name] = im

    save("photo_astronaut_301x227.png", astro.crop((101, 20, 402, 247)))
    save("photo_chelsea_333x251.png", cat.crop((60, 20, 393, 271)))
    save("photo_coffee_257x389.png", coffee.crop((171, 5, 428, 394)))
    save("palette_199x143.png", cat.crop((150, 60, 349, 203)).quantize(64))
    save("grey_217x263.png", camera.crop((150, 40, 367, 303)))
    rgba = astro.crop((200, 100, 381, 341)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    save("rgba_181x241.png", rgba)
    la = camera.crop((10, 300, 171, 417)).convert("LA")
    save("grey_alpha_161x117.png", la)
    g16 = np.asarray(camera.crop((300, 200, 419, 331)), dtype=np.uint16) * 257 // 2  # values 0..32767
    Image.fromarray(g16.astype(np.uint16)).save(IMAGES / "grey16_119x131.png")
    out["grey16_119x131.png"] = Image.open(IMAGES / "grey16_119x131.png")
    save("tiny_13x9.png", coffee.crop((300, 150, 313, 159)))
    save("gif_palette_73x57.gif", cat.crop((250, 150, 323, 207)).quantize(32))
    save("bmp_rgb_61x47.bmp", coffee.crop((60, 240, 121, 287)))
    save("jpeg_q90_263x199.jpg", astro.crop((50, 250, 313, 449)), quality=90)
    return sorted(out)


PAIRS = {  # image -> presets it is checked with
    "photo_astronaut_301x227.png": PRESETS,
    "photo_chelsea_333x251.png": PRESETS[1:2],
    "photo_coffee_257x389.png": PRESETS[:1],
    "palette_199x143.png": PRESETS[1:2],
    "grey_217x263.png": PRESETS[:1],
    "rgba_181x241.png": PRESETS[1:2],
    "grey_alpha_161x117.png": PRESETS[1:2],
    "grey16_119x131.png": PRESETS[:1],
    "tiny_13x9.png": PRESETS,
    "gif_palette_73x57.gif": PRESETS[1:2],
    "bmp_rgb_61x47.bmp": PRESETS[:1],
    "jpeg_q90_263x199.jpg": PRESETS[:1],
}


def main():
    make_images()
    REFS.mkdir(parents=True, exist_ok=True)
    manifest = []
    for preset in PRESETS:
        model = timm.create_model(preset, pretrained=False)
        cfg = resolve_data_config({}, model=model)
        tf = create_transform(**cfg)
        mean = torch.tensor(cfg["mean"]).view(3, 1, 1)
        std = torch.tensor(cfg["std"]).view(3, 1, 1)
        for name, presets in PAIRS.items():
            if preset not in presets:
                continue
            t = tf(Image.open(IMAGES / name).convert("RGB"))
            u8 = torch.round((t * std + mean) * 255).clamp(0, 255).to(torch.uint8)
            back = (u8.float() / 255 - mean) / std  # ToTensor + Normalize in float32
            assert torch.equal(back, t), (name, preset, (back - t).abs().max())
            ref = f"{pathlib.Path(name).stem}__{preset}.png"
            Image.fromarray(u8.permute(1, 2, 0).numpy()).save(REFS / ref, optimize=True)
            manifest.append({"image": name, "preset": preset, "reference": ref,
                             "input_size": list(cfg["input_size"]), "crop_pct": cfg["crop_pct"]})
            print(ref, tuple(t.shape))
    (REFS / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()

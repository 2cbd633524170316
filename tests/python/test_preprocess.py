"""fovea.preprocess equals timm's eval transform (the PNGs tests/tools/make_preprocess_fixtures.py
saved from timm's transforms on PIL's decoding, normalised as torchvision does), whatever form the
image comes in: a path, its bytes, a PIL image or a uint8 array."""
import json
import pathlib

import numpy as np
import pytest

from conftest import DATA

MANIFEST = json.loads((DATA / "preprocess/manifest.json").read_text())


def reference(fovea, entry):
    Image = pytest.importorskip("PIL.Image")
    crop = np.asarray(Image.open(DATA / "preprocess" / entry["reference"]).convert("RGB"), dtype=np.float32)
    cfg = fovea.preset_cfg(entry["preset"])
    mean, std = np.array(cfg["mean"], np.float32), np.array(cfg["std"], np.float32)
    return ((crop / np.float32(255) - mean) / std).transpose(2, 0, 1)[None]


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda e: f"{e['image']}-{e['preset']}")
def test_matches_timm_eval_transform(fovea, entry):
    Image = pytest.importorskip("PIL.Image")
    path = DATA / "images" / entry["image"]
    want = reference(fovea, entry)
    pil = Image.open(path)
    forms = {"path": str(path), "pathlike": path, "bytes": path.read_bytes(), "PIL": pil,
             "array": np.asarray(pil.convert("RGB"))}
    for form, item in forms.items():
        got = fovea.preprocess(entry["preset"], [item])
        assert got.shape == want.shape and got.dtype == np.float32, form
        # PIL's decoding is the reference's; fovea decodes files itself with the same libraries
        assert np.array_equal(got, want), f"{entry['image']} as {form}: max diff {np.max(np.abs(got - want))}"


def test_a_batch_mixes_forms_in_order(fovea):
    Image = pytest.importorskip("PIL.Image")
    e0, e1 = MANIFEST[0], [e for e in MANIFEST if e["preset"] == MANIFEST[0]["preset"]][1]
    p0, p1 = DATA / "images" / e0["image"], DATA / "images" / e1["image"]
    got = fovea.preprocess(e0["preset"], [p1.read_bytes(), Image.open(p0), str(p1)])
    assert got.shape[0] == 3
    assert np.array_equal(got[0], reference(fovea, e1)[0]) and np.array_equal(got[2], got[0])
    assert np.array_equal(got[1], reference(fovea, e0)[0])


def test_model_config_and_grey_images(fovea):
    model = fovea.load_model(str(DATA.parent.parent / "examples/fashion_mnist/models/vit_fashion_mnist"))
    c = model.pretrained_cfg["input_size"][0]
    grey = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    x = fovea.preprocess(model, [grey, np.stack([grey] * 3, axis=-1)])
    assert x.shape == (2, *model.pretrained_cfg["input_size"])
    assert np.array_equal(x[0], x[1]) or c == 3

"""fovea.load_model on every timm fixture equals timm's float64 references, stage by stage where
the Python API exposes the stage: forward_features, forward_head (pre-logits and logits), forward,
forward_intermediates (Swin's maps). Where timm itself can be imported (PYTHONPATH to its source),
the same models also run under timm in this process and are compared directly."""
import json

import numpy as np
import pytest

from conftest import DATA, assert_close, fixtures, read_safetensors


@pytest.mark.parametrize("name", fixtures())
def test_matches_timm_references(fovea, name):
    ref = read_safetensors(DATA / name / "ref.safetensors")
    model = fovea.load_model(str(DATA / name))
    x = ref["input"]
    feats = model.forward_features(x)
    assert_close(feats, ref["features"], f"{name} features")
    if model.family == "swin" and not name.startswith("hf_"):  # transformers gives [N, L, C]
        assert feats.ndim == 4 and feats.shape == ref["features"].shape  # [N, H, W, C] as timm
    for out in ("pre_logits", "logits"):
        if out in ref:
            assert_close(model.forward_head(feats, pre_logits=out == "pre_logits"), ref[out], f"{name} {out}")
    logits = model(x)
    assert logits.dtype == np.float32 and logits.flags.owndata or logits.base is not None
    assert_close(logits, ref["logits"], f"{name} forward")
    i = 0
    if "intermediates.0" in ref:
        maps = model.forward_intermediates(x, intermediates_only=True)
        for i, m in enumerate(maps):
            assert m.shape == ref[f"intermediates.{i}"].shape
            assert_close(m, ref[f"intermediates.{i}"], f"{name} intermediates.{i}")
        assert f"intermediates.{len(maps)}" not in ref


def test_families_covered():
    families = {json.loads((DATA / n / "config.json").read_text()).get("architecture", n).split("_")[0] for n in fixtures()}
    for f in ("vit", "deit", "deit3", "swin", "beit"):
        assert f in families, families


def test_intermediates_as_timm_returns_them(fovea):
    model = fovea.load_model(str(DATA / "vit_small_patch16_224"))
    x = read_safetensors(DATA / "vit_small_patch16_224" / "ref.safetensors")["input"]
    feats, maps = model.forward_intermediates(x, indices=2)
    assert len(maps) == 2 and maps[0].ndim == 4
    assert_close(feats, model.forward_features(x), "forward_intermediates features")
    nlc = model.forward_intermediates(x, indices=[-1], output_fmt="NLC", intermediates_only=True)
    gh, gw = maps[-1].shape[2:]
    assert nlc[0].shape == (x.shape[0], gh * gw, maps[-1].shape[1])
    assert np.array_equal(nlc[0], maps[-1].reshape(x.shape[0], -1, gh * gw).transpose(0, 2, 1))
    with_prefix = model.forward_intermediates(x, indices=[0], intermediates_only=True, return_prefix_tokens=True)
    assert with_prefix[0][1].shape[1] == model.num_prefix_tokens


@pytest.mark.parametrize("name,source", [("vit_small_patch16_224", "pre_logits"), ("siglip_no_head", "pre_logits"),
                                         ("vit_base_patch16_clip_quickgelu_224", "logits"), ("eva02_base_patch16_clip_224", "logits"),
                                         ("hf_clip", "logits"), ("eva02_base_patch14_224", "pre_logits")])
def test_embed_is_normalised_pre_logits_or_clip_projection(fovea, name, source):
    # the fixtures' CLIP head has 5 outputs: a projection, not an ImageNet classifier
    model = fovea.load_model(str(DATA / name))
    ref = read_safetensors(DATA / name / "ref.safetensors")
    e = fovea.embed(model, ref["input"])
    want = ref[source] / np.linalg.norm(ref[source], axis=1, keepdims=True)
    assert np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-6)
    assert np.allclose(e, want, atol=1e-5)
    raw = fovea.embed(model, ref["input"], normalize=False)
    assert np.allclose(raw, ref[source], atol=1e-5 * max(1.0, np.abs(ref[source]).max()))


def test_precisions_and_attention(fovea):
    name = "vit_base_patch16_224"
    x = read_safetensors(DATA / name / "ref.safetensors")["input"]
    f32 = fovea.load_model(str(DATA / name))(x)
    for p in ("bf16", "int8"):
        m = fovea.load_model(str(DATA / name), precision=p)
        assert m.precision == p
        y = m(x)
        cos = float(np.dot(y.ravel(), f32.ravel()) / (np.linalg.norm(y) * np.linalg.norm(f32)))
        assert cos > 0.99, (p, cos)
    m = fovea.load_model(str(DATA / name))
    r = fovea.inspect(m, x, attention=["blocks.0"])
    probs = r["attention"][0]["probs"]
    assert r["attention"][0]["block"] == "blocks.0"
    assert np.allclose(probs.sum(-1), 1, atol=1e-5)
    assert np.array_equal(r["output"], m(x))
    assert fovea.attention_blocks(m)[0] == "blocks.0"


def test_torch_tensor_is_read_in_place(fovea):
    torch = pytest.importorskip("torch")
    name = "vit_small_patch16_224"
    x = read_safetensors(DATA / name / "ref.safetensors")["input"]
    model = fovea.load_model(str(DATA / name))
    t = torch.from_numpy(x.copy())
    assert np.array_equal(model(t), model(x))
    assert np.shares_memory(np.asarray(t), t.numpy())


TIMM_CASES = ["vit_small_patch16_224", "deit_small_distilled_patch16_224", "swin_tiny_patch4_window7_224",
              "vit_small_patch14_dinov2", "beit_base_patch16_224", "vit_base_patch16_reg4_gap_256"]


@pytest.mark.parametrize("name", TIMM_CASES)
def test_against_timm_in_this_process(fovea, name):
    timm = pytest.importorskip("timm")
    torch = pytest.importorskip("torch")
    cfg = json.loads((DATA / name / "config.json").read_text())
    kwargs = dict(cfg.get("model_args", {}))
    if "global_pool" in cfg:
        kwargs["global_pool"] = cfg["global_pool"]
    net = timm.create_model(cfg["architecture"], pretrained=False, num_classes=cfg["num_classes"], **kwargs)
    weights = read_safetensors(DATA / name / "model.safetensors")
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items()})
    net = net.double().eval()
    x = read_safetensors(DATA / name / "ref.safetensors")["input"]
    with torch.inference_mode():
        want = net(torch.from_numpy(x.copy()).double()).numpy()
    assert_close(fovea.load_model(str(DATA / name))(x), want, f"{name} against timm")


@pytest.mark.parametrize("which", ["clip", "siglip", "hf_clip", "hf_siglip"])
def test_zero_shot_matches_the_reference(fovea, which):
    # make_zeroshot_fixtures.py: OpenCLIP's recipe in float64; hf_clip: transformers' CLIPModel itself
    z = DATA / "zeroshot" / which
    fixture = (z / "fixture.txt").read_text().strip()
    model = fovea.load_model(str(DATA / fixture))
    x, text = np.load(z / "input.npy"), np.load(z / "text.npy")
    if which == "clip":
        probs, logits = fovea.zero_shot(model, x, text)  # OpenAI's scale, 100
    elif which.startswith("hf_"):
        probs, logits = fovea.zero_shot(model, x, text, weights=str(DATA / fixture))  # the checkpoint's scale (and bias)
    else:
        probs, logits = fovea.zero_shot(model, x, text, weights=str(z))  # open_clip_model.safetensors
        with pytest.raises(fovea.Error, match="logit_scale"):
            fovea.zero_shot(model, x, text)
    assert np.allclose(probs, np.load(z / "probs.npy"), atol=1e-5)
    ref = np.load(z / "logits.npy")
    assert np.allclose(logits, ref, atol=1e-5 * max(1.0, np.abs(ref).max()))
    with pytest.raises(fovea.Error, match="wide"):
        fovea.zero_shot(model, x, text[:, :3], logit_scale=100.0)

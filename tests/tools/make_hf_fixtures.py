#!/usr/bin/env python3
"""Fixtures made with Hugging Face transformers' own model classes (ViTForImageClassification,
DeiTForImageClassification(WithTeacher), SwinForImageClassification, Swinv2ForImageClassification), randomised at O(1) scale
like make_fixtures.py, saved as transformers saves them (model.safetensors + config.json), with
transformers' outputs in float64 in ref.safetensors.

  python3 tests/tools/make_hf_fixtures.py --out tests/data             # tiny fixtures
  python3 tests/tools/make_hf_fixtures.py --full DIR --check CLI       # full-size ViT-B and Swin-T,
                                                                       # compared with fovea-classify
transformers runs on the accelerator machine (Debian has no package for it).
"""
import argparse
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import (DeiTConfig, DeiTForImageClassification, DeiTForImageClassificationWithTeacher,
                          SwinConfig, SwinForImageClassification, Swinv2Config, Swinv2ForImageClassification,
                          ViTConfig, ViTForImageClassification, ViTImageProcessor, CLIPConfig, CLIPModel)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_fixtures import randomise  # noqa: E402

LABELS = {i: f"label {i}" for i in range(5)}
TINY_VIT = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=40, image_size=32,
                patch_size=8, num_labels=5, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
# three stages, no odd map before a merge (transformers 5 fails on those): maps 28, 14, 7
TINY_SWIN = dict(image_size=56, patch_size=2, embed_dim=4, depths=[2, 2, 2], num_heads=[1, 2, 2], window_size=7,
                 num_labels=5, id2label=LABELS, label2id={v: k for k, v in LABELS.items()})
# Swin V2: maps 32, 16, 8 with window 8 (the last stage's clamped), one stage's window scaled as pre-trained at 6
TINY_SWINV2 = dict(TINY_SWIN, image_size=64, window_size=8, pretrained_window_sizes=[0, 6, 0])


def hook_stages(model, is_swin):
    stages, hooks = {}, []

    def keep(name, reshape=None):
        def hook(_m, _i, out):
            o = out[0] if isinstance(out, tuple) else out
            stages[name] = o.detach().clone() if reshape is None else reshape(o.detach().clone())
        return hook

    base = swin_base(model) if is_swin else model.vit if hasattr(model, "vit") else model.deit
    hooks.append(base.layernorm.register_forward_hook(keep("features")))
    if is_swin:
        for i, layer in enumerate(swin_stages(model)):
            for j, blk in enumerate(layer.blocks):
                hooks.append(blk.register_forward_hook(keep(f"layers.{i}.blocks.{j}")))
    else:
        base = model.vit if hasattr(model, "vit") else model.deit
        hooks.append(base.embeddings.register_forward_hook(keep("pos_embed")))
        layers = base.layers if hasattr(base, "layers") else base.encoder.layer  # transformers 5 / 4
        for i, blk in enumerate(layers):
            hooks.append(blk.register_forward_hook(keep(f"blocks.{i}")))
    return stages, hooks


def swin_base(model):
    return model.swin if hasattr(model, "swin") else model.swinv2


def swin_stages(model):
    s = swin_base(model)
    return s.encoder.layers if hasattr(s, "encoder") else s.layers


V5_TO_HUB = [  # transformers 5 names -> the names checkpoints on the hub carry (transformers 4)
    (r"\.blocks\.(\d+)\.attention\.q_proj\.", r".blocks.\1.attention.self.query."),
    (r"\.blocks\.(\d+)\.attention\.k_proj\.", r".blocks.\1.attention.self.key."),
    (r"\.blocks\.(\d+)\.attention\.v_proj\.", r".blocks.\1.attention.self.value."),
    (r"\.blocks\.(\d+)\.attention\.o_proj\.", r".blocks.\1.attention.output.dense."),
    (r"\.blocks\.(\d+)\.attention\.relative_position_bias\.relative_position_bias_table",
     r".blocks.\1.attention.self.relative_position_bias_table"),
    (r"\.blocks\.(\d+)\.mlp\.fc1\.", r".blocks.\1.intermediate.dense."),
    (r"\.blocks\.(\d+)\.mlp\.fc2\.", r".blocks.\1.output.dense."),
    (r"\.layers\.(\d+)\.attention\.q_proj\.", r".encoder.layer.\1.attention.attention.query."),
    (r"\.layers\.(\d+)\.attention\.k_proj\.", r".encoder.layer.\1.attention.attention.key."),
    (r"\.layers\.(\d+)\.attention\.v_proj\.", r".encoder.layer.\1.attention.attention.value."),
    (r"\.layers\.(\d+)\.attention\.o_proj\.", r".encoder.layer.\1.attention.output.dense."),
    (r"\.layers\.(\d+)\.mlp\.fc1\.", r".encoder.layer.\1.intermediate.dense."),
    (r"\.layers\.(\d+)\.mlp\.fc2\.", r".encoder.layer.\1.output.dense."),
    (r"\.layers\.(\d+)\.layernorm_", r".encoder.layer.\1.layernorm_"),
]


def hub_names(sd):
    import re
    out = {}
    for k, v in sd.items():
        for a, b in V5_TO_HUB:
            k = re.sub(a, b, k)
        out[k] = v
    return out


def write(out, model, x, processor=None, hub=False):
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    print(out.name, "names:", [k for k in sorted(sd) if "blocks.0" in k or "layer.0" in k or "layers.0" in k
                               or "downsample" in k or "." not in k.split("embeddings")[-1][:1]][:60], flush=True)
    save_file(hub_names(sd) if hub else sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(out)
    if processor is not None:
        processor.save_pretrained(out)
    is_swin = hasattr(model, "swin") or hasattr(model, "swinv2")
    m = model.double()
    stages, hooks = hook_stages(m, is_swin)
    with torch.no_grad():
        o = m(pixel_values=x.double(), output_hidden_states=True)
    for h in hooks:
        h.remove()
    ref = {k: v.float() for k, v in stages.items()}
    ref["logits"] = o.logits.float()
    ref["input"] = x
    if is_swin:
        B = x.shape[0]
        for i, layer in enumerate(swin_stages(m)):  # stage outputs before downsampling, NCHW
            t = ref[f"layers.{i}.blocks.{len(layer.blocks) - 1}"]
            H, W = x.shape[2] // m.config.patch_size, x.shape[3] // m.config.patch_size
            for _ in range(i):
                H, W = (H + 1) // 2, (W + 1) // 2
            ref[f"intermediates.{i}"] = t.reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
            ref[f"layers.{i}.blocks.{len(layer.blocks) - 1}"] = t
    save_file({k: v.contiguous() for k, v in ref.items()}, str(out / "ref.safetensors"))
    return ref


def tiny(out, only=None):
    out = pathlib.Path(out)
    cases = [
        ("hf_vit", ViTForImageClassification(ViTConfig(**TINY_VIT)), (2, 3, 32, 32),
         ViTImageProcessor(size={"height": 32, "width": 32}, resample=3)),
        ("hf_deit_teacher", DeiTForImageClassificationWithTeacher(DeiTConfig(**TINY_VIT)),
         (1, 3, 32, 32), None),
        ("hf_deit", DeiTForImageClassification(DeiTConfig(**TINY_VIT)), (1, 3, 32, 32), None),
        ("hf_swin", SwinForImageClassification(SwinConfig(**TINY_SWIN)), (1, 3, 56, 56), None),
        # 40: maps 20 and 10 are padded to 21 and 14; transformers pads, then rolls the padded map.
        # (Two stages: transformers 5 fails on a stage smaller than its window.)
        ("hf_swin_pad", SwinForImageClassification(SwinConfig(**dict(TINY_SWIN, image_size=40, depths=[2, 2],
                                                                        num_heads=[1, 2]))), (1, 3, 40, 40), None),
        ("hf_swinv2", Swinv2ForImageClassification(Swinv2Config(**TINY_SWINV2)), (2, 3, 64, 64), None),
    ]
    for k, (name, model, shape, proc) in enumerate(cases):
        if only and name not in only:
            continue
        randomise(model, 500 + 11 * k)
        x = torch.randn(shape, generator=torch.Generator().manual_seed(600 + k))
        write(out / name, model, x, proc, hub=name in ("hf_vit", "hf_swin"))  # the hub's names; others: v5's
        print("hf fixture:", name, flush=True)


def contrastive(out, zeroshot, kind):
    """transformers' CLIPModel (OpenAI's QuickGELU, projection) or SiglipModel (attention-pooling head,
    GELU's tanh form) with both towers, as saved on the hub: the image tower's stages in float64
    (features: post_layernorm over every token, pre_logits: the pooled output, logits: CLIP's
    image_embeds or SigLIP's pooled output), and a zero-shot case whose class text embeddings its own
    text tower made: probabilities = logits_per_image.softmax(-1) (CLIP) or .sigmoid() (SigLIP)."""
    from transformers import SiglipConfig, SiglipModel
    name, seed, is_clip = "hf_" + kind, 700 if kind == "clip" else 710, kind == "clip"
    out = pathlib.Path(out) / name
    out.mkdir(parents=True, exist_ok=True)
    vision = dict(hidden_size=16, intermediate_size=40, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8)
    text = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=64,
                max_position_embeddings=8)
    if is_clip:
        model = CLIPModel(CLIPConfig(vision_config=dict(vision, hidden_act="quick_gelu"),
                                     text_config=dict(text, hidden_act="quick_gelu"), projection_dim=5))
    else:
        model = SiglipModel(SiglipConfig(vision_config=vision, text_config=text))
    randomise(model, seed)
    with torch.no_grad():  # O(1) tokens, positions and probe; a logit scale of 10 (SigLIP: bias -1)
        v = model.vision_model
        g = torch.Generator().manual_seed(seed + 1)
        tokens = [v.embeddings.class_embedding, v.embeddings.position_embedding.weight] if is_clip else \
            [v.embeddings.position_embedding.weight, v.head.probe]
        for t in tokens:
            t.copy_(torch.randn(t.shape, generator=g))
        model.logit_scale.fill_(math.log(10.0))
        if not is_clip:
            model.logit_bias.fill_(-1.0)
    model.eval()
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    print(name, "names:", sorted(k for k in sd if "text_model.encoder" not in k and "layers.1" not in k), flush=True)
    save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(out)
    x = torch.randn((2, 3, 32, 32), generator=torch.Generator().manual_seed(seed + 2))
    ids = torch.randint(0, 64, (4, 8), generator=torch.Generator().manual_seed(seed + 3))
    m = model.double()
    vm = m.vision_model
    stages, hooks = {}, []

    def keep(stage):
        def hook(_m, _i, o):
            stages[stage] = (o[0] if isinstance(o, tuple) else o).detach().clone()
        return hook
    hooks.append((vm.pre_layrnorm if is_clip else vm.embeddings).register_forward_hook(keep("pos_embed")))
    for i, blk in enumerate(vm.encoder.layers):
        hooks.append(blk.register_forward_hook(keep(f"blocks.{i}")))
    with torch.no_grad():
        vo = vm(pixel_values=x.double())
        for h in hooks:
            h.remove()
        ref = {k: v.float() for k, v in stages.items()}
        # CLIP's last_hidden_state is before post_layernorm (its pooler applies it); SigLIP's after
        ref["features"] = (vm.post_layernorm(vo.last_hidden_state) if is_clip else vo.last_hidden_state).float()
        ref["pre_logits"] = vo.pooler_output.float()
        ref["logits"] = (m.visual_projection(vo.pooler_output) if is_clip else vo.pooler_output).float()
        ref["input"] = x
        both = m(input_ids=ids, pixel_values=x.double())
        probs = both.logits_per_image.softmax(-1) if is_clip else torch.sigmoid(both.logits_per_image)
    save_file({k: v.contiguous() for k, v in ref.items()}, str(out / "ref.safetensors"))
    z = pathlib.Path(zeroshot) / name
    z.mkdir(parents=True, exist_ok=True)
    np.save(z / "input.npy", x.numpy())
    np.save(z / "text.npy", both.text_embeds.float().numpy())  # normalised by the model; fovea normalises again
    np.save(z / "logits.npy", np.ascontiguousarray(both.logits_per_image.float().numpy()))  # a transpose: C order for fovea
    np.save(z / "probs.npy", np.ascontiguousarray(probs.float().numpy()))
    (z / "labels.txt").write_text("".join(f"a photo of class {k}\n" for k in range(ids.shape[0])))
    (z / "fixture.txt").write_text(name + "\n")
    print(name, "probs", probs.numpy().round(4).tolist())


def full(out, cli):
    out = pathlib.Path(out)
    cases = [  # google/vit-base-patch16-224 and microsoft/swin-tiny-patch4-window7-224 configurations
        ("hf_vit_base_patch16_224", ViTForImageClassification(ViTConfig(num_labels=1000))),
        ("hf_swin_tiny_patch4_window7_224", SwinForImageClassification(SwinConfig(
            embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7, image_size=224, patch_size=4,
            num_labels=1000))),
    ]
    for k, (name, model) in enumerate(cases):
        randomise(model, 900 + k)
        x = torch.randn((1, 3, 224, 224), generator=torch.Generator().manual_seed(950 + k))
        ref = write(out / name, model, x, hub=True)
        np.save(out / name / "input.npy", x.numpy())
        if cli:
            r = subprocess.run([cli, "--weights", str(out / name), "--input-npy", str(out / name / "input.npy"),
                                "--save-logits", str(out / name / "fovea.npy"), "--top-k", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode:
                print(f"full {name}: fovea-classify failed: {r.stderr.strip()} -> FAIL", flush=True)
                continue
            got = np.load(out / name / "fovea.npy")
            want = ref["logits"].numpy()
            err = float(np.abs(got - want).max())
            scale = max(1.0, float(np.abs(want).max()))
            print(f"full {name}: fovea vs transformers logits max abs err {err:.3g}, max |logit| {scale:.3g}, "
                  f"relative {err / scale:.3g} -> {'PASS' if err <= 1e-5 * scale else 'FAIL'}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--full")
    ap.add_argument("--check", help="fovea-classify to compare the full-size models with")
    ap.add_argument("--only", nargs="*", help="tiny fixtures to make")
    ap.add_argument("--clip", nargs=2, metavar=("OUT", "ZEROSHOT"), help="make hf_clip in OUT and its zero-shot case in ZEROSHOT")
    ap.add_argument("--siglip", nargs=2, metavar=("OUT", "ZEROSHOT"), help="the same for hf_siglip")
    a = ap.parse_args()
    if a.out:
        tiny(a.out, a.only)
    if a.full:
        full(a.full, a.check)
    if a.clip:
        contrastive(*a.clip, "clip")
    if a.siglip:
        contrastive(*a.siglip, "siglip")


if __name__ == "__main__":
    main()

"""fovea-embed (examples/embed) end to end: the index it writes is fovea.embed of the images, and
its search results are NumPy's brute-force cosine search over the same vectors. ctest passes the
program's path in FOVEA_EMBED."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import DATA, SOURCE

EMBED = os.environ.get("FOVEA_EMBED")
pytestmark = pytest.mark.skipif(not EMBED, reason="FOVEA_EMBED (the fovea-embed program) not given")
IMAGES = SOURCE / "examples/fashion_mnist/images"
MODEL = SOURCE / "examples/fashion_mnist/models/vit_fashion_mnist"


def run(*args):
    return subprocess.run([EMBED, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_index_and_search_equal_numpy_brute_force(fovea, tmp_path):
    out = tmp_path / "index.npy"
    r = run("--weights", MODEL, IMAGES, "--out", out, "--batch-size", 3)
    assert r.returncode == 0, r.stderr
    index = np.load(out)
    names = (tmp_path / "index.txt").read_text().splitlines()
    files = sorted(str(p) for p in IMAGES.rglob("*.png"))
    assert names == files
    model = fovea.load_model(str(MODEL))
    assert np.allclose(index, fovea.embed(model, fovea.preprocess(model, files)), atol=1e-6)
    assert np.allclose(np.linalg.norm(index, axis=1), 1, atol=1e-6)

    # three indexed images (each finds itself first) and two photos from elsewhere
    queries = files[:3] + [str(DATA / "images/photo_chelsea_333x251.png"), str(DATA / "images/grey_217x263.png")]
    r = run("--weights", MODEL, "--index", out, "--query", *queries, "--top-k", 4, "--json")
    assert r.returncode == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert [g["query"] for g in got] == queries
    q = fovea.embed(model, fovea.preprocess(model, queries)).astype(np.float64)
    scores = q @ index.astype(np.float64).T
    for g, s in zip(got, scores):
        want = np.argsort(-s, kind="stable")[:4]
        assert [h["index"] for h in g["neighbours"]] == list(want)
        assert [h["path"] for h in g["neighbours"]] == [names[i] for i in want]
        assert np.allclose([h["score"] for h in g["neighbours"]], s[want], atol=1e-6)
    for i in range(3):
        assert got[i]["neighbours"][0]["index"] == i and abs(got[i]["neighbours"][0]["score"] - 1) < 1e-5

    text = run("--weights", MODEL, "--index", out, "--query", queries[0], "--top-k", 2)
    assert text.returncode == 0 and text.stdout.splitlines()[0] == queries[0]
    assert text.stdout.splitlines()[1].split()[1] == names[0]


def test_bad_input_is_an_error_line(tmp_path):
    good = tmp_path / "index.npy"
    assert run("--weights", MODEL, IMAGES, "--out", good).returncode == 0
    bad = tmp_path / "narrow.npy"
    np.save(bad, np.zeros((2, 7), np.float32))
    (tmp_path / "narrow.txt").write_text("a.png\nb.png\n")
    short = tmp_path / "short.npy"
    np.save(short, np.load(good))
    (tmp_path / "short.txt").write_text("only-one.png\n")
    lonely = tmp_path / "lonely.npy"
    np.save(lonely, np.load(good))
    img = IMAGES / "test0000_ankle_boot.png"
    cases = {
        "neither --out nor --index": ([img], "give --out"),
        "both": ([img, "--out", tmp_path / "x.npy", "--index", good], "give --out"),
        "index without queries": (["--index", good], "--query"),
        "other model's width": (["--index", bad, "--query", img], "dimensions"),
        "paths file too short": (["--index", short, "--query", img], "fewer paths"),
        "no paths file": (["--index", lonely, "--query", img], "cannot open"),
        "missing query": (["--index", good, "--query", tmp_path / "none.png"], "none.png"),
        "top-k 0": (["--index", good, "--query", img, "--top-k", "0"], "--top-k"),
        "empty folder": ([tmp_path / "empty", "--out", tmp_path / "e.npy"], "no image files"),
        "not an index": (["--index", img, "--query", img], "test0000_ankle_boot.png"),
    }
    (tmp_path / "empty").mkdir()
    for what, (args, message) in cases.items():
        r = run("--weights", MODEL, *args)
        assert r.returncode == 1, (what, r.returncode, r.stderr)
        assert r.stderr.startswith("error: ") and message in r.stderr, (what, r.stderr)

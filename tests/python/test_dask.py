"""examples/python/dask_embed.py on a real 2-worker LocalCluster gives the same embeddings, in the
same order, as the same job in one process without Dask."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import SOURCE

pytest.importorskip("distributed")
SCRIPT = SOURCE / "examples/python/dask_embed.py"
MODEL = SOURCE / "examples/fashion_mnist/models/vit_fashion_mnist"


def run(out, *args):
    r = subprocess.run([sys.executable, str(SCRIPT), "--weights", str(MODEL), "--out", str(out), *args],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert r.returncode == 0, r.stdout + r.stderr
    print(r.stdout.strip())
    sys.path.insert(0, str(SCRIPT.parent))
    from dask_embed import read_shards
    return read_shards(out)


@pytest.mark.parametrize("source", ["folder", "fashion-mnist"])
def test_two_workers_equal_one_process(tmp_path, source):
    if source == "folder":
        args = [str(SOURCE / "examples/fashion_mnist/images"), "--batch", "3"]
    else:
        if not os.path.exists("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"):
            pytest.skip("Debian's dataset-fashion-mnist is not installed")
        args = ["--fashion-mnist", "--limit", "1000", "--batch", "100"]
    names1, one = run(tmp_path / "one", *args, "--workers", "0")
    names2, two = run(tmp_path / "two", *args, "--workers", "2")
    assert names1 == names2 and len(names1) == one.shape[0] > 0
    assert names1 == sorted(names1) or source == "fashion-mnist"
    assert np.array_equal(one, two)
    assert np.allclose(np.linalg.norm(one, axis=1), 1, atol=1e-5)


def test_bad_arguments_are_one_error_line(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), "--weights", str(MODEL), "--out", str(tmp_path), str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "error: no images" in r.stderr

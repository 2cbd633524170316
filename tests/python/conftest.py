"""Shared by fovea's Python tests: where the fixtures are, and a reader for their references
(safetensors written by tests/tools/make_fixtures.py from timm's float64 forward)."""
import json
import pathlib
import struct

import numpy as np
import pytest

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
SOURCE = DATA.parent.parent


def read_safetensors(path):
    raw = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    types = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        if v["dtype"] == "BF16":  # the upper half of a float32
            bits = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=np.uint16).astype(np.uint32) << 16
            out[k] = bits.view(np.float32).reshape(v["shape"])
        else:
            out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=types[v["dtype"]]).reshape(v["shape"])
    return out


def fixtures():
    return sorted(p.name for p in DATA.iterdir() if (p / "ref.safetensors").exists())


def assert_close(got, ref, what):
    """The C++ parity tests' bar: max abs error <= 1e-5 * max(1, max |ref|)."""
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1)
    assert got.shape == ref.shape, f"{what}: {got.shape} values, reference {ref.shape}"
    err = np.max(np.abs(got - ref)) if got.size else 0.0
    bar = 1e-5 * max(1.0, float(np.max(np.abs(ref))) if ref.size else 1.0)
    assert np.isfinite(err) and err <= bar, f"{what}: max abs err {err:.3g} > {bar:.3g}"


@pytest.fixture(scope="session")
def fovea():
    import fovea as f
    return f

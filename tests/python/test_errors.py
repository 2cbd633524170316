"""Bad input from Python is a fovea.Error (a ValueError) with fovea's message, never a crash."""
import numpy as np
import pytest

from conftest import DATA, read_safetensors

NAME = "vit_small_patch16_224"


@pytest.fixture(scope="module")
def model(fovea):
    return fovea.load_model(str(DATA / NAME))


@pytest.fixture(scope="module")
def x():
    return read_safetensors(DATA / NAME / "ref.safetensors")["input"].copy()


BAD = {
    "float64": (lambda x: x.astype(np.float64), "float32"),
    "int32": (lambda x: x.astype(np.int32), "float32"),
    "rank 3": (lambda x: x[0], "dimensions"),
    "rank 5": (lambda x: x[None], "dimensions"),
    "2 channels": (lambda x: x[:, :2], r"expected \[N,3"),
    "not a multiple of the patch": (lambda x: x[:, :, :, :-3], "multiples of"),
    "empty batch": (lambda x: x[:0], "N >= 1"),
    "None": (lambda x: None, "None"),
    "a string": (lambda x: "image.png", "float32"),
    "a list of lists": (lambda x: [[1.0, 2.0]], "float32"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_arrays(fovea, model, x, case):
    make, message = BAD[case]
    with pytest.raises(fovea.Error, match=message):
        model(make(x))
    with pytest.raises(fovea.Error):
        model.forward_features(make(x))


def test_views_work_without_surprises(fovea, model, x):
    want = model(x)
    ro = x.copy()
    ro.flags.writeable = False
    assert np.array_equal(model(ro), want)  # read in place: fovea never writes its input
    wide = np.zeros(x.shape[:3] + (x.shape[3] * 2,), np.float32)
    wide[..., ::2] = x
    assert not wide[..., ::2].flags.c_contiguous
    assert np.array_equal(model(wide[..., ::2]), want)  # copied once to a contiguous batch
    fortran = np.asfortranarray(x)
    assert np.array_equal(model(fortran), want)


def test_error_is_a_value_error(fovea):
    assert issubclass(fovea.Error, ValueError)


@pytest.mark.parametrize("call", ["missing file", "folder without weights", "bad precision", "bad classes",
                                  "unknown preset", "negative threads"])
def test_bad_loads(fovea, tmp_path, call):
    with pytest.raises(fovea.Error):
        {"missing file": lambda: fovea.load_model(str(tmp_path / "nothing.safetensors")),
         "folder without weights": lambda: fovea.load_model(str(tmp_path)),
         "bad precision": lambda: fovea.load_model(str(DATA / NAME), precision="fp8"),
         "bad classes": lambda: fovea.load_model(str(DATA / NAME), num_classes=7),
         "unknown preset": lambda: fovea.create_model("vit_nonexistent", str(DATA / NAME)),
         "negative threads": lambda: fovea.set_num_threads(-1)}[call]()


def test_bad_images(fovea, model, tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    cases = [([str(tmp_path / "missing.png")], "missing.png"), ([str(corrupt)], "corrupt.png"),
             ([b"not an image"], "item 0"), ([], "no images"), ([None], "got NoneType"), ([3.5], "got float"),
             ([np.zeros((4, 4, 3), np.float32)], "uint8"), ([np.zeros((4, 4, 2), np.uint8)], "uint8"),
             ([np.zeros((0, 4, 3), np.uint8)], "pixels"), (None, "list of images"), (42, "list of images")]
    for items, message in cases:
        with pytest.raises(fovea.Error, match=message):
            fovea.preprocess(model, items)
    with pytest.raises(fovea.Error):
        fovea.preprocess(3, ["x.png"])


def test_bad_head_and_top_k(fovea, model, x):
    with pytest.raises(fovea.Error):
        model.forward_head(np.zeros((1, 5, 3), np.float32))
    with pytest.raises(fovea.Error):
        fovea.top_k(model, np.zeros((2, 0), np.float32), 3)
    with pytest.raises(fovea.Error):
        model.forward_intermediates(x, indices=[99])
    with pytest.raises(fovea.Error):
        model.forward_intermediates(x, output_fmt="NHWC")
    assert fovea.top_k(model, model(x), 100)[0][0][0] >= 0  # k larger than the classes: all of them

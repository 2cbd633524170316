"""Threads: one model shared by Python threads gives identical results, and forward releases the
GIL (another thread runs Python while one is inside forward). What two threads gain in time is a
benchmark's figure: bench/python_overhead.py --python-threads 2."""
import sys
import threading

import numpy as np

from conftest import DATA, read_safetensors


def big_input(name, n):
    x = read_safetensors(DATA / name / "ref.safetensors")["input"]
    return np.ascontiguousarray(np.concatenate([x * (1 + 0.1 * i) for i in range(n)]).astype(np.float32))


def test_four_threads_share_one_model(fovea):
    model = fovea.load_model(str(DATA / "swin_tiny_patch4_window7_224"))
    x = big_input("swin_tiny_patch4_window7_224", 4)
    want = model(x)
    out = [None] * 4

    def run(i):
        for _ in range(5):
            y = model(x)
            if out[i] is None or np.array_equal(y, want):
                out[i] = y
    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for y in out:
        assert np.array_equal(y, want)


def test_forward_releases_the_gil(fovea):
    """With no forced GIL switches (a switch interval of 100 s), this thread, waiting to run Python,
    gets the GIL back only when the other thread gives it up: inside forward if fovea releases it
    there, else when that thread ends. So whether this thread saw the call unfinished decides it;
    no speed is asserted, only that this thread is scheduled once while the call runs."""
    before, interval = fovea.get_num_threads(), sys.getswitchinterval()
    fovea.set_num_threads(1)
    try:
        # the bundled Fashion-MNIST ViT on a batch of 128: about 80 ms at one thread here
        model = fovea.load_model(str(DATA.parent.parent / "examples/fashion_mnist/models/vit_fashion_mnist"))
        x = np.random.default_rng(0).standard_normal((128, *model.pretrained_cfg["input_size"])).astype(np.float32)
        want = model(x)
        state = {"finished": False}
        entering = threading.Event()

        def call():
            entering.set()
            state["y"] = model(x)
            state["finished"] = True
        sys.setswitchinterval(100.0)
        t = threading.Thread(target=call)
        t.start()
        entering.wait()  # blocks without the GIL; returning needs it back from the other thread
        seen_unfinished = not state["finished"]
        t.join()
        assert seen_unfinished, "forward held the GIL for the whole call"
        assert np.array_equal(state["y"], want)
    finally:
        sys.setswitchinterval(interval)
        fovea.set_num_threads(before)

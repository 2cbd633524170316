#!/usr/bin/env python3
"""fovea-serve against real clients on loopback ports: every endpoint, JSON and binary tensors,
exact numbers against fovea-classify, dynamic batching under concurrent clients, bad requests,
idle / slow / vanishing clients, API keys, SIGTERM under load, and two replicas behind nginx.

  test_serve.py --serve build/examples/fovea-serve --classify build/examples/fovea-classify --source .
(ctest runs it; needs Python 3 with numpy and requests; the nginx test needs nginx.)
"""
import argparse
import base64
import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import numpy as np
import requests

ARGS = None


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()
SWIN = "swin_fashion_mnist"
VIT = "vit_fashion_mnist"


def source(*p):
    return os.path.join(ARGS.source, *p)


def images():
    d = source("examples", "fashion_mnist", "images")
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".png"))


class Server:
    """fovea-serve on a free loopback port, its stderr in a file."""

    def __init__(self, *flags, env=None):
        fd, self.log_path = tempfile.mkstemp(suffix=".log")
        self.proc = subprocess.Popen([ARGS.serve, "--port", "0", *flags], stdout=fd, stderr=fd, env=env)
        os.close(fd)
        deadline = time.time() + 60
        self.port = None
        while time.time() < deadline:
            text = read(self.log_path)
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            if m and "fovea-serve: ready" in text:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise RuntimeError("fovea-serve exited: " + text)
            time.sleep(0.05)
        if self.port is None:
            raise RuntimeError("fovea-serve did not become ready: " + read(self.log_path))
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def text(self):
        return read(self.log_path)


def metric(text, name, model):
    m = re.search(r"^%s\{model=\"%s\"\} (\d+)" % (name, model), text, re.M)
    return int(m.group(1)) if m else 0


def fp32_request(x, binary_in=False, binary_out=False, outputs=None):
    """An infer request for the pixels x [N, C, H, W]: (body, headers)."""
    inp = {"name": "input", "datatype": "FP32", "shape": list(x.shape)}
    req = {"inputs": [inp]}
    if outputs is not None:
        req["outputs"] = outputs
    if binary_out:
        req.setdefault("parameters", {})["binary_data_output"] = True
    if not binary_in:
        inp["data"] = x.ravel().tolist()
        return json.dumps(req).encode(), {"Content-Type": "application/json"}
    raw = x.astype("<f4").tobytes()
    inp["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps(req).encode()
    return header + raw, {"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"}


def parse_response(r):
    """{output name: numpy array or list of strings} from a JSON or binary response."""
    assert r.status_code == 200, (r.status_code, r.text[:500])
    hl = r.headers.get("Inference-Header-Content-Length")
    body = r.content
    header = json.loads(body[: int(hl)] if hl is not None else body)
    rest = body[int(hl):] if hl is not None else b""
    out = {}
    for o in header["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is not None:
            chunk, rest = rest[:size], rest[size:]
            if o["datatype"] == "FP32":
                out[o["name"]] = np.frombuffer(chunk, "<f4").reshape(o["shape"])
            else:
                items = []
                while chunk:
                    n = struct.unpack("<I", chunk[:4])[0]
                    items.append(chunk[4 : 4 + n].decode())
                    chunk = chunk[4 + n :]
                out[o["name"]] = items
        elif o["datatype"] == "FP32":
            out[o["name"]] = np.array(o["data"], dtype=np.float32).reshape(o["shape"])
        else:
            out[o["name"]] = o["data"]
    assert rest == b"", "bytes left after the outputs"
    return out


def classify_cli(*args):
    r = subprocess.run([ARGS.classify, *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def reference(model, x, tmp):
    """fovea-classify's logits and pre-logit features for x, through .npy files."""
    np.save(os.path.join(tmp, "x.npy"), x)
    classify_cli("--weights", source("examples", "fashion_mnist", "models", model), "--input-npy", os.path.join(tmp, "x.npy"),
                 "--save-logits", os.path.join(tmp, "l.npy"), "--save-features", os.path.join(tmp, "f.npy"), "--threads", "2")
    return np.load(os.path.join(tmp, "l.npy")), np.load(os.path.join(tmp, "f.npy"))


def infer(url, model, body, headers, timeout=60):
    return requests.post(f"{url}/v2/models/{model}/infer", data=body, headers=headers, timeout=timeout)


class Serving(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("--threads", "2", "--max-batch-size", "8", "--max-queue-delay-us", "20000", "--max-body-mb", "4")
        cls.url = cls.s.url
        cls.tmp = tempfile.mkdtemp()

    @classmethod
    def tearDownClass(cls):
        rc = cls.s.stop()
        shutil.rmtree(cls.tmp)
        assert rc == 0, rc

    def test_health_and_metadata(self):
        self.assertEqual(requests.get(self.url + "/v2/health/live").json(), {"live": True})
        self.assertEqual(requests.get(self.url + "/v2/health/ready").json(), {"ready": True})
        meta = requests.get(self.url + "/v2").json()
        self.assertEqual(meta["name"], "fovea")
        self.assertEqual(set(meta["extensions"]), {"binary_tensor_data", "classification"})
        m = requests.get(f"{self.url}/v2/models/{SWIN}").json()
        self.assertEqual(m["name"], SWIN)
        self.assertEqual(m["inputs"][0], {"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28]})
        self.assertEqual(m["inputs"][1], {"name": "image", "datatype": "BYTES", "shape": [-1]})
        self.assertEqual([o["name"] for o in m["outputs"]], ["logits", "probabilities", "embeddings"])
        self.assertEqual(m["outputs"][0]["shape"], [-1, 10])
        self.assertEqual(requests.get(f"{self.url}/v2/models/{SWIN}/versions/1").json()["name"], SWIN)
        self.assertEqual(requests.get(f"{self.url}/v2/models/{VIT}/ready").status_code, 200)
        self.assertEqual(requests.get(f"{self.url}/v2/models/{VIT}/versions/1/ready").status_code, 200)
        metrics = requests.get(self.url + "/metrics")
        self.assertEqual(metrics.status_code, 200)
        for name in ["fovea_requests_total", "fovea_inferences_total", "fovea_batches_total", "fovea_request_duration_seconds_bucket",
                     "fovea_queue_size"]:
            self.assertIn(name, metrics.text)

    def test_errors_have_status_and_json(self):
        cases = [
            ("GET", "/v2/models/nope", None, 404),
            ("GET", "/v2/models/../../etc/passwd", None, 404),
            ("GET", "/v2/models/%2e%2e%2fetc", None, 404),
            ("GET", "/nothing", None, 404),
            ("GET", f"/v2/models/{SWIN}/versions/2", None, 404),
            ("POST", "/v2/health/live", b"", 405),
            ("GET", f"/v2/models/{SWIN}/infer", None, 405),
            ("DELETE", f"/v2/models/{SWIN}", None, 405),
            ("POST", "/v2/models/nope/infer", b"{}", 404),
        ]
        for method, path, body, status in cases:
            r = requests.request(method, self.url + path, data=body)
            self.assertEqual(r.status_code, status, (method, path, r.text))
            self.assertIn("error", r.json(), path)
        self.assertEqual(requests.post(f"{self.url}/v2/health/ready").headers.get("Allow"), "GET")

    def test_json_and_binary_give_model_forward_numbers(self):
        rng = np.random.default_rng(1)
        for model in (SWIN, VIT):
            x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
            logits, feats = reference(model, x, self.tmp)
            outs = [{"name": "logits"}, {"name": "embeddings"}]
            for binary_in in (False, True):
                for binary_out in (False, True):
                    got = parse_response(infer(self.url, model, *fp32_request(x, binary_in, binary_out, outs)))
                    np.testing.assert_array_equal(got["logits"], logits, err_msg=f"{model} in {binary_in} out {binary_out}")
                    np.testing.assert_array_equal(got["embeddings"], feats)
            # probabilities: the softmax fovea-classify prints
            got = parse_response(infer(self.url, model, *fp32_request(x, outputs=[{"name": "probabilities"}])))
            e = np.exp(logits.astype(np.float64) - logits.max(1, keepdims=True))
            np.testing.assert_allclose(got["probabilities"], e / e.sum(1, keepdims=True), rtol=1e-6, atol=1e-7)

    def test_image_bytes_give_fovea_classify_top_k(self):
        files = images()[:4]
        cli = [json.loads(line) for line in classify_cli("--json", "--top-k", "3", *files).splitlines()]
        blobs = [read(f, "rb") for f in files]
        outputs = [{"name": "probabilities", "parameters": {"classification": 3}}]
        # JSON, base64 strings
        req = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [len(blobs)],
                           "data": [base64.b64encode(b).decode() for b in blobs]}], "outputs": outputs}
        got_json = parse_response(infer(self.url, SWIN, json.dumps(req).encode(), {}))["probabilities"]
        # binary: each element a 4-byte length and its bytes; the classification strings come back binary too
        raw = b"".join(struct.pack("<I", len(b)) + b for b in blobs)
        req = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [len(blobs)], "parameters": {"binary_data_size": len(raw)}}],
               "outputs": [{"name": "probabilities", "parameters": {"classification": 3, "binary_data": True}}]}
        header = json.dumps(req).encode()
        got_bin = parse_response(infer(self.url, SWIN, header + raw, {"Inference-Header-Content-Length": str(len(header))}))["probabilities"]
        self.assertEqual(got_json, got_bin)
        for i, c in enumerate(cli):
            for j, p in enumerate(c["top"]):
                score, index, label = got_json[i * 3 + j].split(":", 2)
                self.assertEqual(int(index), p["class"])
                self.assertEqual(label, p["label"])
                self.assertAlmostEqual(float(score), p["prob"], places=6)

    def test_concurrent_clients_are_batched_and_exact(self):
        rng = np.random.default_rng(7)
        xs = [rng.standard_normal((1 + i % 2, 1, 28, 28)).astype(np.float32) for i in range(48)]
        alone = [parse_response(infer(self.url, VIT, *fp32_request(x, True, True)))["logits"] for x in xs]
        before = requests.get(self.url + "/metrics").text

        def call(i):
            return parse_response(infer(self.url, VIT, *fp32_request(xs[i], True, True)))["logits"]

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            together = list(ex.map(call, range(len(xs))))
        after = requests.get(self.url + "/metrics").text
        for a, b in zip(alone, together):
            np.testing.assert_array_equal(a, b)  # bit for bit, whatever the batch it ran in
        images = metric(after, "fovea_inferences_total", VIT) - metric(before, "fovea_inferences_total", VIT)
        batches = metric(after, "fovea_batches_total", VIT) - metric(before, "fovea_batches_total", VIT)
        self.assertEqual(images, sum(x.shape[0] for x in xs))
        self.assertLess(batches, images / 1.5, "concurrent requests were not batched")

    def test_bad_requests(self):
        x = np.zeros((1, 1, 28, 28), np.float32)
        good, _ = fp32_request(x)
        nan = x.copy()
        nan[0, 0, 3, 3] = np.nan
        inf = x.copy()
        inf[0, 0, 0, 0] = np.inf
        raw = x.tobytes()
        bad_bodies = {
            "malformed": b"{\"inputs\": [",
            "not an object": b"[1, 2]",
            "deep": b"[" * 100000 + b"]" * 100000,
            "deep in data": json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                                    "data": [[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]}]}).encode(),
            "no inputs": b"{}",
            "two inputs": json.dumps({"inputs": [json.loads(good)["inputs"][0]] * 2}).encode(),
            "wrong rank": json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [28, 28], "data": [0] * 784}]}).encode(),
            "wrong channels": fp32_request(np.zeros((1, 3, 28, 28), np.float32))[0],
            "count mismatch": json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28], "data": [0] * 783}]}).encode(),
            "strings as FP32": json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 1, 1], "data": ["a"]}]}).encode(),
            "datatype": json.dumps({"inputs": [{"name": "input", "datatype": "INT8", "shape": [1, 1, 28, 28], "data": [0] * 784}]}).encode(),
            "negative dim": json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 1, 28, 28], "data": []}]}).encode(),
            "huge dims": json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 9999999, 9999999], "data": []}]}).encode(),
            "batch too large": fp32_request(np.zeros((9, 1, 28, 28), np.float32))[0],
            "size the model cannot take": fp32_request(np.zeros((1, 1, 27, 27), np.float32))[0],
            "unknown output": fp32_request(x, outputs=[{"name": "scores"}])[0],
            "bad base64": json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["***"]}]}).encode(),
            "corrupt image": json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                                     "data": [base64.b64encode(b"\x89PNG\r\n\x1a\nnot really").decode()]}]}).encode(),
            "classification of embeddings": fp32_request(x, outputs=[{"name": "embeddings", "parameters": {"classification": 2}}])[0],
        }
        for name, body in bad_bodies.items():
            r = infer(self.url, SWIN, body, {})
            self.assertEqual(r.status_code, 400, (name, r.text[:300]))
            self.assertIn("error", r.json(), name)
        for name, arr in {"NaN": nan, "Inf": inf}.items():
            r = infer(self.url, SWIN, *fp32_request(arr, binary_in=True))
            self.assertEqual(r.status_code, 400, name)
            self.assertIn("NaN or Inf", r.json()["error"])
        # binary framing: truncated data, a size that disagrees with the shape, a header length beyond the body
        header = json.dumps({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 1, 28, 28],
                                         "parameters": {"binary_data_size": len(raw)}}]}).encode()
        for name, body, hl in [("truncated", header + raw[:-7], len(header)), ("extra", header + raw + b"x", len(header)),
                               ("header length", header + raw, len(header) + len(raw) + 1), ("header length text", header + raw, "12x")]:
            r = infer(self.url, SWIN, body, {"Inference-Header-Content-Length": str(hl)})
            self.assertEqual(r.status_code, 400, name)
        # the body limit (4 MB here) is enforced from Content-Length, before the body is read
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as c:
            c.sendall(f"POST /v2/models/{SWIN}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {500 << 20}\r\n\r\n".encode())
            reply = c.recv(4096).decode()
            self.assertTrue(reply.startswith("HTTP/1.1 413"), reply)
        r = infer(self.url, SWIN, b"{" + b" " * (5 << 20) + b"}", {})
        self.assertEqual(r.status_code, 413)
        # a header block beyond 16 KB
        r = requests.get(self.url + "/v2", headers={"X-Big": "a" * 20000})
        self.assertIn(r.status_code, (400, 431))
        self.assertEqual(requests.get(self.url + "/v2/health/ready").status_code, 200)

    def test_idle_slow_and_vanishing_clients(self):
        # hundreds of idle connections held open: others are still served at once
        idle = [socket.create_connection(("127.0.0.1", self.s.port)) for _ in range(300)]
        try:
            t = time.time()
            for _ in range(20):
                self.assertEqual(requests.get(self.url + "/v2/health/ready", timeout=5).status_code, 200)
            self.assertLess(time.time() - t, 5)
            x = np.zeros((1, 1, 28, 28), np.float32)
            self.assertEqual(infer(self.url, SWIN, *fp32_request(x), timeout=10).status_code, 200)
        finally:
            for c in idle:
                c.close()
        # a client that sends half a body and disconnects
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", self.s.port)) as c:
                c.sendall(f"POST /v2/models/{SWIN}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{{\"inputs\"".encode())
        # a client that asks for a large response and reads it slowly, while another is served
        big = np.zeros((8, 1, 28, 28), np.float32)
        body, headers = fp32_request(big, outputs=[{"name": "embeddings"}, {"name": "logits"}, {"name": "probabilities"}])
        slow = socket.create_connection(("127.0.0.1", self.s.port))
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        slow.sendall(f"POST /v2/models/{VIT}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        try:
            t = time.time()
            for _ in range(5):
                self.assertEqual(infer(self.url, SWIN, *fp32_request(np.zeros((1, 1, 28, 28), np.float32)), timeout=10).status_code, 200)
            self.assertLess(time.time() - t, 5)
            got = b""
            while b"\r\n\r\n" not in got:
                got += slow.recv(64)
                time.sleep(0.01)
            self.assertTrue(got.startswith(b"HTTP/1.1 200"))
        finally:
            slow.close()
        self.assertEqual(requests.get(self.url + "/v2/health/live").status_code, 200)


class Keys(unittest.TestCase):
    def test_api_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".key") as f:
            f.write("s3cret\n")
            f.flush()
            s = Server("--api-key-file", f.name, "--threads", "1")
            try:
                self.assertEqual(requests.get(s.url + "/v2/health/live").status_code, 200)
                self.assertEqual(requests.get(s.url + "/v2/health/ready").status_code, 200)
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
                    r = requests.get(s.url + "/v2", headers=headers)
                    self.assertEqual(r.status_code, 401)
                    self.assertIn("error", r.json())
                self.assertEqual(requests.get(s.url + "/v2", headers={"Authorization": "Bearer s3cret"}).status_code, 200)
                body, headers = fp32_request(np.zeros((1, 1, 28, 28), np.float32))
                self.assertEqual(infer(s.url, SWIN, body, headers).status_code, 401)
                self.assertEqual(infer(s.url, SWIN, body, {**headers, "Authorization": "Bearer s3cret"}).status_code, 200)
            finally:
                self.assertEqual(s.stop(), 0)

    def test_start_errors(self):
        for flags, text in [(["--model", "x=/nonexistent"], "error: model 'x'"), (["--max-batch-size", "0"], "error: --max-batch-size"),
                            (["--model-repository", "/nonexistent"], "error: --model-repository"), (["--bogus"], "error: unknown option"),
                            (["--api-key-file", "/nonexistent"], "error: --api-key-file")]:
            r = subprocess.run([ARGS.serve, "--port", "0", *flags], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 1, flags)
            self.assertIn(text, r.stderr)


def load(url, model, stop, results, lock):
    """One client sending requests until stop is set; each outcome is recorded."""
    x = np.random.default_rng(threading.get_ident() % 1000).standard_normal((1, 1, 28, 28)).astype(np.float32)
    body, headers = fp32_request(x, True, True)
    session = requests.Session()
    while not stop.is_set():
        try:
            r = session.post(f"{url}/v2/models/{model}/infer", data=body, headers=headers, timeout=30)
            outcome = r.status_code
        except requests.exceptions.ConnectionError as e:
            outcome = "refused" if "refused" in str(e).lower() else "broken: " + str(e)[:200]
        with lock:
            results.append(outcome)
        if outcome == "refused":
            time.sleep(0.01)


class Shutdown(unittest.TestCase):
    def test_sigterm_under_load_loses_no_accepted_request(self):
        s = Server("--threads", "2", "--max-queue-delay-us", "5000")
        stop, lock, results = threading.Event(), threading.Lock(), []
        clients = [threading.Thread(target=load, args=(s.url, SWIN, stop, results, lock)) for _ in range(16)]
        for c in clients:
            c.start()
        time.sleep(1.5)
        s.proc.send_signal(signal.SIGTERM)
        rc = s.proc.wait(30)
        time.sleep(0.3)
        stop.set()
        for c in clients:
            c.join()
        self.assertEqual(rc, 0, s.text()[-2000:])
        ok = sum(1 for r in results if r == 200)
        # every request the server took is answered: 200, or 503 for one that came after the stop
        # on a kept-alive connection; later ones find the port closed
        self.assertGreater(ok, 50)
        self.assertTrue(all(r in (200, 503, "refused") for r in results), [r for r in results if r not in (200, 503, "refused")][:5])
        self.assertIn("fovea-serve: stopped", s.text())


@unittest.skipUnless(shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"), "nginx not installed")
class Replicas(unittest.TestCase):
    def test_two_replicas_behind_nginx(self):
        a, b = Server("--threads", "1"), Server("--threads", "1")
        tmp = tempfile.mkdtemp()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        conf = f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream fovea {{ server 127.0.0.1:{a.port} max_fails=0; server 127.0.0.1:{b.port} max_fails=0; }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 64m;
    location / {{
      proxy_pass http://fovea;
      # a replica that refuses the connection or answers 503 while stopping did not run the
      # request: the next replica may, even for POST
      proxy_next_upstream error timeout http_503 non_idempotent;
    }}
  }}
}}
"""
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(conf)
        nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-c", os.path.join(tmp, "nginx.conf"), "-p", tmp],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    if requests.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                        break
                except requests.exceptions.ConnectionError:
                    time.sleep(0.05)
            stop, lock, results = threading.Event(), threading.Lock(), []
            clients = [threading.Thread(target=load, args=(url, SWIN, stop, results, lock)) for _ in range(8)]
            for c in clients:
                c.start()
            time.sleep(2)
            served_a = metric(requests.get(a.url + "/metrics").text, "fovea_inferences_total", SWIN)
            served_b = metric(requests.get(b.url + "/metrics").text, "fovea_inferences_total", SWIN)
            a.proc.send_signal(signal.SIGTERM)  # one replica stops during load
            self.assertEqual(a.proc.wait(30), 0)
            time.sleep(1.5)
            stop.set()
            for c in clients:
                c.join()
            self.assertGreater(served_a, 10, "load did not reach replica a")
            self.assertGreater(served_b, 10, "load did not reach replica b")
            bad = [r for r in results if r != 200]
            self.assertEqual(bad, [], f"{len(bad)} of {len(results)} requests failed")
            print(f"nginx: {len(results)} requests, all 200; before the stop replica a ran {served_a} images, b {served_b}")
        finally:
            nginx.terminate()
            nginx.wait()
            a.stop()
            b.stop()
            shutil.rmtree(tmp)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", required=True)
    ap.add_argument("--classify", required=True)
    ap.add_argument("--source", required=True)
    ARGS, rest = ap.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)

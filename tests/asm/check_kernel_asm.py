#!/usr/bin/env python3
"""Fails if a loop of any micro-kernel moves a vector register to or from the stack.

Compiles SOURCE to assembly with COMPILER and FLAGS and reads every function whose name holds
"gemm_ukernel": a backward jump closes a loop, and inside a loop no instruction may name both a
vector register and a stack slot (a spilled accumulator: the kernel would run at a fraction of its
speed). Outside its loops a kernel may use the stack once per call. (A backward jump from a block
laid out after the function's return is no loop.) --expect-spill inverts the
verdict: the self-test that proves the check can fail. x86-64 or aarch64 assembly: aarch64 where
the compiler or its flags name it (aarch64-linux-gnu-g++, clang++ --target=aarch64-linux-gnu).

  check_kernel_asm.py --compiler g++ --flags "-O2" --include include tests/asm/kernels.cpp
  check_kernel_asm.py --compiler clang++ --flags "--target=aarch64-linux-gnu -O3" --include include tests/asm/kernels.cpp
"""
import argparse
import re
import shlex
import subprocess
import sys
import tempfile

LABEL = re.compile(r"^([A-Za-z_.$][\w.$]*):")
RET = re.compile(r"^\s+retq?\b")
SYNTAX = {  # jump to a local label, a vector register, a stack slot
    "x86_64": (re.compile(r"^\s+j[a-z]+\s+(\.L\w+)"), re.compile(r"%[xyz]mm\d+"), re.compile(r"\(%r[sb]p\)")),
    # b, b.cond / bcond, cbz / cbnz, tbz / tbnz; v, q, d, s, h, b registers; [sp, ...] or [x29, ...]
    "aarch64": (re.compile(r"^\s+(?:b(?:\.?\w\w)?|cbn?z|tbn?z)\s+(?:[^,]+,\s*)*(\.L\w+)\s*$"),
                re.compile(r"\b[vqdshb]\d+\b"), re.compile(r"\[(?:sp|x29)\b")),
}


def kernel_loop_spills(asm, pattern="gemm_ukernel", arch="x86_64"):
    """(kernel count, [(kernel, instruction)] for every vector stack access inside a kernel loop)"""
    JUMP, VECTOR, STACK = SYNTAX[arch]
    kernels, spills = 0, []
    name, body = None, []

    def scan():
        labels = {}
        for i, line in enumerate(body):
            m = LABEL.match(line)
            if m and m.group(1).startswith(".L"):
                labels[m.group(1)] = i
        for j, line in enumerate(body):
            m = JUMP.match(line)
            if m and labels.get(m.group(1), j) < j:
                region = body[labels[m.group(1)]:j + 1]
                if any(RET.match(inst) for inst in region):
                    continue  # a cold block laid out after the return, jumping back: no loop
                for inst in region:
                    if VECTOR.search(inst) and STACK.search(inst):
                        spills.append((name, inst.strip()))

    for line in asm.splitlines():
        m = LABEL.match(line)
        if m and not m.group(1).startswith(".L"):
            if name:
                scan()
            name, body = (m.group(1), []) if pattern in m.group(1) else (None, [])
            kernels += name is not None
        elif name and ".cfi_endproc" in line:
            scan()
            name, body = None, []
        elif name:
            body.append(line)
    if name:
        scan()
    return kernels, spills


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("--compiler", required=True)
    ap.add_argument("--flags", default="-O2")
    ap.add_argument("--include", action="append", default=[])
    ap.add_argument("--expect-spill", action="store_true")
    ap.add_argument("--pattern", default="gemm_ukernel", help="functions whose (mangled) name holds this")
    a = ap.parse_args()
    what = f"{a.compiler} {a.flags}"
    arch = "aarch64" if "aarch64" in what else "x86_64"
    with tempfile.NamedTemporaryFile(suffix=".s") as out:
        cmd = [a.compiler, "-std=c++20", *shlex.split(a.flags), *[f"-I{i}" for i in a.include], "-S", a.source, "-o", out.name]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"{what}: cannot compile {a.source}:\n{r.stderr}")
        kernels, spills = kernel_loop_spills(open(out.name).read(), a.pattern, arch)
    if not kernels:
        sys.exit(f"{what}: no {a.pattern} function in the assembly of {a.source}")
    if a.expect_spill:
        if not spills:
            sys.exit(f"{what}: the self-test kernel shows no stack traffic in its loop; the check is blind")
        print(f"{what}: the self-test kernel is rejected, as it should be ({len(spills)} stack accesses in its loop)")
        return
    if spills:
        shown = "\n  ".join(f"{k}: {i}" for k, i in spills[:10])
        sys.exit(f"{what}: {len(spills)} vector register accesses to the stack inside micro-kernel loops:\n  {shown}")
    print(f"{what}: {kernels} micro-kernels, no vector register on the stack in their loops")


if __name__ == "__main__":
    main()

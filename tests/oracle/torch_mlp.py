#!/usr/bin/python3
"""torch_mlp.py: PyTorch as an independent oracle for runtime/mlp.c.

Reads the cases tests/unit/test_task.c writes to $HAM_TORCH_DUMP (the format is in
that file's header comment): for each, an MLP's shape and activation, its parameter
vector theta, a batch x with labels, and what mlp_loss_grad computed (float32, BLAS).
Builds nn.Sequential(Linear, act, ..., Linear) in float64, loads theta slice by slice in
ham's layout (per layer: weight, out x in row-major, then bias: nn.Linear's own), and
recomputes F.nll_loss(F.log_softmax(model(x)), labels) (the mean) and its gradient
with autograd.

Checks per case: the loss (relative 1e-5), and each parameter tensor's gradient
(max |ham - torch| <= 1e-5 * max |torch|, the tensor's own scale, so that entries
near zero do not turn float rounding into a failure).  Also that the file's cases use
every activation.  Failures go to stderr; the last line of stdout is
`N passed, N failed`, and the exit status is 1 if anything failed.

Usage: torch_mlp.py DUMP"""
import sys

import numpy as np
import torch
import torch.nn.functional as F

ACTS = {0: ("sigmoid", torch.nn.Sigmoid), 1: ("relu", torch.nn.ReLU), 2: ("tanh", torch.nn.Tanh)}
REL = 1e-5


class Reader:
    """Sequential little-endian reads from a bytes object."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt, count=1):
        size = np.dtype("<" + fmt).itemsize * count
        if self.pos + size > len(self.data):
            raise ValueError("dump truncated at byte %d" % self.pos)
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return np.frombuffer(chunk, dtype=np.dtype("<" + fmt), count=count)

    def int32(self):
        return int(self.take("i4")[0])


def read_cases(path):
    with open(path, "rb") as f:
        r = Reader(f.read())
    if r.data[:8] != b"HAMMLP1\0":
        raise ValueError("%s: not a ham MLP dump (bad magic)" % path)
    r.pos = 8
    cases = []
    for _ in range(r.int32()):
        act, nlayers = r.int32(), r.int32()
        sizes = [r.int32() for _ in range(nlayers + 1)]
        n = r.int32()
        nparams = int(r.take("i8")[0])
        theta = r.take("f4", nparams)
        x = r.take("f4", n * sizes[0]).reshape(n, sizes[0])
        labels = r.take("i4", n)
        loss = float(r.take("f8")[0])
        grad = r.take("f4", nparams)
        cases.append(dict(act=act, sizes=sizes, theta=theta, x=x, labels=labels,
                          loss=loss, grad=grad))
    if r.pos != len(r.data):
        raise ValueError("%s: %d bytes after the last case" % (path, len(r.data) - r.pos))
    return cases


def build(case):
    """The torch model with ham's theta loaded; the list of (name, param, ham offset)."""
    sizes, layers = case["sizes"], []
    for l in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[l], sizes[l + 1]))
        if l + 2 < len(sizes):
            layers.append(ACTS[case["act"]][1]())
    model = torch.nn.Sequential(*layers).double()
    theta, off, params = case["theta"], 0, []
    for name, p in model.named_parameters():   # weight then bias, layer by layer
        count = p.numel()
        with torch.no_grad():
            p.copy_(torch.from_numpy(theta[off:off + count].astype(np.float64)).view_as(p))
        params.append((name, p, off))
        off += count
    if off != len(theta):
        raise ValueError("layout: torch has %d parameters, ham %d" % (off, len(theta)))
    return model, params


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.splitlines()[-1])
    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL " + what, file=sys.stderr)

    try:
        cases = read_cases(sys.argv[1])
    except (OSError, ValueError) as e:
        print("FAIL %s" % e, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    check(len(cases) > 0 and {c["act"] for c in cases} == set(ACTS),
          "the dump holds cases for every activation (%d cases)" % len(cases))
    for i, case in enumerate(cases):
        tag = "case %d (%s %s)" % (i, ACTS[case["act"]][0], "-".join(map(str, case["sizes"])))
        model, params = build(case)
        x = torch.from_numpy(case["x"].astype(np.float64))
        labels = torch.from_numpy(case["labels"].astype(np.int64))
        loss = F.nll_loss(F.log_softmax(model(x), dim=1), labels)
        loss.backward()
        want = loss.item()
        check(abs(case["loss"] - want) <= REL * abs(want),
              "%s: loss %.9g, torch %.9g" % (tag, case["loss"], want))
        for name, p, off in params:
            g_torch = p.grad.numpy().ravel()
            g_ham = case["grad"][off:off + g_torch.size].astype(np.float64)
            err, scale = np.max(np.abs(g_ham - g_torch)), np.max(np.abs(g_torch))
            check(err <= REL * scale + 1e-12,
                  "%s: grad %s: max error %.3g, scale %.3g" % (tag, name, err, scale))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

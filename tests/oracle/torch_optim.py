#!/usr/bin/python3
"""torch_optim.py: torch.optim as an independent oracle for the stdlib baselines.

Reads the cases tests/unit/test_torch_optim.c writes to $HAM_TORCH_DUMP (one text file
per case; the format is in that file's header comment): the optimizer and its hyper
values, theta_0, the gradient sequence g_1..g_T, and ham's f64 and f32 trajectories
theta_0..theta_T.  Replays each with the matching torch.optim optimizer, in float64 and
in float32 (p.grad = the recorded g_t, then opt.step()), and compares:

  f64: |ham - torch| <= 1e-10 * |torch| + 1e-13 (a small absolute floor);
  f32: |ham - torch| <= 1e-5 * max(|torch|, scale_i), scale_i the largest |theta| of
       coordinate i over torch's float64 trajectory (f32 rounding is relative to the
       operands' magnitude, not the result's).

One line per case on stdout (two checks each, f64 and f32), failures' details on
stderr.  Also checks that the dump holds both settings of every optimizer.  The last
line of stdout is `N passed, N failed`; the exit status is 1 if anything failed.

Usage: torch_optim.py DUMP_DIR"""
import math
import os
import sys

import torch

F64_REL, F64_ABS = 1e-10, 1e-13
F32_REL = 1e-5
EXPECTED = ("sgd", "momentum", "nag", "rmsprop", "adam", "adagrad")


def make_optimizer(name, h, params):
    """torch.optim in the convention each stdlib spec's header comment names."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=h["lr"])
    if name == "momentum":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["mu"], dampening=0, nesterov=False)
    if name == "nag":
        return torch.optim.SGD(params, lr=h["lr"], momentum=h["mu"], dampening=0, nesterov=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"], centered=False, momentum=0)
    if name == "adam":
        return torch.optim.Adam(params, lr=h["lr"], betas=(h["b1"], h["b2"]), eps=h["eps"], amsgrad=False)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=h["lr"], lr_decay=h["lr_decay"], eps=h["eps"],
                                   initial_accumulator_value=0)
    raise ValueError("no torch.optim counterpart for %r" % name)


def read_case(path):
    case = {"hyper": {}, "g": {}, "f64": {}, "f32": {}}
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    if not lines or lines[0] != ["ham-torch-optim", "1"]:
        raise ValueError("%s: not a ham torch_optim dump (bad header)" % path)
    if lines[-1] != ["end"]:
        raise ValueError("%s: truncated (no 'end')" % path)
    for words in lines[1:-1]:
        key = words[0]
        if key in ("case", "optimizer"):
            case[key] = words[1]
        elif key == "hyper":
            case["hyper"][words[1]] = float(words[2])
        elif key in ("n", "steps"):
            case[key] = int(words[1])
        elif key == "theta0":
            case["theta0"] = [float(x) for x in words[1:]]
        elif key in ("g", "f64", "f32"):
            case[key][int(words[1])] = [float(x) for x in words[2:]]
        else:
            raise ValueError("%s: unknown record %r" % (path, key))
    n, steps = case["n"], case["steps"]
    ok = len(case["theta0"]) == n and sorted(case["g"]) == list(range(1, steps + 1))
    for key in ("f64", "f32"):
        ok = ok and sorted(case[key]) == list(range(0, steps + 1))
    ok = ok and all(len(row) == n for key in ("g", "f64", "f32") for row in case[key].values())
    if not ok:
        raise ValueError("%s: records missing or of the wrong length" % path)
    return case


def replay(case, dtype):
    """torch's trajectory theta_0..theta_T, as a (T+1) x n float64 tensor."""
    p = torch.nn.Parameter(torch.tensor(case["theta0"], dtype=torch.float64).to(dtype))
    opt = make_optimizer(case["optimizer"], case["hyper"], [p])
    traj = [p.detach().to(torch.float64).clone()]
    for t in range(1, case["steps"] + 1):
        p.grad = torch.tensor(case["g"][t], dtype=torch.float64).to(dtype)
        opt.step()
        traj.append(p.detach().to(torch.float64).clone())
    return torch.stack(traj)


def ham_traj(case, key):
    return torch.tensor([case[key][t] for t in range(case["steps"] + 1)], dtype=torch.float64)


def worst(err, tol):
    """(count over tol, worst err/tol, its (t, i))."""
    ratio = err / tol
    bad = int((~(err <= tol)).sum())
    k = int(torch.argmax(torch.nan_to_num(ratio, nan=math.inf)))
    t, i = divmod(k, err.shape[1])
    return bad, float(ratio.flatten()[k]), (t, i)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    root = argv[1]
    passed = failed = 0
    seen = {}
    files = sorted(f for f in os.listdir(root) if f.endswith(".txt"))
    for name in files:
        try:
            case = read_case(os.path.join(root, name))
            want64, want32 = replay(case, torch.float64), replay(case, torch.float32)
        except Exception as e:  # a broken dump or an optimizer torch lacks: a failure, not a crash
            print("FAIL %s: %s" % (name, e))
            print("%s: %s" % (name, e), file=sys.stderr)
            failed += 2
            continue
        seen[case["optimizer"]] = seen.get(case["optimizer"], 0) + 1
        got64, got32 = ham_traj(case, "f64"), ham_traj(case, "f32")
        err64 = (got64 - want64).abs()
        bad64, r64, at64 = worst(err64, F64_REL * want64.abs() + F64_ABS)
        scale = want64.abs().max(dim=0).values.clamp(min=1e-300)
        err32 = (got32 - want32).abs()
        bad32, r32, at32 = worst(err32, F32_REL * torch.maximum(want32.abs(), scale))
        ok64, ok32 = bad64 == 0, bad32 == 0
        passed += ok64 + ok32
        failed += (not ok64) + (not ok32)
        hyp = " ".join("%s=%g" % kv for kv in case["hyper"].items())
        print("%s %-34s f64: worst err/tol %.2g   f32: worst err/tol %.2g   (%s)"
              % ("ok  " if ok64 and ok32 else "FAIL", case["case"], r64, r32, hyp))
        for ok, bad, key, at, got, want in ((ok64, bad64, "f64", at64, got64, want64),
                                           (ok32, bad32, "f32", at32, got32, want32)):
            if not ok:
                t, i = at
                print("%s %s: %d of %d values differ; worst at t=%d i=%d: ham %.17g torch %.17g (g_t %s)"
                      % (case["case"], key, bad, got.numel(), t, i, float(got[t, i]), float(want[t, i]),
                         case["g"][t][i] if t > 0 else "-"), file=sys.stderr)
    for opt in EXPECTED:
        if seen.get(opt, 0) < 2:
            print("FAIL the dump has %d case(s) of %s, expected 2 settings" % (seen.get(opt, 0), opt))
            failed += 1
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

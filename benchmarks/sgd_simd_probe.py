"""Probe for issue 15's SGD row: today's epoch kernel against a 16-lane explicit-SIMD one.

The question it answers on a quiet machine: how much of the gap between today's one-thread
SGD kernel (``recsys.kernels.sgd.mf_epoch``) and the issue's 40 M updates/s at k=100 is
the inner loops' code generation. The probe kernel (``epoch_simd``, not used by any model)
does each rating's dot product and update with whole 64-byte vectors through an LLVM
intrinsic (``llvm.fma.v16f32``; two accumulators, a shuffle-tree reduction), columns past
the last whole vector by a scalar tail, and prefetches the factor rows 4 ratings ahead; it
runs on factor arrays padded to a multiple of 16 columns (``--pad``, zeros, which the
update keeps at zero) or not.

Printed, for problems whose factors fit in L1 (50 x 50), are ML-100K-sized (943 x 1,682,
1 MB of factors at k=100) and larger (20,000 x 20,000): M updates/s from CPU time (min and
median of interleaved runs), cycles per update at /proc/cpuinfo's clock, and the loss of
each kernel (equal to rounding: they compute the same epoch).

Measured in this session on the shared 2-core AMD EPYC (load 7-16), two runs that
disagree: first L1-sized 25-27 M/s today vs 31 M/s padded SIMD, ML-100K-sized 24-26 vs
30-31; then (this script, load 8.4) L1-sized 25.4 vs 20.5, ML-100K-sized 23.2 vs 21.4,
20,000 x 20,000 6.9 vs 6.2 (today's kernel prefetches the index entries 8 ahead, the probe
does not). So no gain this machine can show; both runs put today's kernel at 100-115
cycles per update whether the factors sit in L1 or not.

Usage: python benchmarks/sgd_simd_probe.py [--repeats 5] [--k 100]
"""

from __future__ import annotations

import argparse
import os
import time

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from recsys.kernels.sgd import _prefetch, mf_epoch

_VEC_BYTES = 64


def _row_ptr(context, builder, aryty, ary, row):
    zero = context.get_constant(types.intp, 0)
    r = context.cast(builder, row, types.intp, types.intp)
    return cgutils.get_item_pointer(context, builder, aryty, ary, [r, zero], wraparound=False)


def _fma(builder, vt, lanes, dt):
    name = f"llvm.fma.v{lanes}{'f32' if dt.bitwidth == 32 else 'f64'}"
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(vt, [vt, vt, vt]), name)


def _vec_info(dtype):
    lanes = _VEC_BYTES // dtype.bitwidth * 8
    return lanes


@intrinsic
def row_dot(typingctx, P, u, Q, i):
    """sum_f P[u, f] * Q[i, f] over the first (k // lanes) * lanes columns, lanes = 64 bytes."""
    if not (isinstance(P, types.Array) and P.ndim == 2 and P.layout == "C"
            and isinstance(Q, types.Array) and Q == P):
        return None
    dt = P.dtype

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        p = context.make_array(aryty)(context, builder, args[0])
        q = context.make_array(aryty)(context, builder, args[2])
        uu = context.cast(builder, args[1], sig.args[1], types.intp)
        ii = context.cast(builder, args[3], sig.args[3], types.intp)
        lanes = _vec_info(dt)
        ft = context.get_value_type(dt)
        vt = ir.VectorType(ft, lanes)
        vp = vt.as_pointer()
        k = builder.extract_value(p.shape, 1)
        nvec = builder.udiv(k, ir.Constant(k.type, lanes))
        pp = builder.bitcast(_row_ptr(context, builder, aryty, p, uu), vp)
        qp = builder.bitcast(_row_ptr(context, builder, aryty, q, ii), vp)
        fma = _fma(builder, vt, lanes, dt)
        zero_v = ir.Constant(vt, [ir.Constant(ft, 0.0)] * lanes)
        acc0 = cgutils.alloca_once_value(builder, zero_v)
        acc1 = cgutils.alloca_once_value(builder, zero_v)
        two = ir.Constant(k.type, 2)
        npair = builder.udiv(nvec, two)
        with cgutils.for_range(builder, npair) as loop:
            j0 = builder.mul(loop.index, two)
            j1 = builder.add(j0, ir.Constant(k.type, 1))
            a0 = builder.load(builder.gep(pp, [j0]), align=4)
            b0 = builder.load(builder.gep(qp, [j0]), align=4)
            a1 = builder.load(builder.gep(pp, [j1]), align=4)
            b1 = builder.load(builder.gep(qp, [j1]), align=4)
            builder.store(builder.call(fma, [a0, b0, builder.load(acc0)]), acc0)
            builder.store(builder.call(fma, [a1, b1, builder.load(acc1)]), acc1)
        odd = builder.icmp_unsigned("!=", builder.urem(nvec, two), ir.Constant(k.type, 0))
        with builder.if_then(odd):
            j = builder.sub(nvec, ir.Constant(k.type, 1))
            a = builder.load(builder.gep(pp, [j]), align=4)
            b = builder.load(builder.gep(qp, [j]), align=4)
            builder.store(builder.call(fma, [a, b, builder.load(acc0)]), acc0)
        v = builder.fadd(builder.load(acc0), builder.load(acc1))
        n = lanes
        while n > 1:
            h = n // 2
            lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), h), list(range(h))))
            hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(ir.IntType(32), h), list(range(h, n))))
            v = builder.fadd(lo, hi)
            n = h
        return builder.extract_element(v, ir.Constant(ir.IntType(32), 0))

    return dt(P, u, Q, i), codegen


@intrinsic
def row_update(typingctx, P, u, Q, i, decay, g):
    """For the first (k // lanes) * lanes columns: p, q = decay*p + g*q, decay*q + g*p."""
    if not (isinstance(P, types.Array) and P.ndim == 2 and P.layout == "C"
            and isinstance(Q, types.Array) and Q == P):
        return None
    dt = P.dtype

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        p = context.make_array(aryty)(context, builder, args[0])
        q = context.make_array(aryty)(context, builder, args[2])
        uu = context.cast(builder, args[1], sig.args[1], types.intp)
        ii = context.cast(builder, args[3], sig.args[3], types.intp)
        d = context.cast(builder, args[4], sig.args[4], dt)
        gg = context.cast(builder, args[5], sig.args[5], dt)
        lanes = _vec_info(dt)
        ft = context.get_value_type(dt)
        vt = ir.VectorType(ft, lanes)
        vp = vt.as_pointer()
        k = builder.extract_value(p.shape, 1)
        nvec = builder.udiv(k, ir.Constant(k.type, lanes))
        pp = builder.bitcast(_row_ptr(context, builder, aryty, p, uu), vp)
        qp = builder.bitcast(_row_ptr(context, builder, aryty, q, ii), vp)
        fma = _fma(builder, vt, lanes, dt)
        undef = ir.Constant(vt, ir.Undefined)
        dv = undef
        gv = undef
        for l in range(lanes):
            dv = builder.insert_element(dv, d, ir.Constant(ir.IntType(32), l))
            gv = builder.insert_element(gv, gg, ir.Constant(ir.IntType(32), l))
        with cgutils.for_range(builder, nvec) as loop:
            ap = builder.gep(pp, [loop.index])
            bp = builder.gep(qp, [loop.index])
            a = builder.load(ap, align=4)
            b = builder.load(bp, align=4)
            na = builder.call(fma, [dv, a, builder.fmul(gv, b)])
            nb_ = builder.call(fma, [dv, b, builder.fmul(gv, a)])
            builder.store(na, ap, align=4)
            builder.store(nb_, bp, align=4)
        return context.get_dummy_value()

    return types.void(P, u, Q, i, decay, g), codegen
@nb.njit(fastmath=True, cache=True)
def epoch_simd(users, items, ratings, order, mu, P, Q, bu, bi, lr, reg):
    k = P.shape[1]
    lanes = 64 // P.itemsize
    m = k // lanes * lanes
    decay = np.float32(1.0) - lr * reg
    loss = 0.0
    n = order.shape[0]
    for j in range(n):
        if j + 4 < n:
            t2 = order[j + 4]
            _prefetch(P, users[t2]); _prefetch(Q, items[t2])
        t = order[j]
        u = users[t]; i = items[t]
        dot = row_dot(P, u, Q, i)
        for f in range(m, k):
            dot += P[u, f] * Q[i, f]
        err = ratings[t] - (mu + bu[u] + bi[i] + dot)
        loss += err * err
        b0 = bu[u]; bu[u] = b0 + lr * (err - reg * b0)
        b0 = bi[i]; bi[i] = b0 + lr * (err - reg * b0)
        g = lr * err
        row_update(P, u, Q, i, decay, g)
        for f in range(m, k):
            x = P[u, f]; y = Q[i, f]
            P[u, f] = decay * x + g * y
            Q[i, f] = decay * y + g * x
    return loss


def _problem(nu, ni, n, k, pad, seed=0):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, nu, n).astype(np.int32)
    items = rng.integers(0, ni, n).astype(np.int32)
    ratings = rng.integers(1, 6, n).astype(np.float32)
    order = rng.permutation(n).astype(np.int32)
    P = np.zeros((nu, pad), np.float32)
    P[:, :k] = rng.standard_normal((nu, k)) * 0.1
    Q = np.zeros((ni, pad), np.float32)
    Q[:, :k] = rng.standard_normal((ni, k)) * 0.1
    return users, items, ratings, order, P, Q, np.zeros(nu, np.float32), np.zeros(ni,
                                                                                   np.float32)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--k", type=int, default=100)
    args = ap.parse_args(argv)
    f = np.float32
    mhz = None
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    k = args.k
    pad = -(-k // 16) * 16
    print(f"# sgd_simd_probe  k={k} (padded {pad})  cpu MHz {mhz}  load {os.getloadavg()[0]:.2f}")
    for nu, ni, n in ((50, 50, 200_000), (943, 1682, 80_000), (20_000, 20_000, 400_000)):
        calls = {}
        for name, cols, fn in (("today (mf_epoch)", k, None), ("simd unpadded", k, epoch_simd),
                               (f"simd padded {pad}", pad, epoch_simd)):
            u, i, r, o, P, Q, bu, bi = _problem(nu, ni, n, k, cols)
            if fn is None:
                calls[name] = (lambda u=u, i=i, r=r, o=o, P=P, Q=Q, bu=bu, bi=bi: mf_epoch(
                    u, i, r, o, 0, len(o), f(3.5), P, Q, bu, bi, f(0.005), f(0.005), f(0.02),
                    f(0.02), True))
            else:
                calls[name] = (lambda u=u, i=i, r=r, o=o, P=P, Q=Q, bu=bu, bi=bi: epoch_simd(
                    u, i, r, o, f(3.5), P, Q, bu, bi, f(0.005), f(0.02)))
        losses = {name: c() for name, c in calls.items()}
        times = {name: [] for name in calls}
        for _ in range(args.repeats):
            for name, c in calls.items():
                t = time.process_time()
                c()
                times[name].append(time.process_time() - t)
        print(f"{nu} users x {ni} items, {n} ratings:")
        for name in calls:
            best, med = n / min(times[name]) / 1e6, n / np.median(times[name]) / 1e6
            cyc = f"{mhz / best:6.0f} cycles/update" if mhz else ""
            print(f"  {name:22s} min-time {best:6.1f} M/s  median {med:6.1f} M/s  {cyc}  "
                  f"first-epoch loss {losses[name]:.6g}")


if __name__ == "__main__":
    main()

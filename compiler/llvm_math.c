/* llvm_math.c: single-precision exp, log, log1p and tanh as inline LLVM IR.
 *
 * The JIT's f32 kernels used to call glibc's libmvec (_ZGVdN8v_expf and friends) for
 * these; a call per vector costs the call, the spills around it, and for tanhf a slow
 * generic path.  Emitted inline they are a dozen multiply-adds that the scheduler
 * interleaves with the rest of the kernel, and the same code serves the vector loop
 * and the scalar remainder, so a coordinate's result no longer depends on whether it
 * fell in a vector or in the remainder.  For exp and log the method is the classic one
 * of Cephes (S. L. Moshier, "Methods and Programs for Mathematical Functions", 1989),
 * whose single-precision minimax coefficients are used; tanh's fit is our own:
 *
 *   exp(x)   = 2^n e^r, n = rint(x / ln 2), r = x - n ln 2 (ln 2 in two parts, so r is
 *              exact), e^r = 1 + r + r^2 P(r), P of degree 5; times 2^n built in the
 *              exponent bits in two halves, so overflow gives Inf and underflow 0 or a
 *              subnormal; on AVX-512 hosts vscalefps does that scaling in one
 *              instruction (the same bits: both round once; 8% off the MNIST LSTM's
 *              evaluation step, from which a free exp would take 35%)
 *   log(x)   = e ln 2 + log(m), x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(1 + f) =
 *              f - f^2/2 + f^3 P(f), P of degree 8; subnormal x scaled by 2^23 first
 *   log1p(x) = log(u) x / (u - 1) with u = 1 + x (the rounding of u cancels), x when
 *              u == 1
 *   tanh(x)  = x P(x^2) / Q(x^2), P of degree 5, Q of degree 4, x clamped to [-9, 9]
 *              (tanh rounds to +-1 from 9.01) and the quotient to [-1, 1]: a minimax
 *              rational fit of our own (tools/fit_tanh.py); no exp, 16 instructions
 *
 * exp of an argument known to be <= 0 (sigmoid's and softplus's e^-|a|) skips the
 * upper clamp and scales in one exact multiply and one rounding one (2^(n+25), then
 * 2^-25), giving the same bits as the general exp.
 *
 * Special values are fixed up with selects at the end (NaN in, NaN out; log(0) = -Inf,
 * log(x < 0) = NaN, log(Inf) = Inf, tanh(-0) = -0).  Measured by tests/unit/test_vecmath.c
 * over 10^6 arguments each, against libm in double: at most 1.0 ulp (exp), 0.8 (log),
 * 2.3 (log1p), 4.7 (tanh: the float evaluation of the quotient, about ten roundings;
 * the fit itself is within 1.3e-9); vector and scalar loops agree bit for bit.
 *
 * Speed.  The rational tanh (it replaced sign(x) (1 - 2 / (e^(2|x|) + 1)), 1.3 ulp,
 * about 45 instructions) and the shorter exp for sigmoid, with the staged GEMMs'
 * outputs zeroed by memset (runtime/staged.c; a few % of it), made the MNIST LSTM's
 * f32 forward kernel 1.47x faster (15910 coordinates, fastest of 8 interleaved runs
 * each: 9.33 -> 6.33 ms; its 60 sigmoid and 40 tanh per layer were most of the
 * stage kernels' work).  Against libmvec (make bench, in cache, interleaved, before
 * the rational tanh): on standard-normal gradients libmvec was faster, 1.01x
 * (phnn_small) to 1.16x (phnn) and 1.37x (seed_hnn_pre, whose cost is one log); with
 * exact zeros among the gradients, as MNIST's constant pixels give, libmvec's
 * special-value path made it 1.15x (phnn_small) and 1.29x (seed_hnn_pre) slower than
 * this code.  We keep the inline code for the MNIST workloads and for the bitwise
 * agreement above; HAM_VECMATH=libmvec switches back. */
#include "llvm_math.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct M {
    LLVMModuleRef mod;
    LLVMBuilderRef b;
    LLVMTypeRef vt;   // float or <W x float>
    LLVMTypeRef it;   // i32 or <W x i32>
    unsigned width;   // 0 for a scalar
} M;

static M m_of(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x)
{
    M m = {mod, b, LLVMTypeOf(x), NULL, 0};
    LLVMContextRef ctx = LLVMGetModuleContext(mod);
    m.it = LLVMInt32TypeInContext(ctx);
    if (LLVMGetTypeKind(m.vt) == LLVMVectorTypeKind) {
        m.width = LLVMGetVectorSize(m.vt);
        m.it = LLVMVectorType(m.it, m.width);
    }
    return m;
}

static LLVMValueRef splat_const(M *m, LLVMValueRef c)
{
    if (!m->width) return c;
    LLVMValueRef lanes[64];
    for (unsigned i = 0; i < m->width; i++) lanes[i] = c;
    return LLVMConstVector(lanes, m->width);
}

static LLVMValueRef cf(M *m, double v)
{
    LLVMTypeRef t = m->width ? LLVMGetElementType(m->vt) : m->vt;
    return splat_const(m, LLVMConstReal(t, v));
}

static LLVMValueRef ci(M *m, long long v)
{
    LLVMTypeRef t = m->width ? LLVMGetElementType(m->it) : m->it;
    return splat_const(m, LLVMConstInt(t, (unsigned long long)v, 1));
}

static LLVMValueRef intrinsic(M *m, const char *name, int nargs, LLVMValueRef a, LLVMValueRef b,
                              LLVMValueRef c)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m->mod, id, &m->vt, 1);
    LLVMValueRef args[3] = {a, b, c};
    LLVMContextRef ctx = LLVMGetModuleContext(m->mod);
    return LLVMBuildCall2(m->b, LLVMIntrinsicGetType(ctx, id, &m->vt, 1), fn, args, (unsigned)nargs, "");
}

static LLVMValueRef add(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(m->b, a, b, ""); }
static LLVMValueRef sub(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(m->b, a, b, ""); }
static LLVMValueRef mul(M *m, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(m->b, a, b, ""); }

/* a * b + c, fused where the target has FMA (llvm.fmuladd). */
static LLVMValueRef madd(M *m, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    return intrinsic(m, "llvm.fmuladd", 3, a, b, c);
}

static LLVMValueRef cmp(M *m, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(m->b, p, a, b, "");
}

static LLVMValueRef sel(M *m, LLVMValueRef c, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildSelect(m->b, c, a, b, "");
}

/* Horner: c[0] x^(n-1) + ... + c[n-1]. */
static LLVMValueRef poly(M *m, LLVMValueRef x, const double *c, int n)
{
    LLVMValueRef y = cf(m, c[0]);
    for (int i = 1; i < n; i++) y = madd(m, y, x, cf(m, c[i]));
    return y;
}

/* 2^k for an integer vector k in [-126, 127], built in the exponent bits. */
static LLVMValueRef pow2i(M *m, LLVMValueRef k)
{
    LLVMValueRef bits = LLVMBuildShl(m->b, LLVMBuildAdd(m->b, k, ci(m, 127), ""), ci(m, 23), "");
    return LLVMBuildBitCast(m->b, bits, m->vt, "");
}

/* y 2^n, rounded once, for n integral and y finite: AVX-512's vscalefps (vscalefss on a
 * scalar, in lane 0 of a <4 x float>).  n past the exponent range gives 0 or Inf; NaN
 * in either gives NaN.  The intrinsics are masked: all lanes, and where they take a
 * rounding argument, the current mode (_MM_FROUND_CUR_DIRECTION, 4). */
static LLVMValueRef scalef(M *m, LLVMValueRef y, LLVMValueRef n)
{
    LLVMContextRef ctx = LLVMGetModuleContext(m->mod);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx);
    const char *name = !m->width ? "llvm.x86.avx512.mask.scalef.ss"
                     : m->width == 16 ? "llvm.x86.avx512.mask.scalef.ps.512"
                     : m->width == 8 ? "llvm.x86.avx512.mask.scalef.ps.256" : "llvm.x86.avx512.mask.scalef.ps.128";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m->mod, id, NULL, 0);
    LLVMTypeRef fty = LLVMIntrinsicGetType(ctx, id, NULL, 0), params[5];
    unsigned nargs = LLVMCountParamTypes(fty);
    LLVMGetParamTypes(fty, params);
    LLVMValueRef lane0 = LLVMConstInt(i32, 0, 0), a = y, b = n;
    if (!m->width) {
        a = LLVMBuildInsertElement(m->b, LLVMGetUndef(params[0]), y, lane0, "");
        b = LLVMBuildInsertElement(m->b, LLVMGetUndef(params[0]), n, lane0, "");
    }
    LLVMValueRef args[5] = {a, b, LLVMGetUndef(params[0]), LLVMConstAllOnes(params[3]), LLVMConstInt(i32, 4, 0)};
    LLVMValueRef r = LLVMBuildCall2(m->b, fty, fn, args, nargs, "");
    return m->width ? r : LLVMBuildExtractElement(m->b, r, lane0, "");
}

/* exp(x); with nonpos the caller promises x <= 0 or NaN (sigmoid's and softplus's
 * e^-|a|), which saves the upper clamp and half the scaling. */
static LLVMValueRef expf_core(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512, int nonpos)
{
    static const double P[] = {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3,
                               4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1};
    M mm = m_of(mod, b, x), *m = &mm;
    // Clamp so that n stays in [-150, 128]: beyond, the result is 0 or Inf anyway.
    // NaN compares false both times and passes through.
    LLVMValueRef xc = nonpos ? x : sel(m, cmp(m, LLVMRealOGT, x, cf(m, 89.0)), cf(m, 89.0), x);
    xc = sel(m, cmp(m, LLVMRealOLT, xc, cf(m, -104.0)), cf(m, -104.0), xc);
    // Without scalef, NaN is replaced by 0 (fptosi of NaN is poison) and restored at
    // the end; with it, NaN propagates through n, r and the scaling.
    LLVMValueRef isnan = avx512 ? NULL : cmp(m, LLVMRealUNO, x, x);
    if (isnan) xc = sel(m, isnan, cf(m, 0.0), xc);
    LLVMValueRef n = intrinsic(m, "llvm.rint", 1, mul(m, xc, cf(m, 1.44269504088896341)), NULL, NULL);
    LLVMValueRef r = madd(m, n, cf(m, -0.693359375), xc);   // exact: C1 has 9 significant bits
    r = madd(m, n, cf(m, 2.12194440e-4), r);
    LLVMValueRef p = poly(m, r, P, 6);
    LLVMValueRef er = add(m, madd(m, p, mul(m, r, r), r), cf(m, 1.0));
    // e^r 2^n.  Every way rounds once (scaling a normal by 2^k1 is exact), so they agree
    // bit for bit, subnormal results included.
    if (avx512) return scalef(m, er, n);
    LLVMValueRef k = LLVMBuildFPToSI(m->b, n, m->it, "");
    LLVMValueRef y;
    if (nonpos) {
        // n in [-150, 0]: e^r 2^(n+25) is normal (e^r > 1/2), so exact; 2^-25 rounds.
        y = mul(m, mul(m, er, pow2i(m, LLVMBuildAdd(m->b, k, ci(m, 25), ""))), cf(m, 0x1p-25));
    } else {
        LLVMValueRef k1 = LLVMBuildAShr(m->b, k, ci(m, 1), "");
        LLVMValueRef k2 = LLVMBuildSub(m->b, k, k1, "");
        y = mul(m, mul(m, er, pow2i(m, k1)), pow2i(m, k2));
    }
    return sel(m, isnan, x, y);
}

LLVMValueRef llvm_math_expf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512)
{
    return expf_core(mod, b, x, avx512, 0);
}

LLVMValueRef llvm_math_expf_nonpos(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512)
{
    return expf_core(mod, b, x, avx512, 1);
}

/* A masked AVX-512 intrinsic on a <4|8|16 x float> vector x: vgetexpps (imm < 0) or
 * vgetmantps with that immediate, every lane, the current rounding where it takes one. */
static LLVMValueRef getexp_getmant(M *m, LLVMValueRef x, int imm)
{
    LLVMContextRef ctx = LLVMGetModuleContext(m->mod);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx);
    char name[64];
    snprintf(name, sizeof name, "llvm.x86.avx512.mask.%s.ps.%u", imm < 0 ? "getexp" : "getmant", m->width * 32);
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(m->mod, id, NULL, 0);
    LLVMTypeRef fty = LLVMIntrinsicGetType(ctx, id, NULL, 0), params[5];
    unsigned nargs = LLVMCountParamTypes(fty);
    LLVMGetParamTypes(fty, params);
    // getexp (src, passthru, mask[, rounding]); getmant (src, imm, passthru, mask[, rounding])
    LLVMValueRef args[5], undef = LLVMGetUndef(m->vt);
    unsigned k = 0;
    args[k++] = x;
    if (imm >= 0) args[k++] = LLVMConstInt(i32, (unsigned long long)imm, 0);
    args[k++] = undef;
    args[k] = LLVMConstAllOnes(params[k]);
    k++;
    if (k < nargs) args[k++] = LLVMConstInt(i32, 4, 0);
    return LLVMBuildCall2(m->b, fty, fn, args, k, "");
}

LLVMValueRef llvm_math_logf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512)
{
    static const double P[] = {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1,
                               -1.2420140846E-1, 1.4249322787E-1, -1.6668057665E-1,
                               2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1};
    M mm = m_of(mod, b, x), *m = &mm;
    LLVMBuilderRef B = m->b;
    // x = f 2^e with f in [0.5, 1), e as a float (exact: a small integer).
    LLVMValueRef f, e;
    if (avx512 && m->width >= 4) {
        // f by vgetmantps (interval 2, the source's sign), e - 1 = floor(log2 x) by
        // vgetexpps, subnormals included: fewer instructions than the exponent bits'
        // way below, and the same f and e, so the same bits.
        f = getexp_getmant(m, x, 2);
        e = add(m, getexp_getmant(m, x, -1), cf(m, 1.0));
    } else {
        // Subnormals: scale by 2^23 and take 23 off the exponent.
        LLVMValueRef tiny = cmp(m, LLVMRealOLT, x, cf(m, 0x1p-126));
        LLVMValueRef xs = sel(m, tiny, mul(m, x, cf(m, 0x1p23)), x);
        LLVMValueRef bits = LLVMBuildBitCast(B, xs, m->it, "");
        LLVMValueRef ei = LLVMBuildSub(B, LLVMBuildAnd(B, LLVMBuildLShr(B, bits, ci(m, 23), ""), ci(m, 0xff), ""),
                                       ci(m, 126), "");
        ei = LLVMBuildSub(B, ei, LLVMBuildSelect(B, tiny, ci(m, 23), ci(m, 0), ""), "");
        f = LLVMBuildBitCast(B, LLVMBuildOr(B, LLVMBuildAnd(B, bits, ci(m, 0x807fffff), ""), ci(m, 0x3f000000), ""),
                             m->vt, "");
        e = LLVMBuildSIToFP(B, ei, m->vt, "");
    }
    // f < sqrt(1/2): use 2f - 1 and e - 1, so that the argument of log1p is in
    // [sqrt(1/2) - 1, sqrt(2) - 1).
    LLVMValueRef lo = cmp(m, LLVMRealOLT, f, cf(m, 0.707106781186547524));
    LLVMValueRef t = sub(m, sel(m, lo, add(m, f, f), f), cf(m, 1.0));
    LLVMValueRef fe = sel(m, lo, sub(m, e, cf(m, 1.0)), e);
    LLVMValueRef z = mul(m, t, t);
    LLVMValueRef y = mul(m, mul(m, poly(m, t, P, 9), t), z);
    y = madd(m, fe, cf(m, -2.12194440e-4), y);
    y = madd(m, z, cf(m, -0.5), y);
    LLVMValueRef r = add(m, t, y);
    r = madd(m, fe, cf(m, 0.693359375), r);
    // log(+Inf) = +Inf; log(+-0) = -Inf; log(x < 0) and log(NaN) = NaN.
    r = sel(m, cmp(m, LLVMRealOEQ, x, cf(m, INFINITY)), x, r);
    r = sel(m, cmp(m, LLVMRealOEQ, x, cf(m, 0.0)), cf(m, -INFINITY), r);
    return sel(m, cmp(m, LLVMRealULT, x, cf(m, 0.0)), cf(m, NAN), r);
}

LLVMValueRef llvm_math_log1pf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x, int avx512)
{
    M mm = m_of(mod, b, x), *m = &mm;
    LLVMValueRef u = add(m, x, cf(m, 1.0));
    LLVMValueRef l = llvm_math_logf(mod, b, u, avx512);
    // u - 1 is exact; log(u) (x / (u - 1)) corrects for the rounding of 1 + x.
    LLVMValueRef r = mul(m, l, LLVMBuildFDiv(m->b, x, sub(m, u, cf(m, 1.0)), ""));
    r = sel(m, cmp(m, LLVMRealOEQ, u, cf(m, INFINITY)), u, r);   // Inf / Inf
    r = sel(m, cmp(m, LLVMRealOEQ, u, cf(m, 0.0)), l, r);        // x = -1: -Inf
    // u == 1: x itself (keeps -0 and tiny x exact); NaN falls through as NaN.
    return sel(m, cmp(m, LLVMRealOEQ, u, cf(m, 1.0)), x, r);
}

LLVMValueRef llvm_math_tanhf(LLVMModuleRef mod, LLVMBuilderRef b, LLVMValueRef x)
{
    // tools/fit_tanh.py: x P(z) / Q(z), z = x^2, a minimax fit on [-9, 9].
    static const double P[] = {-1.2245429496793303e-11, 3.064148046405535e-08, 2.8030897738062777e-05,
                               0.0038694883696734905, 0.13680841028690338, 1.0};
    static const double Q[] = {1.2890054676972795e-06, 0.00039406781434081495, 0.027250085026025772,
                               0.470141738653183, 1.0};
    M mm = m_of(mod, b, x), *m = &mm;
    // From about 9.01 on, tanh rounds to +-1; the clamp gives 1 from 9 on (an ulp above
    // the rounded tanh between 9 and 9.01).  NaN compares false and passes through every
    // select; -0 gives -0 P / Q = -0.
    LLVMValueRef xc = sel(m, cmp(m, LLVMRealOGT, x, cf(m, 9.0)), cf(m, 9.0), x);
    xc = sel(m, cmp(m, LLVMRealOLT, xc, cf(m, -9.0)), cf(m, -9.0), xc);
    LLVMValueRef z = mul(m, xc, xc);
    LLVMValueRef r = LLVMBuildFDiv(m->b, mul(m, xc, poly(m, z, P, 6)), poly(m, z, Q, 5), "");
    // Rounding can put the quotient an ulp or two past 1; tanh stays in [-1, 1] (so
    // 1 - tanh^2, its derivative, stays >= 0).
    r = sel(m, cmp(m, LLVMRealOGT, r, cf(m, 1.0)), cf(m, 1.0), r);
    return sel(m, cmp(m, LLVMRealOLT, r, cf(m, -1.0)), cf(m, -1.0), r);
}

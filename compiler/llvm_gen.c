/* llvm_gen.c: a kernel plan as an explicitly vectorized LLVM IR loop.
 *
 * The kernel is one function over the coordinates [begin, end):
 *
 *   entry:  read the HamStepArgs fields; load every param and hyper the plan reads
 *           once, and splat it; zero the param-adjoint accumulators
 *   vloop:  for (i = begin; i + W <= end; i += W)   the plan on <W x T> vectors
 *   half:   if (i + W/2 <= end) { ...; i += W/2 }   on <W/2 x T> (512-bit kernels only)
 *   sloop:  if (i < end) { ... }                    the last < W/2 (or < W without
 *                                                   a half step) coordinates, one
 *                                                   vector with masked loads and
 *                                                   stores; scalar kernels: a loop
 *   exit:   param_bar[j] = ((lane 0 + ... + lane W-1) + (half lanes, in order))
 *                          + (remainder lanes, in order), each group of lanes only
 *                          if its loop ran
 *
 * The half-width step and the masked step keep kernels fast on few coordinates: the
 * 10-d quadratic's LSTM ran 8 of its 10 coordinates as one vector and 2 through a
 * scalar body as long as the vector one; masked, its eval step went from 10.8 to 5 us.
 * Dead lanes load 0 and are selected out of the param sums (their terms can be
 * 0 * Inf), so the sums are those of a scalar loop over the live lanes, in order.
 *
 * Emitting the vector code ourselves, rather than a scalar loop for LLVM's loop
 * vectorizer, makes the parameter reductions vectorize (they need reassociation the
 * vectorizer will not assume) and keeps the summation order fixed, so results are
 * deterministic for a given block.  Elementary functions call glibc's libmvec
 * variants (_ZGVeN16v_expf: AVX-512, 16 floats; _ZGVdN8v_expf: AVX2, 8) in the
 * vector steps and libm in scalar kernels, except the f32 exp, log, log1p and tanh,
 * which are inline polynomials (llvm_math.c) unless the options say otherwise or the
 * body is segmented.  Each op mirrors dag_eval_op (dag_eval.c), including NaN and -0.
 *
 * No fast-math flags: every rewrite they would allow (reassociation, x * 0 = 0,
 * ignoring NaN and -0) changes results the interpreter and the tests pin down, and
 * the one that pays, contraction, is done explicitly (f32 only, plan_contraction).
 * No noalias on the arrays either: each iteration loads all it reads before it stores,
 * so state_next may alias state (an in-place step), and the loop is vectorized here,
 * not by LLVM, so nothing needs the aliasing promise. */
#include "llvm_gen.h"
#include "llvm_math.h"
#include "schedule.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HamStepArgs fields, in order (runtime/kernel.h). */
enum { F_BEGIN, F_END, F_STRIDE, F_STATE, F_G, F_THETA, F_T, F_PARAMS, F_HYPERS, F_NEXT,
       F_UPDATE, F_NEXT_BAR, F_UPDATE_BAR, F_STATE_BAR, F_PARAM_BAR, F_AUX_STRIDE, F_AUX, F_AUX_BAR,
       F_G_BAR, F_THETA_BAR, F_COUNT };

/* Param accumulators past this many stay in memory (volatile, so SROA leaves them):
 * promoted to registers, thousands of them (the LSTM's 5221) only make the register
 * allocator and the pass pipeline superlinearly slow, and spill anyway. */
#define ACC_IN_REGISTERS 64

typedef struct Gen {
    int skip_g_bar;               // leave out the g_bar output (see llvm_gen_kernel)
    LLVMModuleRef mod;
    LLVMContextRef ctx;
    LLVMBuilderRef b;
    const KernelPlan *plan;
    const LlvmGenOptions *o;
    LLVMTypeRef T, TP, i64, i1;   // element, pointer to element, index, bool
    LLVMValueRef field[F_COUNT];  // loaded in entry (pointers cast to T*)
    LLVMValueRef *scalar_leaf;    // [count]: params/hypers/t loaded once (scalars)
    LLVMValueRef *vector_leaf;    // [count]: their splats
    LLVMValueRef *half_leaf;      // [count]: their splats at half width (see half_width)
    LLVMValueRef *val;            // [count]: values in the body being emitted
    char *uniform;                // [count]: the same for every coordinate (computed once)
    char *fused;                  // [count]: a product folded into its one user (contract)
    int *fma_of;                  // [count]: for a + b / a - b, the position of its fused
                                  //          product operand, or -1
    /* Segmented bodies (plans past SEGMENT_THRESHOLD nodes, see emit_segments). */
    int nseg;
    int *seg_of;                  // [count]: segment computing a node, -1 for leaves/uniform
    int *spill_slot;              // [count]: slot of a value other segments read, or -1
    int *uni_slot;                // [count]: slot of a uniform value in the uniform area
    int *out_seg;                 // [nout]: segment that writes output o
    int *stamp;                   // [count]: segment serial for which val[] holds the node
    int serial;
    LLVMValueRef spill, uni_area; // inside a segment function: its pointers
    LLVMValueRef acc_vec, acc_half, acc_tail, acc_scalar;   // param-adjoint accumulators (allocas)
    int *acc_of_out;              // [nout]: accumulator slot of an OUT_PARAM_BAR output
    char *acc_shared;             // [nout]: its slot is an earlier output's (the same node)
    int nacc;                     // accumulator slots
    int width;                    // lanes of the body being emitted
    int half;                     // lanes of the half-width step, 0 for none (half_width)
    int tail;                     // lanes of the masked last step, 0 for a scalar loop (tail_width)
    LLVMValueRef mask;            // in the masked step: lane l is coordinate i + l < end
    int padded;                   // the remainder runs through the vector body (segmented)
    int inline_math;              // o->inline_math, for bodies that are not segmented
    KernelSchedule sched;         // the body's emission order (schedule.h)
} Gen;

static LLVMTypeRef ty(Gen *g, int width)
{
    return width == 1 ? g->T : LLVMVectorType(g->T, (unsigned)width);
}

static LLVMValueRef const_real(Gen *g, double v, int width)
{
    LLVMValueRef c = LLVMConstReal(g->T, v);
    if (width == 1) return c;
    LLVMValueRef lanes[16];
    for (int i = 0; i < width; i++) lanes[i] = c;
    return LLVMConstVector(lanes, (unsigned)width);
}

/* scalar (a real, or an index) in each of `width` lanes. */
static LLVMValueRef splat(Gen *g, LLVMValueRef scalar, int width)
{
    if (width == 1) return scalar;
    LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(scalar), (unsigned)width);
    LLVMValueRef v = LLVMBuildInsertElement(g->b, LLVMGetUndef(vt), scalar,
                                            LLVMConstInt(LLVMInt32TypeInContext(g->ctx), 0, 0), "");
    LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(LLVMInt32TypeInContext(g->ctx), (unsigned)width));
    return LLVMBuildShuffleVector(g->b, v, LLVMGetUndef(vt), zeros, "splat");
}

/* ---- functions called from kernels ---- */

static void mark_pure(Gen *g, LLVMValueRef fn)
{
    const char *attrs[] = {"nounwind", "readnone", "willreturn"};
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
        unsigned kind = LLVMGetEnumAttributeKindForName(attrs[i], strlen(attrs[i]));
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, LLVMCreateEnumAttribute(g->ctx, kind, 0));
    }
}

static LLVMValueRef declare(Gen *g, const char *name, int nargs, int width)
{
    LLVMValueRef fn = LLVMGetNamedFunction(g->mod, name);
    if (fn) return fn;
    LLVMTypeRef t = ty(g, width), params[2] = {t, t};
    fn = LLVMAddFunction(g->mod, name, LLVMFunctionType(t, params, (unsigned)nargs, 0));
    mark_pure(g, fn);
    return fn;
}

/* Bits of a vector of `width` lanes of o's element type. */
static int vector_bits(const LlvmGenOptions *o, int width)
{
    return width * (o->prec == HAM_F32 ? 32 : 64);
}

/* The libmvec ABI letter of a vector register size: 'e' AVX-512, 'd' AVX2, 'b' SSE. */
static char libmvec_isa(int bits)
{
    return bits == 512 ? 'e' : bits == 256 ? 'd' : 'b';
}

/* A libm function on a scalar, or its libmvec variant on a vector; in f32 with
 * inline_math, exp, log, log1p and tanh are emitted inline instead (llvm_math.c). */
static int inline_f32_math(const Gen *g)
{
    return g->o->prec == HAM_F32 && g->inline_math;
}

static LLVMValueRef call_math(Gen *g, const char *base, int nargs, LLVMValueRef a, LLVMValueRef b)
{
    char name[64];
    int f32 = g->o->prec == HAM_F32;
    if (inline_f32_math(g)) {
        if (!strcmp(base, "exp")) return llvm_math_expf(g->mod, g->b, a, g->o->avx512);
        if (!strcmp(base, "log")) return llvm_math_logf(g->mod, g->b, a, g->o->avx512);
        if (!strcmp(base, "log1p")) return llvm_math_log1pf(g->mod, g->b, a, g->o->avx512);
        if (!strcmp(base, "tanh")) return llvm_math_tanhf(g->mod, g->b, a);
    }
    if (g->width == 1)
        snprintf(name, sizeof name, "%s%s", base, f32 ? "f" : "");
    else
        snprintf(name, sizeof name, "_ZGV%cN%d%s_%s%s", libmvec_isa(vector_bits(g->o, g->width)), g->width,
                 nargs == 2 ? "vv" : "v", base, f32 ? "f" : "");
    LLVMValueRef fn = declare(g, name, nargs, g->width);
    LLVMValueRef args[2] = {a, b};
    return LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, args, (unsigned)nargs, "");
}

static LLVMValueRef intrinsic(Gen *g, const char *name, int nargs, LLVMValueRef a, LLVMValueRef b,
                              LLVMValueRef c)
{
    LLVMTypeRef t = ty(g, g->width);
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, &t, 1);
    LLVMValueRef args[3] = {a, b, c};
    return LLVMBuildCall2(g->b, LLVMIntrinsicGetType(g->ctx, id, &t, 1), fn, args, (unsigned)nargs, "");
}

/* ---- ops, as dag_eval_op computes them ---- */

static LLVMValueRef fcmp(Gen *g, LLVMRealPredicate p, LLVMValueRef a, LLVMValueRef b)
{
    return LLVMBuildFCmp(g->b, p, a, b, "");
}

static LLVMValueRef to_real(Gen *g, LLVMValueRef bits)
{
    return LLVMBuildUIToFP(g->b, bits, ty(g, g->width), "");
}

static LLVMValueRef zero(Gen *g)
{
    return const_real(g, 0, g->width);
}

static LLVMValueRef sign_bit(Gen *g, LLVMValueRef a)
{
    LLVMTypeRef it = LLVMIntTypeInContext(g->ctx, g->o->prec == HAM_F32 ? 32 : 64);
    if (g->width > 1) it = LLVMVectorType(it, (unsigned)g->width);
    LLVMValueRef bits = LLVMBuildBitCast(g->b, a, it, "");
    return LLVMBuildICmp(g->b, LLVMIntSLT, bits, LLVMConstNull(it), "");
}

/* min/max as torch.minimum/maximum: NaN wins; of -0 and +0, min picks -0, max +0. */
static LLVMValueRef minmax(Gen *g, int is_max, LLVMValueRef a, LLVMValueRef b)
{
    LLVMValueRef pick_a = fcmp(g, is_max ? LLVMRealOGT : LLVMRealOLT, a, b);
    LLVMValueRef ordered = LLVMBuildSelect(g->b, pick_a, a, b, "");
    LLVMValueRef tie = LLVMBuildSelect(g->b, sign_bit(g, a), is_max ? b : a, is_max ? a : b, "");
    LLVMValueRef r = LLVMBuildSelect(g->b, fcmp(g, LLVMRealOEQ, a, b), tie, ordered, "");
    return LLVMBuildSelect(g->b, fcmp(g, LLVMRealUNO, a, b), const_real(g, NAN, g->width), r, "");
}

/* e^x for x <= 0 or NaN: exp, by the shorter inline code where exp is inline. */
static LLVMValueRef exp_nonpos(Gen *g, LLVMValueRef x)
{
    if (inline_f32_math(g)) return llvm_math_expf_nonpos(g->mod, g->b, x, g->o->avx512);
    return call_math(g, "exp", 1, x, NULL);
}

/* sigmoid(a) = 1 / (1 + e^-a) for a >= 0, e^a / (1 + e^a) otherwise: with
 * e = e^-|a| that is 1 / (1 + e) or e / (1 + e), one exp either way. */
static LLVMValueRef sigmoid(Gen *g, LLVMValueRef a)
{
    LLVMValueRef one = const_real(g, 1, g->width);
    LLVMValueRef absa = intrinsic(g, "llvm.fabs", 1, a, NULL, NULL);
    LLVMValueRef e = exp_nonpos(g, LLVMBuildFNeg(g->b, absa, ""));
    LLVMValueRef den = LLVMBuildFAdd(g->b, one, e, "");
    LLVMValueRef num = LLVMBuildSelect(g->b, fcmp(g, LLVMRealOGE, a, zero(g)), one, e, "");
    LLVMValueRef r = LLVMBuildFDiv(g->b, num, den, "");
    // NaN: the comparison is false, e is NaN, so r is NaN as in dag_eval_op.
    return r;
}

/* softplus(a) = a + log1p(e^-a) for a > 0, log1p(e^a) otherwise
 *             = (a > 0 ? a : 0) + log1p(e^-|a|). */
static LLVMValueRef softplus(Gen *g, LLVMValueRef a)
{
    LLVMValueRef absa = intrinsic(g, "llvm.fabs", 1, a, NULL, NULL);
    LLVMValueRef e = exp_nonpos(g, LLVMBuildFNeg(g->b, absa, ""));
    LLVMValueRef l = call_math(g, "log1p", 1, e, NULL);
    LLVMValueRef pos = fcmp(g, LLVMRealOGT, a, zero(g));
    // a > 0: a + l.  Otherwise exactly l (0 + l would turn -0 into +0).
    return LLVMBuildSelect(g->b, pos, LLVMBuildFAdd(g->b, a, l, ""), l, "");
}

static LLVMValueRef emit_op(Gen *g, DagOp op, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c)
{
    LLVMBuilderRef B = g->b;
    switch (op) {
    case OP_ADD: return LLVMBuildFAdd(B, a, b, "");
    case OP_SUB: return LLVMBuildFSub(B, a, b, "");
    case OP_MUL: return LLVMBuildFMul(B, a, b, "");
    case OP_DIV: return LLVMBuildFDiv(B, a, b, "");
    case OP_NEG: return LLVMBuildFNeg(B, a, "");
    case OP_POW: return call_math(g, "pow", 2, a, b);
    case OP_EXP: return call_math(g, "exp", 1, a, NULL);
    case OP_LOG: return call_math(g, "log", 1, a, NULL);
    case OP_LOG1P: return call_math(g, "log1p", 1, a, NULL);
    case OP_EXPM1: return call_math(g, "expm1", 1, a, NULL);
    case OP_SQRT: return intrinsic(g, "llvm.sqrt", 1, a, NULL, NULL);
    case OP_TANH: return call_math(g, "tanh", 1, a, NULL);
    case OP_SIGMOID: return sigmoid(g, a);
    case OP_SOFTPLUS: return softplus(g, a);
    case OP_RELU:   // a < 0 ? 0 : a: NaN stays NaN, relu(-0) = -0; x86 makes it one maxps(0, a)
        return LLVMBuildSelect(B, fcmp(g, LLVMRealOLT, a, zero(g)), zero(g), a, "");
    case OP_ABS: return intrinsic(g, "llvm.fabs", 1, a, NULL, NULL);
    case OP_SIGN: {
        LLVMValueRef neg = LLVMBuildSelect(B, fcmp(g, LLVMRealOLT, a, zero(g)), const_real(g, -1, g->width), a, "");
        return LLVMBuildSelect(B, fcmp(g, LLVMRealOGT, a, zero(g)), const_real(g, 1, g->width), neg, "");
    }
    case OP_SIN: return call_math(g, "sin", 1, a, NULL);
    case OP_COS: return call_math(g, "cos", 1, a, NULL);
    case OP_MIN: return minmax(g, 0, a, b);
    case OP_MAX: return minmax(g, 1, a, b);
    case OP_LT: return to_real(g, fcmp(g, LLVMRealOLT, a, b));
    case OP_LE: return to_real(g, fcmp(g, LLVMRealOLE, a, b));
    case OP_GT: return to_real(g, fcmp(g, LLVMRealOGT, a, b));
    case OP_GE: return to_real(g, fcmp(g, LLVMRealOGE, a, b));
    case OP_EQ: return to_real(g, fcmp(g, LLVMRealOEQ, a, b));
    case OP_NE: return to_real(g, fcmp(g, LLVMRealUNE, a, b));
    case OP_AND:
        return to_real(g, LLVMBuildAnd(B, fcmp(g, LLVMRealUNE, a, zero(g)), fcmp(g, LLVMRealUNE, b, zero(g)), ""));
    case OP_OR:
        return to_real(g, LLVMBuildOr(B, fcmp(g, LLVMRealUNE, a, zero(g)), fcmp(g, LLVMRealUNE, b, zero(g)), ""));
    case OP_NOT: return to_real(g, fcmp(g, LLVMRealOEQ, a, zero(g)));
    case OP_SELECT: return LLVMBuildSelect(B, fcmp(g, LLVMRealUNE, a, zero(g)), b, c, "");
    default: break;
    }
    return NULL;
}

/* ---- memory ---- */

/* &base[k * stride + i] as a pointer to the body's type (aux arrays: aux_stride). */
static LLVMValueRef element_ptr(Gen *g, LLVMValueRef base, int k, LLVMValueRef i)
{
    LLVMValueRef idx = i;
    if (k > 0) {
        int aux = base == g->field[F_AUX] || base == g->field[F_AUX_BAR];
        LLVMValueRef stride = g->field[aux ? F_AUX_STRIDE : F_STRIDE];
        LLVMValueRef off = LLVMBuildMul(g->b, stride, LLVMConstInt(g->i64, (unsigned long long)k, 0), "");
        idx = LLVMBuildAdd(g->b, off, i, "");
    }
    LLVMValueRef p = LLVMBuildGEP2(g->b, g->T, base, &idx, 1, "");
    if (g->width == 1) return p;
    return LLVMBuildBitCast(g->b, p, LLVMPointerType(ty(g, g->width), 0), "");
}

/* llvm.masked.load / llvm.masked.store of a vector at p, lanes g->mask. */
static LLVMValueRef masked_access(Gen *g, int store, LLVMValueRef p, LLVMValueRef v)
{
    const char *name = store ? "llvm.masked.store" : "llvm.masked.load";
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef over[2] = {ty(g, g->width), LLVMTypeOf(p)};
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(g->mod, id, over, 2);
    LLVMValueRef align = LLVMConstInt(LLVMInt32TypeInContext(g->ctx), g->o->prec == HAM_F32 ? 4 : 8, 0);
    LLVMValueRef load_args[4] = {p, align, g->mask, zero(g)}, store_args[4] = {v, p, align, g->mask};
    return LLVMBuildCall2(g->b, LLVMIntrinsicGetType(g->ctx, id, over, 2), fn, store ? store_args : load_args, 4, "");
}

/* Loads and stores of the lanes at coordinate i; in the masked step only the live
 * lanes are touched (the others load 0). */
static LLVMValueRef load_at(Gen *g, LLVMValueRef base, int k, LLVMValueRef i)
{
    if (g->mask) return masked_access(g, 0, element_ptr(g, base, k, i), NULL);
    LLVMValueRef v = LLVMBuildLoad2(g->b, ty(g, g->width), element_ptr(g, base, k, i), "");
    LLVMSetAlignment(v, g->o->prec == HAM_F32 ? 4 : 8);
    return v;
}

static void store_at(Gen *g, LLVMValueRef v, LLVMValueRef base, int k, LLVMValueRef i)
{
    if (g->mask) {
        masked_access(g, 1, element_ptr(g, base, k, i), v);
        return;
    }
    LLVMValueRef s = LLVMBuildStore(g->b, v, element_ptr(g, base, k, i));
    LLVMSetAlignment(s, g->o->prec == HAM_F32 ? 4 : 8);
}

/* Lanes of the step after the full-width loop: W/2 for 512-bit kernels (a 256-bit
 * step, libmvec's AVX2 variants), else 0 (none); none for segmented bodies either,
 * whose remainder runs padded through the vector segments. */
static int half_width(const LlvmGenOptions *o, int segmented)
{
    return vector_bits(o, o->width) == 512 && !segmented ? o->width / 2 : 0;
}

/* Lanes of the masked step that ends a vector kernel (the last < W or < W/2
 * coordinates, in one vector pass instead of a scalar loop: on the 10-d quadratic
 * that was most of the kernel's time): the half width if there is a half-width step,
 * else W.  0 for scalar kernels, and for segmented ones, whose remainder runs padded. */
static int tail_width(const LlvmGenOptions *o, int segmented)
{
    if (o->width == 1 || segmented) return 0;
    int h = half_width(o, segmented);
    return h ? h : o->width;
}

/* A value computed once in entry (param, hyper, t, uniform node), at the body's width. */
static LLVMValueRef uniform_value(Gen *g, int k)
{
    if (g->width == 1) return g->scalar_leaf[k];
    return g->width == g->o->width ? g->vector_leaf[k] : g->half_leaf[k];
}

static LLVMValueRef leaf(Gen *g, const DagNode *n, int k, LLVMValueRef i)
{
    if (n->op == OP_CONST) return const_real(g, n->value, g->width);
    switch (n->cls) {
    case SYM_STATE: return load_at(g, g->field[F_STATE], n->index, i);
    case SYM_INPUT:
        if (n->index == INPUT_G) return load_at(g, g->field[F_G], 0, i);
        if (n->index == INPUT_THETA) return load_at(g, g->field[F_THETA], 0, i);
        return uniform_value(g, k);   // t: loaded once
    case SYM_PARAM:
    case SYM_HYPER:
        return uniform_value(g, k);
    case SYM_SEED:   // xbar'[k], ubar, then (stage kernels) the aux columns' adjoints
        if (n->index < g->plan->nstate) return load_at(g, g->field[F_NEXT_BAR], n->index, i);
        if (n->index == g->plan->nstate) return load_at(g, g->field[F_UPDATE_BAR], 0, i);
        return load_at(g, g->field[F_AUX_BAR], n->index - g->plan->nstate - 1, i);
    case SYM_AUX: return load_at(g, g->field[F_AUX], n->index, i);
    default: return NULL;
    }
}

/* ---- the body, for `width` lanes at coordinate i ---- */

/* Contraction (LlvmGenOptions.contract, f32 only): a product p = a * b whose one user
 * is a sum s = p + c, p - c or c - p becomes llvm.fmuladd(a, b, c), fmuladd(a, b, -c)
 * or fmuladd(-a, b, c): one rounding instead of two, and one FMA instruction.  Scalar
 * and vector loops fuse the same nodes, so they still agree bit for bit. */
static void plan_contraction(Gen *g)
{
    const KernelPlan *plan = g->plan;
    for (int k = 0; k < plan->count; k++) g->fma_of[k] = -1;
    if (!g->o->contract) return;
    for (int k = 0; k < plan->count; k++) {
        DagOp op = plan->nodes[k]->op;
        if ((op != OP_ADD && op != OP_SUB) || g->uniform[k]) continue;
        for (int j = 0; j < 2 && g->fma_of[k] < 0; j++) {
            int m = plan->kid[k][j];
            if (plan->nodes[m]->op != OP_MUL || plan->uses[m] != 1 || g->uniform[m] || g->fused[m]) continue;
            if (plan->kid[k][0] == plan->kid[k][1]) continue;
            g->fused[m] = 1;
            g->fma_of[k] = m;
        }
    }
}

static LLVMValueRef emit_fma(Gen *g, int k)
{
    const KernelPlan *plan = g->plan;
    int m = g->fma_of[k], j = plan->kid[k][0] == m ? 0 : 1;
    LLVMValueRef a = g->val[plan->kid[m][0]], b = g->val[plan->kid[m][1]];
    LLVMValueRef c = g->val[plan->kid[k][1 - j]];
    if (plan->nodes[k]->op == OP_SUB) {
        if (j == 0) c = LLVMBuildFNeg(g->b, c, "");   // p - c
        else a = LLVMBuildFNeg(g->b, a, "");          // c - p
    }
    return intrinsic(g, "llvm.fmuladd", 3, a, b, c);
}

static void emit_output(Gen *g, int o, LLVMValueRef v, LLVMValueRef i);

/* The body's order.  Stage kernels' forward bodies (and the adjoint's recomputations)
 * go output by output (schedule.h): wide and made of independent units, they spilled
 * most of their values in the plan's order; scheduled, the MNIST LSTM's forward in a
 * meta-step took 47 ms instead of 55 (fastest of 5 interleaved runs each; in one
 * profile its stage 0 and 2 kernels had 20% fewer samples).  Everything else keeps the
 * plan's order, every node by id and then the stores: the stage adjoints ran 5-20%
 * slower scheduled (a unit's recomputation and adjoint make one long dependent chain,
 * which the plan's order interleaves with the other units'; llvm-mca agrees), and the
 * small whole-step kernels do not spill (phnn's ran 4-7% slower, seed_hnn_pre's
 * faster). */
static void plan_order(Gen *g)
{
    const KernelPlan *plan = g->plan;
    int scheduled = plan->stage && !plan->adjoint && !g->o->plan_order;
    if (scheduled && !kernel_schedule(plan, &g->sched)) return;
    g->sched.step = malloc(((size_t)plan->count + (size_t)plan->nout + 1) * sizeof(int));
    if (!g->sched.step) abort();
    g->sched.len = 0;
    for (int k = 0; k < plan->count; k++) g->sched.step[g->sched.len++] = k;
    for (int o = 0; o < plan->nout; o++) g->sched.step[g->sched.len++] = -o - 1;
}

static void emit_body(Gen *g, LLVMValueRef i, int width)
{
    const KernelPlan *plan = g->plan;
    g->width = width;
    for (int s = 0; s < g->sched.len; s++) {
        int k = g->sched.step[s];
        if (k < 0) {
            emit_output(g, -k - 1, g->val[plan->out_pos[-k - 1]], i);
            continue;
        }
        const DagNode *n = plan->nodes[k];
        if (n->op == OP_CONST || n->op == OP_SYM) {
            g->val[k] = leaf(g, n, k, i);
            continue;
        }
        if (g->uniform[k]) {
            g->val[k] = uniform_value(g, k);
            continue;
        }
        if (g->fused[k]) continue;   // emitted inside its user's fmuladd
        LLVMValueRef x[3] = {NULL, NULL, NULL};
        for (int j = 0; j < dag_op_info[n->op].arity; j++)
            if (plan->kid[k][j] != g->fma_of[k]) x[j] = g->val[plan->kid[k][j]];
        g->val[k] = g->fma_of[k] >= 0 ? emit_fma(g, k) : emit_op(g, n->op, x[0], x[1], x[2]);
    }
}

/* g_bar / theta_bar are optional (NULL: the caller does not want them).  Rather than
 * branch inside the loop body, the store goes to a stack sink when the array is NULL:
 * the pointer is a select on a loop-invariant condition. */
static void store_input_bar(Gen *g, LLVMValueRef v, LLVMValueRef base, LLVMValueRef i)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(g->b));
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(fn);
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(g->ctx);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first) LLVMPositionBuilderBefore(eb, first);
    else LLVMPositionBuilderAtEnd(eb, entry);
    LLVMValueRef sink = LLVMBuildAlloca(eb, ty(g, g->o->width), "input_bar.sink");
    LLVMDisposeBuilder(eb);
    LLVMValueRef p = element_ptr(g, base, 0, i);
    sink = LLVMBuildBitCast(g->b, sink, LLVMTypeOf(p), "");
    p = LLVMBuildSelect(g->b, LLVMBuildIsNull(g->b, base, ""), sink, p, "");
    if (g->mask) {
        masked_access(g, 1, p, v);
        return;
    }
    LLVMValueRef st = LLVMBuildStore(g->b, v, p);
    LLVMSetAlignment(st, g->o->prec == HAM_F32 ? 4 : 8);
}

static void emit_output(Gen *g, int o, LLVMValueRef v, LLVMValueRef i)
{
    const KernelPlan *plan = g->plan;
    int width = g->width;
    {
        const KernelOut *out = &plan->outs[o];
        switch (out->kind) {
        case OUT_NEXT: store_at(g, v, g->field[F_NEXT], out->index, i); break;
        case OUT_UPDATE: store_at(g, v, g->field[F_UPDATE], 0, i); break;
        case OUT_STATE_BAR: store_at(g, v, g->field[F_STATE_BAR], out->index, i); break;
        case OUT_AUX: store_at(g, v, g->field[F_AUX], out->index, i); break;
        case OUT_AUX_BAR_ADD:
        case OUT_STATE_BAR_ADD: {
            LLVMValueRef base = g->field[out->kind == OUT_AUX_BAR_ADD ? F_AUX_BAR : F_STATE_BAR];
            store_at(g, LLVMBuildFAdd(g->b, load_at(g, base, out->index, i), v, ""), base, out->index, i);
            break;
        }
        case OUT_INPUT_BAR:
            if (!out->index && g->skip_g_bar) break;   // the caller's g_bar is NULL
            store_input_bar(g, v, g->field[out->index ? F_THETA_BAR : F_G_BAR], i);
            break;
        case OUT_PARAM_BAR: {
            if (g->acc_shared[o]) break;   // summed once, for the first output of this node
            LLVMValueRef acc = width == 1 ? g->acc_scalar : g->mask ? g->acc_tail
                             : width == g->o->width ? g->acc_vec : g->acc_half;
            if (g->mask) v = LLVMBuildSelect(g->b, g->mask, v, zero(g), "");   // dead lanes add 0
            LLVMTypeRef at = ty(g, width);
            LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)g->acc_of_out[o], 0);
            LLVMValueRef p = LLVMBuildGEP2(g->b, at, acc, &idx, 1, "");
            LLVMValueRef old = LLVMBuildLoad2(g->b, at, p, "");
            LLVMValueRef st = LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, old, v, ""), p);
            if (g->nacc > ACC_IN_REGISTERS) LLVMSetVolatile(old, 1), LLVMSetVolatile(st, 1);
            break;
        }
        }
    }
}

/* ---- the function ---- */

static LLVMTypeRef args_type(Gen *g)
{
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(g->ctx), 0);
    LLVMTypeRef f[F_COUNT];
    for (int i = 0; i < F_COUNT; i++)
        f[i] = i <= F_STRIDE || i == F_AUX_STRIDE ? g->i64 : i == F_T ? LLVMDoubleTypeInContext(g->ctx) : i8p;
    LLVMTypeRef st = LLVMGetTypeByName2(g->ctx, "HamStepArgs");
    if (!st) {
        st = LLVMStructCreateNamed(g->ctx, "HamStepArgs");
        LLVMStructSetBody(st, f, F_COUNT, 0);
    }
    return st;
}

static void load_fields(Gen *g, LLVMValueRef args, LLVMTypeRef st)
{
    for (int f = 0; f < F_COUNT; f++) {
        LLVMValueRef p = LLVMBuildStructGEP2(g->b, st, args, (unsigned)f, "");
        LLVMTypeRef ft = LLVMStructGetTypeAtIndex(st, (unsigned)f);
        LLVMValueRef v = LLVMBuildLoad2(g->b, ft, p, "");
        if (f > F_STRIDE && f != F_T && f != F_AUX_STRIDE) v = LLVMBuildBitCast(g->b, v, g->TP, "");
        if (f == F_T && g->o->prec == HAM_F32) v = LLVMBuildFPTrunc(g->b, v, g->T, "");
        g->field[f] = v;
    }
}

static void emit_entry(Gen *g, LLVMValueRef args, LLVMTypeRef st)
{
    load_fields(g, args, st);
    const KernelPlan *plan = g->plan;
    for (int k = 0; k < plan->count; k++) {
        const DagNode *n = plan->nodes[k];
        if (n->op != OP_SYM) continue;
        LLVMValueRef s = NULL;
        if (n->cls == SYM_PARAM || n->cls == SYM_HYPER) {
            LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)n->index, 0);
            LLVMValueRef base = g->field[n->cls == SYM_PARAM ? F_PARAMS : F_HYPERS];
            s = LLVMBuildLoad2(g->b, g->T, LLVMBuildGEP2(g->b, g->T, base, &idx, 1, ""), "");
        } else if (n->cls == SYM_INPUT && n->index == INPUT_T) {
            s = g->field[F_T];
        }
        if (!s) continue;
        g->scalar_leaf[k] = s;
        g->vector_leaf[k] = splat(g, s, g->o->width);
        if (g->half) g->half_leaf[k] = splat(g, s, g->half);
    }
    /* Nodes that depend only on params, hypers, t and constants (Adam's 1 - b1^t,
     * phnn's softplus(r)) are computed once here, as scalars, and splat: inside the
     * loop they would cost a libm call per vector of coordinates. */
    g->width = 1;
    for (int k = 0; k < plan->count; k++) {
        const DagNode *n = plan->nodes[k];
        if (n->op == OP_SYM) {
            g->uniform[k] = n->cls == SYM_PARAM || n->cls == SYM_HYPER || (n->cls == SYM_INPUT && n->index == INPUT_T);
            continue;
        }
        if (n->op == OP_CONST) continue;   // constants fold wherever they are used
        int uni = 1, any_leaf_only = 1;
        for (int j = 0; j < dag_op_info[n->op].arity; j++) {
            int kid = plan->kid[k][j];
            const DagNode *kn = plan->nodes[kid];
            uni &= g->uniform[kid] || kn->op == OP_CONST;
            any_leaf_only &= kn->op == OP_CONST;
        }
        if (!uni || any_leaf_only) continue;
        LLVMValueRef x[3] = {NULL, NULL, NULL};
        for (int j = 0; j < dag_op_info[n->op].arity; j++) {
            int kid = plan->kid[k][j];
            x[j] = plan->nodes[kid]->op == OP_CONST ? const_real(g, plan->nodes[kid]->value, 1) : g->scalar_leaf[kid];
        }
        g->uniform[k] = 1;
        g->scalar_leaf[k] = emit_op(g, n->op, x[0], x[1], x[2]);
        g->vector_leaf[k] = splat(g, g->scalar_leaf[k], g->o->width);
        if (g->half) g->half_leaf[k] = splat(g, g->scalar_leaf[k], g->half);
    }
    int nacc = g->nacc;
    if (nacc > 0) {
        LLVMTypeRef vt = ty(g, g->o->width);
        LLVMValueRef count = LLVMConstInt(g->i64, (unsigned long long)nacc, 0);
        g->acc_vec = LLVMBuildArrayAlloca(g->b, vt, count, "acc");
        if (!g->tail) g->acc_scalar = LLVMBuildArrayAlloca(g->b, g->T, count, "acc1");
        unsigned es = g->o->prec == HAM_F32 ? 4 : 8;
        LLVMValueRef zero8 = LLVMConstInt(LLVMInt8TypeInContext(g->ctx), 0, 0);
        LLVMBuildMemSet(g->b, g->acc_vec, zero8,
                        LLVMConstInt(g->i64, (unsigned long long)nacc * es * (unsigned)g->o->width, 0), es);
        if (g->half) {
            g->acc_half = LLVMBuildArrayAlloca(g->b, ty(g, g->half), count, "acch");
            LLVMBuildMemSet(g->b, g->acc_half, zero8, LLVMConstInt(g->i64, (unsigned long long)nacc * es * (unsigned)g->half, 0), es);
        }
        if (g->tail) {
            g->acc_tail = LLVMBuildArrayAlloca(g->b, ty(g, g->tail), count, "acct");
            LLVMBuildMemSet(g->b, g->acc_tail, zero8, LLVMConstInt(g->i64, (unsigned long long)nacc * es * (unsigned)g->tail, 0), es);
        }
        if (!g->tail) LLVMBuildMemSet(g->b, g->acc_scalar, zero8, LLVMConstInt(g->i64, (unsigned long long)nacc * es, 0), es);
    }
}

/* sum + lanes 0..W-1 of the W-wide accumulator a in acc, in order. */
static LLVMValueRef add_lanes(Gen *g, LLVMValueRef sum, LLVMValueRef acc, int W, LLVMValueRef a)
{
    LLVMTypeRef vt = ty(g, W);
    LLVMValueRef v = LLVMBuildLoad2(g->b, vt, LLVMBuildGEP2(g->b, vt, acc, &a, 1, ""), "");
    for (int lane = 0; lane < W; lane++) {
        LLVMValueRef x = W == 1 ? v : LLVMBuildExtractElement(g->b, v, LLVMConstInt(g->i64, (unsigned long long)lane, 0), "");
        sum = sum ? LLVMBuildFAdd(g->b, sum, x, "") : x;
    }
    return sum;
}

/* For each of the accumulators idx[0..count): the sum of its W lanes in acc (in
 * order) when cond holds, else 0, computed in a block of its own that is skipped
 * otherwise: a kernel on fewer coordinates than a vector (the 10-d quadratic) then
 * does not add up lanes that are all zero, 24 per param at 512 bits. */
static void lanes_if(Gen *g, LLVMValueRef cond, LLVMValueRef acc, int W, const LLVMValueRef *idx, int count,
                     LLVMValueRef *out)
{
    LLVMBasicBlockRef from = LLVMGetInsertBlock(g->b);
    LLVMValueRef fn = LLVMGetBasicBlockParent(from);
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, fn, "lanes");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, fn, "lanes.done");
    LLVMBuildCondBr(g->b, cond, body, done);
    LLVMPositionBuilderAtEnd(g->b, body);
    for (int k = 0; k < count; k++) out[k] = add_lanes(g, NULL, acc, W, idx[k]);
    LLVMBuildBr(g->b, done);
    LLVMPositionBuilderAtEnd(g->b, done);
    LLVMValueRef zero = LLVMConstReal(g->T, 0);
    for (int k = 0; k < count; k++) {
        LLVMValueRef phi = LLVMBuildPhi(g->b, g->T, "");
        LLVMValueRef in[2] = {zero, out[k]};
        LLVMBasicBlockRef bb[2] = {from, body};
        LLVMAddIncoming(phi, in, bb, 2);
        out[k] = phi;
    }
}

/* Whether the full-width loop, the half-width step and the masked step ran, for
 * n = end - begin: n >= W (n >= 1 when the remainder is padded into the vector body),
 * n mod W >= W/2, n mod (the masked step's width) != 0. */
typedef struct Ran {
    LLVMValueRef vec, half, tail;
} Ran;

static Ran loops_ran(Gen *g)
{
    int W = g->o->width;
    LLVMValueRef n = LLVMBuildSub(g->b, g->field[F_END], g->field[F_BEGIN], "");
    Ran r = {LLVMBuildICmp(g->b, LLVMIntSGE, n, LLVMConstInt(g->i64, (unsigned long long)(g->padded ? 1 : W), 0), ""),
             NULL, NULL};
    if (g->tail) {
        LLVMValueRef left = LLVMBuildSRem(g->b, n, LLVMConstInt(g->i64, (unsigned long long)g->tail, 0), "");
        r.tail = LLVMBuildICmp(g->b, LLVMIntNE, left, LLVMConstInt(g->i64, 0, 0), "");
    }
    if (g->half) {
        LLVMValueRef tail = LLVMBuildSRem(g->b, n, LLVMConstInt(g->i64, (unsigned long long)W, 0), "");
        r.half = LLVMBuildICmp(g->b, LLVMIntSGE, tail, LLVMConstInt(g->i64, (unsigned long long)g->half, 0), "");
    }
    return r;
}

/* The sums of accumulators idx[0..count) (count <= ACC_IN_REGISTERS) into out:
 * (full-width lanes in order + half-width lanes in order) + the remainder (the masked
 * step's lanes in order, or the scalar loop's sum: the same order), the lanes only
 * where their loop ran. */
static void lane_sums(Gen *g, Ran ran, const LLVMValueRef *idx, int count, LLVMValueRef *out)
{
    lanes_if(g, ran.vec, g->acc_vec, g->o->width, idx, count, out);
    if (g->half) {
        LLVMValueRef half[ACC_IN_REGISTERS];
        lanes_if(g, ran.half, g->acc_half, g->half, idx, count, half);
        for (int k = 0; k < count; k++) out[k] = LLVMBuildFAdd(g->b, out[k], half[k], "");
    }
    if (g->tail) {
        LLVMValueRef tail[ACC_IN_REGISTERS];
        lanes_if(g, ran.tail, g->acc_tail, g->tail, idx, count, tail);
        for (int k = 0; k < count; k++) out[k] = LLVMBuildFAdd(g->b, out[k], tail[k], "");
        return;
    }
    for (int k = 0; k < count; k++) {
        LLVMValueRef rem = LLVMBuildLoad2(g->b, g->T, LLVMBuildGEP2(g->b, g->T, g->acc_scalar, (LLVMValueRef *)&idx[k], 1, ""), "");
        out[k] = LLVMBuildFAdd(g->b, out[k], rem, "");
    }
}

/* param_bar[j] = sum (stage kernels: param_bar[j] += sum). */
static void store_param_bar(Gen *g, LLVMValueRef sum, LLVMValueRef j)
{
    LLVMValueRef p = LLVMBuildGEP2(g->b, g->T, g->field[F_PARAM_BAR], &j, 1, "");
    if (g->plan->stage) sum = LLVMBuildFAdd(g->b, LLVMBuildLoad2(g->b, g->T, p, ""), sum, "");
    LLVMBuildStore(g->b, sum, p);
}

/* param_bar[j] = lane_sum(accumulator of j), 0 for params without adjoint.  Many
 * accumulators are summed in a loop over a table of their params' indices. */
static void emit_exit(Gen *g, LLVMValueRef fn)
{
    const KernelPlan *plan = g->plan;
    if (!plan->adjoint) return;
    unsigned es = g->o->prec == HAM_F32 ? 4 : 8;
    if (!plan->stage)   // stage kernels add into the staged step's sum instead
        LLVMBuildMemSet(g->b, g->field[F_PARAM_BAR], LLVMConstInt(LLVMInt8TypeInContext(g->ctx), 0, 0),
                        LLVMConstInt(g->i64, (unsigned long long)plan->nparam * es, 0), es);
    int nacc = g->nacc, nout_bar = plan->nparam_bar;
    if (nacc == 0) return;
    Ran ran = loops_ran(g);
    if (nacc <= ACC_IN_REGISTERS) {
        LLVMValueRef idx[ACC_IN_REGISTERS], sum[ACC_IN_REGISTERS];
        for (int a = 0; a < nacc; a++) idx[a] = LLVMConstInt(g->i64, (unsigned long long)a, 0);
        lane_sums(g, ran, idx, nacc, sum);
        for (int o = 0; o < plan->nout; o++) {
            if (plan->outs[o].kind != OUT_PARAM_BAR) continue;
            LLVMValueRef j = LLVMConstInt(g->i64, (unsigned long long)plan->outs[o].index, 0);
            store_param_bar(g, sum[g->acc_of_out[o]], j);
        }
        return;
    }
    /* A loop over the param-adjoint outputs q, with tables of their params and
     * accumulator slots (outputs of one node share a slot, and its sum). */
    LLVMTypeRef i32 = LLVMInt32TypeInContext(g->ctx);
    LLVMValueRef *pidx = malloc((size_t)nout_bar * sizeof *pidx), *sidx = malloc((size_t)nout_bar * sizeof *sidx);
    for (int o = 0, q = 0; o < plan->nout; o++) {
        if (plan->outs[o].kind != OUT_PARAM_BAR) continue;
        pidx[q] = LLVMConstInt(i32, (unsigned long long)plan->outs[o].index, 0);
        sidx[q++] = LLVMConstInt(i32, (unsigned long long)g->acc_of_out[o], 0);
    }
    LLVMTypeRef table_t = LLVMArrayType(i32, (unsigned)nout_bar);
    LLVMValueRef table[2];
    for (int t = 0; t < 2; t++) {
        table[t] = LLVMAddGlobal(g->mod, table_t, t ? "acc_slot" : "param_index");
        LLVMSetInitializer(table[t], LLVMConstArray(i32, t ? sidx : pidx, (unsigned)nout_bar));
        LLVMSetGlobalConstant(table[t], 1);
        LLVMSetLinkage(table[t], LLVMPrivateLinkage);
    }
    free(pidx), free(sidx);
    LLVMBasicBlockRef entry = LLVMGetInsertBlock(g->b);
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, fn, "sum");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, fn, "done");
    LLVMBuildBr(g->b, body);
    LLVMPositionBuilderAtEnd(g->b, body);
    LLVMValueRef q = LLVMBuildPhi(g->b, g->i64, "q");
    LLVMValueRef gi[2] = {LLVMConstInt(g->i64, 0, 0), q};
    LLVMValueRef at[2];
    for (int t = 0; t < 2; t++)
        at[t] = LLVMBuildZExt(g->b, LLVMBuildLoad2(g->b, i32, LLVMBuildGEP2(g->b, table_t, table[t], gi, 2, ""), ""), g->i64, "");
    g->width = g->o->width;
    LLVMValueRef sum;
    lane_sums(g, ran, &at[1], 1, &sum);
    store_param_bar(g, sum, at[0]);
    LLVMValueRef next = LLVMBuildAdd(g->b, q, LLVMConstInt(g->i64, 1, 0), "");
    LLVMBasicBlockRef last = LLVMGetInsertBlock(g->b);   // lane_sums branched
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntULT, next, LLVMConstInt(g->i64, (unsigned long long)nout_bar, 0), ""), body, done);
    LLVMValueRef in[2] = {LLVMConstInt(g->i64, 0, 0), next};
    LLVMBasicBlockRef from[2] = {entry, last};
    LLVMAddIncoming(q, in, from, 2);
    LLVMPositionBuilderAtEnd(g->b, done);
}

/* ---- segmented bodies ----
 *
 * A plan of tens of thousands of nodes (the LSTM and its adjoint) in one basic block
 * makes LLVM's instruction scheduler and register allocator superlinearly slow.  Past
 * SEGMENT_THRESHOLD nodes the body is cut, in topological order, into functions of
 * SEGMENT_SIZE computed nodes each, called one after another for every vector of
 * coordinates.  A value that a later segment reads goes through a spill area (an
 * alloca of the kernel, passed by pointer); uniform values through a uniform area;
 * leaves are loaded again where they are used.  The arithmetic is the same, in the
 * same order, so results do not change. */
#define SEGMENT_THRESHOLD 6000
#define SEGMENT_SIZE 1500

/* test_jit shrinks both ($HAM_SEGMENT=threshold,size) to run small specs segmented. */
static int segment_param(int which)
{
    const char *env = getenv("HAM_SEGMENT");
    int t = SEGMENT_THRESHOLD, z = SEGMENT_SIZE;
    if (env) sscanf(env, "%d,%d", &t, &z);
    if (z < 1) z = 1;
    return which ? z : t;
}

static LLVMValueRef seg_value(Gen *g, int k, LLVMValueRef i)
{
    const KernelPlan *plan = g->plan;
    const DagNode *n = plan->nodes[k];
    if (g->stamp[k] == g->serial) return g->val[k];
    LLVMValueRef v;
    if (n->op == OP_CONST) {
        v = const_real(g, n->value, g->width);
    } else if (g->uniform[k]) {
        LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)g->uni_slot[k], 0);
        v = LLVMBuildLoad2(g->b, g->T, LLVMBuildGEP2(g->b, g->T, g->uni_area, &idx, 1, ""), "");
        v = splat(g, v, g->width);
    } else if (n->op == OP_SYM) {
        v = leaf(g, n, k, i);
    } else {   // computed by an earlier segment
        LLVMTypeRef t = ty(g, g->width);
        LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)g->spill_slot[k], 0);
        v = LLVMBuildLoad2(g->b, t, LLVMBuildGEP2(g->b, t, g->spill, &idx, 1, ""), "");
    }
    g->val[k] = v;
    g->stamp[k] = g->serial;
    return v;
}

/* Partition the plan and give slots to the values that cross segments. */
static void plan_segments(Gen *g, int *nspill, int *nuni)
{
    const KernelPlan *plan = g->plan;
    int work = 0;
    *nspill = *nuni = 0;
    for (int k = 0; k < plan->count; k++) {
        const DagNode *n = plan->nodes[k];
        g->spill_slot[k] = g->uni_slot[k] = -1;
        g->seg_of[k] = -1;
        if (g->uniform[k]) g->uni_slot[k] = (*nuni)++;
        else if (n->op != OP_CONST && n->op != OP_SYM) g->seg_of[k] = work++ / segment_param(1);
    }
    g->nseg = work / segment_param(1) + 1;
    for (int o = 0; o < plan->nout; o++) {
        int p = plan->out_pos[o];
        g->out_seg[o] = g->seg_of[p] >= 0 ? g->seg_of[p] : g->nseg - 1;
    }
    for (int k = 0; k < plan->count; k++) {
        int s = g->seg_of[k];
        for (int j = 0; s >= 0 && j < dag_op_info[plan->nodes[k]->op].arity; j++) {
            int kid = plan->kid[k][j];
            if (g->seg_of[kid] >= 0 && g->seg_of[kid] != s && g->spill_slot[kid] < 0) g->spill_slot[kid] = (*nspill)++;
        }
    }
    for (int o = 0; o < plan->nout; o++) {
        int p = plan->out_pos[o];
        if (g->seg_of[p] >= 0 && g->seg_of[p] != g->out_seg[o] && g->spill_slot[p] < 0) g->spill_slot[p] = (*nspill)++;
    }
}

/* One segment function for `width` lanes: void seg(args, i, spill, uniforms, acc). */
static LLVMValueRef emit_segment(Gen *g, const char *name, int s, int width, LLVMTypeRef st)
{
    const KernelPlan *plan = g->plan;
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(g->ctx), 0);
    LLVMTypeRef params[5] = {LLVMPointerType(st, 0), g->i64, i8p, i8p, i8p};
    char fname[300];
    snprintf(fname, sizeof fname, "%s.seg%d.%d", name, width, s);
    LLVMValueRef fn = LLVMAddFunction(g->mod, fname, LLVMFunctionType(LLVMVoidTypeInContext(g->ctx), params, 5, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    const char *attrs[] = {"noinline", "nounwind"};
    for (int a = 0; a < 2; a++)
        LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                                LLVMCreateEnumAttribute(g->ctx, LLVMGetEnumAttributeKindForName(attrs[a], strlen(attrs[a])), 0));
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(g->b);
    LLVMPositionBuilderAtEnd(g->b, LLVMAppendBasicBlockInContext(g->ctx, fn, "entry"));
    LLVMValueRef saved_field[F_COUNT];
    memcpy(saved_field, g->field, sizeof saved_field);
    LLVMValueRef saved_acc_v = g->acc_vec, saved_acc_s = g->acc_scalar;
    load_fields(g, LLVMGetParam(fn, 0), st);
    LLVMTypeRef t = ty(g, width);
    g->width = width;
    g->serial++;
    g->spill = LLVMBuildBitCast(g->b, LLVMGetParam(fn, 2), LLVMPointerType(t, 0), "");
    g->uni_area = LLVMBuildBitCast(g->b, LLVMGetParam(fn, 3), g->TP, "");
    LLVMValueRef acc = LLVMBuildBitCast(g->b, LLVMGetParam(fn, 4), LLVMPointerType(t, 0), "");
    if (width == 1) g->acc_scalar = acc;
    else g->acc_vec = acc;
    LLVMValueRef i = LLVMGetParam(fn, 1);
    for (int k = 0; k < plan->count; k++) {
        if (g->seg_of[k] != s) continue;
        const DagNode *n = plan->nodes[k];
        LLVMValueRef x[3] = {NULL, NULL, NULL};
        for (int j = 0; j < dag_op_info[n->op].arity; j++) x[j] = seg_value(g, plan->kid[k][j], i);
        g->val[k] = emit_op(g, n->op, x[0], x[1], x[2]);
        g->stamp[k] = g->serial;
        if (g->spill_slot[k] >= 0) {
            LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)g->spill_slot[k], 0);
            LLVMBuildStore(g->b, g->val[k], LLVMBuildGEP2(g->b, t, g->spill, &idx, 1, ""));
        }
    }
    for (int o = 0; o < plan->nout; o++)
        if (g->out_seg[o] == s) emit_output(g, o, seg_value(g, plan->out_pos[o], i), i);
    LLVMBuildRetVoid(g->b);
    LLVMPositionBuilderAtEnd(g->b, saved);
    memcpy(g->field, saved_field, sizeof saved_field);
    g->acc_vec = saved_acc_v;
    g->acc_scalar = saved_acc_s;
    return fn;
}

/* In the kernel: the areas, and the calls of every segment for one vector. */
typedef struct Segments {
    LLVMValueRef *fn[2];          // [0]: vector width, [1]: scalar
    LLVMValueRef spill[2], uni, args;
} Segments;

static void call_segments(Gen *g, Segments *sg, int scalar, LLVMValueRef i, LLVMValueRef args_ptr)
{
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(g->ctx), 0);
    LLVMValueRef acc = scalar ? g->acc_scalar : g->acc_vec;
    LLVMValueRef accp = acc ? LLVMBuildBitCast(g->b, acc, i8p, "") : LLVMConstNull(i8p);
    for (int s = 0; s < g->nseg; s++) {
        LLVMValueRef args[5] = {args_ptr ? args_ptr : sg->args, i, sg->spill[scalar], sg->uni, accp};
        LLVMValueRef fn = sg->fn[scalar][s];
        LLVMBuildCall2(g->b, LLVMGlobalGetValueType(fn), fn, args, 5, "");
    }
}

static void setup_segments(Gen *g, Segments *sg, const char *name, LLVMTypeRef st, LLVMValueRef args)
{
    const KernelPlan *plan = g->plan;
    size_t n = (size_t)plan->count + 1;
    g->seg_of = calloc(n, sizeof(int)), g->spill_slot = calloc(n, sizeof(int));
    g->uni_slot = calloc(n, sizeof(int)), g->stamp = calloc(n, sizeof(int));
    g->out_seg = calloc((size_t)plan->nout + 1, sizeof(int));
    int nspill, nuni;
    plan_segments(g, &nspill, &nuni);
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(g->ctx), 0);
    int W = g->o->width;
    sg->args = args;
    sg->uni = LLVMBuildArrayAlloca(g->b, g->T, LLVMConstInt(g->i64, (unsigned long long)nuni + 1, 0), "uniforms");
    for (int k = 0; k < plan->count; k++) {
        if (g->uni_slot[k] < 0) continue;
        LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)g->uni_slot[k], 0);
        LLVMBuildStore(g->b, g->scalar_leaf[k], LLVMBuildGEP2(g->b, g->T, sg->uni, &idx, 1, ""));
    }
    sg->uni = LLVMBuildBitCast(g->b, sg->uni, i8p, "");
    for (int scalar = 0; scalar < 2; scalar++) {
        LLVMTypeRef t = ty(g, scalar ? 1 : W);
        LLVMValueRef area = LLVMBuildArrayAlloca(g->b, t, LLVMConstInt(g->i64, (unsigned long long)nspill + 1, 0), "spill");
        sg->spill[scalar] = LLVMBuildBitCast(g->b, area, i8p, "");
        sg->fn[scalar] = calloc((size_t)g->nseg, sizeof(LLVMValueRef));
        if ((!scalar && W == 1) || (scalar && W > 1)) continue;   // W > 1: the remainder is padded
        for (int s = 0; s < g->nseg; s++) sg->fn[scalar][s] = emit_segment(g, name, s, scalar ? 1 : W, st);
    }
}

static void free_segments(Gen *g, Segments *sg)
{
    free(g->seg_of), free(g->spill_slot), free(g->uni_slot), free(g->stamp), free(g->out_seg);
    free(sg->fn[0]), free(sg->fn[1]);
}


/* ---- the remainder of a segmented kernel, through the vector body ----
 *
 * Compiling a second, scalar copy of a huge body doubles its compile time.  Instead
 * the last end - i < W coordinates are copied into W-wide scratch arrays, padded by
 * repeating the last real coordinate (so the padding computes finite values whenever
 * the real ones are finite), with zero seeds in the padding (so it adds exactly 0 to
 * the param sums), run through the vector segments, and the real lanes copied back. */
typedef struct Pad {
    LLVMValueRef args;              // a HamStepArgs of the scratch arrays
    LLVMValueRef in_state, in_g, in_theta, in_nbar, in_ubar, out_next, out_update, out_bar;
    LLVMValueRef out_input_bar[2];  // g_bar, theta_bar: NULL where the caller's is
} Pad;

static LLVMValueRef scratch(Gen *g, int n, const char *name)
{
    return LLVMBuildArrayAlloca(g->b, g->T, LLVMConstInt(g->i64, (unsigned long long)(n > 0 ? n : 1), 0), name);
}

static void setup_pad(Gen *g, Pad *pd, LLVMTypeRef st, LLVMValueRef args)
{
    int S = g->plan->nstate, W = g->o->width;
    pd->in_state = scratch(g, S * W, "pad.state");
    pd->in_g = scratch(g, W, "pad.g");
    pd->in_theta = scratch(g, W, "pad.theta");
    pd->in_nbar = scratch(g, S * W, "pad.nbar");
    pd->in_ubar = scratch(g, W, "pad.ubar");
    pd->out_next = scratch(g, S * W, "pad.next");
    pd->out_update = scratch(g, W, "pad.update");
    pd->out_bar = scratch(g, S * W, "pad.bar");
    for (int k = 0; k < 2; k++) {
        LLVMValueRef caller = g->field[k ? F_THETA_BAR : F_G_BAR];
        pd->out_input_bar[k] = LLVMBuildSelect(g->b, LLVMBuildIsNull(g->b, caller, ""), LLVMConstNull(g->TP),
                                               scratch(g, W, "pad.input_bar"), "");
    }
    pd->args = LLVMBuildAlloca(g->b, st, "pad.args");
    LLVMBuildStore(g->b, LLVMBuildLoad2(g->b, st, args, ""), pd->args);
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(g->ctx), 0);
    struct { int field; LLVMValueRef v; } set[] = {
        {F_BEGIN, LLVMConstInt(g->i64, 0, 0)}, {F_END, LLVMConstInt(g->i64, (unsigned long long)W, 0)},
        {F_STRIDE, LLVMConstInt(g->i64, (unsigned long long)W, 0)},
        {F_STATE, pd->in_state}, {F_G, pd->in_g}, {F_THETA, pd->in_theta}, {F_NEXT, pd->out_next},
        {F_UPDATE, pd->out_update}, {F_NEXT_BAR, pd->in_nbar}, {F_UPDATE_BAR, pd->in_ubar},
        {F_STATE_BAR, pd->out_bar}, {F_G_BAR, pd->out_input_bar[0]}, {F_THETA_BAR, pd->out_input_bar[1]}};
    for (size_t k = 0; k < sizeof set / sizeof *set; k++) {
        LLVMValueRef v = set[k].field <= F_STRIDE ? set[k].v : LLVMBuildBitCast(g->b, set[k].v, i8p, "");
        LLVMBuildStore(g->b, v, LLVMBuildStructGEP2(g->b, st, pd->args, (unsigned)set[k].field, ""));
    }
}

static LLVMValueRef gep(Gen *g, LLVMValueRef base, LLVMValueRef idx)
{
    return LLVMBuildGEP2(g->b, g->T, base, &idx, 1, "");
}

/* dst[s * dstride + dl] = src[s * sstride + sl] for s < S (S = 1 for the 1-array case). */
static void copy_lane(Gen *g, int S, LLVMValueRef dst, LLVMValueRef dstride, LLVMValueRef dl, LLVMValueRef src,
                      LLVMValueRef sstride, LLVMValueRef sl, LLVMValueRef keep)
{
    for (int s = 0; s < S; s++) {
        LLVMValueRef ks = LLVMConstInt(g->i64, (unsigned long long)s, 0);
        LLVMValueRef si = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, ks, sstride, ""), sl, "");
        LLVMValueRef di = LLVMBuildAdd(g->b, LLVMBuildMul(g->b, ks, dstride, ""), dl, "");
        LLVMValueRef v = LLVMBuildLoad2(g->b, g->T, gep(g, src, si), "");
        if (keep) v = LLVMBuildSelect(g->b, keep, v, LLVMConstNull(g->T), "");
        LLVMBuildStore(g->b, v, gep(g, dst, di));
    }
}

/* One loop: for l in [0, n): body(l).  Returns the block after it. */
static LLVMValueRef begin_loop(Gen *g, LLVMValueRef fn, LLVMBasicBlockRef *body, LLVMBasicBlockRef *done,
                               LLVMBasicBlockRef *from)
{
    *from = LLVMGetInsertBlock(g->b);
    *body = LLVMAppendBasicBlockInContext(g->ctx, fn, "pad.loop");
    *done = LLVMAppendBasicBlockInContext(g->ctx, fn, "pad.done");
    LLVMBuildBr(g->b, *body);
    LLVMPositionBuilderAtEnd(g->b, *body);
    return LLVMBuildPhi(g->b, g->i64, "l");
}

static void end_loop(Gen *g, LLVMValueRef l, LLVMValueRef n, LLVMBasicBlockRef body, LLVMBasicBlockRef done,
                     LLVMBasicBlockRef from)
{
    LLVMValueRef next = LLVMBuildAdd(g->b, l, LLVMConstInt(g->i64, 1, 0), "");
    LLVMBasicBlockRef last = LLVMGetInsertBlock(g->b);
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntSLT, next, n, ""), body, done);
    LLVMValueRef in[2] = {LLVMConstInt(g->i64, 0, 0), next};
    LLVMBasicBlockRef bb[2] = {from, last};
    LLVMAddIncoming(l, in, bb, 2);
    LLVMPositionBuilderAtEnd(g->b, done);
}

static void emit_padded_remainder(Gen *g, Segments *sg, Pad *pd, LLVMValueRef fn, LLVMValueRef i)
{
    int S = g->plan->nstate, W = g->o->width;
    LLVMValueRef rem = LLVMBuildSub(g->b, g->field[F_END], i, "rem");
    LLVMValueRef Wc = LLVMConstInt(g->i64, (unsigned long long)W, 0), one = LLVMConstInt(g->i64, 1, 0);
    LLVMValueRef stride = g->field[F_STRIDE];
    LLVMBasicBlockRef body, done, from;
    // copy in: lane l reads coordinate i + min(l, rem - 1); seeds are 0 past rem
    LLVMValueRef l = begin_loop(g, fn, &body, &done, &from);
    LLVMValueRef real = LLVMBuildICmp(g->b, LLVMIntSLT, l, rem, "");
    LLVMValueRef src = LLVMBuildAdd(g->b, i, LLVMBuildSelect(g->b, real, l, LLVMBuildSub(g->b, rem, one, ""), ""), "");
    copy_lane(g, S, pd->in_state, Wc, l, g->field[F_STATE], stride, src, NULL);
    copy_lane(g, 1, pd->in_g, Wc, l, g->field[F_G], stride, src, NULL);
    copy_lane(g, 1, pd->in_theta, Wc, l, g->field[F_THETA], stride, src, NULL);
    if (g->plan->adjoint) {
        copy_lane(g, S, pd->in_nbar, Wc, l, g->field[F_NEXT_BAR], stride, src, real);
        copy_lane(g, 1, pd->in_ubar, Wc, l, g->field[F_UPDATE_BAR], stride, src, real);
    }
    end_loop(g, l, Wc, body, done, from);
    call_segments(g, sg, 0, LLVMConstInt(g->i64, 0, 0), pd->args);
    // copy out the real lanes
    l = begin_loop(g, fn, &body, &done, &from);
    LLVMValueRef dst = LLVMBuildAdd(g->b, i, l, "");
    if (g->plan->adjoint) {
        copy_lane(g, S, g->field[F_STATE_BAR], stride, dst, pd->out_bar, Wc, l, NULL);
        for (int k = 0; k < 2; k++) {   // a NULL array copies its (NULL) scratch onto itself: lane l to l
            LLVMValueRef caller = g->field[k ? F_THETA_BAR : F_G_BAR];
            LLVMValueRef none = LLVMBuildIsNull(g->b, caller, "");
            LLVMValueRef self = LLVMBuildSelect(g->b, none, pd->in_g, caller, "");
            LLVMValueRef lanes = LLVMBuildSelect(g->b, none, pd->in_g, pd->out_input_bar[k], "");
            copy_lane(g, 1, self, stride, LLVMBuildSelect(g->b, none, l, dst, ""), lanes, Wc, l, NULL);
        }
    } else {
        copy_lane(g, S, g->field[F_NEXT], stride, dst, pd->out_next, Wc, l, NULL);
        copy_lane(g, 1, g->field[F_UPDATE], stride, dst, pd->out_update, Wc, l, NULL);
    }
    end_loop(g, l, rem, body, done, from);
}

/* Whether a plan's body is cut into segments (emit_segments): a whole-step kernel past
 * the threshold; stage kernels never are. */
static int is_segmented(const KernelPlan *plan)
{
    return !plan->stage && plan->count > segment_param(0);
}

static LLVMValueRef gen_kernel(LLVMModuleRef mod, const KernelPlan *plan, const char *name,
                               const LlvmGenOptions *o, int skip_g_bar)
{
    Gen g = {0};
    g.skip_g_bar = skip_g_bar;
    g.mod = mod;
    g.ctx = LLVMGetModuleContext(mod);
    g.b = LLVMCreateBuilderInContext(g.ctx);
    g.plan = plan;
    g.o = o;
    g.T = o->prec == HAM_F32 ? LLVMFloatTypeInContext(g.ctx) : LLVMDoubleTypeInContext(g.ctx);
    g.TP = LLVMPointerType(g.T, 0);
    g.i64 = LLVMInt64TypeInContext(g.ctx);
    g.i1 = LLVMInt1TypeInContext(g.ctx);
    size_t n = (size_t)plan->count + 1;
    g.scalar_leaf = calloc(n, sizeof *g.scalar_leaf);
    g.vector_leaf = calloc(n, sizeof *g.vector_leaf);
    g.half_leaf = calloc(n, sizeof *g.half_leaf);
    g.val = calloc(n, sizeof *g.val);
    g.uniform = calloc(n, 1);
    g.fused = calloc(n, 1);
    g.fma_of = calloc(n, sizeof *g.fma_of);
    g.acc_of_out = calloc((size_t)plan->nout + 1, sizeof *g.acc_of_out);
    g.acc_shared = calloc((size_t)plan->nout + 1, 1);
    /* One accumulator per node: the adjoints of the LSTM's two biases per gate are
     * the same node.  Past ACC_IN_REGISTERS each accumulator is a load, an add and a
     * store per vector, and the LSTM's spill-heavy adjoint bodies run out of L1:
     * halving its bias accumulators took 6% off the MNIST meta-step, 10% off the
     * quadratic one. */
    int *slot_of_node = malloc(n * sizeof *slot_of_node);
    for (size_t k = 0; k < n; k++) slot_of_node[k] = -1;
    for (int k = 0; k < plan->nout; k++) {
        if (plan->outs[k].kind != OUT_PARAM_BAR) continue;
        int *slot = &slot_of_node[plan->out_pos[k]];
        g.acc_shared[k] = *slot >= 0;
        if (*slot < 0) *slot = g.nacc++;
        g.acc_of_out[k] = *slot;
    }
    free(slot_of_node);

    LLVMTypeRef st = args_type(&g);
    LLVMTypeRef stp = LLVMPointerType(st, 0);
    LLVMValueRef fn = LLVMAddFunction(mod, name, LLVMFunctionType(LLVMVoidTypeInContext(g.ctx), &stp, 1, 0));
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(g.ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(g.ctx, fn, "entry");
    LLVMBasicBlockRef vhead = LLVMAppendBasicBlockInContext(g.ctx, fn, "vloop");
    LLVMBasicBlockRef vbody = LLVMAppendBasicBlockInContext(g.ctx, fn, "vbody");
    LLVMBasicBlockRef shead = LLVMAppendBasicBlockInContext(g.ctx, fn, "sloop");
    LLVMBasicBlockRef sbody = LLVMAppendBasicBlockInContext(g.ctx, fn, "sbody");
    LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(g.ctx, fn, "exit");

    LLVMPositionBuilderAtEnd(g.b, entry);
    Segments sg = {{NULL, NULL}, {NULL, NULL}, NULL, NULL};
    int segmented = is_segmented(plan);
    g.half = half_width(o, segmented);
    g.tail = tail_width(o, segmented);
    /* Inline exp/log/tanh make huge kernels (the LSTM's) 3x slower to compile for
     * no gain at run time: there, libmvec calls. */
    g.inline_math = o->inline_math && !segmented;
    emit_entry(&g, LLVMGetParam(fn, 0), st);
    if (!segmented) plan_contraction(&g);   // segments read val[] of every node
    else for (int k = 0; k < plan->count; k++) g.fma_of[k] = -1;
    plan_order(&g);   // stage kernels, the only ones it may reorder, are never segmented
    if (segmented) setup_segments(&g, &sg, name, st, LLVMGetParam(fn, 0));
    LLVMBuildBr(g.b, vhead);

    // for (i = begin; i + W <= end; i += W)
    int W = o->width;
    LLVMPositionBuilderAtEnd(g.b, vhead);
    LLVMValueRef vi = LLVMBuildPhi(g.b, g.i64, "i");
    LLVMValueRef vnext_i = NULL;
    LLVMValueRef vlimit = LLVMBuildAdd(g.b, vi, LLVMConstInt(g.i64, (unsigned long long)W, 0), "");
    int H = g.half;
    LLVMBasicBlockRef hhead = H ? LLVMInsertBasicBlockInContext(g.ctx, shead, "half") : shead;
    LLVMBasicBlockRef hbody = H ? LLVMInsertBasicBlockInContext(g.ctx, shead, "hbody") : NULL;
    if (W > 1) LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntSLE, vlimit, g.field[F_END], ""), vbody, hhead);
    else LLVMBuildBr(g.b, shead);   // scalar kernels: no vector loop (one edge, one phi entry)
    LLVMPositionBuilderAtEnd(g.b, vbody);
    if (W > 1 && segmented) call_segments(&g, &sg, 0, vi, NULL);
    else if (W > 1) emit_body(&g, vi, W);
    vnext_i = vlimit;
    LLVMBuildBr(g.b, vhead);
    LLVMValueRef vin[2] = {g.field[F_BEGIN], vnext_i};
    LLVMBasicBlockRef vfrom[2] = {entry, vbody};
    LLVMAddIncoming(vi, vin, vfrom, 2);

    // if (i + W/2 <= end) { the plan on W/2 lanes; i += W/2 }
    LLVMValueRef hnext_i = NULL;
    if (H) {
        LLVMPositionBuilderAtEnd(g.b, hhead);
        hnext_i = LLVMBuildAdd(g.b, vi, LLVMConstInt(g.i64, (unsigned long long)H, 0), "");
        LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntSLE, hnext_i, g.field[F_END], ""), hbody, shead);
        LLVMPositionBuilderAtEnd(g.b, hbody);
        emit_body(&g, vi, H);
        LLVMBuildBr(g.b, shead);
    }

    Pad pad;
    int padded = segmented && W > 1;
    g.padded = padded;
    if (padded) {   // the remainder through the vector segments (after vhead's exit)
        LLVMBasicBlockRef here = LLVMGetInsertBlock(g.b);
        LLVMPositionBuilderBefore(g.b, LLVMGetBasicBlockTerminator(entry));
        setup_pad(&g, &pad, st, LLVMGetParam(fn, 0));
        LLVMPositionBuilderAtEnd(g.b, here);
        LLVMPositionBuilderAtEnd(g.b, shead);
        LLVMBasicBlockRef rem_block = LLVMAppendBasicBlockInContext(g.ctx, fn, "remainder");
        LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntSLT, vi, g.field[F_END], ""), rem_block, exit);
        LLVMPositionBuilderAtEnd(g.b, rem_block);
        emit_padded_remainder(&g, &sg, &pad, fn, vi);
        LLVMBuildBr(g.b, exit);
        LLVMPositionBuilderAtEnd(g.b, sbody);
        LLVMBuildUnreachable(g.b);
    }

    // if (i < end) { the plan on the masked step's lanes }
    if (g.tail) {
        LLVMPositionBuilderAtEnd(g.b, shead);
        LLVMValueRef ti = LLVMBuildPhi(g.b, g.i64, "j");
        LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntSLT, ti, g.field[F_END], ""), sbody, exit);
        LLVMPositionBuilderAtEnd(g.b, sbody);
        LLVMValueRef lane[64], left = LLVMBuildSub(g.b, g.field[F_END], ti, "");
        for (int l = 0; l < g.tail; l++) lane[l] = LLVMConstInt(g.i64, (unsigned long long)l, 0);
        g.mask = LLVMBuildICmp(g.b, LLVMIntSLT, LLVMConstVector(lane, (unsigned)g.tail), splat(&g, left, g.tail), "mask");
        emit_body(&g, ti, g.tail);
        g.mask = NULL;
        LLVMBuildBr(g.b, exit);
        LLVMValueRef tin[2] = {vi, hnext_i};
        LLVMBasicBlockRef tfrom[2] = {H ? hhead : vhead, hbody};
        LLVMAddIncoming(ti, tin, tfrom, H ? 2 : 1);
    }

    // for (; i < end; i++)
    if (!padded && !g.tail) {
    LLVMPositionBuilderAtEnd(g.b, shead);
    LLVMValueRef si = LLVMBuildPhi(g.b, g.i64, "j");
    LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntSLT, si, g.field[F_END], ""), sbody, exit);
    LLVMPositionBuilderAtEnd(g.b, sbody);
    if (segmented) call_segments(&g, &sg, 1, si, NULL);
    else emit_body(&g, si, 1);
    LLVMValueRef snext = LLVMBuildAdd(g.b, si, LLVMConstInt(g.i64, 1, 0), "");
    LLVMBuildBr(g.b, shead);
    LLVMValueRef sin_[2] = {vi, snext};
    LLVMBasicBlockRef sfrom[2] = {H ? hhead : vhead, sbody};
    LLVMAddIncoming(si, sin_, sfrom, 2);
    if (H) LLVMAddIncoming(si, &hnext_i, &hbody, 1);
    }

    LLVMPositionBuilderAtEnd(g.b, exit);
    emit_exit(&g, fn);
    LLVMBuildRetVoid(g.b);

    if (segmented) free_segments(&g, &sg);
    kernel_schedule_free(&g.sched);
    LLVMDisposeBuilder(g.b);
    free(g.scalar_leaf);
    free(g.vector_leaf);
    free(g.half_leaf);
    free(g.val);
    free(g.uniform);
    free(g.fused);
    free(g.fma_of);
    free(g.acc_of_out);
    free(g.acc_shared);
    return fn;
}

/* Does the adjoint plan compute a g_bar that is not the constant 0, in a body small
 * enough to be emitted twice (see llvm_gen_kernel)? */
static int splits_g_bar(const KernelPlan *plan)
{
    if (!plan->adjoint || plan->stage || is_segmented(plan)) return 0;
    for (int k = 0; k < plan->nout; k++)
        if (plan->outs[k].kind == OUT_INPUT_BAR && plan->outs[k].index == 0)
            return plan->outs[k].node->op != OP_CONST;
    return 0;
}

/* Only the exact meta-gradient asks for g_bar; without it its terms were computed all
 * the same and stored to a sink (MNIST's seed_hnn_pre: two of the f32 adjoint's six
 * divisions, 7-9% of its time in cache).  So an adjoint with a g_bar is emitted twice,
 * with it and without (the same contraction decisions, made on the whole plan: every
 * other output has the same bits), behind a function of the kernel's name that calls
 * one or the other as args->g_bar is NULL or not.  Segmented bodies (the LSTM's) are
 * emitted once: their compile time would double for a small share of their work. */
LLVMValueRef llvm_gen_kernel(LLVMModuleRef mod, const KernelPlan *plan, const char *name,
                             const LlvmGenOptions *o)
{
    if (!splits_g_bar(plan)) return gen_kernel(mod, plan, name, o, 0);
    size_t len = strlen(name) + 16;
    char *part = malloc(len);
    if (!part) abort();
    snprintf(part, len, "%s.g_bar", name);
    LLVMValueRef with = gen_kernel(mod, plan, part, o, 0);
    snprintf(part, len, "%s.no_g_bar", name);
    LLVMValueRef without = gen_kernel(mod, plan, part, o, 1);
    free(part);
    LLVMSetLinkage(with, LLVMInternalLinkage);
    LLVMSetLinkage(without, LLVMInternalLinkage);
    LLVMContextRef ctx = LLVMGetModuleContext(mod);
    LLVMTypeRef fty = LLVMGlobalGetValueType(with), st = LLVMGetTypeByName2(ctx, "HamStepArgs");
    LLVMValueRef fn = LLVMAddFunction(mod, name, fty);
    LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
                            LLVMCreateEnumAttribute(ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(ctx, fn, "entry");
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(ctx, fn, "g_bar");
    LLVMBasicBlockRef no = LLVMAppendBasicBlockInContext(ctx, fn, "no_g_bar");
    LLVMPositionBuilderAtEnd(b, entry);
    LLVMValueRef args = LLVMGetParam(fn, 0);
    LLVMValueRef field = LLVMBuildStructGEP2(b, st, args, F_G_BAR, "");
    LLVMValueRef g_bar = LLVMBuildLoad2(b, LLVMStructGetTypeAtIndex(st, F_G_BAR), field, "g_bar");
    LLVMBuildCondBr(b, LLVMBuildIsNull(b, g_bar, ""), no, yes);
    LLVMBasicBlockRef blocks[2] = {yes, no};
    LLVMValueRef callee[2] = {with, without};
    for (int k = 0; k < 2; k++) {
        LLVMPositionBuilderAtEnd(b, blocks[k]);
        LLVMSetTailCall(LLVMBuildCall2(b, fty, callee[k], &args, 1, ""), 1);
        LLVMBuildRetVoid(b);
    }
    LLVMDisposeBuilder(b);
    return fn;
}

LLVMValueRef llvm_gen_trampoline(LLVMModuleRef mod, const char *name, void (*target)(void), const void *ctx_ptr,
                                 int which)
{
    LLVMContextRef ctx = LLVMGetModuleContext(mod);
    LLVMBuilderRef b = LLVMCreateBuilderInContext(ctx);
    LLVMTypeRef i8p = LLVMPointerType(LLVMInt8TypeInContext(ctx), 0);
    LLVMTypeRef i32 = LLVMInt32TypeInContext(ctx), i64 = LLVMInt64TypeInContext(ctx);
    LLVMTypeRef voidt = LLVMVoidTypeInContext(ctx);
    LLVMValueRef fn = LLVMAddFunction(mod, name, LLVMFunctionType(voidt, &i8p, 1, 0));
    LLVMPositionBuilderAtEnd(b, LLVMAppendBasicBlockInContext(ctx, fn, "entry"));
    LLVMTypeRef params[3] = {i8p, i32, i8p};
    LLVMTypeRef callee_t = LLVMFunctionType(voidt, params, 3, 0);
    uintptr_t target_addr, ctx_addr = (uintptr_t)ctx_ptr;
    memcpy(&target_addr, &target, sizeof target_addr);
    LLVMValueRef callee = LLVMConstIntToPtr(LLVMConstInt(i64, target_addr, 0), LLVMPointerType(callee_t, 0));
    LLVMValueRef args[3] = {LLVMConstIntToPtr(LLVMConstInt(i64, ctx_addr, 0), i8p),
                            LLVMConstInt(i32, (unsigned long long)which, 0), LLVMGetParam(fn, 0)};
    LLVMBuildCall2(b, callee_t, callee, args, 3, "");
    LLVMBuildRetVoid(b);
    LLVMDisposeBuilder(b);
    return fn;
}

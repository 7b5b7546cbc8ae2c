/* llvm_gen.c: a kernel plan as an explicitly vectorized LLVM IR loop.
 *
 * The kernel is one function over the coordinates [begin, end):
 *
 *   entry:  read the HamStepArgs fields; load every param and hyper the plan reads
 *           once, and splat it; zero the param-adjoint accumulators
 *   vloop:  for (i = begin; i + W <= end; i += W)   the plan on <W x T> vectors
 *   sloop:  for (; i < end; i++)                    the plan on scalars (remainder)
 *   exit:   param_bar[j] = (lane 0 + lane 1 + ... + lane W-1) + remainder, in order
 *
 * Emitting the vector code ourselves, rather than a scalar loop for LLVM's loop
 * vectorizer, makes the parameter reductions vectorize (they need reassociation the
 * vectorizer will not assume) and keeps the summation order fixed, so results are
 * deterministic for a given block.  Elementary functions call glibc's libmvec
 * variants (_ZGVdN8v_expf: AVX2, 8 floats) in the vector loop and libm in the
 * scalar one.  Each op mirrors dag_eval_op (dag_eval.c), including NaN and -0. */
#include "llvm_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HamStepArgs fields, in order (runtime/kernel.h). */
enum { F_BEGIN, F_END, F_STRIDE, F_STATE, F_G, F_THETA, F_T, F_PARAMS, F_HYPERS, F_NEXT,
       F_UPDATE, F_NEXT_BAR, F_UPDATE_BAR, F_STATE_BAR, F_PARAM_BAR, F_COUNT };

/* Param accumulators past this many stay in memory (volatile, so SROA leaves them):
 * promoted to registers, thousands of them (the LSTM's 5221) only make the register
 * allocator and the pass pipeline superlinearly slow, and spill anyway. */
#define ACC_IN_REGISTERS 64

typedef struct Gen {
    LLVMModuleRef mod;
    LLVMContextRef ctx;
    LLVMBuilderRef b;
    const KernelPlan *plan;
    const LlvmGenOptions *o;
    LLVMTypeRef T, TP, i64, i1;   // element, pointer to element, index, bool
    LLVMValueRef field[F_COUNT];  // loaded in entry (pointers cast to T*)
    LLVMValueRef *scalar_leaf;    // [count]: params/hypers/t loaded once (scalars)
    LLVMValueRef *vector_leaf;    // [count]: their splats
    LLVMValueRef *val;            // [count]: values in the body being emitted
    char *uniform;                // [count]: the same for every coordinate (computed once)
    LLVMValueRef acc_vec, acc_scalar;   // param-adjoint accumulators (allocas)
    int *acc_of_out;              // [nout]: accumulator slot of an OUT_PARAM_BAR output
    int width;                    // lanes of the body being emitted
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

static LLVMValueRef splat(Gen *g, LLVMValueRef scalar, int width)
{
    if (width == 1) return scalar;
    LLVMTypeRef vt = ty(g, width);
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

/* A libm function on a scalar, or its libmvec variant on a vector. */
static LLVMValueRef call_math(Gen *g, const char *base, int nargs, LLVMValueRef a, LLVMValueRef b)
{
    char name[64];
    int f32 = g->o->prec == HAM_F32;
    if (g->width == 1)
        snprintf(name, sizeof name, "%s%s", base, f32 ? "f" : "");
    else
        snprintf(name, sizeof name, "_ZGV%cN%d%s_%s%s", g->o->vector_isa, g->width,
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

/* sigmoid(a) = 1 / (1 + e^-a) for a >= 0, e^a / (1 + e^a) otherwise: with
 * e = e^-|a| that is 1 / (1 + e) or e / (1 + e), one exp either way. */
static LLVMValueRef sigmoid(Gen *g, LLVMValueRef a)
{
    LLVMValueRef one = const_real(g, 1, g->width);
    LLVMValueRef absa = intrinsic(g, "llvm.fabs", 1, a, NULL, NULL);
    LLVMValueRef e = call_math(g, "exp", 1, LLVMBuildFNeg(g->b, absa, ""), NULL);
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
    LLVMValueRef e = call_math(g, "exp", 1, LLVMBuildFNeg(g->b, absa, ""), NULL);
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
    case OP_RELU:   // NaN stays NaN: unordered-or-greater picks a
        return LLVMBuildSelect(B, fcmp(g, LLVMRealUGT, a, zero(g)), a, zero(g), "");
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

/* &base[k * stride + i] as a pointer to the body's type. */
static LLVMValueRef element_ptr(Gen *g, LLVMValueRef base, int k, LLVMValueRef i)
{
    LLVMValueRef idx = i;
    if (k > 0) {
        LLVMValueRef off = LLVMBuildMul(g->b, g->field[F_STRIDE], LLVMConstInt(g->i64, (unsigned long long)k, 0), "");
        idx = LLVMBuildAdd(g->b, off, i, "");
    }
    LLVMValueRef p = LLVMBuildGEP2(g->b, g->T, base, &idx, 1, "");
    if (g->width == 1) return p;
    return LLVMBuildBitCast(g->b, p, LLVMPointerType(ty(g, g->width), 0), "");
}

static LLVMValueRef load_at(Gen *g, LLVMValueRef base, int k, LLVMValueRef i)
{
    LLVMValueRef v = LLVMBuildLoad2(g->b, ty(g, g->width), element_ptr(g, base, k, i), "");
    LLVMSetAlignment(v, g->o->prec == HAM_F32 ? 4 : 8);
    return v;
}

static void store_at(Gen *g, LLVMValueRef v, LLVMValueRef base, int k, LLVMValueRef i)
{
    LLVMValueRef s = LLVMBuildStore(g->b, v, element_ptr(g, base, k, i));
    LLVMSetAlignment(s, g->o->prec == HAM_F32 ? 4 : 8);
}

static LLVMValueRef leaf(Gen *g, const DagNode *n, int k, LLVMValueRef i)
{
    if (n->op == OP_CONST) return const_real(g, n->value, g->width);
    switch (n->cls) {
    case SYM_STATE: return load_at(g, g->field[F_STATE], n->index, i);
    case SYM_INPUT:
        if (n->index == INPUT_G) return load_at(g, g->field[F_G], 0, i);
        if (n->index == INPUT_THETA) return load_at(g, g->field[F_THETA], 0, i);
        return g->width == 1 ? g->scalar_leaf[k] : g->vector_leaf[k];   // t: loaded once
    case SYM_PARAM:
    case SYM_HYPER:
        return g->width == 1 ? g->scalar_leaf[k] : g->vector_leaf[k];
    case SYM_SEED:
        if (n->index < g->plan->nstate) return load_at(g, g->field[F_NEXT_BAR], n->index, i);
        return load_at(g, g->field[F_UPDATE_BAR], 0, i);
    default: return NULL;
    }
}

/* ---- the body, for `width` lanes at coordinate i ---- */

static void emit_body(Gen *g, LLVMValueRef i, int width)
{
    const KernelPlan *plan = g->plan;
    g->width = width;
    for (int k = 0; k < plan->count; k++) {
        const DagNode *n = plan->nodes[k];
        if (n->op == OP_CONST || n->op == OP_SYM) {
            g->val[k] = leaf(g, n, k, i);
            continue;
        }
        if (g->uniform[k]) {
            g->val[k] = width == 1 ? g->scalar_leaf[k] : g->vector_leaf[k];
            continue;
        }
        LLVMValueRef x[3] = {NULL, NULL, NULL};
        for (int j = 0; j < dag_op_info[n->op].arity; j++) x[j] = g->val[plan->kid[k][j]];
        g->val[k] = emit_op(g, n->op, x[0], x[1], x[2]);
    }
    for (int o = 0; o < plan->nout; o++) {
        const KernelOut *out = &plan->outs[o];
        LLVMValueRef v = g->val[plan->out_pos[o]];
        switch (out->kind) {
        case OUT_NEXT: store_at(g, v, g->field[F_NEXT], out->index, i); break;
        case OUT_UPDATE: store_at(g, v, g->field[F_UPDATE], 0, i); break;
        case OUT_STATE_BAR: store_at(g, v, g->field[F_STATE_BAR], out->index, i); break;
        case OUT_PARAM_BAR: {
            LLVMValueRef acc = width == 1 ? g->acc_scalar : g->acc_vec;
            LLVMTypeRef at = ty(g, width);
            LLVMValueRef idx = LLVMConstInt(g->i64, (unsigned long long)g->acc_of_out[o], 0);
            LLVMValueRef p = LLVMBuildGEP2(g->b, at, acc, &idx, 1, "");
            LLVMValueRef old = LLVMBuildLoad2(g->b, at, p, "");
            LLVMValueRef st = LLVMBuildStore(g->b, LLVMBuildFAdd(g->b, old, v, ""), p);
            if (g->plan->nparam_bar > ACC_IN_REGISTERS) LLVMSetVolatile(old, 1), LLVMSetVolatile(st, 1);
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
    for (int i = 0; i < F_COUNT; i++) f[i] = i <= F_STRIDE ? g->i64 : i == F_T ? LLVMDoubleTypeInContext(g->ctx) : i8p;
    LLVMTypeRef st = LLVMGetTypeByName2(g->ctx, "HamStepArgs");
    if (!st) {
        st = LLVMStructCreateNamed(g->ctx, "HamStepArgs");
        LLVMStructSetBody(st, f, F_COUNT, 0);
    }
    return st;
}

static void emit_entry(Gen *g, LLVMValueRef args, LLVMTypeRef st)
{
    for (int f = 0; f < F_COUNT; f++) {
        LLVMValueRef p = LLVMBuildStructGEP2(g->b, st, args, (unsigned)f, "");
        LLVMTypeRef ft = LLVMStructGetTypeAtIndex(st, (unsigned)f);
        LLVMValueRef v = LLVMBuildLoad2(g->b, ft, p, "");
        if (f > F_STRIDE && f != F_T) v = LLVMBuildBitCast(g->b, v, g->TP, "");
        if (f == F_T && g->o->prec == HAM_F32) v = LLVMBuildFPTrunc(g->b, v, g->T, "");
        g->field[f] = v;
    }
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
    }
    int nacc = plan->nparam_bar;
    if (nacc > 0) {
        LLVMTypeRef vt = ty(g, g->o->width);
        LLVMValueRef count = LLVMConstInt(g->i64, (unsigned long long)nacc, 0);
        g->acc_vec = LLVMBuildArrayAlloca(g->b, vt, count, "acc");
        g->acc_scalar = LLVMBuildArrayAlloca(g->b, g->T, count, "acc1");
        unsigned es = g->o->prec == HAM_F32 ? 4 : 8;
        LLVMValueRef zero8 = LLVMConstInt(LLVMInt8TypeInContext(g->ctx), 0, 0);
        LLVMBuildMemSet(g->b, g->acc_vec, zero8,
                        LLVMConstInt(g->i64, (unsigned long long)nacc * es * (unsigned)g->o->width, 0), es);
        LLVMBuildMemSet(g->b, g->acc_scalar, zero8, LLVMConstInt(g->i64, (unsigned long long)nacc * es, 0), es);
    }
}

/* The sum of accumulator a: lanes in order, then the scalar remainder. */
static LLVMValueRef lane_sum(Gen *g, LLVMValueRef a)
{
    int W = g->o->width;
    LLVMTypeRef vt = ty(g, W);
    LLVMValueRef v = LLVMBuildLoad2(g->b, vt, LLVMBuildGEP2(g->b, vt, g->acc_vec, &a, 1, ""), "");
    LLVMValueRef sum = W == 1 ? v : LLVMBuildExtractElement(g->b, v, LLVMConstInt(g->i64, 0, 0), "");
    for (int lane = 1; lane < W; lane++)
        sum = LLVMBuildFAdd(g->b, sum, LLVMBuildExtractElement(g->b, v, LLVMConstInt(g->i64, (unsigned long long)lane, 0), ""), "");
    LLVMValueRef rem = LLVMBuildLoad2(g->b, g->T, LLVMBuildGEP2(g->b, g->T, g->acc_scalar, &a, 1, ""), "");
    return LLVMBuildFAdd(g->b, sum, rem, "");
}

/* param_bar[j] = lane_sum(accumulator of j), 0 for params without adjoint.  Many
 * accumulators are summed in a loop over a table of their params' indices. */
static void emit_exit(Gen *g, LLVMValueRef fn)
{
    const KernelPlan *plan = g->plan;
    if (!plan->adjoint) return;
    unsigned es = g->o->prec == HAM_F32 ? 4 : 8;
    LLVMBuildMemSet(g->b, g->field[F_PARAM_BAR], LLVMConstInt(LLVMInt8TypeInContext(g->ctx), 0, 0),
                    LLVMConstInt(g->i64, (unsigned long long)plan->nparam * es, 0), es);
    int nacc = plan->nparam_bar;
    if (nacc == 0) return;
    if (nacc <= ACC_IN_REGISTERS) {
        for (int o = 0; o < plan->nout; o++) {
            if (plan->outs[o].kind != OUT_PARAM_BAR) continue;
            LLVMValueRef sum = lane_sum(g, LLVMConstInt(g->i64, (unsigned long long)g->acc_of_out[o], 0));
            LLVMValueRef j = LLVMConstInt(g->i64, (unsigned long long)plan->outs[o].index, 0);
            LLVMBuildStore(g->b, sum, LLVMBuildGEP2(g->b, g->T, g->field[F_PARAM_BAR], &j, 1, ""));
        }
        return;
    }
    LLVMTypeRef i32 = LLVMInt32TypeInContext(g->ctx);
    LLVMValueRef *idx = malloc((size_t)nacc * sizeof *idx);
    for (int o = 0; o < plan->nout; o++)
        if (plan->outs[o].kind == OUT_PARAM_BAR)
            idx[g->acc_of_out[o]] = LLVMConstInt(i32, (unsigned long long)plan->outs[o].index, 0);
    LLVMTypeRef table_t = LLVMArrayType(i32, (unsigned)nacc);
    LLVMValueRef table = LLVMAddGlobal(g->mod, table_t, "param_index");
    LLVMSetInitializer(table, LLVMConstArray(i32, idx, (unsigned)nacc));
    LLVMSetGlobalConstant(table, 1);
    LLVMSetLinkage(table, LLVMPrivateLinkage);
    free(idx);
    LLVMBasicBlockRef entry = LLVMGetInsertBlock(g->b);
    LLVMBasicBlockRef body = LLVMAppendBasicBlockInContext(g->ctx, fn, "sum");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(g->ctx, fn, "done");
    LLVMBuildBr(g->b, body);
    LLVMPositionBuilderAtEnd(g->b, body);
    LLVMValueRef a = LLVMBuildPhi(g->b, g->i64, "a");
    g->width = g->o->width;
    LLVMValueRef sum = lane_sum(g, a);
    LLVMValueRef gi[2] = {LLVMConstInt(g->i64, 0, 0), a};
    LLVMValueRef j = LLVMBuildZExt(g->b, LLVMBuildLoad2(g->b, i32, LLVMBuildGEP2(g->b, table_t, table, gi, 2, ""), ""), g->i64, "");
    LLVMBuildStore(g->b, sum, LLVMBuildGEP2(g->b, g->T, g->field[F_PARAM_BAR], &j, 1, ""));
    LLVMValueRef next = LLVMBuildAdd(g->b, a, LLVMConstInt(g->i64, 1, 0), "");
    LLVMBuildCondBr(g->b, LLVMBuildICmp(g->b, LLVMIntULT, next, LLVMConstInt(g->i64, (unsigned long long)nacc, 0), ""), body, done);
    LLVMValueRef in[2] = {LLVMConstInt(g->i64, 0, 0), next};
    LLVMBasicBlockRef from[2] = {entry, body};
    LLVMAddIncoming(a, in, from, 2);
    LLVMPositionBuilderAtEnd(g->b, done);
}

LLVMValueRef llvm_gen_kernel(LLVMModuleRef mod, const KernelPlan *plan, const char *name,
                             const LlvmGenOptions *o)
{
    Gen g = {0};
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
    g.val = calloc(n, sizeof *g.val);
    g.uniform = calloc(n, 1);
    g.acc_of_out = calloc((size_t)plan->nout + 1, sizeof *g.acc_of_out);
    for (int k = 0, a = 0; k < plan->nout; k++)
        if (plan->outs[k].kind == OUT_PARAM_BAR) g.acc_of_out[k] = a++;

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
    emit_entry(&g, LLVMGetParam(fn, 0), st);
    LLVMBuildBr(g.b, vhead);

    // for (i = begin; i + W <= end; i += W)
    int W = o->width;
    LLVMPositionBuilderAtEnd(g.b, vhead);
    LLVMValueRef vi = LLVMBuildPhi(g.b, g.i64, "i");
    LLVMValueRef vnext_i = NULL;
    LLVMValueRef vlimit = LLVMBuildAdd(g.b, vi, LLVMConstInt(g.i64, (unsigned long long)W, 0), "");
    LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntSLE, vlimit, g.field[F_END], ""), W > 1 ? vbody : shead, shead);
    LLVMPositionBuilderAtEnd(g.b, vbody);
    if (W > 1) emit_body(&g, vi, W);
    vnext_i = vlimit;
    LLVMBuildBr(g.b, vhead);
    LLVMValueRef vin[2] = {g.field[F_BEGIN], vnext_i};
    LLVMBasicBlockRef vfrom[2] = {entry, vbody};
    LLVMAddIncoming(vi, vin, vfrom, 2);

    // for (; i < end; i++)
    LLVMPositionBuilderAtEnd(g.b, shead);
    LLVMValueRef si = LLVMBuildPhi(g.b, g.i64, "j");
    LLVMBuildCondBr(g.b, LLVMBuildICmp(g.b, LLVMIntSLT, si, g.field[F_END], ""), sbody, exit);
    LLVMPositionBuilderAtEnd(g.b, sbody);
    emit_body(&g, si, 1);
    LLVMValueRef snext = LLVMBuildAdd(g.b, si, LLVMConstInt(g.i64, 1, 0), "");
    LLVMBuildBr(g.b, shead);
    LLVMValueRef sin_[2] = {vi, snext};
    LLVMBasicBlockRef sfrom[2] = {vhead, sbody};
    LLVMAddIncoming(si, sin_, sfrom, 2);

    LLVMPositionBuilderAtEnd(g.b, exit);
    emit_exit(&g, fn);
    LLVMBuildRetVoid(g.b);

    LLVMDisposeBuilder(g.b);
    free(g.scalar_leaf);
    free(g.vector_leaf);
    free(g.val);
    free(g.uniform);
    free(g.acc_of_out);
    return fn;
}

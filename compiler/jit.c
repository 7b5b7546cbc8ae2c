/* jit.c: LLVM module construction, optimization and ORC LLJIT compilation.
 *
 * The target is the host: triple, CPU name and features from LLVM, so the passes and
 * the code generator see AVX2/AVX-512 where the machine has them (with a generic
 * target machine nothing vectorizes well).  Vector widths follow the libmvec ABI we
 * call: 16 floats or 8 doubles per AVX-512 register where the host has AVX-512F,
 * else 8 floats or 4 doubles per AVX2 register; without AVX2 the kernels are scalar
 * loops.  On this project's machine (AMD Zen 4, whose 512-bit operations issue as one
 * macro-op and execute in two halves) the 512-bit loops ran phnn's f32 forward kernel
 * 1.8x and seed_hnn's 1.4x faster in cache than the 256-bit ones (bench/kernels.c's
 * in-cache table with and without HAM_VECTOR_BITS=256): the same work in half the
 * instructions.  libmvec.so.1 is loaded into the
 * process so that the JIT's symbol generator finds _ZGVeN16v_expf and friends, as it
 * finds libm's expf. */
#include "jit.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/ExecutionEngine.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/OrcEE.h>
#include <llvm-c/Support.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "derive.h"
#include "llvm_gen.h"
#include "../runtime/staged.h"

typedef struct CacheEntry {
    uint64_t hash;
    int with_adjoint;
    HamKernelFn forward[2], adjoint[2];
    HamStaged *staged;         // what the entry points of a staged step run, or NULL
    int stages, gemms, gemm_macs;
    struct CacheEntry *next;
} CacheEntry;

struct Jit {
    LLVMOrcLLJITRef lljit;
    LLVMTargetMachineRef tm;   // for the passes and the data layout
    char *triple, *cpu, *features;
    int avx2, avx512;          // the host's vector extensions (avx512: AVX-512F and VL)
    CacheEntry *cache;
    int serial;                // makes symbol names unique across compilations
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int take_error(LLVMErrorRef e, const char *what, char *err, size_t errlen)
{
    if (!e) return 0;
    char *msg = LLVMGetErrorMessage(e);
    snprintf(err, errlen, "%s: %s", what, msg);
    LLVMDisposeErrorMessage(msg);
    return -1;
}

void jit_default_options(JitOptions *o)
{
    memset(o, 0, sizeof *o);
    o->opt_level = 2;
    const char *contract = getenv("HAM_CONTRACT");
    o->contract = !(contract && !strcmp(contract, "0"));
    o->with_adjoint = 1;
    o->precisions = 1 << HAM_F32 | 1 << HAM_F64;
    const char *vm = getenv("HAM_VECMATH");
    o->libm_math = vm && !strcmp(vm, "libmvec");
    o->gemm = stage_mode();
    const char *order = getenv("HAM_SCHEDULE");
    o->plan_order = order && !strcmp(order, "plan");
    const char *bits = getenv("HAM_VECTOR_BITS");
    o->vector_bits = bits ? atoi(bits) : 0;
}

static LLVMTargetMachineRef host_machine(Jit *j, char *err, size_t errlen)
{
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple(j->triple, &target, &msg)) {
        snprintf(err, errlen, "LLVM has no target for %s: %s", j->triple, msg ? msg : "");
        LLVMDisposeMessage(msg);
        return NULL;
    }
    const char *lvl = getenv("HAM_CODEGEN_LEVEL");
    LLVMCodeGenOptLevel level = LLVMCodeGenLevelAggressive;
    if (lvl && *lvl == '1') level = LLVMCodeGenLevelLess;
    if (lvl && *lvl == '2') level = LLVMCodeGenLevelDefault;
    if (lvl && *lvl == '0') level = LLVMCodeGenLevelNone;
    return LLVMCreateTargetMachine(target, j->triple, j->cpu, j->features, level, LLVMRelocPIC,
                                   LLVMCodeModelJITDefault);
}

/* HAM_PERF_JIT=1: the object layer reports every compiled function to perf, through
 * LLVM's perf listener (a jitdump file, jit-PID.dump, under $JITDUMPDIR/.debug/jit/,
 * /tmp's when JITDUMPDIR is unset), so that
 * `perf record -k 1` and `perf inject --jit` name the kernels in a profile. */
static LLVMOrcObjectLayerRef perf_object_layer(void *ctx, LLVMOrcExecutionSessionRef es, const char *triple)
{
    (void)triple;
    LLVMOrcObjectLayerRef layer = LLVMOrcCreateRTDyldObjectLinkingLayerWithSectionMemoryManager(es);
    LLVMOrcRTDyldObjectLinkingLayerRegisterJITEventListener(layer, (LLVMJITEventListenerRef)ctx);
    return layer;
}

Jit *jit_create(char *err, size_t errlen)
{
    if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter()) {
        snprintf(err, errlen, "LLVM cannot generate code for this host");
        return NULL;
    }
    /* LLVM's own options, for experiments (process-global, so set once): e.g.
     * HAM_LLVM_ARGS="-enable-misched=false". */
    static int parsed;
    const char *llvm_args = getenv("HAM_LLVM_ARGS");
    if (llvm_args && !parsed) {
        static char buf[512];
        static const char *argv[16] = {"hamc"};
        int argc = 1;
        snprintf(buf, sizeof buf, "%s", llvm_args);
        for (char *t = strtok(buf, " "); t && argc < 16; t = strtok(NULL, " ")) argv[argc++] = t;
        LLVMParseCommandLineOptions(argc, argv, NULL);
        parsed = 1;
    }
    Jit *j = calloc(1, sizeof *j);
    j->triple = LLVMGetDefaultTargetTriple();
    j->cpu = LLVMGetHostCPUName();
    j->features = LLVMGetHostCPUFeatures();
    j->avx2 = strstr(j->features, "+avx2") != NULL;
    j->avx512 = j->avx2 && strstr(j->features, "+avx512f") && strstr(j->features, "+avx512vl");
    // libmvec: the vector math the kernels call (glibc >= 2.22; tanh etc. >= 2.35).
    if (j->avx2 && LLVMLoadLibraryPermanently("libmvec.so.1")) j->avx2 = 0;
    j->tm = host_machine(j, err, errlen);
    LLVMTargetMachineRef jit_tm = j->tm ? host_machine(j, err, errlen) : NULL;
    if (!jit_tm) {
        jit_destroy(j);
        return NULL;
    }
    LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
    LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jit_tm));
    const char *perf = getenv("HAM_PERF_JIT");
    LLVMJITEventListenerRef listener = perf && *perf == '1' ? LLVMCreatePerfJITEventListener() : NULL;
    if (perf && *perf == '1' && !listener) fprintf(stderr, "hamc: HAM_PERF_JIT: this LLVM has no perf support\n");
    if (listener) LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(builder, perf_object_layer, listener);
    if (take_error(LLVMOrcCreateLLJIT(&j->lljit, builder), "cannot create the JIT", err, errlen)) {
        j->lljit = NULL;
        jit_destroy(j);
        return NULL;
    }
    LLVMOrcDefinitionGeneratorRef gen;
    if (take_error(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->lljit), NULL, NULL),
                   "cannot resolve libm for the JIT", err, errlen)) {
        jit_destroy(j);
        return NULL;
    }
    LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->lljit), gen);
    return j;
}

void jit_destroy(Jit *j)
{
    if (!j) return;
    if (j->lljit) {
        LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->lljit);
        if (e) LLVMConsumeError(e);
    }
    if (j->tm) LLVMDisposeTargetMachine(j->tm);
    LLVMDisposeMessage(j->triple);
    LLVMDisposeMessage(j->cpu);
    LLVMDisposeMessage(j->features);
    for (CacheEntry *c = j->cache, *next; c; c = next) {
        next = c->next;
        ham_staged_free(c->staged);
        free(c);
    }
    free(j);
}

/* ---- hashing and metadata ---- */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0x100000001B3ull;
}

/* The hash covers the forward step only: the adjoint is a function of it, and a
 * checkpoint must match whether or not its user compiled the adjoint. */
uint64_t codegen_hash(const StepProgram *s)
{
    int n = s->nstate + 1;
    const DagNode **roots = malloc((size_t)(n + 1) * sizeof *roots);
    memcpy(roots, s->next, (size_t)s->nstate * sizeof *roots);
    roots[s->nstate] = s->update;
    int count;
    const DagNode **list = dag_topo(n, roots, &count);
    uint64_t h = mix(1469598103934665603ull, (uint64_t)s->nstate * 1000003u + (uint64_t)s->nparam);
    for (int i = 0; i < count; i++) {
        const DagNode *x = list[i];
        uint64_t bits;
        memcpy(&bits, &x->value, sizeof bits);
        h = mix(h, (uint64_t)x->op);
        if (x->op == OP_CONST) h = mix(h, bits);
        if (x->op == OP_SYM) h = mix(h, (uint64_t)x->cls << 32 | (uint32_t)x->index);
        for (int k = 0; k < dag_op_info[x->op].arity; k++) h = mix(h, (uint64_t)x->kid[k]->slot);
    }
    for (int r = 0; r < n; r++) h = mix(h, (uint64_t)roots[r]->slot);
    free(list);
    free(roots);
    return h;
}

static HamArrayInfo *array_infos(const StepProgram *s, Arena *a, SymKind kind, int *count)
{
    const OptInfo *info = s->info;
    *count = info->count[kind];
    HamArrayInfo *out = arena_alloc(a, (size_t)(*count + 1) * sizeof *out);
    double *values = arena_alloc(a, (size_t)(info->scalars[kind] + 1) * sizeof *values);
    if (kind == SK_STATE) step_initial_state(s, values);
    for (int i = 0; i < *count; i++) {
        const Sym *sym = info->by_kind[kind][i];
        HamArrayInfo *x = &out[i];
        x->name = arena_strdup(a, sym->name);
        x->rank = sym->shape.rank;
        x->dim[0] = sym->shape.dim[0];
        x->dim[1] = sym->shape.dim[1];
        x->offset = sym->offset;
        x->size = shape_size(sym->shape);
        x->init = HAM_INIT_VALUES;
        x->values = values + sym->offset;
        Expr *dist = sym->decl->dist;
        if (kind == SK_PARAM && dist) {
            x->init = strcmp(dist->name, "normal") == 0 ? HAM_INIT_NORMAL : HAM_INIT_UNIFORM;
            x->values = NULL;
        }
    }
    if (kind == SK_PARAM) {   // constants: from the initializers; random ones are drawn later
        Rng rng = {0};
        step_initial_params(s, values, rng_draw, &rng);
        for (int i = 0; i < *count; i++) {
            const Sym *sym = info->by_kind[kind][i];
            Expr *dist = sym->decl->dist;
            if (!dist) continue;
            double ab[2] = {0, 0};
            step_param_distribution(s, sym, ab);
            out[i].a = ab[0];
            out[i].b = ab[1];
        }
    }
    return out;
}

void codegen_kernel_info(const StepProgram *s, Arena *a, HamKernelInfo *info)
{
    memset(info, 0, sizeof *info);
    info->name = arena_strdup(a, s->info->opt->name);
    info->spec_hash = codegen_hash(s);
    info->nstate = s->nstate;
    info->nparam = s->nparam;
    info->nhyper = s->nhyper;
    const DagNode *thetabar = s->adj_input ? s->adj_input[1] : NULL;
    info->theta_bar_nonzero = thetabar && !(thetabar->op == OP_CONST && thetabar->value == 0);
    info->states = array_infos(s, a, SK_STATE, &info->nstate_arrays);
    info->params = array_infos(s, a, SK_PARAM, &info->nparam_arrays);
    const char **names = arena_alloc(a, (size_t)(s->nhyper + 1) * sizeof *names);
    double *values = arena_alloc(a, (size_t)(s->nhyper + 1) * sizeof *values);
    for (int i = 0; i < s->nhyper; i++) {
        names[i] = arena_strdup(a, s->hyper_names[i]);
        values[i] = s->hyper_values[i];
    }
    info->hyper_names = names;
    info->hyper_values = values;
}

/* ---- building modules ---- */

static void kernel_name(char *buf, size_t size, const StepProgram *s, int serial, int adjoint, HamPrecision prec)
{
    char base[200];
    codegen_symbol_name(base, sizeof base, s->info->opt->name, adjoint, prec);
    snprintf(buf, size, "%s_%d", base, serial);
}

static int count_instructions(LLVMModuleRef mod)
{
    int n = 0;
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
        for (LLVMBasicBlockRef b = LLVMGetFirstBasicBlock(f); b; b = LLVMGetNextBasicBlock(b))
            for (LLVMValueRef i = LLVMGetFirstInstruction(b); i; i = LLVMGetNextInstruction(i)) n++;
    return n;
}

int jit_vector_bits(const Jit *j, const JitOptions *o)
{
    if (!j->avx2 || o->scalar) return 0;
    return j->avx512 && o->vector_bits != 256 ? 512 : 256;
}

/* The code generator's options for o's kernels of precision prec on this host. */
static void gen_options(const Jit *j, const JitOptions *o, int prec, LlvmGenOptions *go)
{
    *go = (LlvmGenOptions){(HamPrecision)prec, 1, prec == HAM_F32 && o->contract, !o->libm_math,
                           j->avx512 && !o->generic_math, o->plan_order};
    int bits = jit_vector_bits(j, o);
    if (bits) go->width = bits / (prec == HAM_F32 ? 32 : 64);
}

static const char *const stage_kind[3] = {"fwd", "aux", "adj"};

/* "ham_<optimizer>_stage<k>_<fwd|aux|adj>_<f32|f64>_<serial>" */
static void stage_kernel_name(char *buf, size_t size, const StepProgram *s, int serial, int prec, int k, int kind)
{
    snprintf(buf, size, "ham_%s_stage%d_%s_%s_%d", s->info->opt->name, k, stage_kind[kind],
             prec == HAM_F32 ? "f32" : "f64", serial);
}

/* The plan of stage k's kernel of a kind (0 fwd, 1 aux, 2 adj), or NULL if there is
 * none (nothing to do, or the aux kernel is the fwd one). */
static const KernelPlan *stage_plan(const StagedStep *sst, int k, int kind)
{
    const KernelPlan *p = kind == 0 ? &sst->fwd[k] : kind == 1 ? &sst->fwd_aux[k] : sst->adj ? &sst->adj[k] : NULL;
    if (!p || p->nout == 0) return NULL;
    if (kind == 1 && sst->fwd_aux[k].nout == sst->fwd[k].nout) return NULL;
    return p;
}

/* A staged step's kernels: the stages', and the entry points calling ham_staged_run. */
static void build_staged(Jit *j, LLVMModuleRef mod, const StepProgram *s, const JitOptions *o, int serial,
                         const StagedStep *sst, const HamStaged *hs, int with_adjoint)
{
    for (int prec = HAM_F32; prec <= HAM_F64; prec++) {
        if (!(o->precisions & 1 << prec)) continue;
        LlvmGenOptions go;
        gen_options(j, o, prec, &go);
        char name[300];
        for (int k = 0; k < sst->nstage; k++) {
            for (int kind = 0; kind < 3; kind++) {
                const KernelPlan *p = stage_plan(sst, k, kind);
                if (!p || (kind == 2 && !with_adjoint)) continue;
                stage_kernel_name(name, sizeof name, s, serial, prec, k, kind);
                llvm_gen_kernel(mod, p, name, &go);
            }
        }
        void (*run)(void);
        void (*staged_run)(const HamStaged *, int, const HamStepArgs *) = ham_staged_run;
        memcpy(&run, &staged_run, sizeof run);
        for (int adjoint = 0; adjoint <= with_adjoint; adjoint++) {
            kernel_name(name, sizeof name, s, serial, adjoint, (HamPrecision)prec);
            llvm_gen_trampoline(mod, name, run, hs, 2 * adjoint + prec);
        }
    }
}

static LLVMModuleRef build_module(Jit *j, LLVMContextRef ctx, const StepProgram *s, const JitOptions *o,
                                  int serial, JitStats *st, const StagedStep *sst, const HamStaged *hs,
                                  char *err, size_t errlen)
{
    double t0 = now_ms();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext(s->info->opt->name, ctx);
    LLVMSetTarget(mod, j->triple);
    LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(j->tm);
    LLVMSetModuleDataLayout(mod, layout);
    LLVMDisposeTargetData(layout);
    if (sst) build_staged(j, mod, s, o, serial, sst, hs, o->with_adjoint && s->adj_state && sst->adj);
    for (int adjoint = 0; !sst && adjoint <= (o->with_adjoint && s->adj_state ? 1 : 0); adjoint++) {
        KernelPlan plan;
        codegen_plan(s, adjoint, &plan);
        for (int prec = HAM_F32; prec <= HAM_F64; prec++) {
            if (!(o->precisions & 1 << prec)) continue;
            LlvmGenOptions go;
            gen_options(j, o, prec, &go);
            char name[256];
            kernel_name(name, sizeof name, s, serial, adjoint, (HamPrecision)prec);
            llvm_gen_kernel(mod, &plan, name, &go);
        }
        codegen_plan_free(&plan);
    }
    char *msg = NULL;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        snprintf(err, errlen, "internal error: invalid IR for %s: %.300s", s->info->opt->name, msg);
        LLVMDisposeMessage(msg);
        LLVMDisposeModule(mod);
        return NULL;
    }
    LLVMDisposeMessage(msg);
    double t1 = now_ms();
    if (st) st->build_ms = t1 - t0, st->ir_instructions = count_instructions(mod);
    if (o->opt_level > 0) {
        /* The kernels arrive vectorized and with common subexpressions shared (the
         * DAG is hash-consed), so the IR passes have little left to find; LLVM's
         * default<O2> also runs passes that are superlinear in the size of a basic
         * block (the SLP vectorizer, GVN), which on the LSTM's 10^4-op bodies take
         * minutes.  This pipeline promotes the accumulators (sroa), folds and
         * cleans up, all linear; the code generator does the rest. */
        const char *pipeline = getenv("HAM_PASSES");
        int huge = (st ? st->ir_instructions : count_instructions(mod)) > 50000;
        if (!pipeline && o->opt_level >= 3) pipeline = "default<O3>";
        // instcombine alone took 3 s of the LSTM's compile for no measurable speed
        if (!pipeline) pipeline = huge ? "function(sroa,early-cse,simplifycfg)"
                                       : "function(sroa,early-cse,instcombine,simplifycfg)";
        LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
        LLVMErrorRef e = LLVMRunPasses(mod, pipeline, j->tm, po);
        LLVMDisposePassBuilderOptions(po);
        if (take_error(e, "optimizing", err, errlen)) {
            LLVMDisposeModule(mod);
            return NULL;
        }
    }
    if (st) st->optimize_ms = now_ms() - t1;
    return mod;
}

/* The runtime's description of a staged step (kernels filled in after lookup). */
static HamStaged *staged_description(const StepProgram *s, const StagedStep *sst)
{
    HamStaged *hs = ham_staged_new(sst->nstage, sst->ngemm);
    hs->ncol = sst->ncol;
    hs->nstate = s->nstate;
    hs->nparam = s->nparam;
    for (int g = 0; g < sst->ngemm; g++) {
        const StageGemm *G = &sst->gemm[g];
        HamStagedGemm *H = &hs->gemm[g];
        *H = (HamStagedGemm){G->level, G->rows, G->cols, G->x_col, G->y_col, NULL};
        size_t bytes = (size_t)G->rows * (size_t)G->cols * sizeof *H->w;
        H->w = malloc(bytes ? bytes : 1);
        if (!H->w) abort();
        memcpy(H->w, G->w, bytes);
    }
    ham_staged_index(hs);
    return hs;
}

static int lookup_stages(Jit *j, const StepProgram *s, const JitOptions *o, int serial, const StagedStep *sst,
                         HamStaged *hs, int with_adjoint, char *err, size_t errlen)
{
    for (int prec = HAM_F32; prec <= HAM_F64; prec++) {
        if (!(o->precisions & 1 << prec)) continue;
        for (int k = 0; k < sst->nstage; k++) {
            for (int kind = 0; kind < 3; kind++) {
                HamKernelFn *slot = kind == 0 ? &hs->fwd[prec][k] : kind == 1 ? &hs->fwd_aux[prec][k] : &hs->adj[prec][k];
                const KernelPlan *p = stage_plan(sst, k, kind);
                if (kind == 1 && !p && sst->fwd_aux[k].nout > 0) *slot = hs->fwd[prec][k];   // the same kernel
                if (!p || (kind == 2 && !with_adjoint)) continue;
                char name[300];
                stage_kernel_name(name, sizeof name, s, serial, prec, k, kind);
                LLVMOrcExecutorAddress addr = 0;
                if (take_error(LLVMOrcLLJITLookup(j->lljit, &addr, name), "compiling", err, errlen)) return -1;
                memcpy(slot, &(void *){(void *)(uintptr_t)addr}, sizeof *slot);
            }
        }
    }
    return 0;
}

int jit_compile(Jit *j, const StepProgram *s, const JitOptions *o, Arena *arena, HamKernel *out,
                JitStats *st, char *err, size_t errlen)
{
    JitStats local;
    if (!st) st = &local;
    memset(st, 0, sizeof *st);
    memset(out, 0, sizeof *out);
    codegen_kernel_info(s, arena, &out->info);
    uint64_t hash = out->info.spec_hash ^ (uint64_t)(o->contract * 2 + o->scalar * 4 + o->opt_level * 16 +
                                                     o->precisions * 256 + o->libm_math * 8192 + o->gemm * 16384 +
                                                     (uint64_t)o->generic_math * 4096 +
                                                     ((uint64_t)o->plan_order << 40) +
                                                     (uint64_t)jit_vector_bits(j, o) * 65536);
    int want_adjoint = o->with_adjoint && s->adj_state;
    for (CacheEntry *c = j->cache; c; c = c->next) {
        if (c->hash != hash || c->with_adjoint < want_adjoint) continue;
        memcpy(out->forward, c->forward, sizeof out->forward);
        if (want_adjoint) memcpy(out->adjoint, c->adjoint, sizeof out->adjoint);
        out->info.input_adjoints = want_adjoint && !c->staged;
        st->cached = 1;
        st->stages = c->stages, st->gemms = c->gemms, st->gemm_macs = c->gemm_macs;
        return 0;
    }
    int serial = ++j->serial;
    StagedStep *sst = o->gemm != STAGE_OFF ? stage_build(s, (StageMode)o->gemm, want_adjoint) : NULL;
    HamStaged *hs = sst ? staged_description(s, sst) : NULL;
    if (sst) st->stages = sst->nstage, st->gemms = sst->ngemm, st->gemm_macs = sst->macs;
    LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
    LLVMModuleRef mod = build_module(j, LLVMOrcThreadSafeContextGetContext(tsc), s, o, serial, st, sst, hs, err, errlen);
    if (!mod) {
        LLVMOrcDisposeThreadSafeContext(tsc);
        stage_free(sst);
        ham_staged_free(hs);
        return -1;
    }
    double t0 = now_ms();
    LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
    LLVMOrcDisposeThreadSafeContext(tsc);
    LLVMOrcJITDylibRef dylib = LLVMOrcLLJITGetMainJITDylib(j->lljit);
    if (take_error(LLVMOrcLLJITAddLLVMIRModule(j->lljit, dylib, tsm), "adding the module", err, errlen)) {
        LLVMOrcDisposeThreadSafeModule(tsm);
        stage_free(sst);
        ham_staged_free(hs);
        return -1;
    }
    if (sst && lookup_stages(j, s, o, serial, sst, hs, want_adjoint, err, errlen) != 0) {
        stage_free(sst);
        ham_staged_free(hs);   // the module stays in the JIT, unreachable
        return -1;
    }
    stage_free(sst);
    for (int adjoint = 0; adjoint <= want_adjoint; adjoint++) {
        for (int prec = HAM_F32; prec <= HAM_F64; prec++) {
            if (!(o->precisions & 1 << prec)) continue;
            char name[256];
            kernel_name(name, sizeof name, s, serial, adjoint, (HamPrecision)prec);
            LLVMOrcExecutorAddress addr = 0;
            if (take_error(LLVMOrcLLJITLookup(j->lljit, &addr, name), "compiling", err, errlen)) {
                ham_staged_free(hs);
                return -1;
            }
            HamKernelFn fn;
            memcpy(&fn, &(void *){(void *)(uintptr_t)addr}, sizeof fn);
            if (adjoint) out->adjoint[prec] = fn;
            else out->forward[prec] = fn;
        }
    }
    st->codegen_ms = now_ms() - t0;
    // A staged step's adjoint is a sequence of stage kernels that leave out g_bar and
    // theta_bar; a whole-step adjoint writes them (OUT_INPUT_BAR).
    out->info.input_adjoints = want_adjoint && !hs;
    CacheEntry *c = calloc(1, sizeof *c);
    c->hash = hash;
    c->with_adjoint = want_adjoint;
    c->staged = hs;
    c->stages = st->stages, c->gemms = st->gemms, c->gemm_macs = st->gemm_macs;
    memcpy(c->forward, out->forward, sizeof c->forward);
    memcpy(c->adjoint, out->adjoint, sizeof c->adjoint);
    c->next = j->cache;
    j->cache = c;
    return 0;
}

char *jit_ir(Jit *j, const StepProgram *s, const JitOptions *o, char *err, size_t errlen)
{
    LLVMContextRef ctx = LLVMContextCreate();
    StagedStep *sst = o->gemm != STAGE_OFF ? stage_build(s, (StageMode)o->gemm, o->with_adjoint) : NULL;
    HamStaged *hs = sst ? staged_description(s, sst) : NULL;   // only its address is printed
    LLVMModuleRef mod = build_module(j, ctx, s, o, 0, NULL, sst, hs, err, errlen);
    stage_free(sst);
    ham_staged_free(hs);
    char *text = NULL;
    if (mod) {
        char *ir = LLVMPrintModuleToString(mod);
        text = strdup(ir);
        LLVMDisposeMessage(ir);
        LLVMDisposeModule(mod);
    }
    LLVMContextDispose(ctx);
    return text;
}

/* codegen.c: kernel plans, shared by the LLVM and the C backends. */
#include "codegen.h"

#include <stdio.h>
#include <string.h>

static void plan_nodes(KernelPlan *plan);

void codegen_plan(const StepProgram *s, int adjoint, KernelPlan *plan)
{
    int max = adjoint ? s->nstate + s->nparam + 2 : s->nstate + 1;
    KernelOut *outs = dag_realloc(NULL, (size_t)(max + 1) * sizeof *outs);
    int nout = 0;
    if (!adjoint) {
        for (int k = 0; k < s->nstate; k++) outs[nout++] = (KernelOut){OUT_NEXT, k, s->next[k]};
        outs[nout++] = (KernelOut){OUT_UPDATE, 0, s->update};
    } else {
        for (int k = 0; k < s->nstate; k++) outs[nout++] = (KernelOut){OUT_STATE_BAR, k, s->adj_state[k]};
        for (int k = 0; k < s->nparam; k++) outs[nout++] = (KernelOut){OUT_PARAM_BAR, k, s->adj_param[k]};
        for (int k = 0; k < 2; k++) outs[nout++] = (KernelOut){OUT_INPUT_BAR, k, s->adj_input[k]};
    }
    codegen_plan_outs(s, adjoint, outs, nout, plan);
    dag_realloc(outs, 0);
}

void codegen_plan_outs(const StepProgram *s, int adjoint, const KernelOut *outs, int nout, KernelPlan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->adjoint = adjoint;
    plan->nstate = s->nstate;
    plan->nparam = s->nparam;
    plan->nhyper = s->nhyper;
    plan->outs = dag_realloc(NULL, (size_t)(nout + 1) * sizeof *plan->outs);
    for (int k = 0; k < nout; k++) {
        const DagNode *n = outs[k].node;
        if (outs[k].kind == OUT_PARAM_BAR && n->op == OP_CONST && n->value == 0) continue;
        plan->outs[plan->nout++] = outs[k];
        plan->nparam_bar += outs[k].kind == OUT_PARAM_BAR;
    }
    plan_nodes(plan);
}

/* The nodes the outputs need, in topological order, with operand positions. */
static void plan_nodes(KernelPlan *plan)
{
    const DagNode **roots = dag_realloc(NULL, (size_t)(plan->nout + 1) * sizeof *roots);
    for (int k = 0; k < plan->nout; k++) roots[k] = plan->outs[k].node;
    plan->nodes = dag_topo(plan->nout, roots, &plan->count);
    dag_realloc(roots, 0);
    // Positions now, while the slots are ours: a later traversal overwrites them.
    plan->uses = dag_realloc(NULL, (size_t)(plan->count + 1) * sizeof *plan->uses);
    plan->kid = dag_realloc(NULL, (size_t)(plan->count + 1) * sizeof *plan->kid);
    plan->out_pos = dag_realloc(NULL, (size_t)(plan->nout + 1) * sizeof *plan->out_pos);
    memset(plan->uses, 0, (size_t)(plan->count + 1) * sizeof *plan->uses);
    for (int k = 0; k < plan->count; k++) {
        for (int j = 0; j < 3; j++) plan->kid[k][j] = -1;
        for (int j = 0; j < dag_op_info[plan->nodes[k]->op].arity; j++) {
            plan->kid[k][j] = plan->nodes[k]->kid[j]->slot;
            plan->uses[plan->kid[k][j]]++;
        }
    }
    for (int k = 0; k < plan->nout; k++) {
        plan->out_pos[k] = plan->outs[k].node->slot;
        plan->uses[plan->out_pos[k]]++;
    }
}

void codegen_plan_free(KernelPlan *plan)
{
    dag_realloc(plan->outs, 0);
    dag_realloc(plan->nodes, 0);
    dag_realloc(plan->uses, 0);
    dag_realloc(plan->kid, 0);
    dag_realloc(plan->out_pos, 0);
    memset(plan, 0, sizeof *plan);
}

void codegen_symbol_name(char *buf, size_t size, const char *opt, int adjoint, HamPrecision prec)
{
    snprintf(buf, size, "ham_%s_%s_%s", opt, adjoint ? "adjoint" : "forward",
             prec == HAM_F32 ? "f32" : "f64");
}

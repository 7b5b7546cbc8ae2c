/* phs.h: deriving the port-Hamiltonian dynamics and discretizing them (phs.c,
 * integrate.c); used by step.c. */
#ifndef HAM_PHS_H
#define HAM_PHS_H

#include "step.h"

/* phs_derive: H, dH/dx, J, R, G, u, the field f and the energy balance terms into s
 * (s->ndyn and s->dyn_state set).  Returns 0, or -1 if the pool failed. */
int phs_derive(StepProgram *s, Lowering *l);

/* integrate: the dynamic states after one step of s->integrator with step s->dt,
 * written into next[state scalar].  Returns 0, -1 if the pool failed, or -2 (with
 * a message in *why) if the integrator cannot treat this system. */
int integrate(StepProgram *s, const DagNode **next, const char **why);

#endif

/* sema.h: the semantic pass, and the checked form of an optimizer that later passes use.
 *
 * Sema resolves every name to a Sym, infers and checks the static shape of every
 * expression (filling Expr.shape), evaluates hypers, dimensions and initializers that
 * must be constant, and checks the structure of the optimizer: every state gets
 * exactly one next value (from the Hamiltonian dynamics or from `next`), H is a
 * scalar, J is skew-symmetric and R positive semidefinite by construction, the port
 * matrix fits the state and the port input, and the integrator suits the structure.
 * It reports every problem it finds, and warns about names never used. */
#ifndef HAM_SEMA_H
#define HAM_SEMA_H

#include "load.h"

typedef enum {
    SK_HYPER,        // constant, overridable at run time
    SK_INPUT,        // per coordinate, from the runtime: g, t, theta
    SK_STATE,        // per coordinate, carried across steps
    SK_PARAM,        // learned, shared by all coordinates
    SK_LET,          // a named expression
    SK_ENERGY,       // the hamiltonian's name (H)
    SK_STRUCTURE,    // J
    SK_DISSIPATION,  // R
    SK_PORT,         // G
    SK_KIND_COUNT
} SymKind;

struct Sym {
    SymKind kind;
    const char *name;
    Decl *decl;
    Shape shape;
    int index;        // position among the symbols of its kind
    int offset;       // first scalar among its kind's scalars, flattened row-major
    int used;         // referenced at least once
    int typing;       // let/energy/...: 1 while its value is being typed (cycle check)
    int typed;        // its value has been typed
    int uses_prime;   // its value reads a post-step state (only `update` may then use it)
    double value;     // hyper: its value
    Decl *next;       // state: its `next` declaration; NULL when the dynamics drive it
    int dynamic;      // state: driven by the port-Hamiltonian dynamics
    int dyn_offset;   // state: first scalar within x, the vector of dynamic states
};

typedef enum {
    INT_EULER,             // x' = x + dt f(x)
    INT_SYMPLECTIC_EULER,  // p first: p' = p + dt f_p(q, p), q' = q + dt f_q(q, p')
    INT_LEAPFROG,          // Stormer-Verlet: half step p, full step q, half step p
    INT_RK4,               // classical fourth-order Runge-Kutta
    INT_CONFORMAL,         // exact linear friction flow, then symplectic Euler
    INT_KIND_COUNT
} IntegratorKind;

const char *sema_integrator_name(IntegratorKind k);

/* Known runtime inputs, by name. */
typedef enum { INPUT_G, INPUT_T, INPUT_THETA, INPUT_KIND_COUNT } InputKind;

typedef struct OptInfo {
    Optimizer *opt;
    Sym **syms;                 // every declared name, in declaration order
    int nsyms;
    Sym **by_kind[SK_KIND_COUNT];
    int count[SK_KIND_COUNT];   // symbols of each kind
    int scalars[SK_KIND_COUNT]; // scalars of each kind (states, params, hypers...)
    Decl *hamiltonian, *structure, *dissipation, *port, *integrator, *update;
    int ndyn;                   // scalars in x, the dynamic state
    Expr *port_input;           // u: as written, or the first input when omitted
    Shape u_shape;
    Sym *canon_q, *canon_p;     // the canonical pair, when J is canonical(q, p)
    int j_default;              // J was not written: canonical by names, or zero
    IntegratorKind integrator_kind;
    double dt;                  // integrator step
    int passive;                // dissipative by construction: J skew, R PSD
} OptInfo;

/* sema_program: check every optimizer and def of a loaded program.  Returns the
 * number of errors found (also counted in the Diag). */
int sema_program(Program *p);

/* sema_optimizer: check one optimizer (the REPL checks entries one at a time). */
OptInfo *sema_optimizer(Program *p, Optimizer *o);

Sym *sema_lookup(const OptInfo *info, const char *name);
InputKind sema_input_kind(const char *name);

#endif

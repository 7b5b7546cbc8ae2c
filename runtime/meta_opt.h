/* meta_opt.h: the optimizers of the learned optimizer's params phi (meta-training).
 *
 * Plain vectors of doubles.  Adam follows torch.optim.Adam (bias-corrected, eps
 * outside the square root); SGD is plain gradient descent.  The state is a list of
 * named arrays so checkpoints can store any meta-optimizer the same way. */
#ifndef HAM_META_OPT_H
#define HAM_META_OPT_H

typedef enum { META_ADAM, META_SGD } MetaOptKind;

typedef struct MetaOpt {
    MetaOptKind kind;
    int n;
    double lr, beta1, beta2, eps;
    double step;            // steps taken
    double *m, *v;          // Adam moments [n]
} MetaOpt;

/* meta_opt_init: kind by name ("adam", "sgd"); -1 for an unknown name. */
int meta_opt_init(MetaOpt *o, const char *name, int n, double lr);
/* meta_opt_known: 1 if name is a meta-optimizer meta_opt_init takes (NULL: no). */
int meta_opt_known(const char *name);
void meta_opt_free(MetaOpt *o);
void meta_opt_step(MetaOpt *o, double *params, const double *grad);
const char *meta_opt_name(const MetaOpt *o);

#endif

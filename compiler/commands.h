/* commands.h: the hamc commands that run optimizers (cmd_runtime.c); main.c holds
 * the table of all commands. */
#ifndef HAM_COMMANDS_H
#define HAM_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_train(int argc, char **argv);

/* The flag set by SIGINT while a run or a training is going on. */
extern volatile int ham_interrupted;
void ham_catch_interrupt(int on);

#endif

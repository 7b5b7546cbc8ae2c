/* emit_main.c: `hamc emit-c` as a stand-alone program, for builds of hamc that do
 * not have the command yet: ./emit emit-c FILE [options] -o OUT (see c_emit.h). */
#include "c_emit.h"

int main(int argc, char **argv)
{
    return c_emit_command(argc - 1, argv + 1);
}

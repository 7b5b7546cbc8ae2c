/* fuzz_script.c: libFuzzer target for the REPL's command language (compiler/repl_cmd.c).
 *
 * The input is a script, as `hamc run-script FILE --keep-going` reads it: lines of
 * commands and (possibly multi-line) definitions, run in one fresh session.  The
 * session is restricted (repl_session_restrict): run, compare, train, plot, save, load,
 * load-params and emit-c are refused with a one-line error, so an input never starts
 * a long job or touches a file; what is left is the reader (entries, continuation
 * lines, comments), definitions and their replacement, set (which recompiles), show,
 * derive, list, task and help.  Sanitizers are the oracle: overreads, leaks, UB.
 *
 * The REPL prints a lot; tools/fuzz.sh runs this target with -close_fd_mask=3, which
 * silences stdout and stderr but keeps libFuzzer's and the sanitizers' reports.  Seeds:
 * examples/NAME.repl and tests/fuzz/script/. */
#include <stddef.h>
#include <stdint.h>

#include "repl_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;   // fmemopen refuses an empty buffer; nothing to run anyway
    repl_script_text((const char *)data, size, 1);
    return 0;
}

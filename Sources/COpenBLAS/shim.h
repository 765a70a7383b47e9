/* OpenBLAS's CBLAS interface; the include path comes from pkg-config "openblas". */
#include <cblas.h>

/* OpenBLAS exports this (driver/others/blas_server.c: it ends the worker threads, and the next
 * threaded call starts them again) but cblas.h does not declare it. lungct calls it once at
 * start (GEMM.stopIdleThreads); the declaration can go when OpenBLAS's header has it. */
int blas_thread_shutdown_(void);

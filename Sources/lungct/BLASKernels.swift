import Foundation
import NeuralEngine

/// OpenBLAS picks its kernels once, when the library loads, from the CPU model number or from
/// OPENBLAS_CORETYPE; by the time lungct's own code runs the choice is made. On a CPU that
/// OpenBLAS 0.3.21 does not know it runs the generic SSE3 kernels, at less than half the
/// speed of the AVX-512 ones for the lesion network, so lungct starts itself again once with
/// the variable set to what the CPU can run (`GEMM.recognisedKernels`).
enum BLASKernels {
    /// The environment variable OpenBLAS reads; a value the user set is always kept.
    static let variable = "OPENBLAS_CORETYPE"

    /// Replaces this process by lungct with the same arguments and OPENBLAS_CORETYPE set,
    /// when OpenBLAS fell back to its generic kernels on a CPU that runs better ones and the
    /// variable is unset. Returns when there is nothing to do, or when the new start fails
    /// (lungct then carries on with the generic kernels: slower, the same results within
    /// rounding; child processes inherit the variable and start with the better kernels).
    static func restartWithRecognisedKernels() {
        guard getenv(variable) == nil, let kernels = GEMM.recognisedKernels() else { return }
        setenv(variable, kernels, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }

    /// Then stops OpenBLAS's idle worker threads (`GEMM.stopIdleThreads`), which would spin on
    /// a core while lungct starts.
    static func settle() {
        restartWithRecognisedKernels()
        GEMM.stopIdleThreads()
    }
}

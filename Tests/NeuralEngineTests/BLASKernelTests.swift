import NeuralEngine
import Testing

/// The OpenBLAS kernel set lungct asks for when OpenBLAS does not recognise the CPU: the best
/// one whose instructions the CPU lists, never one it cannot run.
@Test func kernelsFollowTheInstructionSetsTheCPUHas() {
    let skylake: Set<Substring> = [
        "sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl",
    ]
    #expect(GEMM.kernels(for: skylake) == "SkylakeX")
    // AVX-512 without BW/DQ/VL (Knights Landing) cannot run the SkylakeX kernels.
    #expect(GEMM.kernels(for: ["avx", "avx2", "fma", "avx512f", "avx512cd"]) == "Haswell")
    #expect(GEMM.kernels(for: ["sse3", "avx", "avx2", "fma"]) == "Haswell")
    #expect(GEMM.kernels(for: ["sse3", "avx", "avx2"]) == nil)
    #expect(GEMM.kernels(for: ["sse3", "ssse3"]) == nil)
}

/// Only a fallback to the generic kernels is overridden: a recognised CPU keeps OpenBLAS's choice.
@Test func recognisedKernelsAreOnlyOfferedWhenOpenBLASFellBack() {
    let offered = GEMM.recognisedKernels(cpuFlags: ["avx2", "fma"])
    #expect(offered == (GEMM.coreName == "Prescott" ? "Haswell" : nil))
}

internal import COpenBLAS
import Foundation

/// Dense matrix multiplication on OpenBLAS, the one place NeuralEngine calls BLAS.
public enum GEMM {
    /// C ← alpha · op(A) · op(B) + beta · C in single precision, all matrices row-major.
    ///
    /// op(A) is m×k and op(B) is k×n; C is m×n. A is stored as m×k, or as k×m when
    /// `transposeA`; B as k×n, or n×k when `transposeB`. `lda`, `ldb`, `ldc` are the row
    /// strides of the stored matrices (at least their column counts), so a sub-matrix of a
    /// larger one can be passed in place. With `beta` 0, C's old contents are ignored
    /// (NaN included). Dimensions or buffers that do not fit are programmer errors and trap.
    ///
    /// The corresponding C function is `cblas_sgemm`.
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafeBufferPointer<Float>, lda: Int, b: UnsafeBufferPointer<Float>, ldb: Int, beta: Float = 0,
        c: UnsafeMutableBufferPointer<Float>, ldc: Int
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension m \(m), n \(n), k \(k)")
        checkStorage("A", a.count, rows: transposeA ? k : m, columns: transposeA ? m : k, stride: lda)
        checkStorage("B", b.count, rows: transposeB ? n : k, columns: transposeB ? k : n, stride: ldb)
        checkStorage("C", c.count, rows: m, columns: n, stride: ldc)
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a.baseAddress, blasint(lda), b.baseAddress, blasint(ldb), beta,
            c.baseAddress, blasint(ldc))
    }

    /// How many threads OpenBLAS may use for one product. lungct sets 1 while it runs several
    /// products in parallel itself (one per image of a batch), since splitting each small
    /// product again mostly costs thread hand-offs. The corresponding C function is
    /// `openblas_set_num_threads`.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Ends the worker threads OpenBLAS started when it loaded. Each spins (sched_yield) for
    /// about 0.1 s of CPU before it sleeps, waiting for a product that most commands never ask
    /// for: on two cores that is one core taken from lungct's own start (`info --stats` 0.82×
    /// the wall clock without it). The next product that uses threads starts them again. Call it
    /// before any product runs. The corresponding C function is `blas_thread_shutdown_`.
    public static func stopIdleThreads() {
        _ = blas_thread_shutdown_()
    }

    /// The kernels OpenBLAS chose for this CPU when it loaded, e.g. "Haswell" or "SkylakeX".
    /// "Prescott" means it did not recognise the CPU (as on some virtual machines that report a
    /// generic model) and runs its SSE3 kernels, about half as fast as the AVX2 ones for
    /// lungct's convolutions; the environment variable OPENBLAS_CORETYPE (e.g. Haswell), set
    /// before the process starts, overrides the choice. The corresponding C function is
    /// `openblas_get_corename`.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The OpenBLAS kernel set (a value of OPENBLAS_CORETYPE) this CPU can run when OpenBLAS
    /// fell back to its generic "Prescott" kernels, else nil. OpenBLAS 0.3.21 (Debian 12)
    /// chooses kernels by CPU model number and does not know recent Xeons (model 207, Emerald
    /// Rapids, on the machines lungct is built on), although they run its AVX-512 kernels:
    /// "SkylakeX" halves the lesion network's time there. The choice is made from the
    /// instruction sets the kernels need, as the kernel's /proc/cpuinfo lists them:
    /// AVX-512 F, CD, BW, DQ and VL for SkylakeX, AVX2 and FMA for Haswell.
    public static func recognisedKernels(cpuFlags: Set<Substring>? = nil) -> String? {
        guard coreName == "Prescott", let flags = cpuFlags ?? processorFlags() else { return nil }
        return kernels(for: flags)
    }

    /// The best OpenBLAS kernel set for these /proc/cpuinfo flags (nil: none better than SSE3).
    public static func kernels(for flags: Set<Substring>) -> String? {
        if flags.isSuperset(of: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// The first processor's "flags" line of /proc/cpuinfo, nil where there is none.
    private static func processorFlags() -> Set<Substring>? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
            let colon = line.firstIndex(of: ":")
        else { return nil }
        return Set(line[line.index(after: colon)...].split(separator: " "))
    }

    /// The threads OpenBLAS may use now. The corresponding C function is `openblas_get_num_threads`.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with single-threaded products and restores the previous setting, so that
    /// callers that already run products in parallel (training several folds at once) keep theirs.
    public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        let previous = threads
        guard previous > 1 else { return try body() }
        setThreads(1)
        defer { setThreads(previous) }
        return try body()
    }

    /// `sgemm` on densely packed arrays: each stored matrix's row stride is its column count.
    /// The corresponding C function is `cblas_sgemm`.
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1, a: [Float],
        b: [Float], beta: Float = 0, c: inout [Float]
    ) {
        precondition(a.count == m * k, "sgemm: A holds \(a.count) values, op(A) is \(m)×\(k)")
        precondition(b.count == k * n, "sgemm: B holds \(b.count) values, op(B) is \(k)×\(n)")
        precondition(c.count == m * n, "sgemm: C holds \(c.count) values, C is \(m)×\(n)")
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    sgemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a,
                        lda: max(1, transposeA ? m : k), b: b, ldb: max(1, transposeB ? k : n), beta: beta, c: c,
                        ldc: max(1, n))
                }
            }
        }
    }

    /// Traps unless a stored rows×columns matrix with this row stride fits in `count` values
    /// and every number fits BLAS's 32-bit integers. BLAS itself would read out of bounds,
    /// or print a message via xerbla and carry on with C untouched.
    private static func checkStorage(_ name: String, _ count: Int, rows: Int, columns: Int, stride: Int) {
        precondition(
            stride >= max(1, columns), "sgemm: ld\(name.lowercased()) \(stride) < \(columns) columns of \(name)")
        precondition(
            rows <= Int(Int32.max) && columns <= Int(Int32.max) && stride <= Int(Int32.max),
            "sgemm: \(name) exceeds 32-bit BLAS indexing")
        if rows > 0, columns > 0 {
            let needed = (rows - 1) * stride + columns
            precondition(
                count >= needed,
                "sgemm: \(name) needs \(needed) values (\(rows)×\(columns), stride \(stride)), has \(count)")
        }
    }
}

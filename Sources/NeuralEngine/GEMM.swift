internal import COpenBLAS

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

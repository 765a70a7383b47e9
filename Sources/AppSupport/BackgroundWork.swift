import Dispatch

/// Work running on a background thread; `wait` returns when it is done and rethrows its error.
/// The failure is written once by the worker before `leave` and read only after `wait`, so the
/// unchecked Sendable is sound.
public final class BackgroundWork: @unchecked Sendable {
    private let group = DispatchGroup()
    private var failure: LungCTError?

    public init(_ body: @escaping @Sendable () throws(LungCTError) -> Void) {
        group.enter()
        DispatchQueue.global().async { [self] in
            defer { group.leave() }
            do throws(LungCTError) { try body() } catch { failure = error }
        }
    }

    public func wait() throws(LungCTError) {
        group.wait()
        if let failure { throw failure }
    }

    /// Waits for every one of `works`, then throws the first one's failure: none is left
    /// running when this returns or throws.
    public static func waitAll(_ works: [BackgroundWork]) throws(LungCTError) {
        var first: LungCTError?
        for work in works {
            do { try work.wait() } catch { first = first ?? error }
        }
        if let first { throw first }
    }
}

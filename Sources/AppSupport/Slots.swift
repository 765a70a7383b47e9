import Foundation

/// One result slot per index, filled by concurrent workers (`DispatchQueue.concurrentPerform`)
/// and read once they are done. A lock guards the array, so the unchecked Sendable is sound.
public final class Slots<Value>: @unchecked Sendable {
    private var values: [Value]
    private let lock = NSLock()

    public init(count: Int, initial: Value) { values = Array(repeating: initial, count: count) }

    public func set(_ index: Int, _ value: Value) { lock.withLock { values[index] = value } }
    public func get(_ index: Int) -> Value { lock.withLock { values[index] } }
}

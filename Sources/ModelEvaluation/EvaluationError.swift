/// Input lungct cannot evaluate: a predictions file it cannot parse, or a cross-validation
/// request the data cannot satisfy. Mismatched array lengths are programmer errors and trap.
public struct EvaluationError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Fewer than two folds were asked for.
        case invalidFoldCount
        /// There are fewer distinct groups than folds, so some fold would be empty.
        case tooFewGroups
        /// A predictions CSV does not follow the `path,label,prob_<class>,...` layout.
        case malformedCSV
        /// A predictions file could not be read or written.
        case fileAccess
    }

    public var kind: Kind
    /// The file the problem is about, when there is one.
    public var path: String?
    /// The 1-based line where the offending record starts, for CSV problems.
    public var line: Int?
    /// What went wrong, in words a user can act on.
    public var message: String

    public init(_ kind: Kind, path: String? = nil, line: Int? = nil, message: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        var location = path ?? ""
        if let line { location += location.isEmpty ? "line \(line)" : ":\(line)" }
        return location.isEmpty ? message : "\(location): \(message)"
    }
}

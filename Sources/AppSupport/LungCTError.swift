/// The errors lungct's application modules throw. Each case is one kind of failure a user can
/// act on; the CLI's exit-code table (`ExitCode` in Sources/lungct) maps each to its code.
public enum LungCTError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Nothing in the input can be analysed: no image series, or every series was rejected.
    case nothingToAnalyse(input: String, details: String)
    /// An input exists but cannot be read or loaded (corrupt, truncated, unsupported).
    case inputFailed(String)
    /// An output file or folder cannot be written.
    case outputFailed(String)
    /// The arguments name something that is not there (for example an unknown --series).
    case usage(String)
    /// A model file is missing, damaged or not listed in Weights/MANIFEST with its SHA-256.
    case modelInvalid(String)
    /// Something lungct itself got wrong (a bug): not the input's fault, not the user's.
    case internalFailure(String)

    /// The case without its message, for code that needs to know only which kind of failure
    /// this is (the CLI's exit-code table, tests).
    public enum Category: Sendable, CaseIterable {
        case nothingToAnalyse, inputFailed, outputFailed, usage, modelInvalid, internalFailure
    }

    public var category: Category {
        switch self {
        case .nothingToAnalyse: .nothingToAnalyse
        case .inputFailed: .inputFailed
        case .outputFailed: .outputFailed
        case .usage: .usage
        case .modelInvalid: .modelInvalid
        case .internalFailure: .internalFailure
        }
    }

    public var description: String {
        switch self {
        case .nothingToAnalyse(let input, let details):
            return "\(input): nothing to analyse. \(details)"
        case .internalFailure(let message):
            return "internal error (a bug in lungct; please report it with this message): \(message)"
        case .inputFailed(let message), .outputFailed(let message), .usage(let message), .modelInvalid(let message):
            return message
        }
    }
}

/// Errors a lungct command reports, each with its documented exit code (README, "Exit codes").
public enum LungCTError: Error, CustomStringConvertible, Sendable {
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

    public var exitCode: Int32 {
        switch self {
        case .usage: 1
        case .nothingToAnalyse: 2
        case .inputFailed: 3
        case .modelInvalid: 4
        case .outputFailed: 5
        }
    }

    public var description: String {
        switch self {
        case .nothingToAnalyse(let input, let details):
            return "\(input): nothing to analyse. \(details)"
        case .inputFailed(let message), .outputFailed(let message), .usage(let message), .modelInvalid(let message):
            return message
        }
    }
}

/// Exit codes shared by every command.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let usage: Int32 = 1
    public static let nothingToAnalyse: Int32 = 2
    public static let inputFailed: Int32 = 3
    public static let modelInvalid: Int32 = 4
    public static let outputFailed: Int32 = 5
    /// `lungct batch`: every case finished, some of them failed (summary.csv says why).
    public static let someFailed: Int32 = 6
    /// `lungct batch --merge`: some shards have not finished (or never ran).
    public static let shardsUnfinished: Int32 = 7
    /// `lungct batch` stopped by SIGINT or SIGTERM before every case finished (128 + SIGINT,
    /// as shells report it); rerunning the same command finishes the rest.
    public static let interrupted: Int32 = 130
}

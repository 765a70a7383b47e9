import AppSupport
import BatchScoring

/// lungct's exit codes: the one table. Libraries throw typed errors and know no codes; this
/// maps them, and writes the table that `lungct --help` and the README show (a test checks
/// that the README's table is this one).
enum ExitCode: Int32, CaseIterable {
    case success = 0
    case usage = 1
    case nothingToAnalyse = 2
    case inputFailed = 3
    case modelInvalid = 4
    case outputFailed = 5
    case someFailed = 6
    case shardsUnfinished = 7
    case internalFailure = 8
    case interrupted = 130

    /// What the code means, as the help text and the README say it.
    var meaning: String {
        switch self {
        case .success: "done (batch: every case ok or skipped)"
        case .usage:
            "usage error (an unknown option, a bad value, an unknown --series, a listen port that cannot be opened)"
        case .nothingToAnalyse: "nothing to analyse (no image series, every series rejected; batch: no case)"
        case .inputFailed: "an input could not be read or loaded (batch: the archive cannot be read)"
        case .modelInvalid: "a model is missing, damaged or does not match its MANIFEST SHA-256"
        case .outputFailed: "an output could not be written (disk full, no permission)"
        case .someFailed: "batch: some cases failed (summary.csv says why)"
        case .shardsUnfinished: "batch merge: some shards have not finished"
        case .internalFailure: "internal error: a bug in lungct (please report the message)"
        case .interrupted:
            "batch: interrupted by SIGINT or SIGTERM (rerun the same command to finish); listen: a second SIGINT or SIGTERM"
        }
    }

    init(_ error: LungCTError) {
        self =
            switch error.category {
            case .usage: .usage
            case .nothingToAnalyse: .nothingToAnalyse
            case .inputFailed: .inputFailed
            case .modelInvalid: .modelInvalid
            case .outputFailed: .outputFailed
            case .internalFailure: .internalFailure
            }
    }

    init(_ outcome: BatchOutcome) {
        self =
            switch outcome {
            case .done: .success
            case .nothingToAnalyse: .nothingToAnalyse
            case .someFailed: .someFailed
            case .interrupted: .interrupted
            case .shardsUnfinished: .shardsUnfinished
            }
    }

    /// The table for `--help`.
    static var helpText: String {
        "Exit codes:\n"
            + allCases.map { code in
                let number = String(code.rawValue)
                return String(repeating: " ", count: max(0, 5 - number.count)) + number + "  " + code.meaning
            }.joined(separator: "\n")
    }

    /// The table for the README (Markdown).
    static var markdownTable: String {
        (["| code | meaning |", "|---|---|"] + allCases.map { "| \($0.rawValue) | \($0.meaning) |" })
            .joined(separator: "\n")
    }
}

import AppSupport
import ArgumentParser
import Foundation

@main
struct LungCT: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lungct",
        abstract:
            "Volumetric CT lung analysis: lung masks, a lung panel and standard outputs from CT series and radiographs.",
        discussion: ExitCode.helpText,
        version: LungCTVersion.string,
        subcommands: [
            Analyze.self, Batch.self, Info.self, Convert.self, PhantomCommand.self, Train.self, Evaluate.self,
            ModelCommand.self, SynthLesions.self, Listen.self, ExitCodes.self,
        ])

    /// Parses and runs a command. A `LungCTError` is printed on stderr and becomes its code in
    /// the exit-code table; ArgumentParser's usage errors (its own code is 64, EX_USAGE)
    /// become `ExitCode.usage`. OpenBLAS's kernels and threads are settled first (`BLASKernels`).
    static func main() {
        BLASKernels.settle()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as LungCTError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(ExitCode(error).rawValue)
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitCode.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// `lungct exit-codes`: the table, for scripts and for the README (`--markdown`).
struct ExitCodes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exit-codes", abstract: "Print the table of exit codes.")

    @Flag(help: "As a Markdown table (what the README shows).")
    var markdown = false

    func run() {
        print(markdown ? ExitCode.markdownTable : ExitCode.helpText)
    }
}

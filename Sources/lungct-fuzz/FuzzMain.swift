import Foundation

// Two builds of one program. With -DFUZZING (and -sanitize=fuzzer,address) it hands
// control to libFuzzer, which feeds inputs to the target named by the environment variable
// LUNGCT_FUZZ_TARGET. Without it, `lungct-fuzz TARGET FILE...` replays inputs (a
// crash libFuzzer saved, a corpus folder) through the same entry, once each. scripts/fuzz.sh
// runs both.

/// The environment variable that names the target of a fuzzing build.
let targetVariable = "LUNGCT_FUZZ_TARGET"

/// The target names, for messages.
let targetNames = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")

#if FUZZING
    /// The harness of this process, made before libFuzzer starts; libFuzzer runs inputs on one
    /// thread.
    nonisolated(unsafe) var harness: FuzzHarness?

    /// libFuzzer's driver, for programs with their own `main` (libFuzzer's documentation,
    /// "Using libFuzzer as a library"): SwiftPM makes an executable target's entry point the
    /// program's `main`, so libFuzzer's own `main` cannot be used. Declared here because no C
    /// module declares it; its arguments are pointers and an integer, passed alike by Swift and C.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// The fuzzing build: the target named by LUNGCT_FUZZ_TARGET, libFuzzer's options as
    /// arguments (`-runs=`, `-max_total_time=`, corpus folders...).
    @main
    enum Fuzz {
        static func main() {
            let name = ProcessInfo.processInfo.environment[targetVariable] ?? ""
            guard let target = FuzzTarget(rawValue: name) else {
                fail("lungct-fuzz: set \(targetVariable) to one of \(targetNames)")
            }
            do {
                harness = try FuzzHarness(target: target)
            } catch {
                fail("lungct-fuzz: cannot create its temporary folder: \(error)")
            }
            // libFuzzer ends with exit(), which runs no deinit: the private folder goes here.
            atexit { harness = nil }
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            // -1 keeps an input that is not for this target out of the corpus.
            exit(
                runFuzzerDriver(&argc, &argv) { data, size in
                    let input = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
                    return harness?.run(input) == false ? -1 : 0
                })
        }
    }
#else
    /// `lungct-fuzz TARGET FILE|FOLDER...`: each file (a folder: each file in it) through the
    /// target once. Exit 0 when every input was read without a crash, 1 for a usage error.
    @main
    enum Replay {
        static func main() {
            let arguments = Array(CommandLine.arguments.dropFirst())
            guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[0]) else {
                fail(
                    "usage: lungct-fuzz TARGET FILE|FOLDER...\n"
                        + "  replays inputs through one fuzz target (\(targetNames)) once each;\n"
                        + "  a fuzzing build (scripts/fuzz.sh) takes the target from \(targetVariable)")
            }
            let harness: FuzzHarness
            do {
                harness = try FuzzHarness(target: target)
            } catch {
                fail("lungct-fuzz: cannot create its temporary folder: \(error)")
            }
            for path in arguments.dropFirst().flatMap(files) {
                guard let data = FileManager.default.contents(atPath: path) else { fail("\(path): cannot read") }
                let used = data.withUnsafeBytes { harness.run($0) }
                print("\(path): \(used ? "read" : "not a \(target.rawValue) input, skipped")")
            }
        }

        /// The files of a path: itself, or the regular files directly in a folder, sorted.
        static func files(_ path: String) -> [String] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue
            else { return [path] }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.sorted().map { path + "/" + $0 }.filter {
                (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType) == .typeRegular
            }
        }
    }
#endif

/// Prints `message` on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(1)
}

import Foundation

/// Runs `executable` to the end, as `runProcess` does, and also returns its peak resident memory
/// in bytes (`ru_maxrss` of `wait4`). Started with `posix_spawn` instead of `startProcess`
/// because `Process` reaps its child itself and keeps the resource usage; `wait4` on this one
/// pid measures this child alone, whatever other tests run beside it. The corresponding C
/// functions are `posix_spawn` and `wait4`.
public func runMeasuringPeakMemory(_ executable: String, _ arguments: [String]) throws -> (run: Run, peakBytes: Int) {
    let folder = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (out, err) = (folder + "/run.out", folder + "/run.err")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let started = posix_spawn(&pid, executable, &actions, nil, argv, environ)
    guard started == 0 else { throw TestFailure("cannot start \(executable): \(String(cString: strerror(started)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        guard errno == EINTR else { throw TestFailure("wait4 failed: \(String(cString: strerror(errno)))") }
    }
    // <sys/wait.h>: the low 7 bits are the signal that ended it (0: it exited), bits 8-15 the exit status.
    let signal = status & 0x7F
    let run = Run(
        status: signal == 0 ? (status >> 8) & 0xFF : 128 + signal,
        stdout: try String(contentsOfFile: out, encoding: .utf8),
        stderr: try String(contentsOfFile: err, encoding: .utf8))
    // Linux reports ru_maxrss in KiB.
    return (run, usage.ru_maxrss * 1024)
}

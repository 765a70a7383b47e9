import Foundation

/// Runs `executable` to the end, as `runProcess` does, and also returns its peak resident memory
/// in bytes, as GNU time(1) reports it (`%M`). Through time because of where the child comes
/// from: glibc's posix_spawn (and Process) start it with clone(CLONE_VM), and Linux carries the
/// parent's high-water RSS into the child's `ru_maxrss` at exec, so `wait4` on a child of the
/// test process reported the test process's own peak (217 MB once the suite had run a while)
/// instead of the child's. time(1) forks the command from its own small process. Started with
/// `posix_spawn` and reaped with `wait4` on this one pid, whatever other tests run beside it.
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
    guard let time = toolPath("time") else { throw TestFailure("GNU time(1) is needed to measure peak memory") }
    let peakFile = folder + "/peak"
    let argv = ([time, "-f", "%M", "-o", peakFile, executable] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let started = posix_spawn(&pid, time, &actions, nil, argv, environ)
    guard started == 0 else { throw TestFailure("cannot start \(time): \(String(cString: strerror(started)))") }
    var status: Int32 = 0
    while wait4(pid, &status, 0, nil) < 0 {
        guard errno == EINTR else { throw TestFailure("wait4 failed: \(String(cString: strerror(errno)))") }
    }
    // <sys/wait.h>: the low 7 bits are the signal that ended it (0: it exited), bits 8-15 the exit status.
    let signal = status & 0x7F
    let run = Run(
        status: signal == 0 ? (status >> 8) & 0xFF : 128 + signal,
        stdout: try String(contentsOfFile: out, encoding: .utf8),
        stderr: try String(contentsOfFile: err, encoding: .utf8))
    // time(1) writes %M in KiB, on the last line (after "Command terminated by signal N", if any).
    let report = try String(contentsOfFile: peakFile, encoding: .utf8)
    guard let line = report.split(separator: "\n").last, let kib = Int(line.trimmingCharacters(in: .whitespaces))
    else { throw TestFailure("time(1) wrote no peak memory: \(report)") }
    return (run, kib * 1024)
}

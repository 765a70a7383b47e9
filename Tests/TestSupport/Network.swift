import Foundation

/// A TCP socket and the address 127.0.0.1:`port`.
private func loopbackSocket(port: UInt16) throws -> (socket: Int32, address: sockaddr_in) {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw TestFailure("socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    return (socketFD, address)
}

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice for port 0), for a
/// test's servers.
public func freeTCPPort() throws -> UInt16 {
    var (socketFD, address) = try loopbackSocket(port: 0)
    defer { close(socketFD) }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            bind(socketFD, generic, length) == 0 && getsockname(socketFD, generic, &length) == 0
        }
    }
    guard bound else { throw TestFailure("cannot bind a free port") }
    return UInt16(bigEndian: address.sin_port)
}

/// Sends `bytes` to 127.0.0.1:`port` and closes the connection (a peer that speaks no DICOM).
public func sendRawBytes(_ bytes: [UInt8], toPort port: UInt16) throws {
    var (socketFD, address) = try loopbackSocket(port: port)
    defer { close(socketFD) }
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
    guard connected else { throw TestFailure("cannot connect to port \(port)") }
    _ = bytes.withUnsafeBytes { send(socketFD, $0.baseAddress, $0.count, 0) }
}

/// Polls `condition` every 0.2 s until it holds (true) or `seconds` have passed (false).
public func waitFor(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.2)
    }
    return try condition()
}

internal import CDICOMNetwork

/// An application entity title as DICOM allows it (PS3.5 6.2, AE): 1 to 16 characters of the
/// default repertoire without backslash or control characters, not only spaces.
public enum AETitle {
    public static func isValid(_ title: String) -> Bool {
        let bytes = Array(title.utf8)
        guard (1...16).contains(bytes.count), bytes.contains(where: { $0 != 0x20 }) else { return false }
        return bytes.allSatisfy { (0x20...0x7E).contains($0) && $0 != 0x5C }
    }
}

/// A DICOM node to send to: `AE@HOST:PORT`.
public struct DICOMPeer: Sendable, Equatable, CustomStringConvertible {
    public var aeTitle: String
    public var host: String
    public var port: UInt16

    public init(aeTitle: String, host: String, port: UInt16) {
        self.aeTitle = aeTitle
        self.host = host
        self.port = port
    }

    /// Parses `AE@HOST:PORT`; nil (with the reason) when a part is missing or invalid.
    public static func parse(_ text: String) -> Result<DICOMPeer, PeerSyntaxError> {
        guard let at = text.firstIndex(of: "@"), let colon = text.lastIndex(of: ":"), at < colon else {
            return .failure(PeerSyntaxError(text: text, reason: "expected AE@HOST:PORT"))
        }
        let title = String(text[..<at])
        let host = String(text[text.index(after: at)..<colon])
        guard AETitle.isValid(title) else {
            return .failure(PeerSyntaxError(text: text, reason: "the AE title must be 1 to 16 printable characters"))
        }
        guard !host.isEmpty, host.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return .failure(PeerSyntaxError(text: text, reason: "the host is empty or has spaces"))
        }
        guard let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            return .failure(PeerSyntaxError(text: text, reason: "the port must be 1 to 65535"))
        }
        return .success(DICOMPeer(aeTitle: title, host: host, port: port))
    }

    public var description: String { "\(aeTitle)@\(host):\(port)" }
}

public struct PeerSyntaxError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "\(text): \(reason)" }
}

/// A failure of the network layer, with DCMTK's message.
public struct NetworkError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Calls a CDICOMNetwork function that writes why it failed into a message buffer (given with
/// its size) and returns LCT_NET_OK when it did not; throws that message otherwise.
func reportingFailure(_ call: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws(NetworkError) {
    var message = [CChar](repeating: 0, count: 1024)
    let status = message.withUnsafeMutableBufferPointer { call($0.baseAddress!, $0.count) }
    guard status == Int32(LCT_NET_OK) else { throw NetworkError(message: String(cString: message)) }
}

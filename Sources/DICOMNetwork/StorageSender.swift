internal import CDICOMNetwork
import Foundation

/// The storage SCU: sends DICOM files by C-STORE (DCMTK's DcmStorageSCU), and checks a node
/// with C-ECHO.
public enum StorageSender {
    /// Sends `files` over one association; returns how many the peer stored. Throws when any
    /// file was not stored, saying the first problem (the count sent so far is in the message).
    @discardableResult
    public static func send(_ files: [String], to peer: DICOMPeer, callingAE: String, timeoutSeconds: Int = 30)
        throws(NetworkError) -> Int
    {
        let strings = files.map { strdup($0) }
        defer { for string in strings { free(string) } }
        var pointers = strings.map { UnsafePointer<CChar>($0) }
        var sent: Int32 = 0
        do {
            try reportingFailure { message, size in
                pointers.withUnsafeMutableBufferPointer { list in
                    lct_net_send(
                        peer.host, peer.port, callingAE, peer.aeTitle, list.baseAddress, Int32(files.count),
                        Int32(timeoutSeconds), &sent, message, size)
                }
            }
        } catch {
            throw NetworkError(message: "\(error.message) (\(sent) of \(files.count) stored)")
        }
        return Int(sent)
    }

    /// C-ECHO: returns normally when the peer answers.
    public static func echo(_ peer: DICOMPeer, callingAE: String, timeoutSeconds: Int = 10) throws(NetworkError) {
        try reportingFailure { message, size in
            lct_net_echo(peer.host, peer.port, callingAE, peer.aeTitle, Int32(timeoutSeconds), message, size)
        }
    }
}

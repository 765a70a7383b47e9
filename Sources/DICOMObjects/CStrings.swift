import Foundation

/// C strings that live as long as this object: the C structs of cdicomobjects.h point into
/// them for the duration of one call.
final class CStrings {
    private var pointers: [UnsafeMutablePointer<CChar>] = []

    func callAsFunction(_ text: String) -> UnsafePointer<CChar> {
        let pointer = strdup(text)!
        pointers.append(pointer)
        return UnsafePointer(pointer)
    }

    deinit {
        for pointer in pointers { free(pointer) }
    }
}

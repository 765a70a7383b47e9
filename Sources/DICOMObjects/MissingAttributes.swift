internal import CDICOMObjects
import Dispatch

extension DICOMObjectWriter {
    /// Adds to each file of `paths` the attributes of `attributes` (keyword → value) it lacks,
    /// keeping its transfer syntax; files are completed in parallel. The corresponding C
    /// function is `lct_obj_add_missing_attributes`.
    public static func addMissingAttributes(_ attributes: [(keyword: String, value: String)], to paths: [String])
        throws(DICOMObjectError)
    {
        let errors = ErrorSlots(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: paths.count) { index in
            let strings = CStrings()
            let keywords: [UnsafePointer<CChar>?] = attributes.map { strings($0.keyword) }
            let values: [UnsafePointer<CChar>?] = attributes.map { strings($0.value) }
            var message = [CChar](repeating: 0, count: 1024)
            let status = lct_obj_add_missing_attributes(
                paths[index], keywords, values, attributes.count, &message, message.count)
            do throws(DICOMObjectError) {
                try check(status, path: paths[index], message: message)
            } catch {
                errors.set(index, error)
            }
        }
        if let error = errors.first { throw error }
    }
}

/// One error slot per parallel task; each task writes only its own.
private final class ErrorSlots: @unchecked Sendable {
    private var errors: [DICOMObjectError?]
    private let lock = DispatchQueue(label: "lungct.dicomobjects.errors")

    init(count: Int) { errors = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ error: DICOMObjectError) { lock.sync { errors[index] = error } }

    var first: DICOMObjectError? { lock.sync { errors.compactMap { $0 }.first } }
}

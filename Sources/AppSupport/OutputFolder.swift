import Foundation

/// An output folder, made ready before any work is done: a run of minutes must not fail at
/// its end on a folder it could have checked at its start.
public enum OutputFolder {
    /// Creates the folder (and its parents) and checks that it is writable.
    public static func prepare(_ folder: String) throws(LungCTError) {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .outputFailed("\(folder): cannot create the output folder: \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: folder) else {
            throw .outputFailed("\(folder): the output folder is not writable")
        }
    }
}

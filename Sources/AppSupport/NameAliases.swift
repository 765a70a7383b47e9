import Foundation

/// Symbolic links with UTF-8 names to files and folders whose own paths lungct cannot open by
/// name: a Swift `String` cannot hold a name that is not valid UTF-8 (Latin-1 names from old
/// PACS exports are common), and no path longer than PATH_MAX opens. symlink(2) takes its
/// target as bytes, and every reader lungct uses (DCMTK, nifticlib, libpng, libjpeg,
/// Foundation) follows links, so a file is read through its alias unchanged. One link per
/// file or folder and no descriptor held open, so a series of thousands of files needs no
/// raised fd limit. What each alias stands for is in `shown`.
public final class NameAliases: @unchecked Sendable {
    /// Why an alias could not be made.
    public struct Failure: Error, Sendable {
        public var message: String
    }

    /// The start of a temporary alias folder's name, followed by the process id and mkdtemp's
    /// suffix; hidden, so that a scan of the temporary folder itself passes over it.
    static let temporaryPrefix = ".lungct-names-"

    /// The folder a temporary alias folder is made in; nil when the caller chose the folder.
    private let temporaryParent: String?
    private let lock = NSLock()
    private var names = ShownNames()
    private var made = 0
    private var folderReady = false

    /// Aliases in a folder of their own, made in `parent` with mkdtemp(3) when the first alias
    /// is needed and removed when this object goes (the command, or the inspection that loads
    /// through them, is done). Alias folders that killed lungct processes left in `parent` are
    /// removed then too: each holds only links.
    public init(temporaryIn parent: String = NSTemporaryDirectory()) {
        temporaryParent = parent.hasSuffix("/") && parent.count > 1 ? String(parent.dropLast()) : parent
    }

    /// Aliases in `folder` (made when the first alias is needed), which the caller removes
    /// with its own scratch folder (a batch's, which also outlives this object).
    public init(in folder: String) {
        temporaryParent = nil
        names.folder = folder
    }

    deinit {
        // FileManager removes links, never what they point to (it walks with FTS_PHYSICAL).
        if temporaryParent != nil, folderReady { try? FileManager.default.removeItem(atPath: names.folder) }
    }

    /// The aliases made so far and what they stand for.
    public var shown: ShownNames { lock.withLock { names } }

    /// Makes an alias for `target` (a path as bytes, which the file system resolves from `/`
    /// or from the alias folder, so absolute), named "N-" and `name` (see `linkName`),
    /// standing for `shown`. Returns the alias's path.
    public func alias(to target: [UInt8], name: String, shown: String, notUTF8: Bool) -> Result<String, Failure> {
        lock.withLock {
            if !folderReady {
                if let failure = makeFolder() { return .failure(failure) }
                folderReady = true
            }
            made += 1
            let path = names.folder + "/" + Self.linkName(made, name)
            guard symlink(target.map { CChar(bitPattern: $0) } + [0], path) == 0 else {
                return .failure(Self.failure(errno, "cannot make the link \(path)"))
            }
            names.links[made] = ShownNames.Link(alias: path, shown: shown, notUTF8: notUTF8)
            return .success(path)
        }
    }

    private func makeFolder() -> Failure? {
        guard let parent = temporaryParent else {
            return mkdir(names.folder, 0o700) == 0 || errno == EEXIST
                ? nil : Self.failure(errno, "cannot make the alias folder \(names.folder)")
        }
        Self.removeStale(in: parent)
        var template = Array((parent + "/" + Self.temporaryPrefix + "\(getpid())-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            return Self.failure(errno, "cannot make an alias folder in \(parent)")
        }
        names.folder = String(cString: made)
        return nil
    }

    /// Removes the alias folders in `parent` whose process is gone (kill(2) says ESRCH) and
    /// that belong to this user.
    static func removeStale(in parent: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: parent) else { return }
        for name in names where name.hasPrefix(temporaryPrefix) {
            let path = parent + "/" + name
            var status = stat()
            guard let pid = Int32(name.dropFirst(temporaryPrefix.count).prefix { $0 != "-" }), pid != getpid(),
                kill(pid, 0) == -1, errno == ESRCH, lstat(path, &status) == 0,
                status.st_mode & S_IFMT == S_IFDIR, status.st_uid == geteuid()
            else { continue }
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// "N-name", cut to NAME_MAX bytes by dropping the start of `name` (its end has the
    /// extension, which tells a NIfTI or a zip file). One folder of links and no folder per
    /// link: on a disk file system a mkdir and rmdir per file cost more than the scan.
    static func linkName(_ number: Int, _ name: String) -> String {
        let prefix = "\(number)-"
        var tail = Substring(name)
        while prefix.utf8.count + tail.utf8.count > Int(NAME_MAX) { tail = tail.dropFirst() }
        return prefix + tail
    }

    /// `code` first, so that errno is read before `what` is built.
    private static func failure(_ code: Int32, _ what: String) -> Failure {
        Failure(message: "no alias could be made to read it through (\(what): \(String(cString: strerror(code))))")
    }
}

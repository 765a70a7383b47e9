import Foundation

/// The regular files under a folder, searched recursively (hidden entries passed over), each
/// with a path lungct can open. One walk with opendir(3)/readdir(3), which hand out names as
/// bytes: a file or folder whose name is not valid UTF-8 (Latin-1 names from old PACS exports
/// are common), which Foundation's enumerator passes over and a `String` cannot name, is read
/// through an alias (`NameAliases`), as is anything deeper than PATH_MAX. The type of each
/// entry comes from readdir's d_type, so only a file system that leaves it unknown costs an
/// lstat(2); either way it is the entry itself that is judged, never what a link points to.
public struct FileTree: Sendable {
    /// A regular file.
    public struct File: Sendable, Hashable {
        /// A path that opens it: its own, or an alias when its own is not valid UTF-8 or too long.
        public var path: String
        /// Its path relative to the root, bytes that are not UTF-8 shown as `\xNN`.
        public var shown: String
        /// Whether its path (name or folders) is not valid UTF-8.
        public var notUTF8: Bool
    }

    /// An entry that is not read, with the reason: a symbolic link, a FIFO, socket or device,
    /// a folder that cannot be read, a file no alias could be made for.
    public struct Refused: Sendable, Hashable {
        /// Relative to the root, as `File.shown` ("" for the root itself).
        public var shown: String
        public var reason: String
    }

    /// Sorted by `shown`.
    public var files: [File] = []
    /// Sorted by `shown`.
    public var refused: [Refused] = []

    /// Why a symbolic link in a folder is not read.
    public static let linkReason = "a symbolic link: not followed (lungct reads the regular files in a folder)"
    /// Why a FIFO, socket or device is not read.
    public static let specialReason = "not a regular file (a FIFO, socket or device): not read, it could block forever"
    /// Why a folder met a second time (a bind mount of one of its ancestors) is not searched again.
    public static let loopReason = "a folder already searched (a bind mount of it is inside it): not searched again"
    /// Folders are opened by a path this long at most: a longer one is opened through an
    /// alias, so that an alias's target (this, a slash and a NAME_MAX name) stays below PATH_MAX.
    static let longestFolderPath = Int(PATH_MAX) / 2

    /// Walks `root` (an absolute path, as aliases point to it). Aliases are made in
    /// `aliases`, each standing for `shownRoot` + "/" + the file's shown path. Folders whose
    /// path is one of `excluding` are not searched.
    public static func walk(
        _ root: String, aliases: NameAliases, shownRoot: String, excluding: Set<String> = []
    ) -> FileTree {
        var tree = FileTree()
        var pending = [Folder(opener: root, shown: "", notUTF8: false)]
        // Device and inode of each folder searched: links are not followed, but a bind mount
        // can still make a folder its own descendant.
        var searched = Set<[UInt64]>()
        while let folder = pending.popLast() {
            guard let directory = opendir(folder.opener) else {
                let reason = "folder cannot be read: \(String(cString: strerror(errno)))"
                tree.refused.append(Refused(shown: folder.shown, reason: reason))
                continue
            }
            var status = stat()
            if fstat(dirfd(directory), &status) == 0,
                !searched.insert([UInt64(status.st_dev), UInt64(status.st_ino)]).inserted
            {
                closedir(directory)
                tree.refused.append(Refused(shown: folder.shown, reason: loopReason))
                continue
            }
            while let entry = readdir(directory) {
                let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                guard let first = bytes.first, first != UInt8(ascii: ".") else { continue }
                let kind = Kind(entry.pointee.d_type, name: bytes, in: directory)
                let found = tree.add(
                    bytes, kind: kind, in: folder, aliases: aliases, shownRoot: shownRoot)
                if let found, !excluding.contains(found.opener) { pending.append(found) }
            }
            closedir(directory)
        }
        tree.files.sort { $0.shown < $1.shown }
        tree.refused.sort { $0.shown < $1.shown }
        return tree
    }

    /// Files an entry of `folder` named `bytes`, or refuses it; returns it when it is a folder to search.
    private mutating func add(
        _ bytes: [UInt8], kind: Kind, in folder: Folder, aliases: NameAliases, shownRoot: String
    ) -> Folder? {
        let name = String(validating: bytes, as: UTF8.self)
        let shownName = name ?? ShownNames.shown(bytes: bytes)
        let shown = Self.join(folder.shown, shownName)
        let notUTF8 = folder.notUTF8 || name == nil
        switch kind {
        case .link:
            refused.append(Refused(shown: shown, reason: Self.linkReason))
            return nil
        case .special:
            refused.append(Refused(shown: shown, reason: Self.specialReason))
            return nil
        case .folder, .file:
            var opener = name.map { folder.opener + "/" + $0 } ?? ""
            if name == nil || opener.utf8.count >= (kind == .folder ? Self.longestFolderPath : Int(PATH_MAX)) {
                let target = Array(folder.opener.utf8) + [UInt8(ascii: "/")] + bytes
                switch aliases.alias(
                    to: target, name: shownName, shown: Self.join(shownRoot, shown), notUTF8: notUTF8)
                {
                case .success(let alias): opener = alias
                case .failure(let failure):
                    refused.append(Refused(shown: shown, reason: failure.message))
                    return nil
                }
            }
            guard kind == .folder else {
                files.append(File(path: opener, shown: shown, notUTF8: notUTF8))
                return nil
            }
            return Folder(opener: opener, shown: shown, notUTF8: notUTF8)
        }
    }

    /// A folder waiting to be read: a path that opens it, and its path as shown.
    struct Folder {
        var opener: String
        var shown: String
        var notUTF8: Bool
    }

    /// What a directory entry is, by itself (a link is a link, whatever it points to).
    enum Kind {
        case folder, file, link, special

        /// From readdir's d_type; fstatat(2) without following links only when the file
        /// system leaves the type unknown.
        init(_ type: UInt8, name: [UInt8], in directory: OpaquePointer) {
            var mode = mode_t(0)
            switch Int32(type) {
            case Int32(DT_DIR): mode = S_IFDIR
            case Int32(DT_REG): mode = S_IFREG
            case Int32(DT_LNK): mode = S_IFLNK
            case Int32(DT_UNKNOWN):
                var status = stat()
                let found =
                    fstatat(dirfd(directory), name.map { CChar(bitPattern: $0) } + [0], &status, AT_SYMLINK_NOFOLLOW)
                    == 0
                mode = found ? status.st_mode & S_IFMT : 0
            default: break
            }
            switch mode {
            case S_IFDIR: self = .folder
            case S_IFREG: self = .file
            case S_IFLNK: self = .link
            default: self = .special
            }
        }
    }

    static func join(_ folder: String, _ name: String) -> String { folder.isEmpty ? name : folder + "/" + name }
}

/// What the aliases lungct reads files through stand for, so that every message, report and
/// list names the file the user has, not the alias. An alias is `folder/N-name`: a symbolic
/// link (`NameAliases` makes them) to a file or folder whose path lungct cannot open by name
/// (not valid UTF-8, or longer than PATH_MAX), numbered, and named after its shown name, so
/// that even a message that keeps only the last part of a path names the file.
public struct ShownNames: Sendable, Codable, Hashable {
    /// One alias.
    public struct Link: Sendable, Codable, Hashable {
        /// The alias's path (`folder/N-name`).
        public var alias: String
        /// The path it stands for as shown to the user: bytes that are not UTF-8 as `\xNN`.
        public var shown: String
        /// Whether the path it stands for is not valid UTF-8 (else it was only too long).
        public var notUTF8: Bool
    }

    /// The folder holding the aliases ("" while there are none).
    public var folder = ""
    /// Each alias by its number N.
    public var links: [Int: Link] = [:]

    public init() {}

    /// The alias `path` is, or lies in (a file in an aliased folder), if any.
    public func link(of path: String) -> Link? { numbered(path)?.link }

    private func numbered(_ path: String) -> (number: Int, link: Link)? {
        guard !links.isEmpty, path.hasPrefix(folder + "/") else { return nil }
        let rest = path.utf8.dropFirst(folder.utf8.count + 1)
        guard let number = Int(String(decoding: rest.prefix { $0 != UInt8(ascii: "-") }, as: UTF8.self)),
            let link = links[number], path == link.alias || path.hasPrefix(link.alias + "/")
        else { return nil }
        return (number, link)
    }

    /// `path` as the user knows it: an alias (or a path through an aliased folder) replaced
    /// by what it stands for; any other path as it is.
    public func shown(path: String) -> String {
        guard let link = link(of: path) else { return path }
        return link.shown + path.dropFirst(link.alias.count)
    }

    /// Whether `path` is an alias for (or lies in an aliased folder of) a path that is not valid UTF-8.
    public func isNotUTF8(_ path: String) -> Bool { link(of: path)?.notUTF8 ?? false }

    /// `text` (a message, a reason) with every alias path in it replaced by what it stands for.
    public func shown(inText text: String) -> String {
        let marker = folder + "/"
        guard !links.isEmpty, text.contains(marker) else { return text }
        var result = ""
        var rest = Substring(text)
        while let found = rest.range(of: marker) {
            result += rest[..<found.lowerBound]
            let tail = rest[found.lowerBound...]
            let digits = tail.dropFirst(marker.count).prefix { $0.isASCII && $0.isNumber }
            if let number = Int(digits), let link = links[number], tail.hasPrefix(link.alias) {
                result += link.shown
                rest = tail.dropFirst(link.alias.count)
            } else {
                result += marker
                rest = tail.dropFirst(marker.count)
            }
        }
        return result + rest
    }

    /// The error with alias paths in its message replaced by what they stand for.
    public func shown(_ error: LungCTError) -> LungCTError {
        guard !links.isEmpty else { return error }
        switch error {
        case .nothingToAnalyse(let input, let details):
            return .nothingToAnalyse(input: shown(inText: input), details: shown(inText: details))
        case .inputFailed(let message): return .inputFailed(shown(inText: message))
        case .outputFailed(let message): return .outputFailed(shown(inText: message))
        case .usage(let message): return .usage(shown(inText: message))
        case .modelInvalid(let message): return .modelInvalid(shown(inText: message))
        case .internalFailure(let message): return .internalFailure(shown(inText: message))
        }
    }

    /// Only the aliases that `paths` go through (what one batch case needs to carry).
    public func restricted(to paths: [String]) -> ShownNames {
        var subset = ShownNames()
        subset.folder = folder
        for path in paths {
            if let (number, link) = numbered(path) { subset.links[number] = link }
        }
        return subset
    }

    /// A file or folder name that is not valid UTF-8 as shown to users: printable ASCII as it
    /// is, every other byte as `\xNN`, so that a Latin-1 "café" is `caf\xE9` and the user can
    /// find the file (and a newline in the name cannot break a line of the output).
    public static func shown(bytes: some Sequence<UInt8>) -> String {
        bytes.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + hex($0) }.joined()
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}

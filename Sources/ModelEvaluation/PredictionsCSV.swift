import Foundation

/// One image's prediction: its path, its true label (empty when unknown) and one probability
/// per class, in the order of the table's classes.
public struct PredictionRow: Codable, Sendable, Equatable {
    public var path: String
    public var label: String
    public var probabilities: [Double]

    public init(path: String, label: String, probabilities: [Double]) {
        self.path = path
        self.label = label
        self.probabilities = probabilities
    }
}

/// The contents of a predictions file.
public struct PredictionTable: Codable, Sendable, Equatable {
    public var classes: [String]
    public var rows: [PredictionRow]

    public init(classes: [String], rows: [PredictionRow]) {
        precondition(
            rows.allSatisfy { $0.probabilities.count == classes.count },
            "every row needs one probability per class (\(classes.count))")
        self.classes = classes
        self.rows = rows
    }

    /// The class index of each row's label; nil for an empty (unknown) label.
    public var truth: [Int?] { rows.map { row in classes.firstIndex(of: row.label) } }
}

/// `path,label,prob_<class1>,prob_<class2>,...`: one header line, then one record per image.
///
/// Fields follow RFC 4180: a field containing a comma, a double quote, CR or LF is enclosed in
/// double quotes with inner quotes doubled. Records end in LF when written; LF and CRLF are
/// both read, a leading byte-order mark is skipped, and empty lines are ignored. Numbers are
/// written in Swift's shortest form that parses back to the same Double (e.g. `0.1`, `1e-09`),
/// so metrics recomputed from the file equal those computed in memory; a fixed `%.6f` would
/// create ties that change the AUC.
public enum PredictionsCSV {
    /// Probabilities may exceed [0, 1] by this much: a single-precision softmax rounds to within
    /// a few ulps of 1, and a file should not be refused for that.
    public static let probabilityTolerance = 1e-6

    /// The file's text, header first.
    public static func format(_ table: PredictionTable) -> String {
        var text = record(["path", "label"] + table.classes.map { "prob_" + $0 })
        for row in table.rows {
            text += record([row.path, row.label] + row.probabilities.map { "\($0)" })
        }
        return text
    }

    /// Parses the text of a predictions file. Errors name the line where the bad record starts.
    public static func parse(_ text: String) throws(EvaluationError) -> PredictionTable {
        let records = try splitRecords(text)
        guard let header = records.first else {
            throw EvaluationError(
                .malformedCSV, line: 1, message: "the file is empty; expected a header line path,label,prob_<class>,..."
            )
        }
        guard header.fields.count >= 3, header.fields[0] == "path", header.fields[1] == "label",
            header.fields.dropFirst(2).allSatisfy({ $0.hasPrefix("prob_") && $0.count > 5 })
        else {
            throw EvaluationError(
                .malformedCSV, line: header.line,
                message:
                    "the header must be path,label,prob_<class>,... with at least one class, not \(header.fields.joined(separator: ","))"
            )
        }
        let classes = header.fields.dropFirst(2).map { String($0.dropFirst(5)) }
        guard Set(classes).count == classes.count else {
            throw EvaluationError(.malformedCSV, line: header.line, message: "the header repeats a class name")
        }

        var rows: [PredictionRow] = []
        for record in records.dropFirst() {
            guard record.fields.count == header.fields.count else {
                throw EvaluationError(
                    .malformedCSV, line: record.line,
                    message:
                        "\(record.fields.count) fields where the header has \(header.fields.count) (is a path with a comma unquoted?)"
                )
            }
            let label = record.fields[1]
            guard label.isEmpty || classes.contains(label) else {
                throw EvaluationError(
                    .malformedCSV, line: record.line,
                    message: "label \"\(label)\" is not one of the classes \(classes.joined(separator: ", "))")
            }
            var probabilities: [Double] = []
            for (column, field) in record.fields.dropFirst(2).enumerated() {
                guard let p = Double(field), p.isFinite,
                    p >= -probabilityTolerance, p <= 1 + probabilityTolerance
                else {
                    throw EvaluationError(
                        .malformedCSV, line: record.line,
                        message: "prob_\(classes[column]) is \"\(field)\", not a probability between 0 and 1")
                }
                probabilities.append(p)
            }
            rows.append(PredictionRow(path: record.fields[0], label: label, probabilities: probabilities))
        }
        return PredictionTable(classes: classes, rows: rows)
    }

    /// Writes the table atomically (a reader never sees half a file).
    public static func write(_ table: PredictionTable, to path: String) throws(EvaluationError) {
        do {
            try Data(format(table).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw EvaluationError(
                .fileAccess, path: path, message: "cannot write the predictions: \(error.localizedDescription)")
        }
    }

    /// Reads and parses a predictions file; errors carry the path and line.
    public static func read(path: String) throws(EvaluationError) -> PredictionTable {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw EvaluationError(
                .fileAccess, path: path, message: "cannot read the predictions: \(error.localizedDescription)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw EvaluationError(.malformedCSV, path: path, message: "the file is not UTF-8 text")
        }
        do {
            return try parse(text)
        } catch {
            var located = error
            located.path = path
            throw located
        }
    }

    static func record(_ fields: [String]) -> String {
        fields.map(quoted).joined(separator: ",") + "\n"
    }

    static func quoted(_ field: String) -> String {
        guard field.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return field
        }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// RFC 4180 records with the 1-based line each starts on. Works on Unicode scalars, where
    /// CR and LF are separate (as Characters, "\r\n" is one).
    static func splitRecords(_ text: String) throws(EvaluationError) -> [(line: Int, fields: [String])] {
        var records: [(line: Int, fields: [String])] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var fieldWasQuoted = false
        var quoteLine = 1
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }

        func endRecord() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            fieldWasQuoted = false
            if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
            fields = []
        }

        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < scalars.count && scalars[i + 1] == "\"" {
                        field.append("\"")
                        i += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
            } else if c == "," {
                fields.append(String(field))
                field = String.UnicodeScalarView()
                fieldWasQuoted = false
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < scalars.count && scalars[i + 1] == "\n" { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            } else if c == "\"" {
                guard field.isEmpty && !fieldWasQuoted else {
                    throw EvaluationError(
                        .malformedCSV, line: line,
                        message:
                            "a double quote inside an unquoted field; quote the whole field and double the inner quotes (RFC 4180)"
                    )
                }
                inQuotes = true
                fieldWasQuoted = true
                quoteLine = line
            } else {
                guard !fieldWasQuoted else {
                    throw EvaluationError(
                        .malformedCSV, line: line,
                        message: "text after the closing quote of a field; expected a comma or the end of the line")
                }
                field.append(c)
            }
            i += 1
        }
        if inQuotes {
            throw EvaluationError(.malformedCSV, line: quoteLine, message: "a quoted field is never closed")
        }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
        return records
    }
}

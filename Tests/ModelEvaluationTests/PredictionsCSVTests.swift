import Foundation
import TestSupport
import Testing

@testable import ModelEvaluation

let awkwardTable = PredictionTable(
    classes: ["covid", "normal", "viral pneumonia"],
    rows: [
        PredictionRow(path: "plain/001.png", label: "covid", probabilities: [0.1, 0.2, 0.7]),
        PredictionRow(path: "a,b/with comma.png", label: "normal", probabilities: [1.0 / 3, 1.0 / 3, 1.0 / 3]),
        PredictionRow(path: #"say "cheese".jpg"#, label: "viral pneumonia", probabilities: [1e-9, 0, 1 - 1e-9]),
        PredictionRow(path: "spaces  and\ttab/ x .png", label: "", probabilities: [0.5, 0.25, 0.25]),
        PredictionRow(path: "ünïcödé/肺 e\u{301}.png", label: "covid", probabilities: [0.999999, 5e-7, 5e-7]),
        PredictionRow(path: "two\nlines\r\n\"and,all\"", label: "normal", probabilities: [0, 1, 0]),
    ])

@Test func predictionsRoundTripWithAwkwardPaths() throws {
    let text = PredictionsCSV.format(awkwardTable)
    #expect(text.hasPrefix("path,label,prob_covid,prob_normal,prob_viral pneumonia\n"))
    #expect(text.contains("\n\"a,b/with comma.png\",normal,"))
    #expect(text.contains(#"\#n"say ""cheese"".jpg",viral pneumonia,1e-09,0.0,0.999999999"#))
    let parsed = try PredictionsCSV.parse(text)
    #expect(parsed == awkwardTable)  // every Double and every Unicode scalar survives
    #expect(parsed.truth == [0, 1, 2, nil, 0, 1])
}

@Test func predictionsFileRoundTripsAndReadsCRLF() throws {
    let path = try temporaryDirectory() + "/predictions.csv"
    try PredictionsCSV.write(awkwardTable, to: path)
    #expect(try PredictionsCSV.read(path: path) == awkwardTable)

    let windows = "\u{FEFF}path,label,prob_a,prob_b\r\nx.png,a,0.9,0.1\r\n\r\ny.png,b,0.2,0.8\r\n"
    let table = try PredictionsCSV.parse(windows)
    #expect(table.classes == ["a", "b"])
    #expect(table.rows.map(\.path) == ["x.png", "y.png"])
}

/// The line number an error from parsing `text` names.
func errorLine(_ text: String) -> Int? {
    do {
        _ = try PredictionsCSV.parse(text)
        return nil
    } catch {
        #expect(error.kind == .malformedCSV)
        #expect(error.description.hasPrefix("line \(error.line ?? 0): "))
        return error.line
    }
}

@Test func malformedPredictionsNameTheLine() throws {
    let header = "path,label,prob_a,prob_b\n"
    #expect(errorLine(header + "x.png,a,0.9,0.1\ny,z.png,b,0.2,0.8\n") == 3)  // unquoted comma
    #expect(errorLine(header + "x.png,a,0.9,0.1\ny.png,b,0.2,high\n") == 3)  // not a number
    #expect(errorLine(header + "x.png,a,0.9,1.5\n") == 2)  // not a probability
    #expect(errorLine(header + "x.png,a,nan,0.1\n") == 2)
    #expect(errorLine(header + "x.png,c,0.9,0.1\n") == 2)  // unknown label
    #expect(errorLine(header + "x\"y.png,a,0.9,0.1\n") == 2)  // stray quote
    #expect(errorLine(header + "\"x.png\"y,a,0.9,0.1\n") == 2)  // text after the closing quote
    #expect(errorLine(header + "x.png,a,0.9,0.1\n\"never closed,a,0.5,0.5\n") == 3)
    // A quoted line break moves later records down: the bad record starts on line 4.
    #expect(errorLine(header + "\"two\nlines.png\",a,0.9,0.1\nz.png,a,0.9\n") == 4)
    #expect(errorLine("file,label,prob_a\n") == 1)  // wrong header
    #expect(errorLine("path,label\n") == 1)  // no classes
    #expect(errorLine("") == 1)

    let path = try temporaryDirectory() + "/bad.csv"
    try Data((header + "x.png,a,0.9\n").utf8).write(to: URL(fileURLWithPath: path))
    let error = try #require(throws: EvaluationError.self) { try PredictionsCSV.read(path: path) }
    #expect(error.description.hasPrefix(path + ":2: "))
}

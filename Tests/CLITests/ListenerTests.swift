import Foundation
import FoundationNetworking
import TestSupport
import Testing

// `lungct listen` against real peers: DCMTK's storescu/echoscu as the modality and Orthanc
// (Debian's `orthanc`) as the PACS that receives the results, each started on free ports.

/// A running `lungct listen` and its folder.
struct ListenerUnderTest {
    let process: Process
    let folder: String
    let port: UInt16

    init(_ arguments: [String], in work: String) throws {
        folder = work + "/node"
        port = try freeTCPPort()
        process = try startLungct(
            ["listen", "--port", String(port), "-o", folder, "--idle-seconds", "1"] + arguments, log: work + "/listen")
        let started = try waitFor(seconds: 60) { try log().contains("listening as") }
        guard started, process.isRunning else { throw TestFailure("lungct listen did not start: \(try log())") }
    }

    func log() throws -> String {
        (try? String(contentsOfFile: folder + "/listen.log", encoding: .utf8)) ?? ""
    }

    /// SIGTERM, then the exit status once it has drained (nil: still running after `seconds`).
    func terminate(within seconds: Double = 120) throws -> Int32? {
        kill(process.processIdentifier, SIGTERM)
        guard try waitFor(seconds: seconds, { !process.isRunning }) else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }
}

/// Orthanc on free ports with a generated configuration, answering REST on 127.0.0.1.
struct OrthancUnderTest {
    let process: Process
    let httpPort: UInt16
    let dicomPort: UInt16

    init(in work: String) throws {
        httpPort = try freeTCPPort()
        dicomPort = try freeTCPPort()
        let configuration: [String: Any] = [
            "Name": "lungct-test", "StorageDirectory": work + "/orthanc-db", "IndexDirectory": work + "/orthanc-db",
            "HttpPort": Int(httpPort), "DicomPort": Int(dicomPort), "DicomAet": "ORTHANC",
            "RemoteAccessAllowed": false, "AuthenticationEnabled": false, "Plugins": [String](),
        ]
        let path = work + "/orthanc.json"
        try JSONSerialization.data(withJSONObject: configuration).write(to: URL(fileURLWithPath: path))
        process = try startProcess(try #require(toolPath("Orthanc")), [path], log: work + "/orthanc")
        guard try waitFor(seconds: 60, { (try? get("/system")) != nil }) else {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("Orthanc did not answer on port \(httpPort)")
        }
    }

    /// Orthanc may take its time over SIGTERM; its database is the test's to throw away.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func get(_ path: String) throws -> Any {
        let url = try #require(URL(string: "http://127.0.0.1:\(httpPort)\(path)"))
        let data = try Data(contentsOf: url)
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Each instance's simplified tags, by series, for every series of every study.
    func seriesTags() throws -> [[String: Any]] {
        let series = try #require(try get("/series?expand") as? [[String: Any]])
        return try series.map { item in
            let instances = try #require(item["Instances"] as? [String])
            return try #require(try get("/instances/\(instances[0])/simplified-tags") as? [String: Any])
        }
    }
}

let orthancAndDCMTK = hasTool("Orthanc") && hasTool("storescu") && hasTool("echoscu")

@Test(.enabled(if: orthancAndDCMTK, "Orthanc (Debian's orthanc) or DCMTK's storescu/echoscu is not installed"))
func listenAnalysesAStudyFromStorescuAndItsResultsArriveInOrthanc() throws {
    let (work, dicom) = try phantomStudy(size: 64, slices: 16, spacing: 10)
    let orthanc = try OrthancUnderTest(in: work)
    defer { orthanc.stop() }
    let node = try ListenerUnderTest(
        [
            "--ae-title", "LUNGCT", "--allow", "STORESCU", "--send-to", "ORTHANC@127.0.0.1:\(orthanc.dicomPort)",
            "--model", try untrainedLesionModel(in: work),
        ], in: work)
    defer { if node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
    // The study goes to lungct, as a modality would send it; and to Orthanc, as the PACS holds it.
    try runTool("storescu", ["-aet", "STORESCU", "-aec", "LUNGCT", "+sd", "127.0.0.1", String(node.port), dicom])
    try runTool(
        "storescu", ["-aet", "STORESCU", "-aec", "ORTHANC", "+sd", "127.0.0.1", String(orthanc.dicomPort), dicom])
    let arrived = try waitFor(seconds: 300) {
        let series = try orthanc.get("/series") as? [Any]
        return try series?.count == 5 && node.log().contains("sent 4 objects to ORTHANC")
    }
    let log = try node.log()
    #expect(arrived, "the CT series and four result series in Orthanc; log: \(log)")

    let studies = try #require(try orthanc.get("/studies") as? [String])
    #expect(studies.count == 1, "the results joined the CT's study in Orthanc (same patient and Study UID)")
    let tags = try orthanc.seriesTags()
    let ct = try #require(tags.first { $0["SOPClassUID"] as? String == "1.2.840.10008.5.1.4.1.1.2" })
    let classes = Set(tags.compactMap { $0["SOPClassUID"] as? String })
    #expect(
        classes == [
            "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.30",
            "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.7",
        ], "CT, Segmentation, Parametric Map, Enhanced SR and Secondary Capture")
    let ctSeries = try #require(ct["SeriesInstanceUID"] as? String)
    for item in tags where item["SOPClassUID"] as? String != "1.2.840.10008.5.1.4.1.1.2" {
        #expect(item["StudyInstanceUID"] as? String == ct["StudyInstanceUID"] as? String)
        #expect(item["PatientID"] as? String == ct["PatientID"] as? String)
        // The Segmentation, the Parametric Map and the Secondary Capture reference the CT
        // series (the SR references the Segmentation's segments and the CT in its evidence).
        if item["SOPClassUID"] as? String != "1.2.840.10008.5.1.4.1.1.88.22" {
            let referenced = (item["ReferencedSeriesSequence"] as? [[String: Any]])?.first
            #expect(
                referenced?["SeriesInstanceUID"] as? String == ctSeries,
                "\(item["SOPClassUID"] ?? "?") references the CT series")
        }
    }
    #expect(log.contains("association from \"STORESCU\" released: 16 images stored, 0 refused"))
    let sent = try #require(log.split(separator: "\n").first { $0.contains("sent 4 objects to ORTHANC") })
    print("listen: \(sent)")
    #expect(try node.terminate() == 0, "SIGTERM drains and exits 0")
    #expect(try node.log().hasSuffix("listen: stopped\n"))
}

@Test(.enabled(if: hasTool("storescu") && hasTool("echoscu"), "DCMTK's storescu/echoscu is not installed"))
func listenRefusesStrangersGarbageAndImagesBeyondItsBound() throws {
    let (work, dicom) = try phantomStudy(size: 32, slices: 4, spacing: 10)
    let node = try ListenerUnderTest(["--allow", "MODALITY", "--max-storage-gb", "0.000001", "--no-model"], in: work)
    defer { if node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
    let port = String(node.port)
    let echoscu = try #require(toolPath("echoscu"))
    let stranger = try runProcess(echoscu, ["-aet", "STRANGER", "-aec", "LUNGCT", "127.0.0.1", port])
    #expect(stranger.status != 0, "an AE title not in --allow is refused")
    try sendRawBytes(Array("GET / HTTP/1.0\r\n\r\n".utf8) + [UInt8](repeating: 0xFF, count: 300), toPort: node.port)
    #expect(try waitFor(seconds: 30) { try node.log().contains("a connection failed before an association") })
    try runTool("echoscu", ["-aet", "MODALITY", "-aec", "LUNGCT", "127.0.0.1", port])
    _ = try runProcess(
        try #require(toolPath("storescu")),
        ["-aet", "MODALITY", "-aec", "LUNGCT", "--no-halt", "+sd", "127.0.0.1", port, dicom])
    let log = try node.log()
    #expect(log.contains("association from \"STRANGER\" at 127.0.0.1 refused: calling AE title not in --allow"))
    #expect(!log.contains("association from \"STRANGER\" released"), "a refused association is said once")
    #expect(log.contains("refused with status A700: the folder's storage bound"))
    #expect(log.contains("released: 0 images stored, 4 refused"))
    let filed = FileManager.default.enumerator(atPath: node.folder + "/incoming")?.allObjects as? [String] ?? []
    #expect(!filed.contains { $0.hasSuffix(".dcm") }, "nothing beyond the bound is kept")
    // A second listener on the same port says so and exits 1 (usage), leaving the first serving.
    let second = try runProcess(lungctBinary(), ["listen", "--port", port, "-o", work + "/second"])
    #expect(second.status == 1)
    #expect(second.stderr.contains("listen: port \(port)"), "\(second.stderr)")
    try runTool("echoscu", ["-aet", "MODALITY", "-aec", "LUNGCT", "127.0.0.1", port])
    #expect(try node.terminate() == 0)
}

@Test(.enabled(if: hasTool("storescu") && hasTool("echoscu"), "DCMTK's storescu/echoscu is not installed"))
func aStudyWhoseAnalysisFailsCostsItselfOnly() throws {
    let (work, dicom) = try phantomStudy(size: 32, slices: 4, spacing: 10)
    // An analysis killed at its time limit stands for one that crashes or hangs.
    let node = try ListenerUnderTest(["--case-timeout", "0.05", "--no-model"], in: work)
    defer { if node.process.isRunning { kill(node.process.processIdentifier, SIGKILL) } }
    let port = String(node.port)
    try runTool("storescu", ["-aet", "MODALITY", "-aec", "LUNGCT", "+sd", "127.0.0.1", port, dicom])
    #expect(try waitFor(seconds: 60) { try node.log().contains("analysis failed after") })
    #expect(try node.log().contains("killed after 0 s (--case-timeout)"))
    try runTool("echoscu", ["-aet", "MODALITY", "-aec", "LUNGCT", "127.0.0.1", port])
    #expect(node.process.isRunning, "the listener goes on")
    #expect(try node.terminate() == 0)
}

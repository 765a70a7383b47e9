// swift-tools-version:6.0
// lungct: volumetric CT lung analysis. Layout: one C module per library, each imported by
// exactly one Swift module; a pure-Swift core; a thin executable.
import PackageDescription

let dcmtkLibraries: [LinkerSetting] = [
    "dcmjpls", "dcmtkcharls", "dcmjpeg", "ijg8", "ijg12", "ijg16", "dcmimgle", "dcmdata", "oflog", "ofstd",
].map { .linkedLibrary($0) }
// DCMTK's object modules (Segmentation, Parametric Map, SR with its TID 1500 classes) and what
// they stand on, linked by name for the same reason.
let dcmtkObjectLibraries: [LinkerSetting] = [
    "dcmseg", "dcmpmap", "cmr", "dcmsr", "dcmfg", "dcmiod", "dcmdata", "oflog", "ofstd",
].map { .linkedLibrary($0) }

// Enhanced multi-frame CT's functional groups (DCMTK's dcmfg over dcmiod) and JPEG 2000 pixel data
// (OpenJPEG): both read through the CDCMTK shim, which decodes DICOM's pixels.
// DCMTK's networking (DcmSCP, DcmStorageSCU) for `lungct listen`.
let dcmtkNetworkLibraries: [LinkerSetting] = ["dcmnet", "dcmdata", "oflog", "ofstd"].map { .linkedLibrary($0) }

let multiFrameAndJPEG2000Libraries: [LinkerSetting] = ["dcmfg", "dcmiod", "openjp2"].map { .linkedLibrary($0) }

let package = Package(
    name: "lungct",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lungct", targets: ["lungct"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // C modules. Debian 12's `pkg-config dcmtk` is broken (it requires sndfile), so DCMTK's
        // libraries are linked by name; nifticlib has no .pc file and needs -I/usr/include/nifti;
        // OpenJPEG's header lives in a versioned folder (pkg-config libopenjp2 says which).
        .target(
            name: "CDCMTK",
            cxxSettings: [.unsafeFlags(["-std=c++17", "-I/usr/include/openjpeg-2.5"])],
            linkerSettings: multiFrameAndJPEG2000Libraries + dcmtkLibraries
        ),
        .target(
            name: "CDICOMObjects",
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: dcmtkObjectLibraries
        ),
        .target(
            name: "CDICOMNetwork",
            cxxSettings: [.unsafeFlags(["-std=c++17"])],
            linkerSettings: dcmtkNetworkLibraries
        ),
        .target(
            name: "CNIfTI",
            cSettings: [.unsafeFlags(["-I/usr/include/nifti"])],
            linkerSettings: [.linkedLibrary("nifti2"), .linkedLibrary("znz"), .linkedLibrary("z"), .linkedLibrary("m")]
        ),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]
        ),
        // lungct's own direct-convolution kernels (no library), NCHWc with run-time ISA dispatch.
        .target(name: "CConvKernels"),

        // Swift modules, in layers; a target depends only on targets of lower layers
        // (ARCHITECTURE.md draws the graph).
        // Core: pure Swift, no C.
        .target(name: "VolumeCore"),
        .target(name: "SeededRandom"),
        .target(name: "AppSupport"),
        // Formats and engines: each the only importer of its C module.
        .target(name: "DICOMSeries", dependencies: ["VolumeCore", "AppSupport", "CDCMTK"]),
        .target(name: "DICOMObjects", dependencies: ["VolumeCore", "AppSupport", "CDICOMObjects"]),
        .target(name: "DICOMNetwork", dependencies: ["CDICOMNetwork"]),
        .target(name: "NIfTIIO", dependencies: ["VolumeCore", "AppSupport", "CNIfTI"]),
        .target(name: "HDF5Store", dependencies: ["AppSupport", "CHDF5"]),
        .target(name: "ImageCodecs", dependencies: ["AppSupport", "CImageCodecs"]),
        .target(name: "NeuralEngine", dependencies: ["COpenBLAS", "CConvKernels", "SeededRandom"]),
        .target(name: "ModelEvaluation", dependencies: ["SeededRandom"]),
        .target(name: "LungSegmentation", dependencies: ["VolumeCore", "AppSupport"]),
        // Domain: built on the formats.
        .target(name: "Radiograph", dependencies: ["VolumeCore", "AppSupport", "DICOMSeries", "ImageCodecs"]),
        .target(name: "Overview", dependencies: ["VolumeCore", "AppSupport", "ImageCodecs"]),
        .target(
            name: "Phantom", dependencies: ["VolumeCore", "DICOMSeries", "DICOMObjects", "NIfTIIO", "SeededRandom"]),
        .target(name: "LesionSynthesis", dependencies: ["VolumeCore", "SeededRandom"]),
        .target(
            name: "ModelStore",
            dependencies: ["NeuralEngine", "HDF5Store", .product(name: "Crypto", package: "swift-crypto")]),
        // Application: inputs and models, then the pipelines, then batch scoring.
        .target(
            name: "StudyInput",
            dependencies: ["AppSupport", "VolumeCore", "DICOMSeries", "NIfTIIO", "Radiograph"]),
        .target(
            name: "ModelRuntime",
            dependencies: ["AppSupport", "ModelStore", "NeuralEngine", "Radiograph", "VolumeCore"]),
        .target(
            name: "StudyAnalysis",
            dependencies: [
                "AppSupport", "StudyInput", "ModelRuntime", "VolumeCore", "DICOMSeries", "DICOMObjects", "NIfTIIO",
                "HDF5Store", "ImageCodecs", "LungSegmentation", "Radiograph", "Overview", "NeuralEngine", "ModelStore",
                "LesionSynthesis",
                "ModelEvaluation", "SeededRandom", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "Training",
            dependencies: [
                "AppSupport", "StudyInput", "ModelRuntime", "ModelStore", "NeuralEngine", "ModelEvaluation",
                "Radiograph", "Overview", "ImageCodecs", "LesionSynthesis", "LungSegmentation", "SeededRandom",
                "VolumeCore",
            ]),
        .target(
            name: "BatchScoring",
            dependencies: [
                "AppSupport", "StudyInput", "StudyAnalysis", "ModelRuntime", "DICOMSeries",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
        .target(
            name: "DICOMListener",
            dependencies: ["AppSupport", "DICOMNetwork", .product(name: "Crypto", package: "swift-crypto")]),
        // The command line: ArgumentParser commands and nothing else.
        .executableTarget(
            name: "lungct",
            dependencies: [
                "AppSupport", "VolumeCore", "DICOMSeries", "Phantom", "StudyInput", "ModelRuntime", "StudyAnalysis",
                "Training", "BatchScoring", "DICOMListener", "DICOMNetwork", "LesionSynthesis", "LungSegmentation",
                "NIfTIIO", "ImageCodecs",
                "SeededRandom", "NeuralEngine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer targets for the readers (scripts/fuzz.sh builds it with -DFUZZING under
        // -sanitize=fuzzer,address); built normally, it replays saved inputs.
        .executableTarget(name: "lungct-fuzz", dependencies: ["StudyInput", "ModelRuntime", "BatchScoring"]),

        // Tests, and what they share (a library, so every test target can import it).
        .target(name: "TestSupport", dependencies: ["Phantom"], path: "Tests/TestSupport"),
        .testTarget(name: "VolumeCoreTests", dependencies: ["TestSupport", "VolumeCore"]),
        .testTarget(
            name: "DICOMSeriesTests", dependencies: ["TestSupport", "DICOMSeries", "VolumeCore", "Phantom"],
            exclude: ["Fixtures"]),
        .testTarget(name: "DICOMObjectsTests", dependencies: ["TestSupport", "DICOMObjects", "VolumeCore"]),
        .testTarget(name: "NIfTIIOTests", dependencies: ["TestSupport", "NIfTIIO", "VolumeCore"]),
        .testTarget(name: "HDF5StoreTests", dependencies: ["TestSupport", "HDF5Store"]),
        .testTarget(name: "NeuralEngineTests", dependencies: ["TestSupport", "NeuralEngine"]),
        .testTarget(name: "ModelStoreTests", dependencies: ["TestSupport", "ModelStore", "NeuralEngine"]),
        .testTarget(
            name: "RadiographTests",
            dependencies: ["TestSupport", "Radiograph", "ImageCodecs", "VolumeCore", "DICOMSeries"],
            exclude: ["Fixtures"]),
        .testTarget(name: "OverviewTests", dependencies: ["TestSupport", "Overview", "VolumeCore"]),
        .testTarget(name: "PhantomTests", dependencies: ["TestSupport", "Phantom", "VolumeCore"]),
        .testTarget(
            name: "LesionSynthesisTests",
            dependencies: ["TestSupport", "LesionSynthesis", "Phantom", "VolumeCore", "SeededRandom"]),
        .testTarget(
            name: "LungSegmentationTests",
            dependencies: ["TestSupport", "LungSegmentation", "Phantom", "NIfTIIO", "VolumeCore", "SeededRandom"]),
        .testTarget(
            name: "StudyInputTests",
            dependencies: [
                "TestSupport", "StudyInput", "AppSupport", "Phantom", "DICOMSeries", "NIfTIIO", "VolumeCore",
            ]),
        .testTarget(
            name: "StudyAnalysisTests",
            dependencies: [
                "TestSupport", "StudyAnalysis", "StudyInput", "ModelRuntime", "AppSupport", "Phantom", "DICOMSeries",
                "DICOMObjects",
                "NIfTIIO", "VolumeCore", "HDF5Store", "ModelStore", "NeuralEngine", "Radiograph", "ImageCodecs",
                "SeededRandom",
            ]),
        .testTarget(
            name: "TrainingTests",
            dependencies: [
                "TestSupport", "Training", "AppSupport", "ModelEvaluation", "NeuralEngine", "ImageCodecs",
                "ModelRuntime", "ModelStore", "Radiograph", "SeededRandom",
            ]),
        .testTarget(name: "ModelEvaluationTests", dependencies: ["TestSupport", "ModelEvaluation", "SeededRandom"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "lungct"], exclude: ["Scripts"]),
        .testTarget(
            name: "DICOMListenerTests", dependencies: ["TestSupport", "DICOMListener", "DICOMNetwork", "Phantom"]),
        .testTarget(
            name: "BatchTests",
            dependencies: [
                "TestSupport", "BatchScoring", "StudyAnalysis", "ModelRuntime", "AppSupport", "ImageCodecs", "lungct",
                "Phantom", "DICOMSeries", "NIfTIIO", "VolumeCore",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]),
    ]
)

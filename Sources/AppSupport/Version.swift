/// lungct's version, reported by `--version` and written into every output's provenance.
public enum LungCTVersion {
    public static let string = "0.1.0"
}

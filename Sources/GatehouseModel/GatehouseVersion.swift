/// The release of this build, reported by `gatehouse --version`, the admin API and data planes.
public enum GatehouseVersion {
    public static let current = "0.1.0"
}

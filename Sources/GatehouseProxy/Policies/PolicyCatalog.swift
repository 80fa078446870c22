import GatehouseModel

/// The policy types this data plane can enforce. The control plane admits enabled policies of
/// these types only, so it never commits a snapshot its data planes must refuse; a data plane
/// refuses a snapshot with an enabled policy of a type it lacks (fail closed).
public enum PolicyCatalog {
    public static let enforcedTypes: Set<PolicyType> = Set(PolicyType.allCases)
}

import GatehouseModel
import Hummingbird
import NIOCore

/// An admin request's context: the client's address, and who the request was authenticated as
/// (set by `AdminAuthMiddleware`, read by commits for the audit trail).
public struct AdminContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    var caller: AdminCaller

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        caller = .local
    }

    /// The client's IP address as text ("" when unknown).
    var clientAddress: String { remoteAddress?.ipAddress ?? "" }
}

/// Who an admin request acts as.
struct AdminCaller: Sendable {
    let name: String
    let role: AdminRole

    /// Without admin authentication (the admin API on loopback): every request may do everything.
    static let local = AdminCaller(name: "local", role: .admin)
}

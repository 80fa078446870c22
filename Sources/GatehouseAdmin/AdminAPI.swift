import Foundation
import GatehouseModel
import GatehouseStore
import HTTPTypes
import Hummingbird
import Logging

/// The admin REST API over a `ConfigStore`. Every successful write is one committed version,
/// reported in `Gatehouse-Config-Version`; with an embedded data plane, the response is sent
/// once that data plane has applied (or refused) the version.
public struct AdminAPI: Sendable {
    public struct Options: Sendable {
        /// Entity request bodies over this size get 413.
        public var entityBodyLimit = 1 << 20
        /// `PUT /config` bodies over this size get 413.
        public var configBodyLimit = 64 << 20
        /// Policy types the data planes enforce; enabled policies of other types are refused.
        public var enforcedPolicyTypes: Set<PolicyType> = []
        /// `GET /data-planes`: the data planes this control plane knows, given the current version.
        public var dataPlanes: @Sendable (Int) -> JSONValue = { _ in [] }
        /// Families `GET /metrics` adds for the data planes, given the current version (a control plane's).
        public var dataPlaneMetrics: @Sendable (Int) -> String = { _ in "" }
        /// `POST /explain`: what the data plane would do with a request (the body) under a snapshot.
        public var explain: @Sendable (Snapshot, JSONValue) throws -> JSONValue = { _, _ in
            throw ConfigError(code: .invalid, message: "this server cannot explain requests")
        }
        /// Set when a config directory (`--config-dir`) owns the config: writes are refused.
        public var managedBy: String?
        /// Who may use the API; off (every request acts as `local`) unless set.
        public var auth = AdminAuth.Settings(enabled: false)

        public init() {}
    }

    let store: ConfigStore
    let options: Options
    let auth: AdminAuth
    let waitForApply: @Sendable (Int) async -> Void
    let newID: @Sendable () -> String
    let logger: Logger

    /// Throws `AdminAuth.Unusable` when authentication is on and no token could pass.
    public init(
        store: ConfigStore,
        options: Options = Options(),
        waitForApply: @escaping @Sendable (Int) async -> Void = { _ in },
        newID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
        logger: Logger
    ) throws {
        auth = try AdminAuth(options.auth, store: store)
        if auth.enabled, !auth.anyTokenAccepted { throw AdminAuth.Unusable(bootstrapRevoked: auth.bootstrapIsRevoked) }
        if auth.bootstrapIsRevoked {
            logger.warning("the bootstrap admin token (GATEHOUSE_ADMIN_TOKEN) was revoked and is refused; other tokens are accepted")
        }
        self.store = store
        self.options = options
        self.waitForApply = waitForApply
        self.newID = newID
        self.logger = logger
    }

    public func router() -> Router<AdminContext> {
        let router = Router(context: AdminContext.self)
        router.middlewares.add(AdminErrorMiddleware(logger: logger))
        router.middlewares.add(AdminAuthMiddleware(auth: auth, logger: logger))
        router.get("/") { _, _ in
            let snapshot = store.current.snapshot
            return AdminResponse.json(
                [
                    "name": "gatehouse", "version": .string(GatehouseVersion.current), "config_version": .int(snapshot.version),
                    "config_hash": .string(snapshot.hash),
                ],
                version: snapshot.version
            )
        }
        router.get("/metrics") { _, _ in
            let version = store.current.snapshot.version
            let text = """
                # HELP gatehouse_control_plane_config_version The newest committed config version.
                # TYPE gatehouse_control_plane_config_version gauge
                gatehouse_control_plane_config_version \(version)

                """ + options.dataPlaneMetrics(version)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        addEntityRoutes(Upstream.self, to: router)
        addEntityRoutes(Route.self, to: router)
        addEntityRoutes(Consumer.self, to: router)
        addEntityRoutes(Policy.self, to: router)
        addEntityRoutes(TLSCertificate.self, to: router)
        addCredentialRoutes(to: router)
        addConfigRoutes(to: router)
        addVersionRoutes(to: router)
        addTokenRoutes(to: router)
        router.post("/explain") { request, _ in
            var request = request
            let body = try await request.jsonBody(limit: options.entityBodyLimit)
            let snapshot = store.current.snapshot
            return AdminResponse.json(try options.explain(snapshot, body), version: snapshot.version)
        }
        router.middlewares.add(MethodNotAllowedMiddleware(routes: router.routes))
        return router
    }

    /// Commits a change, then waits until the embedded data plane (if any) settled on it.
    func commit<Result>(
        _ request: Request, _ context: AdminContext, summary: String? = nil, skipIfUnchanged: Bool = false,
        _ mutate: (inout ConfigDocument) throws -> Result
    ) async throws -> (Result, Snapshot) {
        if let directory = options.managedBy {
            throw ConfigError(
                code: .conflict,
                message: "the config is managed by the files in \(directory) (--config-dir); change them there, the admin API only reads it")
        }
        let author = Author(name: context.caller.name, address: context.clientAddress, via: Self.via(request))
        let (result, snapshot) = try store.write(
            ifMatch: try request.ifMatchVersion(), summary: summary, author: author, skipIfUnchanged: skipIfUnchanged, mutate)
        await waitForApply(snapshot.version)
        return (result, snapshot)
    }

    /// What a change came through: `gatehouse <command>` for the CLI (it names its command in
    /// `User-Agent: gatehouse/<release> (<command>)`), else `admin API`.
    static func via(_ request: Request) -> String {
        guard let agent = request.headers[.userAgent], agent.hasPrefix("gatehouse/"), let open = agent.firstIndex(of: "("),
            let close = agent.lastIndex(of: ")"), open < close
        else { return "admin API" }
        let command = agent[agent.index(after: open)..<close]
        guard !command.isEmpty, command.count <= 40, command.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == " " }) else { return "admin API" }
        return "gatehouse \(command)"
    }

    /// An entity's API form with its timestamps.
    func render(_ json: JSONValue, id: String) -> JSONValue {
        var fields = json.objectValue ?? [:]
        let times = store.current.times[id]
        fields["created_at"] = .int(times?.createdAt ?? 0)
        fields["updated_at"] = .int(times?.updatedAt ?? 0)
        return .object(fields)
    }
}

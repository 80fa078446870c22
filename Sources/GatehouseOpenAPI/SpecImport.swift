import GatehouseModel

/// One spec turned into entities: an upstream per server, a route per operation, and the
/// route-scoped policies its `x-gatehouse` layers and security schemes ask for, every one
/// tagged `openapi:<name>`. Problems are collected, not thrown, so all of them are shown.
struct SpecImport {
    let spec: SpecDocument
    let options: OpenAPIImportOptions
    let overlay: OpenAPIOverlay?
    private(set) var problems: [ImportProblem] = []
    /// `openapi:<name>`, once the name is known.
    private(set) var tag: String?
    /// Upstreams of other owners that operations name (`x-gatehouse.upstream`, `--upstream`).
    private(set) var externalUpstreams: Set<String> = []
    private var validationWarnings: Set<ImportProblem> = []

    init(spec: SpecDocument, options: OpenAPIImportOptions, overlay: OpenAPIOverlay?) {
        self.spec = spec
        self.options = options
        self.overlay = overlay
    }

    /// What one operation becomes, before CORS is derived (that needs every operation of its path).
    private struct Plan {
        var operation: SpecOperation
        var route: String
        var routeValue: [String: JSONValue]
        var policies: [(name: String, declaration: PolicyDeclaration)]
        var security: SecurityMapping
    }

    mutating func run(into entities: inout ImportedEntities) {
        let documentLayer = readDocumentLayer()
        let layer = overlay.map { documentLayer.merged(with: $0.document) } ?? documentLayer
        guard let name = importName(layer) else { return }
        let tag = "openapi:\(name)"
        self.tag = tag
        let (all, found) = SpecOperation.collect(spec)
        problems += found
        let collected = routable(all)
        if collected.isEmpty, found.isEmpty {
            problems.append(spec.problem(JSONPointer(tokens: ["paths"]), "has no operations to import", .warning))
        }
        let documentServer = defaultServer()
        var plans: [Plan] = []
        var overlayHits = Set<Int>()
        for operation in collected {
            var effective = layer.merged(with: operation.pathExtension).merged(with: operation.operationExtension)
            for (index, entry) in (overlay?.entries ?? []).enumerated() where entry.selects(operation) {
                effective = effective.merged(with: entry.layer)
                overlayHits.insert(index)
            }
            if let plan = plan(operation, effective: effective, documentLayer: layer, name: name, tag: tag, server: documentServer, into: &entities) {
                plans.append(plan)
            }
        }
        if let overlay {
            for (index, entry) in overlay.entries.enumerated() where !overlayHits.contains(index) {
                problems.append(ImportProblem(.error, file: overlay.file, pointer: entry.pointer, "selects no operation of \(spec.file)"))
            }
        }
        finish(plans, tag: tag, into: &entities)
    }

    /// The operations with a query in their path key (`/responses?beta=true`, as OpenAI's spec
    /// has): the router matches paths, not query strings, so the query is dropped, and where
    /// another operation has that path and method already it serves both (the query is
    /// forwarded as sent). One with `x-gatehouse` of its own cannot share: that is an error.
    private mutating func routable(_ operations: [SpecOperation]) -> [SpecOperation] {
        let plain = Set(operations.filter { !$0.path.contains("?") }.map { "\($0.method) \($0.path)" })
        var result: [SpecOperation] = []
        for var operation in operations {
            guard let question = operation.path.firstIndex(of: "?") else {
                result.append(operation)
                continue
            }
            let path = String(operation.path[..<question])
            guard plain.contains("\(operation.method) \(path)") else {
                problems.append(spec.problem(operation.pathPointer, "the query in the path is not routed on; the route matches \(path)", .warning))
                operation.path = path
                result.append(operation)
                continue
            }
            let other = JSONPointer(tokens: ["paths", path, operation.method.lowercased()])
            if !operation.pathExtension.isEmpty || !operation.operationExtension.isEmpty {
                problems.append(
                    spec.problem(
                        operation.pointer,
                        "differs from \(spec.file)\(other) only by its query, which the router does not match on; its x-gatehouse cannot apply"))
            } else {
                problems.append(
                    spec.problem(
                        operation.pointer, "differs from \(other) only by its query, which the router does not match on: that route serves both",
                        .warning))
            }
        }
        return result
    }

    private mutating func readDocumentLayer() -> GatehouseExtension {
        guard let value = spec.root["x-gatehouse"] else { return GatehouseExtension() }
        let (layer, found) = GatehouseExtension.read(value, file: spec.file, at: JSONPointer(tokens: ["x-gatehouse"]), level: .document)
        problems += found
        return layer
    }

    private mutating func importName(_ layer: GatehouseExtension) -> String? {
        if let name = options.name {
            guard EntityName.isValid(name), name.utf8.count <= 64 else {
                problems.append(spec.problem(.root, "--name '\(name)' is not a name: use 1 to 64 of a-z 0-9 . _ - starting with a letter or digit"))
                return nil
            }
            return name
        }
        if let name = layer.name { return name }
        let title = spec.root["info"]?["title"]?.stringValue ?? ""
        let name = String(EntityNameText.name(from: title, splitCamelCase: false).prefix(64))
        guard EntityName.isValid(name) else {
            problems.append(spec.problem(JSONPointer(tokens: ["info", "title"]), "gives no name; pass --name NAME or set x-gatehouse.name"))
            return nil
        }
        return name
    }

    /// The server every operation without servers of its own uses: `--server`, else the spec's
    /// first (3.x `servers`, 2.0 `schemes` + `host` + `basePath`); 3.x without servers is `/`.
    private mutating func defaultServer() -> ServerAddress? {
        let result: Result<ServerAddress, ImportProblem>
        if let server = options.server {
            result = ServerAddress.parse(server, variables: options.serverVariables).mapError { spec.problem(.root, "--server: \($0.reason)") }
        } else if spec.flavor == .swagger2 {
            result = ServerAddress.swagger(spec)
        } else if let servers = spec.root["servers"], servers.arrayValue?.isEmpty == false {
            result = ServerAddress.first(of: servers, at: JSONPointer(tokens: ["servers"]), overrides: options.serverVariables, in: spec)
        } else {
            result = .success(ServerAddress(scheme: "http", host: nil, port: 80, basePath: ""))
        }
        switch result {
        case .success(let address): return address
        case .failure(let problem):
            problems.append(problem)
            return nil
        }
    }

    private mutating func plan(
        _ operation: SpecOperation, effective: GatehouseExtension, documentLayer: GatehouseExtension, name: String, tag: String,
        server documentServer: ServerAddress?, into entities: inout ImportedEntities
    ) -> Plan? {
        let origin = ImportedEntities.Origin(file: spec.file, pointer: operation.pointer)
        // Where it goes: --server and --upstream replace every server of the spec.
        var server = documentServer
        var serverPointer = JSONPointer(tokens: [spec.flavor == .swagger2 ? "host" : "servers"])
        if options.server == nil, let own = operation.servers {
            switch ServerAddress.first(of: own.value, at: own.pointer, overrides: options.serverVariables, in: spec) {
            case .success(let address): server = address
            case .failure(let problem):
                problems.append(problem)
                return nil
            }
            serverPointer = own.pointer
        }
        guard let server else { return nil }

        let operationName: String
        if let given = effective.name {
            operationName = given
        } else {
            let fromID = operation.operationID.map { EntityNameText.name(from: $0) } ?? ""
            operationName = fromID.isEmpty ? EntityNameText.name(from: operation.method.lowercased() + " " + operation.path) : fromID
        }
        let route = "\(name).\(operationName)"
        guard route.utf8.count <= 128 else {
            problems.append(spec.problem(operation.pointer, "the route name '\(route)' is longer than 128 bytes; set x-gatehouse.name"))
            return nil
        }

        let upstream: String
        let external = effective.upstream ?? options.upstream
        if let external {
            upstream = external
            externalUpstreams.insert(external)
            if !effective.timeouts.isEmpty, let (file, pointer) = effective.timeoutsPointer {
                problems.append(
                    ImportProblem(
                        .error, file: file, pointer: pointer,
                        "timeouts belong to an upstream; '\(external)' is not one this import defines (drop --upstream or x-gatehouse.upstream)"))
                return nil
            }
        } else {
            guard let target = server.target else {
                problems.append(
                    spec.problem(
                        serverPointer,
                        "the server URL is relative (\(server.basePath.isEmpty ? "/" : server.basePath)): pass --upstream NAME for an upstream the config has, or --server URL"
                    ))
                return nil
            }
            var upstreamName = server == documentServer ? name : "\(name).\(EntityNameText.name(from: "\(server.host ?? "")-\(server.port)"))"
            // Timeouts of its own (other than the document's) give the operation an upstream of its own.
            let ownTimeouts = effective.timeouts != documentLayer.timeouts
            if ownTimeouts { upstreamName = route }
            var value: [String: JSONValue] = [
                // A shared upstream carries the document's tags; one of an operation's own, the operation's.
                "name": .string(upstreamName),
                "tags": .array(Array(Set([tag] + (ownTimeouts ? effective.tags : documentLayer.tags))).sorted().map(JSONValue.string)),
                "targets": [["target": .string(target)]],
                "scheme": .string(server.scheme),
            ]
            if !effective.timeouts.isEmpty { value["timeouts"] = .object(effective.timeouts.mapValues(JSONValue.string)) }
            let upstreamOrigin = ownTimeouts ? origin : ImportedEntities.Origin(file: spec.file, pointer: serverPointer)
            if let clash = entities.add(.upstream, .init(name: upstreamName, value: .object(value), origin: upstreamOrigin)) {
                problems.append(clash)
                return nil
            }
            upstream = upstreamName
        }

        let path: GatewayPath
        switch GatewayPath.make(
            operation.path, serverPath: server.basePath, basePath: options.basePath, stripServerPath: effective.stripPath ?? false)
        {
        case .success(let made): path = made
        case .failure(let refusal):
            problems.append(spec.problem(operation.pathPointer, refusal.reason))
            return nil
        }
        problems += path.warnings.map { spec.problem(operation.pathPointer, $0, .warning) }

        var routeValue: [String: JSONValue] = [
            "name": .string(route), "tags": .array(Array(Set([tag] + effective.tags)).sorted().map(JSONValue.string)),
            "paths": [.string(path.routePath)], "methods": [.string(operation.method)], "upstream": .string(upstream),
        ]
        if let upstreamPath = path.upstreamPath { routeValue["upstream_path"] = .string(upstreamPath) }

        var policies: [(String, PolicyDeclaration)] = []
        for (policyName, declaration) in effective.policies.sorted(by: { $0.key < $1.key }) {
            guard let declaration else { continue }
            policies.append((policyName, declaration))
        }
        // An explicit request-validation policy is the operation's own choice; otherwise its spec decides.
        if effective.validate ?? options.validate, !policies.contains(where: { $0.1.type == .requestValidation }) {
            if let derived = derivedValidation(operation, path: path) { policies.append(("validation", derived)) }
        }
        let security = SecurityMapping.map(operation.security, in: spec)
        return Plan(operation: operation, route: route, routeValue: routeValue, policies: policies, security: security)
    }

    /// The operation's `request-validation` policy, or nil when it has nothing to check.
    private mutating func derivedValidation(_ operation: SpecOperation, path: GatewayPath) -> PolicyDeclaration? {
        var derivation = DerivedValidation(spec: spec)
        let config = derivation.config(for: operation, routeParameters: Self.routeParameters(operation.path, path.operationPath))
        // A schema several operations share is noted once.
        for warning in derivation.warnings where validationWarnings.insert(warning).inserted { problems.append(warning) }
        guard case .object(let fields)? = config else { return nil }
        do {
            try PolicyType.requestValidation.validate(.object(fields))
        } catch {
            problems.append(
                spec.problem(operation.pointer, "request validation is not derived: \(error.field ?? "config"): \(error.message)", .warning))
            return nil
        }
        return PolicyDeclaration(type: .requestValidation, config: fields, file: spec.file, pointer: operation.pointer)
    }

    /// The spec's path parameter names → the route's (`/pets/{pet-id}` routes as `/pets/{pet_id}`),
    /// for parameters that are a whole segment (one inside other text matches the whole segment).
    static func routeParameters(_ specPath: String, _ routePath: String) -> [String: String] {
        var names: [String: String] = [:]
        for (spec, route) in zip(specPath.split(separator: "/"), routePath.split(separator: "/"))
        where spec.hasPrefix("{") && spec.hasSuffix("}") && spec.filter({ $0 == "{" }).count == 1 && route.hasPrefix("{") {
            names[String(spec.dropFirst().dropLast())] = String(route.dropFirst().dropLast())
        }
        return names
    }

    /// The headers an operation's key may come in: an explicit key-auth policy's `key_names`
    /// (headers, also read as query parameters), else its apiKey header schemes.
    private static func keyHeaders(_ plan: Plan) -> [String] {
        if let explicit = plan.policies.first(where: { $0.declaration.type == .keyAuth }) {
            return (explicit.declaration.config["key_names"]?.arrayValue ?? ["apikey"]).compactMap { $0.stringValue?.lowercased() }
        }
        return plan.security.keyNames == nil ? [] : plan.security.headerKeyNames
    }

    /// CORS derived per path, the security policies, and every entity added.
    private mutating func finish(_ plans: [Plan], tag: String, into entities: inout ImportedEntities) {
        let cors = DerivedCORS(
            plans.map { plan in
                DerivedCORS.Operation(
                    path: plan.operation.path, method: plan.operation.method, headers: plan.operation.headerParameters,
                    keyHeaders: Self.keyHeaders(plan),
                    bodyMediaTypes: plan.operation.bodyMediaTypes)
            })
        var seenWarnings: Set<ImportProblem> = []
        for plan in plans {
            let origin = ImportedEntities.Origin(file: spec.file, pointer: plan.operation.pointer)
            if let clash = entities.add(.route, .init(name: plan.route, value: .object(plan.routeValue), origin: origin)) {
                problems.append(clash)
                continue
            }
            let tags = plan.routeValue["tags"] ?? .array([.string(tag)])
            var authenticates = false
            for (policyName, declaration) in plan.policies {
                var config = declaration.config
                if declaration.type == .cors { config = cors.config(config, path: plan.operation.path) }
                if declaration.type.authenticates { authenticates = true }
                let value: JSONValue = [
                    "name": .string("\(plan.route).\(policyName)"), "tags": tags, "type": .string(declaration.type.rawValue),
                    "route": .string(plan.route), "config": .object(config),
                ]
                let policyOrigin = ImportedEntities.Origin(file: declaration.file, pointer: declaration.pointer)
                if let clash = entities.add(.policy, .init(name: "\(plan.route).\(policyName)", value: value, origin: policyOrigin)) {
                    problems.append(clash)
                }
            }
            // An authentication policy in x-gatehouse is the operation's own choice; otherwise its schemes decide.
            guard !authenticates else { continue }
            for warning in plan.security.warnings where seenWarnings.insert(warning).inserted {
                problems.append(warning)
            }
            let pointer = plan.operation.security?.pointer ?? plan.operation.pointer
            var derived: [(name: String, type: String, config: JSONValue)] = []
            if let keyNames = plan.security.keyNames {
                derived.append(("\(plan.route).security", "key-auth", ["key_names": .array(keyNames.map(JSONValue.string))]))
            }
            if plan.security.basic { derived.append(("\(plan.route).basic-auth", "basic-auth", [:])) }
            for policy in derived {
                let value: JSONValue = [
                    "name": .string(policy.name), "tags": tags, "type": .string(policy.type), "route": .string(plan.route), "config": policy.config,
                ]
                if let clash = entities.add(.policy, .init(name: policy.name, value: value, origin: .init(file: spec.file, pointer: pointer))) {
                    problems.append(clash)
                }
            }
        }
    }
}

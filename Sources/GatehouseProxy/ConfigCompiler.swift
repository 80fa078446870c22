import GatehouseModel

/// Turns a snapshot into a `CompiledConfig`, or refuses it whole with the reason.
public enum ConfigCompiler {
    public struct Rejection: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func compile(_ snapshot: Snapshot) throws(Rejection) -> CompiledConfig {
        let document = snapshot.document
        do {
            try document.validate()
        } catch {
            throw Rejection(description: "invalid snapshot: \(error)")
        }
        for policy in document.policies where policy.enabled && !PolicyCatalog.enforcedTypes.contains(policy.type) {
            throw Rejection(description: "policy '\(policy.name)' of type \(policy.type.rawValue) cannot be enforced by this data plane")
        }
        var upstreams: [String: CompiledUpstream] = [:]
        for upstream in document.upstreams {
            do {
                upstreams[upstream.name] = try CompiledUpstream(upstream)
            } catch {
                throw Rejection(description: "upstream '\(upstream.name)': cannot set up TLS: \(error)")
            }
        }
        var routes: [CompiledRoute] = []
        for route in document.routes {
            guard let upstream = upstreams[route.upstream] else {
                throw Rejection(description: "route '\(route.name)' names unknown upstream '\(route.upstream)'")
            }
            routes.append(CompiledRoute(route, upstream: upstream))
        }
        return CompiledConfig(version: snapshot.version, hash: snapshot.hash, routes: RouteTable(routes: routes), upstreams: upstreams)
    }
}

import GatehouseAdmin
import GatehouseModel
import HTTPTypes
import Testing

/// The admin API refuses, naming the policy and the field, what the access and transform
/// policies cannot run with.
@Suite struct AccessPolicyAdmissionTests {
    @Test func anACLWithoutAuthenticationIsRefusedAndSoIsRemovingItsAuthentication() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            let refused = try await client.call(
                .post, "/policies", ["name": "staff-only", "type": "acl", "route": "recipes", "config": ["allow": ["staff"]]])
            #expect(refused.status == 400)
            #expect(refused.errorField == "route")
            #expect(refused.errorMessage.contains("staff-only"))
            #expect(refused.errorMessage.contains("no authentication policy"))
            #expect(refused.version == nil)
            #expect(try await client.call(.post, "/policies", ["name": "auth", "type": "key-auth"]).status == 201)
            #expect(
                try await client.call(.post, "/policies", ["name": "staff-only", "type": "acl", "route": "recipes", "config": ["allow": ["staff"]]])
                    .status
                    == 201)
            // Now the acl needs the key-auth policy: it cannot go, or be disabled.
            let deleted = try await client.call(.delete, "/policies/auth")
            #expect(deleted.status == 400)
            #expect(deleted.errorMessage.contains("staff-only"))
            #expect(try await client.call(.patch, "/policies/auth", ["enabled": false]).status == 400)
        }
    }

    @Test func badConfigsAreRefusedAtTheirField() async throws {
        try await AdminHarness().run { client in
            try await client.seed()
            for (body, field) in [
                (["name": "ips", "type": "ip-restriction", "config": ["allow": ["10.0.0.0/8", "300.0.0.1"]]], "config.allow[1]"),
                (["name": "t", "type": "request-transformer", "config": ["set": ["headers": ["X-A": "a\r\nb"]]]], "config.set.headers.X-A"),
                (
                    ["name": "t", "type": "request-transformer", "config": ["set": ["headers": ["Transfer-Encoding": "chunked"]]]],
                    "config.set.headers.Transfer-Encoding"
                ),
                (
                    ["name": "t", "type": "request-transformer", "route": "recipes", "config": ["add": ["headers": ["X-Id": "$(path.id)"]]]],
                    "config.add.headers.x-id"
                ),
                (["name": "t", "type": "response-transformer", "config": ["add": ["headers": ["X-A": "$(nope)"]]]], "config.add.headers.X-A"),
            ] as [(JSONValue, String)] {
                let refused = try await client.call(.post, "/policies", body)
                #expect(refused.status == 400, "\(body)")
                #expect(refused.errorField == field, "\(body)")
            }
            #expect(
                try await client.call(.post, "/policies", ["name": "ips", "type": "ip-restriction", "config": ["deny": ["2001:db8::/32"]]]).status
                    == 201)
        }
    }
}

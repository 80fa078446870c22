import GatehouseModel

/// The JSON Schema of one declarative file (`Schema/declarative.schema.json`, which a test keeps
/// equal to this copy): carried in the binary, so `gatehouse validate` needs no file beside it.
public enum DeclarativeSchema {
    public static let text = #"""
        {
          "$schema": "https://json-schema.org/draft/2020-12/schema",
          "$id": "https://gatehouse.dev/schema/declarative-1.json",
          "title": "Gatehouse declarative config, format 1",
          "description": "One file of a config: `gatehouse validate` checks every file against this schema, then the entities' values and the document as a whole.",
          "type": "object",
          "required": ["format_version"],
          "additionalProperties": false,
          "properties": {
            "format_version": { "const": 1 },
            "upstreams": { "type": "array", "items": { "$ref": "#/$defs/upstream" } },
            "routes": { "type": "array", "items": { "$ref": "#/$defs/route" } },
            "consumers": { "type": "array", "items": { "$ref": "#/$defs/consumer" } },
            "policies": { "type": "array", "items": { "$ref": "#/$defs/policy" } },
            "certificates": { "type": "array", "items": { "$ref": "#/$defs/certificate" } }
          },
          "$defs": {
            "name": { "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,127}$" },
            "id": { "type": ["string", "null"] },
            "tags": { "type": "array", "items": { "type": "string" } },
            "strings": { "type": "array", "items": { "type": "string" } },
            "duration": { "type": "string", "pattern": "^[0-9]+(ms|s|m|h|d)$" },
            "durationOrNull": { "type": ["string", "null"], "pattern": "^[0-9]+(ms|s|m|h|d)$" },
            "upstream": {
              "type": "object",
              "required": ["name"],
              "additionalProperties": false,
              "properties": {
                "id": { "$ref": "#/$defs/id" },
                "name": { "$ref": "#/$defs/name" },
                "tags": { "$ref": "#/$defs/tags" },
                "targets": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "required": ["target"],
                    "additionalProperties": false,
                    "properties": { "target": { "type": "string" }, "weight": { "type": "integer", "minimum": 0, "maximum": 1000 } }
                  }
                },
                "scheme": { "enum": ["http", "https"] },
                "algorithm": { "enum": ["round-robin", "weighted", "least-connections", "consistent-hash"] },
                "hash_on": { "type": ["string", "null"] },
                "timeouts": {
                  "type": "object",
                  "additionalProperties": false,
                  "properties": { "connect": { "$ref": "#/$defs/duration" }, "read": { "$ref": "#/$defs/duration" }, "write": { "$ref": "#/$defs/duration" } }
                },
                "retries": { "type": ["integer", "null"], "minimum": 0, "maximum": 10 },
                "pool": {
                  "type": "object",
                  "additionalProperties": false,
                  "properties": {
                    "max_connections": { "type": ["integer", "null"], "minimum": 1, "maximum": 100000 },
                    "max_idle": { "type": "integer", "minimum": 0, "maximum": 100000 },
                    "idle_timeout": { "$ref": "#/$defs/duration" }
                  }
                },
                "tls": {
                  "type": "object",
                  "additionalProperties": false,
                  "properties": {
                    "verify": { "type": "boolean" },
                    "ca_certificates": { "type": ["string", "null"] },
                    "server_name": { "type": ["string", "null"] }
                  }
                },
                "health_checks": {
                  "type": "object",
                  "additionalProperties": false,
                  "properties": {
                    "passive": {
                      "type": ["object", "null"],
                      "additionalProperties": false,
                      "properties": {
                        "enabled": { "type": "boolean" },
                        "failures": { "type": "integer", "minimum": 1, "maximum": 1000 },
                        "cooldown": { "$ref": "#/$defs/duration" }
                      }
                    },
                    "active": {
                      "type": ["object", "null"],
                      "additionalProperties": false,
                      "properties": {
                        "path": { "type": "string" },
                        "interval": { "$ref": "#/$defs/duration" },
                        "timeout": { "$ref": "#/$defs/duration" },
                        "healthy": { "type": "integer", "minimum": 1, "maximum": 100 },
                        "unhealthy": { "type": "integer", "minimum": 1, "maximum": 100 }
                      }
                    }
                  }
                }
              }
            },
            "route": {
              "type": "object",
              "required": ["name", "upstream"],
              "additionalProperties": false,
              "properties": {
                "id": { "$ref": "#/$defs/id" },
                "name": { "$ref": "#/$defs/name" },
                "tags": { "$ref": "#/$defs/tags" },
                "hosts": { "$ref": "#/$defs/strings" },
                "paths": { "$ref": "#/$defs/strings" },
                "methods": { "$ref": "#/$defs/strings" },
                "headers": { "type": "object", "additionalProperties": { "$ref": "#/$defs/strings" } },
                "strip_path": { "type": "boolean" },
                "preserve_host": { "type": "boolean" },
                "upstream_path": { "type": ["string", "null"] },
                "consumer_metrics": { "type": ["boolean", "null"] },
                "https_redirect": { "type": ["boolean", "null"] },
                "hsts": {
                  "type": ["object", "null"],
                  "required": ["max_age"],
                  "additionalProperties": false,
                  "properties": {
                    "max_age": { "type": "integer", "minimum": 0, "maximum": 63072000 },
                    "include_subdomains": { "type": "boolean" },
                    "preload": { "type": "boolean" }
                  }
                },
                "upstream": { "type": "string" }
              }
            },
            "consumer": {
              "type": "object",
              "required": ["name"],
              "additionalProperties": false,
              "properties": {
                "id": { "$ref": "#/$defs/id" },
                "name": { "$ref": "#/$defs/name" },
                "tags": { "$ref": "#/$defs/tags" },
                "custom_id": { "type": ["string", "null"] },
                "groups": { "$ref": "#/$defs/strings" },
                "credentials": {
                  "type": "array",
                  "items": {
                    "type": "object",
                    "required": ["type"],
                    "additionalProperties": false,
                    "properties": {
                      "id": { "$ref": "#/$defs/id" },
                      "tags": { "$ref": "#/$defs/tags" },
                      "type": { "enum": ["key-auth", "basic-auth"] },
                      "key": { "type": "string" },
                      "key_hash": { "type": "string", "pattern": "^[0-9a-fA-F]{64}$" },
                      "username": { "type": "string" },
                      "password_hash": { "type": "string" }
                    }
                  }
                }
              }
            },
            "policy": {
              "type": "object",
              "required": ["name", "type"],
              "additionalProperties": false,
              "properties": {
                "id": { "$ref": "#/$defs/id" },
                "name": { "$ref": "#/$defs/name" },
                "tags": { "$ref": "#/$defs/tags" },
                "type": { "type": "string" },
                "config": { "type": "object" },
                "route": { "type": ["string", "null"] },
                "consumer": { "type": ["string", "null"] },
                "enabled": { "type": "boolean" }
              }
            },
            "certificate": {
              "type": "object",
              "required": ["name", "cert"],
              "additionalProperties": false,
              "properties": {
                "id": { "$ref": "#/$defs/id" },
                "name": { "$ref": "#/$defs/name" },
                "tags": { "$ref": "#/$defs/tags" },
                "cert": { "type": "string", "description": "PEM chain, leaf first." },
                "key": { "type": "string", "description": "PEM private key, best given as ${GATEHOUSE_…} from the environment; sealed by the control plane." },
                "key_ref": { "type": "string", "description": "Keep the key the control plane holds for this certificate's public key (what dump writes)." },
                "key_sealed": { "type": "string" },
                "default": { "type": "boolean" },
                "names": { "$ref": "#/$defs/strings" },
                "not_before": { "type": "integer" },
                "not_after": { "type": "integer" },
                "fingerprint": { "type": "string" }
              }
            }
          }
        }
        """#

    /// The schema, parsed once.
    static let value: JSONValue = {
        do {
            return try JSONValue.parse(Array(text.utf8))
        } catch {
            preconditionFailure("the embedded schema is not JSON: \(error)")
        }
    }()
}

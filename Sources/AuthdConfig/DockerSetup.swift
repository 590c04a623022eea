// What `authctl setup docker` changes in docker's config.json: credHelpers entries for the audiences' registries, all else kept.
import AuthdWire

extension AudienceConfiguration {
    /// The container registries this audience's token is for (docker-credential-authctl answers
    /// for them), as docker names them in config.json.
    public var dockerRegistries: [String] { registries.map(\.description) }
}

public struct DockerSetupChange: Sendable, Equatable {
    public var registry: String
    /// The helper the registry had before, nil when it had none.
    public var oldHelper: String?

    public init(registry: String, oldHelper: String?) {
        self.registry = registry
        self.oldHelper = oldHelper
    }
}

public enum DockerSetup {
    /// `credHelpers` value that makes docker run `docker-credential-authctl`.
    public static let helperName = "authctl"

    /// `document` (docker's config.json, nil when there is none) with `credHelpers[registry] =
    /// "authctl"` for each registry; every other member, and the order of all of them, kept.
    /// Registries already set give no change, so a second run changes nothing.
    public static func merged(_ document: JSONValue?, registries: [String]) throws(DockerSetupError)
        -> (document: JSONValue, changes: [DockerSetupChange]) {
        var members: [(String, JSONValue)]
        switch document {
        case nil: members = []
        case .object(let existing): members = existing
        default: throw DockerSetupError("it is not a JSON object")
        }
        var helpers: [(String, JSONValue)] = []
        let index = members.firstIndex { $0.0 == "credHelpers" }
        if let index {
            guard case .object(let existing) = members[index].1 else {
                throw DockerSetupError("its credHelpers is not a JSON object")
            }
            helpers = existing
        }
        var changes: [DockerSetupChange] = []
        for registry in registries where !changes.contains(where: { $0.registry == registry }) {
            if let at = helpers.firstIndex(where: { $0.0 == registry }) {
                guard helpers[at].1 != .string(helperName) else { continue }
                changes.append(DockerSetupChange(registry: registry, oldHelper: helpers[at].1.stringValue ?? helpers[at].1.serialized()))
                helpers[at].1 = .string(helperName)
            } else {
                changes.append(DockerSetupChange(registry: registry, oldHelper: nil))
                helpers.append((registry, .string(helperName)))
            }
        }
        if let index { members[index].1 = .object(helpers) } else if !changes.isEmpty { members.append(("credHelpers", .object(helpers))) }
        return (.object(members), changes)
    }
}

public struct DockerSetupError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

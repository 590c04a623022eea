// What `authctl setup docker` would write into docker's config.json: credHelpers added, everything else kept.
import AuthdConfig
import AuthdWire
import Testing

@Suite struct DockerSetupTests {
    @Test("unrelated keys and their order are kept; credHelpers gains the registries")
    func keepsEverythingElse() throws {
        let before = try JSONValue.parse(#"{"auths":{"old.example":{"auth":"eA=="}},"credHelpers":{"gcr.io":"gcloud"},"psFormat":"x"}"#)
        let (after, changes) = try DockerSetup.merged(before, registries: ["ghcr.io", "registry.example.com:5000"])
        #expect(after.serialized() == #"{"auths":{"old.example":{"auth":"eA=="}},"credHelpers":{"gcr.io":"gcloud","ghcr.io":"authctl","registry.example.com:5000":"authctl"},"psFormat":"x"}"#)
        #expect(changes == [DockerSetupChange(registry: "ghcr.io", oldHelper: nil),
                            DockerSetupChange(registry: "registry.example.com:5000", oldHelper: nil)])
        // A second run changes nothing.
        let (again, none) = try DockerSetup.merged(after, registries: ["ghcr.io", "registry.example.com:5000"])
        #expect(none.isEmpty && again == after)
    }

    @Test("no file: a document with credHelpers only; another helper for the registry is replaced and reported")
    func freshAndReplaced() throws {
        #expect(try DockerSetup.merged(nil, registries: ["ghcr.io"]).document.serialized() == #"{"credHelpers":{"ghcr.io":"authctl"}}"#)
        let (_, changes) = try DockerSetup.merged(try JSONValue.parse(#"{"credHelpers":{"ghcr.io":"desktop"}}"#), registries: ["ghcr.io"])
        #expect(changes == [DockerSetupChange(registry: "ghcr.io", oldHelper: "desktop")])
    }

    @Test("a document that is not an object, or a credHelpers that is not one, is refused", arguments: [#"[]"#, #"{"credHelpers":[]}"#])
    func refusesOtherShapes(text: String) throws {
        #expect(throws: DockerSetupError.self) { try DockerSetup.merged(try JSONValue.parse(text), registries: ["ghcr.io"]) }
    }
}

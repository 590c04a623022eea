// Each audience rule alone, by table: a snippet that makes it speak (what it says, and how severely) and one that keeps it silent.
@testable import AuthdConfig
import Testing

struct NoAudienceTable: Error {}

/// One row: `rule` judged on `[audience.a]` + `body`; `expected` nil means the rule finds nothing.
struct AudienceRuleCase: Sendable, CustomTestStringConvertible {
    var rule: AudienceRule
    var name: String
    var body: String
    var expected: (ConfigDiagnostic.Severity, String)?

    init(_ name: String, _ rule: @escaping AudienceRule, _ body: String, _ expected: (ConfigDiagnostic.Severity, String)? = nil) {
        self.name = name
        self.rule = rule
        self.body = body
        self.expected = expected
    }

    var testDescription: String { "\(name): \(body.split(separator: "\n").joined(separator: "; "))" }

    /// The facts `AuthdConfiguration.validate` gives the rules for this audience.
    func facts() throws -> AudienceFacts {
        let root = try TOMLParser.parse("[audience.a]\n" + body)
        guard case .table(let audiences)? = root["audience"]?.node.value, let entry = audiences.entries.first,
              case .table(let table) = entry.node.value else { throw NoAudienceTable() }
        var validator = ConfigValidator(file: "config.toml", homeDirectory: nil)
        return validator.readAndResolve(table, audiencePath: "audience.a", position: entry.node.position)
    }
}

@Suite struct AudienceRulesTests {
    typealias R = AudienceRules
    static let cases: [AudienceRuleCase] = [
        .init("clientIDPresent", R.clientIDPresent, "issuer = \"https://i\"", (.error, "missing required key client_id")),
        .init("clientIDPresent", R.clientIDPresent, "issuer = \"https://i\"\nclient_id = \"c\""),
        .init("clientIDPresent", R.clientIDPresent, "issuer = \"https://i\"\nregister = true"),

        .init("oneSecretSource", R.oneSecretSource, "client_secret = \"s\"\nclient_secret_file = \"/s\"", (.error, "client_secret (line 2) and client_secret_file are both set; keep one")),
        .init("oneSecretSource", R.oneSecretSource, "client_secret_file = \"/s\""),

        .init("secretFitsPreset", R.secretFitsPreset, "provider = \"entra\"\nclient_secret = \"s\"", (.warning, "AADSTS700025")),
        .init("secretFitsPreset", R.secretFitsPreset, "provider = \"google\"", (.warning, "\"TVs and Limited Input devices\" client")),
        .init("secretFitsPreset", R.secretFitsPreset, "provider = \"bitbucket\"", (.warning, "issues tokens only to confidential clients")),
        .init("secretFitsPreset", R.secretFitsPreset, "provider = \"google\"\nclient_secret = \"s\""),
        .init("secretFitsPreset", R.secretFitsPreset, "provider = \"entra\""),
        .init("secretFitsPreset", R.secretFitsPreset, "client_secret = \"s\""),

        .init("baseURLFitsPreset", R.baseURLFitsPreset, "provider = \"google\"\nbase_url = \"https://i\"", (.error, "Google has fixed endpoints; remove base_url")),
        .init("baseURLFitsPreset", R.baseURLFitsPreset, "provider = \"oidc\"\nbase_url = \"https://i\"", (.error, "set issuer to the provider's issuer URL")),
        .init("baseURLFitsPreset", R.baseURLFitsPreset, "base_url = \"https://i\"", (.error, "base_url is only used with a provider preset")),
        .init("baseURLFitsPreset", R.baseURLFitsPreset, "provider = \"okta\"", (.error, "provider \"okta\" needs base_url")),
        .init("baseURLFitsPreset", R.baseURLFitsPreset, "provider = \"gitbub\"\nbase_url = \"https://i\""),
        .init("baseURLFitsPreset", R.baseURLFitsPreset, "provider = \"github\""),
        .init("baseURLFitsPreset", R.baseURLFitsPreset, "provider = \"okta\"\nbase_url = \"https://t.okta.com\""),

        .init("keycloakBaseURLIsRealm", R.keycloakBaseURLIsRealm, "provider = \"keycloak\"\nbase_url = \"https://sso.example.com\"", (.warning, "the realm URL")),
        .init("keycloakBaseURLIsRealm", R.keycloakBaseURLIsRealm, "provider = \"keycloak\"\nbase_url = \"https://sso.example.com/realms/r\""),

        .init("tenantFitsPreset", R.tenantFitsPreset, "provider = \"github\"\ntenant = \"t\"", (.error, "tenant is only used with provider \"entra\" or \"azure-devops\"")),
        .init("tenantFitsPreset", R.tenantFitsPreset, "provider = \"entra\"\ntenant = \"t\""),
        .init("tenantFitsPreset", R.tenantFitsPreset, "provider = \"gitbub\"\ntenant = \"t\""),

        .init("authcodeHasAuthorizationEndpoint", R.authcodeHasAuthorizationEndpoint, "flow = \"authcode\"\ntoken_endpoint = \"https://i/t\"", (.error, "flow = \"authcode\" needs authorization_endpoint")),
        .init("authcodeHasAuthorizationEndpoint", R.authcodeHasAuthorizationEndpoint, "flow = \"authcode\"\ntoken_endpoint = \"https://i/t\"\nissuer = \"https://i\""),
        .init("authcodeHasAuthorizationEndpoint", R.authcodeHasAuthorizationEndpoint, "flow = \"authcode\"\ntoken_endpoint = \"https://i/t\"\nauthorization_endpoint = \"https://i/a\""),

        .init("endpointsComplete", R.endpointsComplete, "device_authorization_endpoint = \"https://i/d\"", (.error, "token_endpoint is missing: give both")),
        .init("endpointsComplete", R.endpointsComplete, "authorization_endpoint = \"https://i/a\"", (.error, "the authorization code flow needs authorization_endpoint and token_endpoint")),
        .init("endpointsComplete", R.endpointsComplete, "scopes = []", (.error, "needs issuer (discovery), provider (a preset), or")),
        .init("endpointsComplete", R.endpointsComplete, "provider = \"oidc\"", (.error, "provider \"oidc\" needs issuer (discovery)")),
        .init("endpointsComplete", R.endpointsComplete, "issuer = \"https://i\""),
        .init("endpointsComplete", R.endpointsComplete, "device_authorization_endpoint = \"https://i/d\"\ntoken_endpoint = \"https://i/t\""),
        // The base URL's own error is enough; the endpoints it would have given are not also reported missing.
        .init("endpointsComplete", R.endpointsComplete, "provider = \"okta\""),
        // An unreadable endpoint has its own error.
        .init("endpointsComplete", R.endpointsComplete, "device_authorization_endpoint = 4"),
        // flow = "authcode" without an authorization endpoint is authcodeHasAuthorizationEndpoint's to report.
        .init("endpointsComplete", R.endpointsComplete, "flow = \"authcode\"\ntoken_endpoint = \"https://i/t\""),

        .init("expectedExtraParameters", R.expectedExtraParameters, "provider = \"auth0\"\nbase_url = \"https://t.auth0.com\"", (.warning, "Auth0 needs extra_params.audience")),
        .init("expectedExtraParameters", R.expectedExtraParameters, "provider = \"auth0\"\nbase_url = \"https://t.auth0.com\"\nextra_params = { audience = \"https://api\" }"),

        .init("tokenAuthMethodFitsSecret", R.tokenAuthMethodFitsSecret, "token_auth_method = \"client_secret_post\"", (.error, "client_secret_post needs client_secret or client_secret_file")),
        .init("tokenAuthMethodFitsSecret", R.tokenAuthMethodFitsSecret, "token_auth_method = \"none\"\nclient_secret = \"s\"", (.warning, "the configured client secret is never sent")),
        .init("tokenAuthMethodFitsSecret", R.tokenAuthMethodFitsSecret, "token_auth_method = \"client_secret_basic\"\nclient_secret = \"s\""),
        .init("tokenAuthMethodFitsSecret", R.tokenAuthMethodFitsSecret, "token_auth_method = \"none\""),

        .init("gitAuthAccepted", R.gitAuthAccepted, "provider = \"github\"\ngit_auth = \"bearer\"", (.error, "GitHub rejects Bearer authentication")),
        .init("gitAuthAccepted", R.gitAuthAccepted, "provider = \"github\"\ngit_auth = \"basic\""),
        .init("gitAuthAccepted", R.gitAuthAccepted, "issuer = \"https://i\"\ngit_auth = \"bearer\""),

        .init("issuerOnlyAudienceHasScopes", R.issuerOnlyAudienceHasScopes, "issuer = \"https://i\"", (.warning, "no scopes: authd sends no scope parameter")),
        // The oidc preset chooses its default scopes.
        .init("issuerOnlyAudienceHasScopes", R.issuerOnlyAudienceHasScopes, "provider = \"oidc\"\nissuer = \"https://i\""),
        .init("issuerOnlyAudienceHasScopes", R.issuerOnlyAudienceHasScopes, "issuer = \"https://i\"\nscopes = []"),
        .init("issuerOnlyAudienceHasScopes", R.issuerOnlyAudienceHasScopes, "provider = \"google\"\nissuer = \"https://i\""),

        .init("identityPolicyHasOpenID", R.identityPolicyHasOpenID, "issuer = \"https://i\"\nrequire_mfa = true", (.warning, "require_mfa needs a verified id_token")),
        .init("identityPolicyHasOpenID", R.identityPolicyHasOpenID, "issuer = \"https://i\"\nacr_values = [\"mfa\"]\nscopes = [\"email\"]", (.warning, "acr_values needs a verified id_token")),
        .init("identityPolicyHasOpenID", R.identityPolicyHasOpenID, "issuer = \"https://i\"\nrequire_mfa = true\nscopes = [\"openid\"]"),
        .init("clientRegistration", R.clientRegistration, "client_id = \"register\"\nissuer = \"https://i\"\nclient_secret = \"s\"", (.error, "registers a public client, which has no secret")),
        .init("clientRegistration", R.clientRegistration, "client_id = \"register\"\ndevice_authorization_endpoint = \"https://i/d\"\ntoken_endpoint = \"https://i/t\"", (.error, "needs issuer")),
        .init("clientRegistration", R.clientRegistration, "client_id = \"c\"\nissuer = \"https://i\"\nregistration_endpoint = \"https://i/r\"", (.warning, "is used only with client_id = \"register\"")),
        .init("clientRegistration", R.clientRegistration, "client_id = \"register\"\nissuer = \"https://i\""),
    ]

    @Test(arguments: cases)
    func rule(_ row: AudienceRuleCase) throws {
        let found = row.rule(try row.facts())
        if let (severity, fragment) = row.expected {
            #expect(found.count == 1, "\(found)")
            #expect(found.first?.severity == severity, "\(found)")
            #expect(found.first.map { $0.message.contains(fragment) } == true, "\(found)")
            #expect(found.first.map { $0.keyPath?.hasPrefix("audience.a") == true && $0.file == "config.toml" } == true, "\(found)")
        } else {
            #expect(found.isEmpty, "\(found)")
        }
    }

    /// The scopes hint is for an otherwise valid audience: after an error it would only add noise.
    @Test func theScopesHintWaitsForAnAudienceWithoutErrors() throws {
        var facts = try AudienceRuleCase("issuerOnlyAudienceHasScopes", R.issuerOnlyAudienceHasScopes, "issuer = \"https://i\"").facts()
        #expect(AudienceRules.issuerOnlyAudienceHasScopes(facts).count == 1)
        facts.hasEarlierErrors = true
        #expect(AudienceRules.issuerOnlyAudienceHasScopes(facts).isEmpty)
    }

    /// A rule added to `AudienceRules.all` needs its rows here.
    @Test func everyRuleHasRows() {
        #expect(AudienceRules.all.count == Set(Self.cases.map(\.name)).count)
    }
}

// The device authorization answer (RFC 8628 §3.2), validated and tolerant of the providers' variants.

import AuthdWire

/// What the provider issued for one device flow. `deviceCode` is a secret: it never appears in a
/// description, an error or a progress event.
public struct DeviceAuthorization: Sendable, Equatable, CustomStringConvertible {
    public static let defaultInterval: Int64 = 5

    public var deviceCode: String
    public var userCode: String
    public var verificationURI: String
    public var verificationURIComplete: String?
    /// Lifetime of the codes, in seconds.
    public var expiresIn: Int64
    /// Minimum polling interval in seconds (5 when the provider sends none or nonsense, at least 1).
    public var interval: Int64
    /// A human instruction some providers send (Entra), control characters removed.
    public var message: String?
    /// When the request was sent: the codes' lifetime is counted from here, which errs on the early side.
    public var requestedAt: MonotonicInstant
    public var requestedAtUnixSeconds: Int64

    public init(deviceCode: String, userCode: String, verificationURI: String, verificationURIComplete: String? = nil,
                expiresIn: Int64, interval: Int64 = DeviceAuthorization.defaultInterval, message: String? = nil,
                requestedAt: MonotonicInstant, requestedAtUnixSeconds: Int64) {
        self.deviceCode = deviceCode
        self.userCode = userCode
        self.verificationURI = verificationURI
        self.verificationURIComplete = verificationURIComplete
        self.expiresIn = expiresIn
        self.interval = interval
        self.message = message
        self.requestedAt = requestedAt
        self.requestedAtUnixSeconds = requestedAtUnixSeconds
    }

    /// The local deadline: after it no poll is sent, whatever the provider would say.
    public var deadline: MonotonicInstant { requestedAt + .seconds(expiresIn) }
    public var expiresAtUnixSeconds: Int64 { requestedAtUnixSeconds + expiresIn }

    /// What the person must see, without the device code.
    public var prompt: DeviceFlowPrompt {
        DeviceFlowPrompt(userCode: userCode, verificationURI: verificationURI, verificationURIComplete: verificationURIComplete,
                         expiresIn: expiresIn, expiresAtUnixSeconds: expiresAtUnixSeconds, interval: interval, message: message)
    }

    public var description: String {
        "DeviceAuthorization(user_code: \(userCode), verification_uri: \(verificationURI), expires_in: \(expiresIn), interval: \(interval))"
    }

    /// Validates a parsed answer. Required: `device_code`, `user_code`, `verification_uri` (or
    /// Google's `verification_url`), `expires_in` (number or numeric string). Extra fields are ignored.
    static func decode(_ fields: ResponseFields, endpoint: OAuthEndpoint, requestedAt: MonotonicInstant,
                       requestedAtUnixSeconds: Int64) throws(OAuthError) -> DeviceAuthorization {
        func invalid(_ reason: String) -> OAuthError { .invalidResponse(endpoint: endpoint, reason: reason) }
        guard let deviceCode = fields.string("device_code") else { throw invalid("device_code is missing") }
        guard let userCode = fields.string("user_code") else { throw invalid("user_code is missing") }
        guard let uri = fields.string("verification_uri") ?? fields.string("verification_url") else {
            throw invalid("verification_uri is missing")
        }
        guard fields["expires_in"] != nil else { throw invalid("expires_in is missing") }
        guard let expiresIn = fields.integer("expires_in") else { throw invalid("expires_in is not a number") }
        guard expiresIn > 0 else { throw invalid("expires_in is not positive") }
        // A person copies these from the terminal: escapes or line breaks would be an injection.
        guard !containsControl(userCode) else { throw invalid("user_code contains control or format characters") }
        guard !containsControl(uri) else { throw invalid("verification_uri contains control or format characters") }
        guard isDisplayableURL(uri) else { throw invalid("verification_uri is not an http(s) URL") }
        let completeText = fields.string("verification_uri_complete") ?? fields.string("verification_url_complete")
        // A link that would display as something else is a spoofing attempt, not a slip to shrug off.
        if let completeText, containsControl(completeText) {
            throw invalid("verification_uri_complete contains control or format characters")
        }
        let complete = completeText.flatMap { isDisplayableURL($0) ? $0 : nil }
        // Absent, unreadable or negative: RFC 8628's default. Zero (test servers) is raised to one
        // second, so that a provider's slip cannot turn the client into a busy loop.
        let interval = fields.integer("interval").flatMap { $0 >= 0 ? max(1, min($0, 3600)) : nil } ?? defaultInterval
        return DeviceAuthorization(
            deviceCode: deviceCode, userCode: userCode, verificationURI: uri, verificationURIComplete: complete,
            expiresIn: min(expiresIn, 86_400), interval: interval,
            message: ProviderText(secrets: [deviceCode]).clean(fields.string("message")),
            requestedAt: requestedAt, requestedAtUnixSeconds: requestedAtUnixSeconds)
    }

    /// Control characters, and format characters such as a bidi override that makes
    /// `https://good.example/\u{202E}…` read as another site (`TerminalText`'s rule).
    static func containsControl(_ s: String) -> Bool {
        !TerminalText.isClean(s)
    }

    static func isDisplayableURL(_ s: String) -> Bool {
        let lower = s.lowercased()
        return (lower.hasPrefix("https://") || lower.hasPrefix("http://")) && !containsControl(s) && !s.contains(" ")
    }
}

/// The part of a device authorization a person sees: the one prompt value from the engine to
/// the daemon, which adds the audience and a QR code to it for the wire (`DevicePrompt`).
public struct DeviceFlowPrompt: Sendable, Equatable {
    public var userCode: String
    public var verificationURI: String
    public var verificationURIComplete: String?
    public var expiresIn: Int64
    public var expiresAtUnixSeconds: Int64
    public var interval: Int64
    public var message: String?

    public init(userCode: String, verificationURI: String, verificationURIComplete: String?, expiresIn: Int64,
                expiresAtUnixSeconds: Int64, interval: Int64 = DeviceAuthorization.defaultInterval, message: String? = nil) {
        self.userCode = userCode
        self.verificationURI = verificationURI
        self.verificationURIComplete = verificationURIComplete
        self.expiresIn = expiresIn
        self.expiresAtUnixSeconds = expiresAtUnixSeconds
        self.interval = interval
        self.message = message
    }
}

// swift-tools-version:6.1
// authd: an OAuth 2.0 device-flow credential agent for Linux terminals, git and scripts.
import PackageDescription

// The clients are started by git and scripts many times per second, so they are
// linked as static executables (no dynamic loader, no PIE relocations); see
// docs/performance.md. Sanitizer and coverage builds cannot link statically:
// AUTHD_DYNAMIC_CLIENTS=1 turns this off.
let staticClient: [LinkerSetting] =
    Context.environment["AUTHD_DYNAMIC_CLIENTS"] == nil ? [.unsafeFlags(["-static-executable"])] : []

// The modules the clients link reach generic type metadata through its accessor functions, with
// the conformances the compiler already knows, rather than by demangling the type's name at run
// time (the default, smaller code): for a concrete `[K: V]` or `Set<T>` the runtime then checks
// `K: Hashable` by scanning every conformance record in the program, about 90,000 instructions
// each, at every client start (docs/performance.md, "authctl get"). A frontend flag, so unsafeFlags.
let clientCodegen: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"])]

// AUTHD_TEST_TARGETS=A,B builds only those test targets (handy while other modules are mid-change).
let selectedTests = Context.environment["AUTHD_TEST_TARGETS"].map { Set($0.split(separator: ",").map(String.init)) }

let package = Package(
    name: "authd",
    products: [
        .executable(name: "authd", targets: ["authd"]),
        .executable(name: "authctl", targets: ["authctl"]),
        .executable(name: "git-credential-authctl", targets: ["git-credential-authctl"]),
        .executable(name: "docker-credential-authctl", targets: ["docker-credential-authctl"]),
        .executable(name: "authd-devserver", targets: ["authd-devserver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        // OpenSSL's libcrypto (already in the daemon through libcurl): JWS signature checks of id_tokens.
        .systemLibrary(name: "CLibcrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPosix"),

        // The only Swift modules that call C: libc (AuthdPosix, shared with the static
        // clients) and the daemon-side libraries (AuthdSystem).
        .target(name: "AuthdPosix", dependencies: ["CPosix"], swiftSettings: clientCodegen),
        .target(name: "AuthdSystem", dependencies: ["AuthdPosix", "AuthdWire", "CSodium", "CSystemd", "CCurl", "CQRencode", "CLibcrypto"]),

        // Pure Swift, no Foundation: wire protocol, JSON, config, URLs. Linked by the clients.
        .target(name: "AuthdWire", swiftSettings: clientCodegen),
        .target(name: "AuthdConfig", dependencies: ["AuthdWire"], swiftSettings: clientCodegen),
        .target(name: "AuthdClient", dependencies: ["AuthdWire", "AuthdConfig", "AuthdPosix"], swiftSettings: clientCodegen),

        // The OAuth engine: pure, clock-injected, transport-injected.
        .target(name: "AuthdOAuth", dependencies: ["AuthdWire", "AuthdConfig"]),

        // The encrypted on-disk store of logins.
        .target(name: "AuthdStore", dependencies: ["AuthdSystem", "AuthdPosix", "AuthdWire"]),

        // The daemon: store, vault, token lifecycle, socket service, audit.
        .target(name: "AuthdCore", dependencies: [
            "AuthdOAuth", "AuthdStore", "AuthdSystem", "AuthdConfig", "AuthdWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "authd", dependencies: [
            "AuthdCore",
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Test helper, not a product: rewrites a store until killed (AuthdStoreTests' kill-while-writing test).
        .executableTarget(name: "authd-store-torture", dependencies: ["AuthdStore", "AuthdSystem"]),
        // Benchmark tool, not a product: load generator and store timer for bench/run.sh (docs/performance.md).
        .executableTarget(name: "authd-loadgen", dependencies: ["AuthdStore", "AuthdSystem"]),
        .executableTarget(name: "authctl", dependencies: ["AuthdClient"], swiftSettings: clientCodegen, linkerSettings: staticClient),
        .executableTarget(name: "git-credential-authctl", dependencies: ["AuthdClient"], swiftSettings: clientCodegen, linkerSettings: staticClient),
        .executableTarget(name: "docker-credential-authctl", dependencies: ["AuthdClient"], swiftSettings: clientCodegen, linkerSettings: staticClient),
        .executableTarget(name: "authd-devserver", dependencies: [
            "AuthdWire",
            // Signs the id_tokens it issues (JWSSigningKey) and, for its Kubernetes stand-in, checks them
            // with the one id_token verifier (AuthdOAuth's IDTokenVerifier, pure); no other part of the daemon.
            "AuthdSystem", "AuthdOAuth",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Test doubles shared by the test targets (as swift-nio ships NIOTestUtils): the manual clock and the
        // scripted HTTP transport, temporary directories. Not a product: nothing the package installs links it.
        .target(name: "AuthdTestSupport", dependencies: ["AuthdOAuth", "AuthdPosix", "AuthdWire"]),

        .testTarget(name: "AuthdWireTests", dependencies: ["AuthdWire"]),
        .testTarget(name: "AuthdConfigTests", dependencies: ["AuthdConfig", "AuthdWire"]),
        .testTarget(name: "AuthdSystemTests", dependencies: ["AuthdSystem", "AuthdPosix", "AuthdTestSupport"]),
        .testTarget(name: "AuthdStoreTests", dependencies: ["AuthdStore", "AuthdSystem", "AuthdPosix", "AuthdWire", "AuthdTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "AuthdOAuthTests", dependencies: [
            "AuthdOAuth", "AuthdWire", "AuthdSystem", "AuthdPosix", "AuthdTestSupport",
            // The devserver integration tests wait on the daemon's real clock (SystemDaemonClock on a NIO event loop).
            "AuthdCore", .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "AuthdCoreTests", dependencies: [
            "AuthdCore", "AuthdStore", "AuthdSystem", "AuthdConfig", "AuthdWire", "AuthdOAuth", "AuthdTestSupport",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "AuthdClientTests", dependencies: ["AuthdClient", "AuthdPosix", "AuthdWire"]),
        .testTarget(name: "EndToEndTests", dependencies: ["AuthdWire", "AuthdPosix"]),
    ],
    swiftLanguageModes: [.v6]
)

if let selectedTests {
    package.targets.removeAll { $0.type == .test && !selectedTests.contains($0.name) }
}

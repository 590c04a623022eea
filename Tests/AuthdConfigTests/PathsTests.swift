// Config, socket and state paths from the environment.
import AuthdConfig
import Testing

/// AuthdPaths reads the environment through a function; a dictionary stands in for it here.
private func lookup(_ environment: [String: String]) -> EnvironmentLookup { { environment[$0] } }

@Suite struct PathsTests {
    @Test(arguments: [
        ("/run/user/1000/authd/forward-0123456789ab.sock", true),
        ("/tmp/authd-forward.sock", true),
        ("/run/authd-forward.sock", true),
        ("/run/user/1000/authd/socket", false),
        ("/home/forward/authd.sock", false),
        ("/run/authd.sock", false),
    ])
    func forwardPathsAreRecognisedByTheirFileName(path: String, isForward: Bool) {
        #expect(AuthdPaths.namesForward(path) == isForward)
    }

    @Test func xdgVariables() throws {
        let paths = try AuthdPaths.resolve(environment: lookup([
            "HOME": "/home/u", "XDG_CONFIG_HOME": "/cfg/", "XDG_RUNTIME_DIR": "/run/user/1000", "XDG_STATE_HOME": "/st",
        ]))
        #expect(paths == AuthdPaths(configFile: "/cfg/authd/config.toml", socket: "/run/user/1000/authd/socket",
                                    stateDirectory: "/st/authd"))
        #expect(paths.socketDirectory == "/run/user/1000/authd")
    }

    @Test func homeFallbacks() throws {
        let paths = try AuthdPaths.resolve(environment: lookup(["HOME": "/home/u/", "XDG_RUNTIME_DIR": "/run/user/1000"]))
        #expect(paths.configFile == "/home/u/.config/authd/config.toml")
        #expect(paths.stateDirectory == "/home/u/.local/state/authd")
    }

    @Test func relativeAndEmptyXDGValuesAreIgnored() throws {
        let paths = try AuthdPaths.resolve(environment: lookup([
            "HOME": "/home/u", "XDG_CONFIG_HOME": "relative/cfg", "XDG_STATE_HOME": "", "XDG_RUNTIME_DIR": "/run/user/1",
        ]))
        #expect(paths.configFile == "/home/u/.config/authd/config.toml")
        #expect(paths.stateDirectory == "/home/u/.local/state/authd")
    }

    @Test func overrides() throws {
        let environment = ["HOME": "/home/u", "AUTHD_CONFIG": "/etc/a.toml", "AUTHD_SOCKET": "/tmp/x/s", "AUTHD_STATE_DIR": "/var/a"]
        let paths = try AuthdPaths.resolve(environment: lookup(environment))
        #expect(paths == AuthdPaths(configFile: "/etc/a.toml", socket: "/tmp/x/s", stateDirectory: "/var/a"))
        let flags = try AuthdPaths.resolve(environment: lookup(environment), configOverride: "/c.toml", socketOverride: "/s")
        #expect(flags.configFile == "/c.toml")
        #expect(flags.socket == "/s")
    }

    @Test func missingRuntimeDirIsAClearError() throws {
        for environment in [["HOME": "/home/u"], ["HOME": "/home/u", "XDG_RUNTIME_DIR": ""], ["HOME": "/home/u", "XDG_RUNTIME_DIR": "run"]] {
            do {
                _ = try AuthdPaths.socket(environment: lookup(environment))
                Issue.record("no error for \(environment)")
            } catch {
                #expect(error.message.contains("XDG_RUNTIME_DIR"))
                #expect(error.message.contains("AUTHD_SOCKET"))
                #expect(!error.message.contains("/tmp"))
            }
        }
        #expect(throws: AuthdPathError.self) { try AuthdPaths.resolve(environment: lookup(["HOME": "/home/u"])) }
        // The config path alone does not need a runtime directory.
        #expect(try AuthdPaths.configFile(environment: lookup(["HOME": "/home/u"])) == "/home/u/.config/authd/config.toml")
    }

    @Test func missingHomeIsAnError() {
        #expect(throws: AuthdPathError.self) { try AuthdPaths.configFile(environment: lookup([:])) }
        #expect(throws: AuthdPathError.self) { try AuthdPaths.stateDirectory(environment: lookup(["HOME": "relative"])) }
    }

    @Test func socketPathLengthLimit() {
        let long = "/" + String(repeating: "d", count: 120)
        #expect(throws: AuthdPathError.self) { try AuthdPaths.socket(environment: lookup(["XDG_RUNTIME_DIR": long])) }
    }
}

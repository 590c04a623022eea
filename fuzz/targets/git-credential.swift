// libFuzzer target: git's credential description on stdin (GitCredentialInput.read), then the
// git URL matching the helper does with what it parsed (AudienceConfiguration git_urls).
//
// GitCredentialInput lives in the executable target git-credential-authctl, so fuzz/run.sh compiles
// Sources/git-credential-authctl/GitCredentialInput.swift into this module (without the @main file).
// The input reaches the parser through a real file descriptor, as git's pipe does.
//
// Oracles besides "no crash, no sanitizer report": no parsed value spans a line; parsing the same
// bytes twice gives the same result; a matched audience has git_urls; a path with . or .. never matches.
import AuthdConfig
import AuthdPosix
import Glibc

nonisolated(unsafe) private var inputFile: Int32 = -1

/// Two audiences matching git URLs, one of them by path, as the helper would load them.
private let configuration: AuthdConfiguration = {
    let text = """
    [audience.work-git]
    provider = "github"
    client_id = "Iv1.0123456789abcdef"
    base_url = "https://github.example.com"
    git_urls = ["https://github.example.com/"]

    [audience.demo]
    device_authorization_endpoint = "http://127.0.0.1:8765/device_authorization"
    token_endpoint = "http://127.0.0.1:8765/token"
    client_id = "authctl-test"
    git_urls = ["https://git.example.com/team/", "http://[::1]:8080/repo.git"]
    git_auth = "bearer"
    """
    guard case (let configuration?, _) = AuthdConfiguration.validate(text: text, path: "fuzz.toml") else {
        fatalError("the git fuzzer's fixed configuration does not validate")
    }
    return configuration
}()

private func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<GitCredentialInput, GitCredentialInput.Refused> {
    if inputFile < 0 {
        var template = Array("/tmp/authd-fuzz-git-XXXXXX".utf8CString)
        inputFile = mkstemp(&template)
        precondition(inputFile >= 0, "mkstemp failed")
        unlink(&template)
    }
    precondition(ftruncate(inputFile, 0) == 0 && lseek(inputFile, 0, SEEK_SET) == 0)
    var written = 0
    while written < bytes.count {
        let n = write(inputFile, bytes.baseAddress! + written, bytes.count - written)
        precondition(n > 0, "write failed")
        written += n
    }
    precondition(lseek(inputFile, 0, SEEK_SET) == 0)
    return Result { () throws(GitCredentialInput.Refused) in
        try GitCredentialInput.read(from: FileDescriptor(rawValue: inputFile))
    }
}

private func summary(_ input: GitCredentialInput) -> [String?] {
    [input.scheme, input.host, input.path, input.username, input.password, input.credential] + input.capabilities
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGitCredential(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let first = parse(bytes)
    let second = parse(bytes)
    switch (first, second) {
    case (.success(let a), .success(let b)):
        precondition(summary(a) == summary(b), "parsing the same input twice differed")
        for value in summary(a) {
            precondition(!(value?.utf8.contains(0x0A) ?? false), "a parsed value contains a newline")
        }
        _ = a.announcesAuthtype
        if let scheme = a.scheme, let host = a.host {
            let audience = configuration.audience(forGitProtocol: scheme, host: host, path: a.path)
            if let audience { precondition(!audience.gitURLs.isEmpty, "matched an audience without git_urls") }
            if let path = a.path, GitPath.hasDotSegment(path) { precondition(audience == nil, "matched a path with a . or .. segment") }
            _ = configuration.audience(forGitProtocol: scheme, host: host, path: nil)
        }
    case (.failure, .failure):
        break
    default:
        fatalError("parsing the same input twice gave a different outcome")
    }
    return 0
}

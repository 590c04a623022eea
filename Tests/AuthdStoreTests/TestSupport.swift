// Temporary directories and small helpers shared by the store tests.
import AuthdPosix
import AuthdSystem
import Glibc

/// A fresh directory under /tmp, removed with everything in it when the object goes.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/authd-store-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit {
        if let remover = try? SpawnedProcess.spawn(executable: "/bin/rm", arguments: ["-rf", path]) {
            _ = try? remover.wait()
        }
    }

    func entries() -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

func writeFile(_ path: String, _ bytes: [UInt8], permissions: UInt32 = 0o600) throws {
    let file = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: permissions)
    try file.closeAfter { () throws(Errno) in try file.writeAll(bytes) }
}

func readFile(_ path: String) throws -> [UInt8] {
    try FileSystem.readFile(path, maximumBytes: 1 << 24)
}

func secret(_ text: String) -> SecretBytes { SecretBytes(copying: text) }

/// A fixed 32-byte key for tests that do not care where the key comes from.
func testKey(_ seed: UInt8 = 7) -> SecretBytes {
    var bytes = (0..<32).map { UInt8($0) &* 13 &+ seed }
    return SecretBytes(zeroing: &bytes)
}

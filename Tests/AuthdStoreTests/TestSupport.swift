// Small helpers shared by the store tests (temporary directories are AuthdTestSupport's).
import AuthdPosix
import AuthdSystem
import Glibc

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

// A fresh directory under /tmp for one test, removed with everything in it when the object goes.
import AuthdPosix
import Glibc

/// A fresh directory under /tmp, removed with everything in it when the object goes.
public final class TemporaryDirectory {
    public let path: String

    /// - Parameter prefix: the start of the directory's name, so a leftover one says which tests made it.
    public init(prefix: String = "authd-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit {
        if let remover = try? SpawnedProcess.spawn(executable: "/bin/rm", arguments: ["-rf", path]) {
            _ = try? remover.wait()
        }
    }

    /// The names in the directory, sorted, without `.` and `..`.
    public func entries() -> [String] {
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

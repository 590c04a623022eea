// Where a page of authd's documentation is on this machine: installed beside the programs, else in the source tree.
import AuthdPosix

public enum InstalledDocs {
    /// `PREFIX/share/doc/authd/PAGE` when `make install` (or the package) put it there, next to
    /// the `PREFIX/bin` this program runs from; otherwise `docs/PAGE`, as in the source tree.
    public static func path(_ page: String) -> String {
        if let me = try? FileSystem.readLink("/proc/self/exe"), let bin = me.lastIndex(of: "/"),
           let prefixEnd = me[..<bin].lastIndex(of: "/") {
            let installed = String(me[..<prefixEnd]) + "/share/doc/authd/" + page
            if FileSystem.exists(installed) { return installed }
        }
        return "docs/" + page
    }
}

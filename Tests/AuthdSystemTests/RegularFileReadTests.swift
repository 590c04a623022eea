// FileSystem.readRegularFile: never blocks on a FIFO, refuses secret files others can read (with the chmod to run), is bounded.
import AuthdPosix
import AuthdTestSupport
import Glibc
import Testing

@Suite struct RegularFileReadTests {
    private func write(_ path: String, _ text: String, mode: UInt32) throws {
        let file = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: mode)
        try file.closeAfter { () throws(Errno) in try file.writeAll(text) }
        try FileSystem.setPermissions(path, mode)
    }

    @Test func aPrivateFileIsReadWhole() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/secret"
        try write(path, "s3cret\n", mode: 0o600)
        let contents = try FileSystem.readRegularFile(path, .secretFile)
        #expect(contents.bytes == Array("s3cret\n".utf8))
        #expect(contents.status.permissions == 0o600)
    }

    @Test func aSecretFileOthersCanReadIsRefusedWithTheChmodToRun() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/pass phrase"
        try write(path, "hunter2\n", mode: 0o644)
        #expect {
            _ = try FileSystem.readRegularFile(path, .secretFile)
        } throws: { error in
            guard let error = error as? FileReadError else { return false }
            return error.reason == .accessibleByOthers(permissions: 0o644)
                && error.description == "its mode 0644 lets other users read it; run: chmod 600 '\(path)'"
        }
        // Group-writable only: still refused, as ssh refuses a key with any group or other bit.
        try FileSystem.setPermissions(path, 0o620)
        #expect(throws: FileReadError(path: path, reason: .accessibleByOthers(permissions: 0o620))) {
            _ = try FileSystem.readRegularFile(path, .secretFile)
        }
        // A config file has no such demand; the caller decides what to warn about.
        #expect(try FileSystem.readRegularFile(path, .configFile).status.permissions == 0o620)
    }

    @Test(.enabled(if: getuid() == 0, "needs root to give a file to another uid"))
    func aSecretFileOwnedBySomeoneElseIsRefused() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/secret"
        try write(path, "s3cret", mode: 0o600)
        #expect(chown(path, 65534, 65534) == 0)
        #expect(throws: FileReadError(path: path, reason: .notOwnedByUser(ownerUserID: 65534, userID: 0))) {
            _ = try FileSystem.readRegularFile(path, .secretFile)
        }
    }

    @Test func aFIFOIsRefusedWithoutWaitingForAWriter() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/fifo"
        #expect(mkfifo(path, 0o600) == 0)
        // A blocking open would wait here for ever: nobody writes to this FIFO.
        #expect(throws: FileReadError(path: path, reason: .notRegularFile(.fifo))) {
            _ = try FileSystem.readRegularFile(path, .secretFile)
        }
        #expect(throws: FileReadError(path: path, reason: .notRegularFile(.fifo))) {
            _ = try FileSystem.readRegularFile(path, .configFile)
        }
        #expect("\(FileReadError(path: path, reason: .notRegularFile(.fifo)))".contains("a FIFO (named pipe), not a regular file"))
    }

    @Test func aDeviceOrDirectoryIsRefused() throws {
        let directory = TemporaryDirectory()
        #expect(throws: FileReadError(path: "/dev/zero", reason: .notRegularFile(.characterDevice))) {
            _ = try FileSystem.readRegularFile("/dev/zero", .configFile)
        }
        #expect(throws: FileReadError(path: directory.path, reason: .notRegularFile(.directory))) {
            _ = try FileSystem.readRegularFile(directory.path, .configFile)
        }
    }

    @Test func moreThanTheBoundIsRefused() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/big"
        try write(path, String(repeating: "x", count: 101), mode: 0o600)
        #expect(throws: FileReadError(path: path, reason: .tooLarge(maximumBytes: 100))) {
            _ = try FileSystem.readRegularFile(path, RegularFileRequirements(maximumBytes: 100))
        }
        #expect(try FileSystem.readRegularFile(path, RegularFileRequirements(maximumBytes: 101)).bytes.count == 101)
    }

    @Test func aSymbolicLinkIsFollowedOnlyWhenAllowed() throws {
        let directory = TemporaryDirectory()
        let target = directory.path + "/target", link = directory.path + "/link"
        try write(target, "k", mode: 0o600)
        #expect(symlink(target, link) == 0)
        #expect(try FileSystem.readRegularFile(link, .secretFile).bytes == [UInt8(ascii: "k")])
        #expect(throws: FileReadError(path: link, reason: .symbolicLink)) {
            _ = try FileSystem.readRegularFile(link, RegularFileRequirements(maximumBytes: 10, followSymbolicLinks: false))
        }
    }

    @Test func aMissingFileSaysSo() throws {
        let error = #expect(throws: FileReadError.self) {
            _ = try FileSystem.readRegularFile("/nonexistent/authd-test", .configFile)
        }
        #expect(error?.isMissing == true)
    }
}

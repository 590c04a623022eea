// The floor for a git credential helper written in Swift: what floor-helper.c does, built as
// git-credential-authctl is (swiftc -O, a static executable): read git's request to the end, print
// fixed credentials (LENGTH 'x's, no secret). No product code: the bench compiles it alone.
//
//   credential.helper = "/path/floor-helper-swift LENGTH"
#if canImport(Glibc)
import Glibc
#endif

func run() -> Int32 {
    let arguments = CommandLine.arguments
    var buffer = [UInt8](repeating: 0, count: 4096)
    while buffer.withUnsafeMutableBytes({ read(0, $0.baseAddress, $0.count) }) > 0 {}
    guard arguments.count >= 3, arguments[2] == "get" else { return 0 }  // store and erase: nothing to do
    guard let length = Int(arguments[1]), length >= 1, length <= 4000 else { return 1 }
    let answer = Array("username=oauth2\npassword=".utf8) + [UInt8](repeating: UInt8(ascii: "x"), count: length) + [0x0A]
    return answer.withUnsafeBytes({ write(1, $0.baseAddress, $0.count) }) == answer.count ? 0 : 1
}
exit(run())

// The floor for a whole-process token client written in Swift: what floor.c does, built as authctl is
// (swiftc -O, a static executable): connect, write one request line, read to the final answer, print it.
// The gap between it and floor.c is what any Swift program pays before it does anything; the gap
// between it and authctl is authctl's own work. No product code: the bench compiles it alone.
//
//   floor-swift SOCKET [REQUEST]
#if canImport(Glibc)
import Glibc
#endif

func run() -> Int32 {
    let arguments = CommandLine.arguments
    guard arguments.count >= 2 else { return 2 }
    let request = Array((arguments.count > 2 ? arguments[2] : #"{"op":"get","audience":"demo"}"#).utf8) + [0x0A]
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return 5 }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let path = Array(arguments[1].utf8)
    guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return 2 }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, byte) in path.enumerated() { raw[i] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { return 5 }
    guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { return 5 }
    var line = [UInt8](repeating: 0, count: 65536)
    var filled = 0, start = 0
    let ok = Array(#""ok":"#.utf8), okTrue = Array(#""ok":true"#.utf8)
    func contains(_ needle: [UInt8], _ range: Range<Int>) -> Bool {
        guard range.count >= needle.count else { return false }
        for i in range.lowerBound...(range.upperBound - needle.count) where line[i..<(i + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }
    while true {
        let n = line.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, $0.count - filled) }
        guard n > 0 else { return 1 }
        filled += n
        var i = start
        while i < filled {
            if line[i] == 0x0A {
                if contains(ok, start..<i) {
                    _ = line.withUnsafeBytes { write(1, $0.baseAddress! + start, i - start + 1) }
                    return contains(okTrue, start..<i) ? 0 : 1
                }
                start = i + 1
            }
            i += 1
        }
        if start == filled { filled = 0; start = 0 }
        if filled == line.count { return 1 }
    }
}
exit(run())

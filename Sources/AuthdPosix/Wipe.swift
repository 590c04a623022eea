// Overwrites bytes that held a secret, in a way the optimiser keeps (explicit_bzero), for code above the C boundary.
import CPosix

public enum Wipe {
    /// Zeroes every byte of `bytes` in place; the array keeps its count and storage.
    public static func bytes(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { explicit_bzero(base, raw.count) }
        }
    }
}

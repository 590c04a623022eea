// QR codes for the device-flow verification URI, so a phone can open it (libqrencode).
import AuthdPosix
import CQRencode
import Glibc

/// QR code modules for a string.
public enum QRCode {
    /// The module matrix for `text` (rows top to bottom; true = dark), error correction level M,
    /// 8-bit mode, smallest version that fits; no quiet zone. Throws `Errno` from libqrencode
    /// (`ERANGE` when the text is too long for any version).
    public static func matrix(for text: String) throws(Errno) -> [[Bool]] {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { throw .current }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        // Bit 0 of each byte is the module's colour; the other bits describe its role.
        return (0..<width).map { row in (0..<width).map { column in data[row * width + column] & 1 == 1 } }
    }
}

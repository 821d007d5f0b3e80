import CLibCrypto

/// HMAC-SHA256 through OpenSSL's libcrypto (the library libcurl already links).
public enum HMACSHA256 {
    /// The 32-byte MAC of `data` under `key`, or nil if libcrypto failed.
    public static func mac(key: [UInt8], data: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 32)
        let ok = key.withUnsafeBytes { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    itv_hmac_sha256(k.baseAddress, Int32(key.count), d.baseAddress, d.count, o.baseAddress)
                }
            }
        }
        return ok == 1 ? out : nil
    }

    /// Lowercase hex, as `X-ITV-Signature: sha256=<hex>` carries it.
    public static func hex(key: [UInt8], data: [UInt8]) -> String? {
        mac(key: key, data: data).map { $0.map { byte in String(format: "%02x", byte) }.joined() }
    }
}

import Foundation
import ITVCore

enum FileInput {
    /// Reads a whole input file, refusing anything that is not a regular file or is too large.
    static func read(_ path: String, maxBytes: Int = 4 << 20) -> Result<[UInt8], Diagnostic> {
        let here = SourceLocation(file: path, line: 1, column: 1)
        var info = stat()
        guard stat(path, &info) == 0 else {
            return .failure(Diagnostic(here, "cannot read: \(String(cString: strerror(errno)))"))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return .failure(Diagnostic(here, "not a regular file")) }
        guard Int(info.st_size) <= maxBytes else {
            return .failure(Diagnostic(here, "file is larger than \(maxBytes >> 20) MiB"))
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return .failure(Diagnostic(here, "cannot open for reading"))
        }
        defer { try? handle.close() }
        do {
            let data = try handle.read(upToCount: maxBytes + 1) ?? Data()
            guard data.count <= maxBytes else { return .failure(Diagnostic(here, "file is larger than 4 MiB")) }
            return .success([UInt8](data))
        } catch {
            return .failure(Diagnostic(here, "cannot read: \(error.localizedDescription)"))
        }
    }
}

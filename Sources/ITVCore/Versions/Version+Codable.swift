/// A version is stored and sent as `{"scheme": "semver", "raw": "v1.2.3"}`, and decoding parses `raw` again under
/// `scheme`: a stored or received string that is not a version never becomes a `Version`.
extension Version: Codable {
    private enum CodingKeys: String, CodingKey {
        case scheme
        case raw
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let scheme = try container.decode(VersionScheme.self, forKey: .scheme)
        let raw = try container.decode(String.self, forKey: .raw)
        switch scheme.parse(raw) {
        case .success(let version): self = version
        case .failure(let error):
            throw DecodingError.dataCorruptedError(forKey: .raw, in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scheme, forKey: .scheme)
        try container.encode(raw, forKey: .raw)
    }
}

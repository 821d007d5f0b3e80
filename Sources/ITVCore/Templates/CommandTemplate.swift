/// A step command with `{{version}}`-style placeholders.
/// PLACEHOLDER: the templates work replaces this with the real parser and renderer.
public struct CommandTemplate: Hashable, Sendable {
    public var source: String

    public init(source: String) { self.source = source }
}

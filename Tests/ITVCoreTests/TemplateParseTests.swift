import Testing

@testable import ITVCore

private let known = "known: {{version}}, {{previous}}, {{host}}, {{procedure}}, {{artifact}}"

private func parseError(_ source: String) -> TemplateError? {
    if case .failure(let error) = CommandTemplate.parse(source) { return error }
    return nil
}

@Test func templateFindsItsVariables() throws {
    let t = try CommandTemplate.parse("apt-get install -y firefox-esr={{version}} # {{host}} {{version}}").get()
    #expect(t.variables == [.version, .host])
    #expect(t.source == "apt-get install -y firefox-esr={{version}} # {{host}} {{version}}")
    let all = try CommandTemplate.parse("{{version}}{{previous}}{{host}}{{procedure}}{{artifact}}").get()
    #expect(all.variables == Set(TemplateVariable.allCases))
    #expect(try CommandTemplate.parse("dpkg-query -W firefox-esr").get().variables.isEmpty)
}

@Test func templateAllowsSpacesAndTabsInsideBraces() throws {
    let t = try CommandTemplate.parse("echo {{ version }} {{\tprevious\t}} {{host  }}").get()
    #expect(t.variables == [.version, .previous, .host])
    #expect(try t.render([.version: "1", .previous: "0", .host: "h"], for: .linux).get() == "echo '1' '0' 'h'")
}

@Test func singleBracesArePlainText() throws {
    let source = "dpkg-query -W -f='${Version}' x; if [ -n \"$a\" ]; then { echo; }; fi; @{a=1}; {x} }{"
    let t = try CommandTemplate.parse(source).get()
    #expect(t.variables.isEmpty)
    #expect(try t.render([:], for: .linux).get() == source)
    let ps = try CommandTemplate.parse("$h = @{v={{version}}}; & { $h.v }").get()
    #expect(try ps.render([.version: "1.0"], for: .windows).get() == "$h = @{v='1.0'}; & { $h.v }")
}

@Test func unknownVariableIsAnErrorWithOffset() {
    #expect(
        parseError("echo {{versoin}}")
            == TemplateError(
                kind: .unknownVariable, offset: 5, message: "unknown template variable {{versoin}}; \(known)"))
    #expect(parseError("a {{ Version }}")?.message == "unknown template variable {{Version}}; \(known)")
    #expect(parseError("{{version}} {{VERSION}}")?.offset == 12)
    #expect(parseError("{{env.HOME}}")?.kind == .unknownVariable)
    #expect(parseError("{{{version}}}")?.message == "unknown template variable {{{version}}; \(known)")
}

@Test func emptyPlaceholderIsAnError() {
    #expect(parseError("x {{}}") == TemplateError(kind: .emptyPlaceholder, offset: 2, message: "empty {{}}; \(known)"))
    #expect(parseError("x {{   }} y")?.kind == .emptyPlaceholder)
}

@Test func unclosedPlaceholderIsAnError() {
    #expect(
        parseError("install {{version")
            == TemplateError(kind: .unclosedPlaceholder, offset: 8, message: "unclosed {{: no }} follows it"))
    #expect(parseError("{{version}} {{")?.offset == 12)
    #expect(parseError("{{version} }")?.kind == .unclosedPlaceholder)
}

@Test func strayCloseIsAnError() {
    #expect(
        parseError("echo }} x")
            == TemplateError(
                kind: .strayClose, offset: 5,
                message: "stray }} without an opening {{ (write } } to keep two braces apart)"))
    #expect(parseError("{{version}}}}")?.offset == 11)
    #expect(parseError("@{a=@{b=1}}")?.kind == .strayClose)
}

@Test func errorOffsetsCountCharactersNotBytes() {
    // é (2 bytes), 🇩🇪 (two scalars, 8 bytes) and e + combining acute (two scalars) are one character each.
    #expect(parseError("é🇩🇪e\u{301} {{x}}")?.offset == 4)
}

@Test func renderQuotesForEachShell() throws {
    let t = try CommandTemplate.parse("apt-get install -y firefox-esr={{version}} && echo {{host}}").get()
    let values: [TemplateVariable: String] = [.version: "115.3'esr", .host: "ws 1"]
    #expect(try t.render(values, for: .linux).get() == "apt-get install -y firefox-esr='115.3'\\''esr' && echo 'ws 1'")
    #expect(try t.render(values, for: .windows).get() == "apt-get install -y firefox-esr='115.3''esr' && echo 'ws 1'")
}

@Test func renderNeedsEveryUsedVariable() throws {
    let t = try CommandTemplate.parse("rollback {{version}} to {{ previous }}").get()
    let result = t.render([.version: "2"], for: .linux)
    #expect(
        result == .failure(TemplateError(kind: .missingValue, offset: 24, message: "no value for {{previous}}")))
    // Values the template does not use are fine.
    #expect(try t.render([.version: "2", .previous: "1", .host: "h"], for: .linux).get() == "rollback '2' to '1'")
}

@Test func renderRefusesNUL() throws {
    let t = try CommandTemplate.parse("echo {{host}} {{version}}").get()
    guard case .failure(let error) = t.render([.version: "1\u{0}; reboot", .host: "h"], for: .linux) else {
        Issue.record("a value with NUL was rendered")
        return
    }
    #expect(error.kind == .nulInValue)
    #expect(error.offset == 14)
    #expect(error.message == "the value for {{version}} contains a NUL character, which no shell command can carry")
    #expect(throws: TemplateError.self) { try t.render([.version: "1", .host: "\u{0}"], for: .windows).get() }
}

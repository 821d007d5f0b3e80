// The malformed-input corpus: each case is one broken file in an otherwise valid set, with the exact
// diagnostics `itvd check` must print for it (file:line:column: message).
import ITVCore

enum MalformedFile: Sendable { case playbook, playbookWithServer, playbookWithWindowsHost, inventory, config }

struct MalformedCase: Sendable, CustomStringConvertible {
    let name: String
    let file: MalformedFile
    let text: String
    let expected: [String]

    init(_ name: String, _ file: MalformedFile, _ text: String, _ expected: [String]) {
        self.name = name
        self.file = file
        self.text = text
        self.expected = expected
    }

    var description: String { name }
}

enum ValidSet {
    static let playbook = #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#

    static let inventory = #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations]}
          ws-02: {address: 10.0.0.2, tenant: lra, groups: [workstations]}
        """#

    static let config = #"""
        playbooks: playbooks
        inventory: inventory.yaml
        parallel: 64
        windows:
          evening: {duration: 4h}
        """#
}

let malformedCases: [MalformedCase] = [
    MalformedCase(
        #"unknown top-level key"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendr: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:1:1: missing key 'vendor' in the playbook"#,
            #"playbooks/demo-app.yaml:4:1: unknown key 'vendr' in the playbook; did you mean 'vendor'?"#,
        ]),
    MalformedCase(
        #"duplicate key"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        name: Other
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:4:1: duplicate key 'name' (first written at line 3)"#
        ]),
    MalformedCase(
        #"targets is a string"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: workstations
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:5:10: targets must be a list, found 'workstations'"#
        ]),
    MalformedCase(
        #"YAML 1.1 boolean yes"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
          prereleases: yes
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:11:16: feed.prereleases: 'yes' is a boolean only in YAML 1.1; write true or false"#
        ]),
    MalformedCase(
        #"unquoted 1.10 where text is meant"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: 1.10
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:9:11: feed.select: '1.10' is read as a number by YAML (1.10 may become 1.1); quote it: '1.10'"#
        ]),
    MalformedCase(
        #"unknown template variable"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{versoin}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:13:30: steps.install: unknown template variable {{versoin}}; known: {{version}}, {{previous}}, {{host}}, {{procedure}}, {{artifact}}"#
        ]),
    MalformedCase(
        #"unclosed template"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:14:28: steps.verify: unclosed {{: no }} follows it"#
        ]),
    MalformedCase(
        #"wrong apiVersion"#, .playbook,
        #"""
        apiVersion: itv/v2
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:1:13: apiVersion must be 'itv/v1', found 'itv/v2'"#
        ]),
    MalformedCase(
        #"invalid procedure id"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: Demo_App
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:2:5: id 'Demo_App' is not a valid procedure id: use lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters"#
        ]),
    MalformedCase(
        #"missing steps"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:1:1: missing key 'steps' in the playbook"#
        ]),
    MalformedCase(
        #"unknown feed kind"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: jsn
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:7:9: feed.kind must be one of atom, rss, json, github, html, text, found 'jsn'; did you mean 'json'?"#
        ]),
    MalformedCase(
        #"unknown version scheme"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: semantic
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:10:11: feed.scheme must be one of dotted, semver, debian, pep440, date, found 'semantic'"#
        ]),
    MalformedCase(
        #"interval without unit"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
          every: 90
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:11:10: feed.every must be a duration such as 30s, 15m, 2h or 1d (a number needs a unit), found '90'"#
        ]),
    MalformedCase(
        #"plain http without allow_http"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: http://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:8:8: feed.url uses plain http; use https, or set allow_http: true for an internal mirror"#
        ]),
    MalformedCase(
        #"json feed without select"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:7:3: feed.select is required for kind json: the path of the version (a.b[0].c)"#
        ]),
    MalformedCase(
        #"text feed without match"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: text
          url: https://vendor.example/LATEST
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:7:3: feed.match is required for kind text: a regular expression with a named group 'version'"#
        ]),
    MalformedCase(
        #"match without version group"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          match: '^(\d+)$'
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:10:10: feed.match must have a named group 'version', e.g. (?<version>\d+(\.\d+)*)"#
        ]),
    MalformedCase(
        #"invalid regular expression"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          match: '^(?<version>\d+'
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:10:10: feed.match is not a valid regular expression: '^(?<version>\d+'"#
        ]),
    MalformedCase(
        #"wave with size and hosts"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, hosts: [ws-01], approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:7: wave 'canary' has size and hosts; give only one of size, hosts or group"#
        ]),
    MalformedCase(
        #"wave with no size"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:7: wave 'canary' needs one of size, hosts or group"#
        ]),
    MalformedCase(
        #"wave size zero"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 0, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:28: wave 'canary' size must be between 1 and 100000, found 0"#
        ]),
    MalformedCase(
        #"wave size over 100%"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 150%, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:28: wave 'canary' size '150%' must be a percentage from 1% to 100%"#
        ]),
    MalformedCase(
        #"rest wave not last"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
            - {name: late, size: 1, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:20:7: wave 'broad' has size: rest, so it must be the last wave"#
        ]),
    MalformedCase(
        #"duplicate wave name"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: canary, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:20:7: wave name 'canary' is used twice (first at line 19)"#
        ]),
    MalformedCase(
        #"window approval without window"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: window}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:20:7: wave 'broad' has approval: window, but rollout.window names no patch window"#
        ]),
    MalformedCase(
        #"four eyes on an auto wave"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto, approvals: 2}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:58: wave 'canary' approvals: 2 needs approval: operator"#
        ]),
    MalformedCase(
        #"rollback policy without rollback step"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
          on_failure: rollback
        """#,
        [
            #"playbooks/demo-app.yaml:21:15: rollout.on_failure is rollback, but steps has no rollback command"#
        ]),
    MalformedCase(
        #"max_failures over 100%"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 101%
        """#,
        [
            #"playbooks/demo-app.yaml:21:17: rollout.max_failures '101%' must be a percentage from 0% to 100%"#
        ]),
    MalformedCase(
        #"zero timeout"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 0s
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:16:12: steps.timeout must be at least 1s"#
        ]),
    MalformedCase(
        #"tab indentation"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
        	detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:12:1: YAML syntax error: a tab character; YAML indents with spaces only"#
        ]),
    MalformedCase(
        #"two documents"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        ---
        id: other
        """#,
        [
            #"playbooks/demo-app.yaml:22:1: expected one YAML document, found a second one"#
        ]),
    MalformedCase(
        #"empty file"#, .playbook,
        "",
        [
            #"playbooks/demo-app.yaml:1:1: file is empty"#
        ]),
    MalformedCase(
        #"alias bomb"#, .playbook,
        #"""
        a: &a [x, x, x, x, x, x, x, x, x, x]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
        h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
        i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
        """#,
        [
            #"playbooks/demo-app.yaml:6:8: document expands to more than 200000 nodes through aliases; refusing it"#
        ]),
    MalformedCase(
        #"10,000-deep document"#, .playbook,
        String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n",
        [
            #"playbooks/demo-app.yaml:1:1: nested more than 64 levels deep"#
        ]),
    MalformedCase(
        #"undefined alias"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [*hosts]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:5:11: alias *hosts refers to no anchor defined before it"#
        ]),
    MalformedCase(
        #"unknown OS in a per-OS step"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install:
            linux: /opt/demo/install {{version}}
            macos: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:15:5: unknown key 'macos' in steps.install"#
        ]),
    MalformedCase(
        #"quoted boolean"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
          idempotent: "true"
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:17:15: steps.idempotent must be true or false, found the string "true""#
        ]),
    MalformedCase(
        #"parallel zero"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator, parallel: 0}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:20:63: wave 'broad' parallel must be between 1 and 10000, found 0"#
        ]),
    MalformedCase(
        #"uppercase wave name"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: Canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:14: wave name 'Canary' must use lowercase letters, digits and '-'"#
        ]),
    MalformedCase(
        #"empty command"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: ''
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:12:11: steps.detect is empty"#
        ]),
    MalformedCase(
        #"stray closing braces"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install }} {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:13:30: steps.install: stray }} without an opening {{ (write } } to keep two braces apart)"#
        ]),
    MalformedCase(
        #"list where a mapping is expected"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed: [json]
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:6:7: feed must be a mapping, found a list"#
        ]),
    MalformedCase(
        #"feed url without host"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https:///versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:8:8: feed.url has no host: 'https:///versions.json'"#
        ]),
    MalformedCase(
        #"file url scheme ftp"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: ftp://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:8:8: feed.url must be https (or http with allow_http, or file), found 'ftp'"#
        ]),
    MalformedCase(
        #"every too short"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
          every: 10s
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:11:10: feed.every must be at least 1m: polling a vendor more often is impolite"#
        ]),
    MalformedCase(
        #"octal-looking number as text"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: 010
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:9:11: feed.select: '010' is read as a number by YAML (010 may become 8 (octal)); quote it: '010'"#
        ]),
    MalformedCase(
        #"hosts left in no wave"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:18:3: rollout.waves: 1 of the 2 hosts of demo-app are in no wave: ws-02; add a wave with size: rest"#
        ]),
    MalformedCase(
        #"percentages over 100"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 60%, approval: auto}
            - {name: broad, size: 50%, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:18:3: rollout.waves: the percent waves of demo-app add up to 110%, more than all hosts (100%)"#
        ]),
    MalformedCase(
        #"unknown target group"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstation]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:5:11: target 'workstation' is neither a group nor a host of the inventory; did you mean 'workstations'?"#
        ]),
    MalformedCase(
        #"wave host not among targets"#, .playbookWithServer,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, hosts: [srv-01], approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:7: wave 'canary': host 'srv-01' is not among the procedure's targets"#
        ]),
    MalformedCase(
        #"unknown wave host"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, hosts: [ws-99], approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:19:7: wave 'canary': unknown host 'ws-99'; did you mean 'ws-01'?"#
        ]),
    MalformedCase(
        #"unknown window"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
          window: nightly
        """#,
        [
            #"playbooks/demo-app.yaml:22:3: unknown window 'nightly'; windows are declared in itvd.yaml under windows: (declared: evening)"#
        ]),
    MalformedCase(
        #"windows host without windows command"#, .playbookWithWindowsHost,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install:
            linux: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          rollback: /opt/demo/install {{previous}}
          timeout: 5m
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
          max_failures: 1
        """#,
        [
            #"playbooks/demo-app.yaml:13:3: steps.install has no windows command, but target host 'ws-03' runs windows"#
        ]),
    MalformedCase(
        #"inventory: unknown tenant"#, .inventory,
        #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations]}
          ws-02: {address: 10.0.0.2, tenant: lrb, groups: [workstations]}
        """#,
        [
            #"inventory.yaml:6:38: host 'ws-02': unknown tenant 'lrb'; did you mean 'lra'?"#
        ]),
    MalformedCase(
        #"inventory: port out of range"#, .inventory,
        #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations]}
          ws-02: {address: 10.0.0.2, port: 70000, tenant: lra, groups: [workstations]}
        """#,
        [
            #"inventory.yaml:6:36: host 'ws-02' port must be between 1 and 65535, found 70000"#
        ]),
    MalformedCase(
        #"inventory: address with shell metacharacters"#, .inventory,
        #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations]}
          ws-02: {address: '10.0.0.2;reboot', tenant: lra, groups: [workstations]}
        """#,
        [
            #"inventory.yaml:6:3: host 'ws-02': address '10.0.0.2;reboot' is not an IP address or DNS name"#
        ]),
    MalformedCase(
        #"inventory: duplicate host"#, .inventory,
        #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations]}
          ws-02: {address: 10.0.0.2, tenant: lra, groups: [workstations]}
          ws-01: {address: 10.0.0.3, tenant: lra}
        """#,
        [
            #"inventory.yaml:7:3: duplicate key 'ws-01' (first written at line 5)"#
        ]),
    MalformedCase(
        #"inventory: host named like a group"#, .inventory,
        #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations]}
          ws-02: {address: 10.0.0.2, tenant: lra, groups: [workstations]}
          workstations: {address: 10.0.0.3, tenant: lra}
        """#,
        [
            #"inventory.yaml:7:3: 'workstations' is both a host and a group name; targets could not tell them apart"#
        ]),
    MalformedCase(
        #"inventory: unknown os"#, .inventory,
        #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations], os: macos}
          ws-02: {address: 10.0.0.2, tenant: lra, groups: [workstations]}
        """#,
        [
            #"inventory.yaml:5:71: host 'ws-01' os must be one of linux, windows, found 'macos'"#
        ]),
    MalformedCase(
        #"inventory: missing address"#, .inventory,
        #"""
        defaults: {user: itv, port: 22}
        tenants:
          lra: {name: Landratsamt}
        hosts:
          ws-01: {address: 10.0.0.1, tenant: lra, groups: [workstations]}
          ws-02: {tenant: lra, groups: [workstations]}
        """#,
        [
            #"inventory.yaml:6:10: missing key 'address' in host 'ws-02'"#
        ]),
    MalformedCase(
        #"ansible: port is not a number"#, .inventory,
        #"""
        all:
          children:
            workstations:
              hosts:
                ws-01: {ansible_host: 10.0.0.1, ansible_port: twenty-two}
        """#,
        [
            #"inventory.yaml:5:55: host 'ws-01' ansible_port must be a whole number, found 'twenty-two'"#
        ]),
    MalformedCase(
        #"config: unknown key"#, .config,
        #"""
        playbooks: playbooks
        inventory: inventory.yaml
        paralel: 64
        windows:
          evening: {duration: 4h}
        """#,
        [
            #"itvd.yaml:3:1: unknown key 'paralel' in the configuration; did you mean 'parallel'?"#
        ]),
    MalformedCase(
        #"config: quoted number"#, .config,
        #"""
        playbooks: playbooks
        inventory: inventory.yaml
        parallel: '64'
        windows:
          evening: {duration: 4h}
        """#,
        [
            #"itvd.yaml:3:11: parallel must be a whole number, found the string "64""#
        ]),
    MalformedCase(
        #"config: window duration without unit"#, .config,
        #"""
        playbooks: playbooks
        inventory: inventory.yaml
        parallel: 64
        windows:
          evening: {duration: 4}
        """#,
        [
            #"itvd.yaml:5:23: window 'evening' duration must be a duration such as 30s, 15m, 2h or 1d (a number needs a unit), found '4'"#
        ]),
    MalformedCase(
        #"artifact variable without an artifact block"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: msiexec /i {{artifact}} /qn
          verify: /opt/demo/verify {{version}}
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
        """#,
        [
            #"playbooks/demo-app.yaml:13:12: steps.install uses {{artifact}}, but the playbook has no artifact: block"#
        ]),
    MalformedCase(
        #"artifact_dir relative"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          artifact_dir: var/cache/itv
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
        """#,
        [
            #"playbooks/demo-app.yaml:15:17: steps.artifact_dir 'var/cache/itv' must be an absolute path: /... for Linux hosts, C:\... for Windows hosts (or {linux: ..., windows: ...})"#
        ]),
    MalformedCase(
        #"artifact_dir with .."#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          artifact_dir: {linux: /srv/../etc}
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
        """#,
        [
            #"playbooks/demo-app.yaml:15:25: steps.artifact_dir.linux: artifact_dir '/srv/../etc' contains '..'"#
        ]),
    MalformedCase(
        #"artifact_dir windows path with slashes"#, .playbook,
        #"""
        apiVersion: itv/v1
        id: demo-app
        name: Demo App
        vendor: Example
        targets: [workstations]
        feed:
          kind: json
          url: https://vendor.example/versions.json
          select: latest
          scheme: dotted
        steps:
          detect: cat /opt/demo/VERSION
          install: /opt/demo/install {{version}}
          verify: /opt/demo/verify {{version}}
          artifact_dir: {windows: 'C:/itv'}
        rollout:
          waves:
            - {name: canary, size: 1, approval: auto}
            - {name: broad, size: rest, approval: operator}
        """#,
        [
            #"playbooks/demo-app.yaml:15:27: steps.artifact_dir.windows: artifact_dir 'C:/itv' must be an absolute Windows path (C:\...)"#
        ]),
]

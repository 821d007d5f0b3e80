import Foundation
@_exported import ITVTestSupport

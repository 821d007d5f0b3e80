import ITVDaemon

@main
struct Entrypoint {
    static func main() async {
        await ITVDaemonCommand.main()
    }
}

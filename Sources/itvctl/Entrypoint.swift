import ITVControl

@main
struct Entrypoint {
    static func main() async {
        await ITVControlCommand.main()
    }
}

// authctl __audiences: the configured audience names, one a line, for shell completion.
import AuthdClient

enum AudienceListCommand {
    /// Completion must never print errors into the person's command line: failures print nothing.
    static func run(_ context: ClientContext) -> Int32 {
        guard let configuration = try? context.loadConfiguration() else { return 0 }
        Console.out(configuration.audiences.map { $0.name + "\n" }.joined())
        return 0
    }
}

// The one page a credential helper prints for --help and, as roff, for --man: git-credential-authctl(1), docker-credential-authctl(1).
import AuthdWire

/// What a credential helper says about itself, in the words `--help` and its man page share.
public struct HelperManual: Sendable {
    public var program: String
    /// The actions, as `get|store|erase`.
    public var actions: [String]
    /// Who runs it (`git`, `docker`), for the usage line.
    public var caller: String
    public var summary: String
    public var paragraphs: [String]
    /// Pages for SEE ALSO, as (name, section).
    public var seeAlso: [(String, Int)]
    /// The last line of `--help`, after "See also:" (where a man page has SEE ALSO).
    public var helpSeeAlso: String

    public init(program: String, actions: [String], caller: String, summary: String, paragraphs: [String],
                seeAlso: [(String, Int)], helpSeeAlso: String) {
        self.program = program
        self.actions = actions
        self.caller = caller
        self.summary = summary
        self.paragraphs = paragraphs
        self.seeAlso = seeAlso
        self.helpSeeAlso = helpSeeAlso
    }

    public var usage: String { "usage: \(program) \(actions.joined(separator: "|"))" }

    public var help: String {
        usage + "   (run by \(caller), with the request on stdin)\n\n" + summary + ".\n\n"
            + paragraphs.map { $0 + "\n" }.joined(separator: "\n") + "\nSee also: \(helpSeeAlso).\n"
    }

    public var manPage: String {
        let roff = Roff.escape
        let name = roff(program)
        return ".TH \(roff(program.uppercased())) 1 \"\" \"authd \(AuthdProtocol.softwareVersion)\"\n"
            + ".SH NAME\n\(name) \\- \(roff(summary))\n"
            + ".SH SYNOPSIS\n.B \(name)\n.RB \(actions.map(roff).joined(separator: " | "))\n"
            + ".SH DESCRIPTION\n" + paragraphs.map { ".PP\n" + roff($0) + "\n" }.joined()
            + ".SH SEE ALSO\n" + seeAlso.map { ".BR \(roff($0.0)) (\($0.1))" }.joined(separator: ",\n") + "\n"
    }
}

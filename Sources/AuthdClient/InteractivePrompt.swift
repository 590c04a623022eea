// The live device-flow prompt: on the terminal (or stderr), a countdown, an offer to open the browser.
import AuthdPosix
import AuthdWire

/// Shows prompts and progress to the person waiting. On a terminal the countdown line is
/// rewritten once a second; elsewhere (stderr to a file or pipe) everything is printed once.
public final class InteractivePrompt: DeviceFlowObserver {
    private let output: FileDescriptor
    /// The controlling terminal, when there is one: Enter on it opens the browser.
    private let keyboard: FileDescriptor?
    private let isLive: Bool
    private let plain: Bool
    /// `TERM=dumb`: no cursor controls, so the countdown is rewritten with spaces.
    private let dumb: Bool
    private let browserOpener: String?
    private var browserURI: String?
    private var expiresAtMonotonic: UInt64?
    private var userCode = ""
    private var columns: Int?
    private var echoSuppressed = false
    private var countdownShown = false
    private var lastCountdownLength = 0
    private var lastSecondShown: Int64 = -1

    /// - Parameters:
    ///   - terminal: the opened `/dev/tty`; nil writes to stderr (with `--interactive` and no terminal).
    public init(terminal: FileDescriptor?) {
        self.keyboard = terminal
        self.output = terminal ?? .standardError
        self.isLive = terminal != nil || FileDescriptor.standardError.isTerminal
        self.plain = Console.plainOutputRequested
        self.dumb = CurrentProcess.environment("TERM") == "dumb"
        let desktop = [CurrentProcess.environment("DISPLAY"), CurrentProcess.environment("WAYLAND_DISPLAY")]
            .contains { $0.map { !$0.isEmpty } == true }
        self.browserOpener = desktop && terminal != nil ? CurrentProcess.executableOnPath("xdg-open") : nil
    }

    private func write(_ text: String) {
        try? output.writeAll(text)
    }

    public func show(_ prompt: DevicePrompt) {
        // Ctrl-C must leave the shell prompt on a fresh line; the daemon sees the disconnect.
        try? InterruptHandling.installNewlineAndExit()
        endCountdownLine()
        let size = isLive ? (try? output.windowSize()) ?? nil : nil
        columns = size?.columns
        userCode = prompt.userCode
        // NO_COLOR keeps the QR code, drawn without colours; TERM=dumb gets neither it nor escapes.
        let style = PromptStyle(emphasis: isLive && !plain, qrCode: isLive && !dumb, columns: size?.columns,
                                rows: size?.rows, hyperlinks: isLive && !dumb && CurrentProcess.environment("TERM") != "linux")
        var text = DevicePromptText.render(prompt, style: style)
        if let opener = browserOpener, !opener.isEmpty {
            browserURI = prompt.verificationURIComplete ?? prompt.verificationURI
            text += "Press Enter to open it in your browser.\n"
        }
        write(text)
        if let keyboard, !echoSuppressed {
            echoSuppressed = (try? Terminal.EchoSuppression.begin(on: keyboard)) != nil
        }
        expiresAtMonotonic = SystemClock.monotonicNanoseconds() + UInt64(max(prompt.expiresIn, 0)) * 1_000_000_000
        lastSecondShown = -1
        if isLive {
            drawCountdown()
        } else {
            write("Waiting for approval (the code expires in \(HumanDuration.format(seconds: prompt.expiresIn)))...\n")
        }
    }

    public func progress(stage: String, intervalSeconds: Int64?) {
        if stage == "approved" {
            // The result replaces the countdown line.
            replaceCountdownLine(with: plain ? "Approved." : "✓ Approved")
            expiresAtMonotonic = nil
            browserURI = nil
        }
    }

    public func nextTickMilliseconds() -> Int? {
        guard expiresAtMonotonic != nil, isLive else { return nil }
        // Short slices while Enter may be pressed, else once a second for the countdown.
        if browserURI != nil { return 200 }
        let now = SystemClock.monotonicNanoseconds()
        return Int(1_000 - (now / 1_000_000) % 1_000)
    }

    public func tick() {
        if browserURI != nil, let keyboard, (try? keyboard.wait(for: .readable, timeoutMilliseconds: 0)) == true {
            let typed = (try? keyboard.read(upToCount: 256)) ?? []
            if typed.contains(0x0A) || typed.contains(0x0D) { openBrowser() }
        }
        drawCountdown()
    }

    public func finish(approved: Bool) {
        endCountdownLine()
        restoreTerminal()
    }

    deinit { restoreTerminal() }

    private func restoreTerminal() {
        guard echoSuppressed else { return }
        echoSuppressed = false
        Terminal.EchoSuppression.end()
    }

    private func openBrowser() {
        guard let uri = browserURI, let opener = browserOpener else { return }
        browserURI = nil
        // The Enter the person typed already moved the cursor down a line.
        countdownShown = false
        if (try? SpawnedProcess.spawn(executable: opener, arguments: [uri], newSession: true)) != nil {
            write("Opening \(DevicePromptText.sanitized(uri)) in your browser...\n")
        } else {
            write("Could not start xdg-open; open the link yourself.\n")
        }
    }

    private func drawCountdown() {
        guard isLive, let expiresAt = expiresAtMonotonic else { return }
        let now = SystemClock.monotonicNanoseconds()
        let left = expiresAt > now ? Int64((expiresAt - now + 999_999_999) / 1_000_000_000) : 0
        guard left != lastSecondShown else { return }
        lastSecondShown = left
        let line = DevicePromptText.countdown(userCode: userCode, secondsLeft: left, columns: columns)
        write("\r" + line + clearRest(after: line))
        lastCountdownLength = line.count
        countdownShown = true
    }

    /// Clears what a longer previous countdown left on the line.
    private func clearRest(after line: String) -> String {
        dumb ? String(repeating: " ", count: max(lastCountdownLength - line.count, 0)) : "\u{1B}[K"
    }

    private func replaceCountdownLine(with text: String) {
        if countdownShown {
            write("\r" + text + clearRest(after: text) + "\n")
            countdownShown = false
            lastCountdownLength = 0
        } else {
            write(text + "\n")
        }
    }

    private func endCountdownLine() {
        if countdownShown { write("\n") }
        countdownShown = false
        lastCountdownLength = 0
    }
}

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
    /// Paste-back (authorization code flow): where a pasted address is read, and who takes it.
    private var pasteSource: FileDescriptor?
    private var submitPasted: ((String) throws(ClientFailure) -> Void)?
    private var pasted: [UInt8] = []
    private var waitingForRedirect = false
    private let desktop: Bool

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
        self.desktop = desktop
        self.browserOpener = desktop && terminal != nil ? CurrentProcess.executableOnPath("xdg-open") : nil
    }

    /// Reads lines from `source` while an authorization code login waits and hands each to `submit`.
    public func acceptPastedAddress(from source: FileDescriptor?, submit: @escaping (String) throws(ClientFailure) -> Void) {
        pasteSource = source
        submitPasted = submit
    }

    public func show(_ prompt: AuthorizationPrompt) {
        try? InterruptHandling.installNewlineAndExit()
        endCountdownLine()
        // CONTRACT: opened at once in a graphical session, unless AUTHD_NO_BROWSER is set; otherwise never.
        let noBrowser = CurrentProcess.environment("AUTHD_NO_BROWSER").map { !$0.isEmpty } == true
        let opener = desktop && !noBrowser ? CurrentProcess.executableOnPath("xdg-open") : nil
        write(AuthorizationPromptText.render(prompt, emphasis: isLive && !plain && !dumb, pasteBack: pasteSource != nil,
                                             opening: opener != nil))
        waitingForRedirect = true
        if let opener, (try? SpawnedProcess.spawn(executable: opener, arguments: [prompt.authorizationURL], newSession: true)) == nil {
            write("Could not start xdg-open; open the address yourself.\n")
        }
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
        if stage == "exchanging_code" {
            waitingForRedirect = false
            write(plain ? "The browser answered; finishing the login...\n" : "The browser answered; finishing the login…\n")
        }
        if stage == "approved" {
            waitingForRedirect = false
            // The result replaces the countdown line.
            replaceCountdownLine(with: plain ? "Approved." : "✓ Approved")
            expiresAtMonotonic = nil
            browserURI = nil
        }
    }

    public func nextTickMilliseconds() -> Int? {
        if waitingForRedirect, pasteSource != nil { return 200 }
        guard expiresAtMonotonic != nil, isLive else { return nil }
        // Short slices while Enter may be pressed, else once a second for the countdown.
        if browserURI != nil { return 200 }
        let now = SystemClock.monotonicNanoseconds()
        return Int(1_000 - (now / 1_000_000) % 1_000)
    }

    public func tick() {
        if waitingForRedirect { readPasted() }
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

    /// Collects a pasted line (bounded) and submits it; a refusal is said and the wait goes on.
    private func readPasted() {
        guard let source = pasteSource, (try? source.wait(for: .readable, timeoutMilliseconds: 0)) == true else { return }
        let bytes = (try? source.read(upToCount: 4096)) ?? []
        if bytes.isEmpty {
            pasteSource = nil  // end of input: nothing more will be pasted
            return
        }
        pasted += bytes
        while let newline = pasted.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
            let line = String(decoding: pasted[..<newline], as: UTF8.self).trimmingSpaces
            pasted.removeSubrange(...newline)
            guard !line.isEmpty else { continue }
            do throws(ClientFailure) {
                try submitPasted?(line)
                write("Address accepted.\n")
            } catch {
                write(TerminalText.clean(error.message) + "\nPaste the whole address your browser shows after you approve, and press Enter.\n")
            }
        }
        if pasted.count > 16_384 {
            pasted.removeAll()
            write("That was too long to be the address; paste it again.\n")
        }
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

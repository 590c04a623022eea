// A deterministic DaemonClock for tests: time moves only when the test says so (or, optionally, whenever someone sleeps).

import AuthdOAuth
import AuthdWire
import Synchronization

/// The one manual clock, for the engine's tests and the daemon's alike. `advance(by:)` resumes
/// every sleeper whose deadline has come, in deadline order. With `autoAdvance`, a sleep jumps the
/// clock straight to its deadline: a single task then runs a whole device flow without waiting,
/// and the instants it saw are still the ones a real clock would have shown. The engine reads it
/// as `MonotonicInstant`s (`now`, AuthdOAuth's extension of `DaemonClock`), the daemon as `Duration`s.
public final class ManualClock: DaemonClock, Sendable {
    struct Sleeper {
        var id: Int
        var deadline: Duration
        var wake: Wake

        func resume() {
            switch wake {
            case .task(let continuation): continuation.resume()
            case .action(let action): action()
            }
        }
    }

    /// What a sleeper is: a task suspended in `sleep`, or a `wake(at:_:)` callback. Both count as
    /// sleepers (`sleeperCount`, `waitForSleepers`): a test waits for a timer either way.
    enum Wake {
        case task(CheckedContinuation<Void, any Error>)
        case action(@Sendable () -> Void)
    }

    struct State {
        var now = Duration.zero
        var autoAdvance: Bool
        var sleepers: [Sleeper] = []
        var cancelledBeforeRegistration: Set<Int> = []
        var nextID = 0
        var sleeperWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    let state: Mutex<State>
    /// The wall-clock time shown while the monotonic clock reads zero.
    public let unixSecondsAtOrigin: Int64

    /// - Parameters:
    ///   - unixSecondsAtOrigin: the wall-clock time shown while the monotonic clock reads zero.
    ///   - autoAdvance: jump to each sleeper's deadline instead of waiting for `advance`.
    public init(unixSecondsAtOrigin: Int64 = 1_800_000_000, autoAdvance: Bool = false) {
        self.unixSecondsAtOrigin = unixSecondsAtOrigin
        state = Mutex(State(autoAdvance: autoAdvance))
    }

    public func monotonicNow() -> Duration { state.withLock { $0.now } }

    public func wallSeconds() -> Int64 { unixSecondsAtOrigin + state.withLock { $0.now.components.seconds } }

    public var autoAdvance: Bool {
        get { state.withLock { $0.autoAdvance } }
        set { state.withLock { $0.autoAdvance = newValue } }
    }

    /// How many tasks are suspended in `sleep(until:)` right now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The deadlines of the current sleepers, earliest first.
    public var sleeperDeadlines: [MonotonicInstant] {
        state.withLock { $0.sleepers.map(\.deadline).sorted().map { MonotonicInstant(sinceOrigin: $0) } }
    }

    /// The earliest deadline anyone sleeps until (the daemon's next timer), nil when nobody sleeps.
    public var earliestDeadline: Duration? { state.withLock { $0.sleepers.map(\.deadline).min() } }

    public func sleep(until deadline: Duration) async throws {
        try Task.checkCancellation()
        let id: Int? = state.withLock { s in
            if deadline <= s.now { return nil }
            s.nextID += 1
            return s.nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resumeNow, due, waiters) = state.withLock { s -> (Bool, [Sleeper], [CheckedContinuation<Void, Never>]) in
                    if s.cancelledBeforeRegistration.remove(id) != nil { return (true, [], []) }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, wake: .task(continuation)))
                    var due: [Sleeper] = []
                    if s.autoAdvance, deadline > s.now {
                        s.now = deadline
                        due = Self.takeDue(&s)
                    }
                    return (false, due, Self.takeSatisfiedWaiters(&s))
                }
                if resumeNow { continuation.resume(throwing: CancellationError()) }
                for sleeper in due { sleeper.resume() }
                for waiter in waiters { waiter.resume() }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { s in
                if let index = s.sleepers.firstIndex(where: { $0.id == id }) { return s.sleepers.remove(at: index) }
                s.cancelledBeforeRegistration.insert(id)
                return nil
            }
            if case .task(let continuation)? = sleeper?.wake { continuation.resume(throwing: CancellationError()) }
        }
    }

    public func wake(at deadline: Duration, _ action: @escaping @Sendable () -> Void) -> any ScheduledWake {
        let (id, due, waiters) = state.withLock { s -> (Int?, [Sleeper], [CheckedContinuation<Void, Never>]) in
            if deadline <= s.now { return (nil, [], []) }
            s.nextID += 1
            s.sleepers.append(Sleeper(id: s.nextID, deadline: deadline, wake: .action(action)))
            var due: [Sleeper] = []
            if s.autoAdvance {
                s.now = deadline
                due = Self.takeDue(&s)
            }
            return (s.nextID, due, Self.takeSatisfiedWaiters(&s))
        }
        guard let id else {
            action()
            return ManualWake(clock: self, id: nil)
        }
        for sleeper in due { sleeper.resume() }
        for waiter in waiters { waiter.resume() }
        return ManualWake(clock: self, id: id)
    }

    fileprivate func cancelWake(_ id: Int) {
        state.withLock { s in s.sleepers.removeAll { $0.id == id } }
    }

    /// Moves time forward and resumes the sleepers that are due, earliest deadline first.
    public func advance(by duration: Duration) {
        advance(to: now + duration)
    }

    public func advance(to instant: MonotonicInstant) {
        let due = state.withLock { s -> [Sleeper] in
            if instant.sinceOrigin > s.now { s.now = instant.sinceOrigin }
            return Self.takeDue(&s)
        }
        for sleeper in due { sleeper.resume() }
    }

    /// Returns once at least `count` tasks are sleeping on this clock: the point where a test can
    /// advance time knowing what it will wake.
    public func waitForSleepers(_ count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { s -> Bool in
                if s.sleepers.count >= count { return true }
                s.sleeperWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    static func takeDue(_ s: inout State) -> [Sleeper] {
        let now = s.now
        let due = s.sleepers.filter { $0.deadline <= now }.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
        s.sleepers.removeAll { $0.deadline <= now }
        return due
    }

    static func takeSatisfiedWaiters(_ s: inout State) -> [CheckedContinuation<Void, Never>] {
        let count = s.sleepers.count
        let ready = s.sleeperWaiters.filter { $0.count <= count }.map(\.continuation)
        s.sleeperWaiters.removeAll { $0.count <= count }
        return ready
    }
}

/// A `ManualClock.wake(at:_:)` callback; cancelling takes it off the clock.
private struct ManualWake: ScheduledWake {
    let clock: ManualClock
    let id: Int?
    func cancel() { if let id { clock.cancelWake(id) } }
}

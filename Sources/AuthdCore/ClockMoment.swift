// A moment the daemon knows on both of its clocks, made in one place: the one representation of a token's expiry from the engine to the store.
import AuthdWire

/// An expiry as the daemon holds it. The monotonic time decides (a wall-clock jump must not
/// expire or extend a token); the wall time, in Unix seconds, is what is shown and stored.
/// The engine hands over wall times (`TokenGrant.refreshTokenExpiresAt`) or lifetimes
/// (`expires_in`); the store keeps the wall time; both become a `ClockMoment` here and only here.
struct ClockMoment: Sendable, Equatable {
    var monotonic: Duration
    var wall: Int64

    /// The moment at wall time `wall` (from the engine or the store), placed on the monotonic clock
    /// by the clocks' readings `now`.
    init(wall: Int64, now: ClockReading) {
        self.monotonic = now.monotonic + .seconds(wall - now.wall)
        self.wall = wall
    }

    /// The moment `seconds` after `now` (a lifetime the provider gave, counted from its answer).
    init(after seconds: Int64, now: ClockReading) {
        self.monotonic = now.monotonic + .seconds(seconds)
        self.wall = now.wall + seconds
    }
}

/// Both clocks read at one instant.
struct ClockReading: Sendable, Equatable {
    var monotonic: Duration
    var wall: Int64

    init(monotonic: Duration, wall: Int64) {
        self.monotonic = monotonic
        self.wall = wall
    }

    init(_ clock: any DaemonClock) {
        self.init(monotonic: clock.monotonicNow(), wall: clock.wallSeconds())
    }
}

extension IssuedTokens {
    /// The new refresh token's expiry as the daemon holds it.
    func refreshExpiry(now: ClockReading) -> ClockMoment? {
        refreshTokenExpiresAt.map { ClockMoment(wall: $0, now: now) }
    }
}

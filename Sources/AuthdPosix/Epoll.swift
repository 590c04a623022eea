// Readiness of many descriptors at once (epoll) and a counter other threads use to wake the waiter (eventfd).
import CPosix
import Glibc

/// An epoll instance, level-triggered. Owned by one thread: the one that waits on it.
public final class Epoll: Sendable {
    /// What a registered descriptor is watched for. Hang-up and errors are always reported.
    public struct Interest: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Bytes (or end of file) can be read (`EPOLLIN`).
        public static let readable = Interest(rawValue: EPOLLIN.rawValue)
        /// Bytes can be written without blocking (`EPOLLOUT`).
        public static let writable = Interest(rawValue: EPOLLOUT.rawValue)
        /// The peer shut down its writing side (`EPOLLRDHUP`).
        public static let peerClosedWriting = Interest(rawValue: EPOLLRDHUP.rawValue)
    }

    /// One ready descriptor.
    public struct Event: Sendable {
        public var descriptor: FileDescriptor
        public var isReadable: Bool
        public var isWritable: Bool
        /// The peer shut down its writing side (more reads give end of file once the queue is empty).
        public var peerClosedWriting: Bool
        /// Both directions are closed (`EPOLLHUP`) or the descriptor has an error (`EPOLLERR`).
        public var isHungUp: Bool
    }

    private let owned: OwnedFileDescriptor

    /// Creates the instance (`epoll_create1(EPOLL_CLOEXEC)`).
    public init() throws(Errno) {
        owned = OwnedFileDescriptor(FileDescriptor(rawValue: try retryingInterrupts { epoll_create1(Int32(EPOLL_CLOEXEC)) }))
    }

    /// Starts watching `descriptor`.
    public func add(_ descriptor: FileDescriptor, for interest: Interest) throws(Errno) {
        try control(EPOLL_CTL_ADD, descriptor, interest)
    }

    /// Changes what `descriptor` is watched for.
    public func modify(_ descriptor: FileDescriptor, for interest: Interest) throws(Errno) {
        try control(EPOLL_CTL_MOD, descriptor, interest)
    }

    /// Stops watching `descriptor` (also implied by closing it).
    public func remove(_ descriptor: FileDescriptor) {
        var event = epoll_event()
        _ = epoll_ctl(owned.descriptor.rawValue, EPOLL_CTL_DEL, descriptor.rawValue, &event)
    }

    /// Waits at most `timeoutMilliseconds` (negative: no limit) for ready descriptors; an
    /// interrupted wait returns no events.
    public func wait(maximumEvents: Int = 64, timeoutMilliseconds: Int) throws(Errno) -> [Event] {
        var raw = [epoll_event](repeating: epoll_event(), count: maximumEvents)
        let count = epoll_wait(owned.descriptor.rawValue, &raw, Int32(maximumEvents), Int32(clamping: timeoutMilliseconds))
        if count < 0 {
            let error = Errno.current
            if error == .interrupted { return [] }
            throw error
        }
        return raw.prefix(Int(count)).map { event in
            let bits = event.events
            return Event(descriptor: FileDescriptor(rawValue: event.data.fd),
                         isReadable: bits & EPOLLIN.rawValue != 0,
                         isWritable: bits & EPOLLOUT.rawValue != 0,
                         peerClosedWriting: bits & EPOLLRDHUP.rawValue != 0,
                         isHungUp: bits & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0)
        }
    }

    private func control(_ operation: Int32, _ descriptor: FileDescriptor, _ interest: Interest) throws(Errno) {
        var event = epoll_event()
        event.events = interest.rawValue
        event.data.fd = descriptor.rawValue
        _ = try retryingInterrupts { epoll_ctl(owned.descriptor.rawValue, operation, descriptor.rawValue, &event) }
    }
}

/// A non-blocking eventfd: any thread signals, the epoll owner sees it readable and drains it.
public final class WakeCounter: Sendable {
    private let owned: OwnedFileDescriptor

    /// The descriptor to register for `.readable`.
    public var descriptor: FileDescriptor { owned.descriptor }

    public init() throws(Errno) {
        owned = OwnedFileDescriptor(FileDescriptor(rawValue: try retryingInterrupts {
            eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        }))
    }

    /// Makes the descriptor readable (adds one to the counter). Safe from any thread.
    public func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(owned.descriptor.rawValue, &one, 8)
    }

    /// Resets the counter so the descriptor is no longer readable.
    public func drain() {
        var value: UInt64 = 0
        _ = Glibc.read(owned.descriptor.rawValue, &value, 8)
    }
}

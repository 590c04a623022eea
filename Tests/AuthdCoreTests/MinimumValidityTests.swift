// The min_valid rule as a table: when a get is held to less than it asked, and when it falls short.
@testable import AuthdCore
import Testing

@Suite struct MinimumValidityTests {
    @Test(arguments: [
        // asked, issued lifetime, required
        (60, 3600, 60),          // ordinary
        (3600, 3600, 3600),      // exactly what a refresh gives: still asked for
        (7200, 3600, 3240),      // beyond the lifetime: what a refresh gives, less the margin
        (7200, 600, 540),        // margin floor of 60 s
        (7200, nil, 7200),       // lifetime unknown (restored login): one refresh finds out
        (7200, 0, 7200),         // zero lifetime: no rule to apply
    ] as [(Int64, Int64?, Int64)])
    func required(asked: Int64, lifetime: Int64?, expected: Int64) {
        #expect(MinimumValidity.required(asked: .seconds(asked), issuedLifetime: lifetime.map { .seconds($0) },
                                         margin: RefreshPlanner().margin(forLifetime:)) == .seconds(expected))
    }

    @Test(arguments: [
        (3599, 7200, true), (3600, 3600, false), (59, 60, true), (nil, 7200, false),
    ] as [(Int64?, Int64, Bool)])
    func fallsShort(remaining: Int64?, asked: Int64, expected: Bool) {
        #expect(MinimumValidity.fallsShort(remaining: remaining.map { .seconds($0) }, asked: .seconds(asked)) == expected)
    }
}

// Placeholder test file.
import Testing
@Test func placeholder() {}

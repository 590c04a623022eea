// HTMLText.escape: the five characters with meaning in HTML, and nothing else, by table.
import AuthdWire
import Testing

@Suite struct HTMLTextTests {
    @Test(arguments: [
        ("plain text, ünïcode", "plain text, ünïcode"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a & b", "a &amp; b"),
        ("\"quoted\" and 'single'", "&quot;quoted&quot; and &#39;single&#39;"),
        ("&amp;", "&amp;amp;"),
        ("", ""),
    ])
    func escapes(_ input: String, _ expected: String) {
        #expect(HTMLText.escape(input) == expected)
    }
}

// Columns for people: cells padded to the widest in their column, two spaces apart, the last column unpadded.

enum TextTable {
    static func render(_ cells: [[String]]) -> String {
        guard let first = cells.first else { return "" }
        var widths = [Int](repeating: 0, count: first.count)
        for line in cells { for (i, cell) in line.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        var text = ""
        for line in cells {
            var rendered = ""
            for (i, cell) in line.enumerated() {
                rendered += i == line.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            text += rendered + "\n"
        }
        return text
    }
}

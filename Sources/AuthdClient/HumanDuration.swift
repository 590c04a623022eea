// Durations as people read them in a table: 45s, 59m, 1h02m, 3d.

public enum HumanDuration {
    public static func format(seconds: Int64) -> String {
        let s = max(seconds, 0)
        if s < 60 { return "\(s)s" }
        if s < 3_600 { return "\(s / 60)m" }
        if s < 86_400 {
            let minutes = s / 60 % 60
            return "\(s / 3_600)h" + (minutes < 10 ? "0\(minutes)m" : "\(minutes)m")
        }
        return "\(s / 86_400)d"
    }

    /// A countdown as a clock, `9:59` or `0:05`, which reads better while it ticks.
    public static func clock(seconds: Int64) -> String {
        let s = max(seconds, 0)
        let rest = s % 60
        return "\(s / 60):" + (rest < 10 ? "0\(rest)" : "\(rest)")
    }
}

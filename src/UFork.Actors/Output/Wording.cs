using System.Globalization;

namespace UFork.Output;

/// <summary>
/// Counts and durations as a person reads them, the same in the log, in <c>status</c> and in errors:
/// "1 worker", "2 workers"; "350 ms", "4.2 s", "2 min 05 s", "1 h 02 min".
/// </summary>
public static class Wording
{
    /// <summary>"1 worker", "3 workers": <paramref name="noun"/> takes an s unless there is one.</summary>
    public static string Count(int n, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{n} {noun}{(n == 1 ? "" : "s")}");

    public static string Duration(TimeSpan t) => t.TotalSeconds switch
    {
        < 1 => string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0} ms"),
        < 60 => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.##} s"),
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalMinutes} min {t.Seconds:00} s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours} h {t.Minutes:00} min"),
    };
}

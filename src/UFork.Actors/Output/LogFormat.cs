namespace UFork.Output;

/// <summary>How the arbiter writes its lines and its workers' (<c>ufork.log.format</c>, <c>--log-format</c>).</summary>
public enum LogFormat
{
    /// <summary>For a person: <c>2026-12-02T03:15:50.123+00:00 [w0 4711] text</c>.</summary>
    Text,

    /// <summary>For a log shipper: one JSON object a line, with time, source, slot, pid, stream, level and message.</summary>
    Json,
}

/// <summary>The names of <see cref="LogFormat"/> as written in HOCON and on the command line.</summary>
public static class LogFormats
{
    public const string Expected = "text or json";

    /// <exception cref="FormatException"><paramref name="name"/> is neither text nor json.</exception>
    public static LogFormat Parse(string name) => name switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw new FormatException($"must be {Expected}, not '{name}'"),
    };
}

using System.Text;

namespace UFork.Metrics;

/// <summary>
/// System.Diagnostics.Metrics names as Prometheus spells them, the way OpenTelemetry's exporter does:
/// <c>http.server.request.duration</c> in seconds becomes <c>http_server_request_duration_seconds</c>, a counter
/// ends in <c>_total</c>, a gauge never ends as a histogram's series do (<c>_count</c> becomes <c>_count_value</c>), and a tag that would clash with a label of ours (<c>slot</c>, <c>le</c>) gets <c>exported_</c> in front.
/// </summary>
internal static class PrometheusNames
{
    private static readonly string[] HistogramSuffixes = ["_count", "_sum", "_bucket"];

    public static string Metric(string name, string? unit, InstrumentKind kind)
    {
        var metric = Sanitize(name);
        if (UnitSuffix(unit) is { } suffix && !metric.EndsWith("_" + suffix, StringComparison.Ordinal))
            metric += "_" + suffix;
        if (kind == InstrumentKind.Counter && !metric.EndsWith("_total", StringComparison.Ordinal))
            metric += "_total";
        // Prometheus keeps these endings for a histogram's own series (dotnet.assembly.count is a gauge).
        if (kind == InstrumentKind.Gauge && HistogramSuffixes.Any(suffix => metric.EndsWith(suffix, StringComparison.Ordinal)))
            metric += "_value";
        return metric;
    }

    public static string Label(string tag)
    {
        var label = Sanitize(tag).Replace(':', '_');
        return label is "slot" or "le" or "quantile" || label.StartsWith("__", StringComparison.Ordinal) ? "exported_" + label : label;
    }

    private static string? UnitSuffix(string? unit) => unit switch
    {
        null or "" or "1" => null,
        _ when unit.StartsWith('{') => null, // an annotation such as {request}: a count, not a unit
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "%" => "percent",
        _ => Sanitize(unit).Trim('_') is { Length: > 0 } u ? u : null,
    };

    private static string Sanitize(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var c in name)
            text.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        if (text.Length == 0 || char.IsAsciiDigit(text[0]))
            text.Insert(0, '_');
        return text.ToString();
    }
}

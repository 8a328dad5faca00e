using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace UFork.Metrics;

/// <summary>
/// One worker's System.Diagnostics.Metrics instruments at one moment, as the worker runtime sends them on
/// the heartbeat fd: one line, <c>metrics {json}\n</c>, at most <see cref="MaxLineBytes"/>. Values are
/// cumulative since the process started (the arbiter turns them into deltas, so that a slot's counters run
/// on across restarts).
/// </summary>
internal sealed record MetricsSnapshot(IReadOnlyList<InstrumentSeries> Series)
{
    public const string LinePrefix = "metrics ";

    /// <summary>The longest metrics line either side accepts; a longer one is dropped whole.</summary>
    public const int MaxLineBytes = 256 * 1024;

    public byte[] ToLine()
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(this, MetricsJson.Default.MetricsSnapshot);
        var line = new byte[LinePrefix.Length + json.Length + 1];
        Encoding.ASCII.GetBytes(LinePrefix, line);
        json.CopyTo(line, LinePrefix.Length);
        line[^1] = (byte)'\n';
        return line;
    }

    /// <summary>The snapshot in the JSON part of a metrics line, or null for anything malformed.</summary>
    public static MetricsSnapshot? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var snapshot = JsonSerializer.Deserialize(json, MetricsJson.Default.MetricsSnapshot);
            return snapshot?.Series is { } series && series.All(s => s is not null && s.IsWellFormed) ? snapshot : null;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>What kind of instrument a series comes from, which decides how the arbiter exposes it.</summary>
internal enum InstrumentKind
{
    /// <summary>Monotonic: <see cref="InstrumentSeries.Value"/> is the total so far.</summary>
    Counter,
    /// <summary>An up-down counter or a gauge: <see cref="InstrumentSeries.Value"/> is the current value.</summary>
    Gauge,
    /// <summary>A histogram: per bucket, the count and the sum of the values recorded in it.</summary>
    Histogram,
}

/// <summary>
/// One instrument and one set of tags. For a histogram, <see cref="Bounds"/> are the upper bounds of the
/// buckets (a last bucket, to +Inf, follows), and <see cref="BucketCounts"/> and <see cref="BucketSums"/>
/// have one entry per bucket.
/// </summary>
internal sealed record InstrumentSeries(
    string Name,
    InstrumentKind Kind,
    string? Unit,
    string? Description,
    IReadOnlyDictionary<string, string> Tags,
    double Value,
    double[]? Bounds = null,
    long[]? BucketCounts = null,
    double[]? BucketSums = null)
{
    [JsonIgnore]
    public bool IsWellFormed =>
        !string.IsNullOrEmpty(Name) && Tags is not null && double.IsFinite(Value) &&
        (Kind != InstrumentKind.Histogram ||
         (Bounds is not null && BucketCounts is not null && BucketSums is not null &&
          BucketCounts.Length == Bounds.Length + 1 && BucketSums.Length == BucketCounts.Length &&
          BucketCounts.All(c => c >= 0) && BucketSums.All(double.IsFinite) && Bounds.All(double.IsFinite)));
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(MetricsSnapshot))]
internal sealed partial class MetricsJson : JsonSerializerContext;

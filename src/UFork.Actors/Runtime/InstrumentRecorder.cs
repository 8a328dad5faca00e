using System.Diagnostics.Metrics;
using System.Globalization;
using UFork.Metrics;

namespace UFork.Runtime;

/// <summary>
/// Listens, inside a worker, to every System.Diagnostics.Metrics instrument of the process (Kestrel's
/// <c>http.server.request.duration</c>, the runtime's, the app's own meters) and keeps their totals per set of
/// tags, for <see cref="MetricsLoop"/> to send to the arbiter. A measurement costs a lookup and an add under a
/// lock of its series; at most <see cref="MaxSeries"/> series are kept, so that a tag of unbounded values (a
/// user id) cannot grow the worker or the line past its bound: measurements of further series are dropped.
/// </summary>
internal sealed class InstrumentRecorder : IDisposable
{
    public const int MaxSeries = 1000;

    // OpenTelemetry's default boundaries, for histograms that advise none (Kestrel's do).
    private static readonly double[] DefaultBounds = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly MeterListener _listener = new();
    private readonly Dictionary<(Instrument, string), Series> _series = new();
    private readonly Lock _seriesLock = new();

    public InstrumentRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) => listener.EnableMeasurementEvents(instrument);
        _listener.SetMeasurementEventCallback<byte>((i, m, t, _) => Record(i, m, t));
        _listener.SetMeasurementEventCallback<short>((i, m, t, _) => Record(i, m, t));
        _listener.SetMeasurementEventCallback<int>((i, m, t, _) => Record(i, m, t));
        _listener.SetMeasurementEventCallback<long>((i, m, t, _) => Record(i, m, t));
        _listener.SetMeasurementEventCallback<float>((i, m, t, _) => Record(i, m, t));
        _listener.SetMeasurementEventCallback<double>((i, m, t, _) => Record(i, m, t));
        _listener.SetMeasurementEventCallback<decimal>((i, m, t, _) => Record(i, (double)m, t));
        _listener.Start();
    }

    /// <summary>Every series now; observable instruments are asked for their values first.</summary>
    public MetricsSnapshot Snapshot()
    {
        _listener.RecordObservableInstruments();
        List<Series> all;
        lock (_seriesLock)
            all = _series.Values.ToList();
        return new MetricsSnapshot(all.Select(s => s.ToWire()).ToList());
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!double.IsFinite(value))
            return;
        var tagKey = TagKey(tags);
        Series? series;
        lock (_seriesLock)
        {
            if (!_series.TryGetValue((instrument, tagKey), out series))
            {
                if (_series.Count >= MaxSeries)
                    return;
                series = new Series(instrument, Tags(tags));
                _series[(instrument, tagKey)] = series;
            }
        }
        series.Add(value);
    }

    private static string TagKey(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
            return "";
        var pairs = new string[tags.Length];
        for (var i = 0; i < tags.Length; i++)
            pairs[i] = tags[i].Key + "\u0001" + Text(tags[i].Value);
        Array.Sort(pairs, StringComparer.Ordinal);
        return string.Join('\u0002', pairs);
    }

    private static Dictionary<string, string> Tags(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var map = new Dictionary<string, string>(tags.Length);
        foreach (var (key, value) in tags)
            map[key] = Text(value);
        return map;
    }

    private static string Text(object? value) => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";

    /// <summary>One instrument and tag set: a total, a last value, or a histogram's buckets.</summary>
    private sealed class Series
    {
        private readonly Instrument _instrument;
        private readonly IReadOnlyDictionary<string, string> _tags;
        private readonly InstrumentKind _kind;
        private readonly bool _measuresTotals; // observable counters report their total, not an increment
        private readonly double[]? _bounds;
        private readonly long[]? _counts;
        private readonly double[]? _sums;
        private readonly Lock _lock = new();
        private double _value;

        public Series(Instrument instrument, IReadOnlyDictionary<string, string> tags)
        {
            _instrument = instrument;
            _tags = tags;
            var type = instrument.GetType().GetGenericTypeDefinition();
            _kind = type == typeof(Counter<>) || type == typeof(ObservableCounter<>) ? InstrumentKind.Counter
                : type == typeof(Histogram<>) ? InstrumentKind.Histogram
                : InstrumentKind.Gauge;
            _measuresTotals = instrument.IsObservable || type == typeof(Gauge<>);
            if (_kind == InstrumentKind.Histogram)
            {
                _bounds = AdvisedBounds(instrument) ?? DefaultBounds;
                _counts = new long[_bounds.Length + 1];
                _sums = new double[_bounds.Length + 1];
            }
        }

        public void Add(double value)
        {
            lock (_lock)
            {
                if (_kind == InstrumentKind.Histogram)
                {
                    var bucket = Array.BinarySearch(_bounds!, value);
                    bucket = bucket >= 0 ? bucket : ~bucket; // a value on a bound belongs to that bound's bucket (le)
                    _counts![bucket]++;
                    _sums![bucket] += value;
                }
                else if (_measuresTotals)
                {
                    _value = value;
                }
                else
                {
                    _value += value;
                }
            }
        }

        public InstrumentSeries ToWire()
        {
            lock (_lock)
                return new InstrumentSeries(_instrument.Name, _kind, _instrument.Unit, _instrument.Description, _tags,
                    _value, _bounds, _counts?.ToArray(), _sums?.ToArray());
        }

        private static double[]? AdvisedBounds(Instrument instrument) => instrument switch
        {
            Histogram<double> h => h.Advice?.HistogramBucketBoundaries?.ToArray(),
            Histogram<float> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<long> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            Histogram<int> h => h.Advice?.HistogramBucketBoundaries?.Select(b => (double)b).ToArray(),
            _ => null,
        } is { Length: > 0 } bounds && bounds.All(double.IsFinite) ? bounds.Order().Distinct().ToArray() : null;
    }
}

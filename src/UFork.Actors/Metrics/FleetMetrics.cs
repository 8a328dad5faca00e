using System.Diagnostics;
using Prometheus;
using UFork.Supervision;

namespace UFork.Metrics;

/// <summary>
/// The whole fleet as one Prometheus registry (prometheus-net): the arbiter's own figures, and every worker's
/// instruments with a <c>slot</c> label. Workers report totals since their process started; this keeps, per
/// slot and process, what it has counted already and adds only the difference, so that a slot's counters
/// run on across restarts and a dead worker's last requests are not lost. Used from one actor only
/// (<see cref="MetricsCollector"/>); the registry itself may be exported from any thread.
/// </summary>
internal sealed class FleetMetrics
{
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();
    private readonly IMetricFactory _factory;
    private readonly Dictionary<(int Slot, int Pid, string Series), double[]> _counted = new();
    private readonly Dictionary<(int Slot, int Pid), List<(Gauge Gauge, string[] Labels)>> _workerGauges = new();
    private readonly Dictionary<string, Collector> _workerFamilies = new();
    private readonly HashSet<int> _slotsShown = [];

    private readonly Gauge _workers;
    private readonly Counter _restarts;
    private readonly Counter _deaths;
    private readonly Gauge _backoff;
    private readonly Gauge _heartbeatAge;
    private readonly Gauge _residentMemory;
    private readonly Counter _cpu;
    private readonly Counter _outputLines;
    private readonly Counter _outputBytes;
    private readonly Counter _rollingRestarts;
    private readonly Counter _rejectedSeries;
    private readonly Gauge _arbiterCpu;
    private readonly Gauge _arbiterMemory;

    public FleetMetrics()
    {
        _factory = Prometheus.Metrics.WithCustomRegistry(_registry);
        _workers = _factory.CreateGauge("ufork_workers", "Worker slots by state.", ["state"]);
        _restarts = _factory.CreateCounter("ufork_worker_restarts_total", "Times the slot's worker was started again after it died.", ["slot"]);
        _deaths = _factory.CreateCounter("ufork_worker_deaths_total", "Worker processes that ended, by cause.", ["cause"]);
        _backoff = _factory.CreateGauge("ufork_worker_backoff_seconds", "Seconds until a backing-off slot starts again (0 when it is not backing off).", ["slot"]);
        _heartbeatAge = _factory.CreateGauge("ufork_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.", ["slot"]);
        _residentMemory = _factory.CreateGauge("ufork_worker_resident_memory_bytes", "Resident memory of the slot's worker process.", ["slot"]);
        _cpu = _factory.CreateCounter("ufork_worker_cpu_seconds_total", "User and system CPU time of the slot's worker processes.", ["slot"]);
        _outputLines = _factory.CreateCounter("ufork_worker_output_lines_total", "Lines the slot's workers wrote (stdout and stderr).", ["slot"]);
        _outputBytes = _factory.CreateCounter("ufork_worker_output_bytes_total", "Bytes the slot's workers wrote (stdout and stderr), newlines included.", ["slot"]);
        _rollingRestarts = _factory.CreateCounter("ufork_rolling_restarts_total", "Rolling restarts, by outcome.", ["outcome"]);
        _rejectedSeries = _factory.CreateCounter("ufork_worker_series_rejected_total",
            "Worker series not exposed: their Prometheus name is taken by another kind of instrument.");
        _arbiterCpu = _factory.CreateGauge("ufork_arbiter_cpu_seconds", "User and system CPU time of the arbiter process.");
        _arbiterMemory = _factory.CreateGauge("ufork_arbiter_resident_memory_bytes", "Resident memory of the arbiter process.");
        foreach (var cause in Enum.GetValues<DeathCause>())
            _deaths.WithLabels(Lower(cause)).IncTo(0);
        foreach (var outcome in new[] { "completed", "aborted" })
            _rollingRestarts.WithLabels(outcome).IncTo(0);
    }

    public Task ExportAsync(Stream destination, CancellationToken cancel) => _registry.CollectAndExportAsTextAsync(destination, cancel);

    public void Died(DeadWorker death)
    {
        _deaths.WithLabels(Lower(death.Cause)).Inc();
        if (_workerGauges.Remove((death.Slot, death.Pid), out var gauges))
        {
            foreach (var (gauge, labels) in gauges)
                gauge.RemoveLabelled(labels);
        }
        foreach (var key in _counted.Keys.Where(k => k.Slot == death.Slot && k.Pid == death.Pid).ToList())
            _counted.Remove(key);
    }

    public void RollingRestartEnded(bool completed) => _rollingRestarts.WithLabels(completed ? "completed" : "aborted").Inc();

    /// <summary>The arbiter's figures, from a status of every worker (replacements and stopping ones too).</summary>
    public void Update(IReadOnlyList<WorkerStatus> statuses)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var state in Enum.GetValues<WorkerState>())
            _workers.WithLabels(Lower(state)).Set(statuses.Count(s => s.State == state));
        foreach (var status in statuses)
        {
            var slot = Slot(status.Slot);
            var pid = status.Pid ?? 0;
            _restarts.WithLabels(slot).IncTo(status.Restarts);
            AddSince(status.Slot, pid, "cpu", status.CpuTime?.TotalSeconds, _cpu.WithLabels(slot));
            AddSince(status.Slot, pid, "lines", status.OutputLines, _outputLines.WithLabels(slot));
            AddSince(status.Slot, pid, "bytes", status.OutputBytes, _outputBytes.WithLabels(slot));
        }
        // Per slot, the newest process speaks for it (during a rolling restart a slot has two).
        var current = statuses.GroupBy(s => s.Slot).Select(g => g.Last()).ToList();
        foreach (var status in current)
        {
            var slot = Slot(status.Slot);
            _backoff.WithLabels(slot).Set(status.BackoffUntil is { } until ? Math.Max(0, (until - now).TotalSeconds) : 0);
            SetOrRemove(_heartbeatAge, slot, status.LastHeartbeatAge?.TotalSeconds);
            SetOrRemove(_residentMemory, slot, status.ResidentBytes);
        }
        foreach (var gone in _slotsShown.Except(current.Select(s => s.Slot)).ToList())
        {
            foreach (var gauge in new[] { _backoff, _heartbeatAge, _residentMemory })
                gauge.RemoveLabelled(Slot(gone));
            _slotsShown.Remove(gone);
        }
        _slotsShown.UnionWith(current.Select(s => s.Slot));
        using var self = Process.GetCurrentProcess();
        _arbiterCpu.Set(self.TotalProcessorTime.TotalSeconds);
        _arbiterMemory.Set(self.WorkingSet64);
    }

    /// <summary>A worker's instruments: counters and histograms grow by what is new, gauges take the value.</summary>
    public void Reported(int slot, int pid, MetricsSnapshot snapshot)
    {
        var slotLabel = Slot(slot);
        foreach (var series in snapshot.Series)
        {
            var name = PrometheusNames.Metric(series.Name, series.Unit, series.Kind);
            var tags = series.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
            var labelNames = tags.Select(t => PrometheusNames.Label(t.Key)).Prepend("slot").ToArray();
            if (labelNames.Distinct().Count() != labelNames.Length)
            {
                _rejectedSeries.Inc();
                continue;
            }
            var labels = tags.Select(t => t.Value).Prepend(slotLabel).ToArray();
            var key = (slot, pid, name + "\u0001" + string.Join('\u0001', labelNames.Zip(labels, (n, v) => n + "=" + v)));
            try
            {
                switch (series.Kind)
                {
                    case InstrumentKind.Counter:
                        var counter = Family(name, labelNames, () => _factory.CreateCounter(name, Help(series), labelNames));
                        counter.WithLabels(labels).Inc(Grown(key, [series.Value])[0]);
                        break;
                    case InstrumentKind.Gauge:
                        var gauge = Family(name, labelNames, () => _factory.CreateGauge(name, Help(series), labelNames));
                        gauge.WithLabels(labels).Set(series.Value);
                        RememberGauge(slot, pid, gauge, labels);
                        break;
                    case InstrumentKind.Histogram:
                        var histogram = Family(name, labelNames, () => _factory.CreateHistogram(name, Help(series),
                            new HistogramConfiguration { LabelNames = labelNames, Buckets = series.Bounds! }));
                        Observe(histogram.WithLabels(labels), series, Grown(key, [.. series.BucketCounts!.Select(c => (double)c), .. series.BucketSums!]));
                        break;
                }
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                _rejectedSeries.Inc(); // the name is another kind's, or its labels are not Prometheus's
            }
        }
    }

    /// <summary>
    /// Each bucket's new observations are replayed as their mean, which lies in that bucket: the counts of every
    /// bucket and the sum come out exact, as if the arbiter had seen each value.
    /// </summary>
    private static void Observe(Histogram.Child histogram, InstrumentSeries series, double[] grown)
    {
        var buckets = series.BucketCounts!.Length;
        for (var i = 0; i < buckets; i++)
        {
            var count = (long)grown[i];
            if (count <= 0)
                continue;
            var mean = grown[buckets + i] / count;
            if (i < series.Bounds!.Length)
                mean = Math.Min(mean, series.Bounds[i]); // rounding must not carry it into the next bucket
            if (i > 0)
                mean = Math.Max(mean, Math.BitIncrement(series.Bounds![i - 1]));
            histogram.Observe(mean, count);
        }
    }

    /// <summary>How much each total grew since this process last reported it; all of it the first time.</summary>
    private double[] Grown((int, int, string) key, double[] totals)
    {
        var before = _counted.GetValueOrDefault(key);
        _counted[key] = totals;
        if (before is null || before.Length != totals.Length)
            return totals;
        return totals.Select((t, i) => Math.Max(0, t - before[i])).ToArray();
    }

    private void AddSince(int slot, int pid, string figure, double? total, Counter.Child counter)
    {
        if (total is { } value && pid != 0)
            counter.Inc(Grown((slot, pid, figure), [value])[0]);
    }

    private void RememberGauge(int slot, int pid, Gauge gauge, string[] labels)
    {
        if (!_workerGauges.TryGetValue((slot, pid), out var gauges))
            _workerGauges[(slot, pid)] = gauges = [];
        if (!gauges.Any(g => g.Gauge == gauge && g.Labels.SequenceEqual(labels)))
            gauges.Add((gauge, labels));
    }

    /// <summary>One per name and set of labels: a tag that only some measurements carry (error.type) makes a second.</summary>
    private T Family<T>(string name, string[] labelNames, Func<T> create) where T : Collector
    {
        var key = name + "\u0001" + string.Join('\u0001', labelNames);
        if (!_workerFamilies.TryGetValue(key, out var family))
            _workerFamilies[key] = family = create();
        return family as T ?? throw new InvalidOperationException($"{name} is already a {family.GetType().Name}");
    }

    private static void SetOrRemove(Gauge gauge, string slot, double? value)
    {
        if (value is { } v)
            gauge.WithLabels(slot).Set(v);
        else
            gauge.RemoveLabelled(slot);
    }

    private static string Help(InstrumentSeries series) =>
        string.IsNullOrWhiteSpace(series.Description) ? $"{series.Name} (System.Diagnostics.Metrics)" : series.Description;

    private static string Slot(int slot) => slot.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Lower<TEnum>(TEnum value) where TEnum : struct, Enum => value.ToString().ToLowerInvariant();
}

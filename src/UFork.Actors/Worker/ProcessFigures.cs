using Mono.Unix.Native;
using UFork.Metrics;

namespace UFork.Worker;

/// <summary>
/// What the arbiter measures of one worker process, for status, <c>ufork ctl top</c> and the metrics endpoint:
/// lines and bytes of output (counted by the pipe readers, hence atomics), CPU time from /proc/PID/stat
/// with the percentage since the previous look, and requests per second from the worker's own
/// <c>http.server.request.duration</c> histogram (the metrics line).
/// </summary>
internal sealed class ProcessFigures(int pid, DateTimeOffset startedAt)
{
    /// <summary>The instrument whose count is the requests served: Kestrel's, in every .NET HTTP server.</summary>
    public const string RequestDuration = "http.server.request.duration";

    private static readonly long TicksPerSecond = Syscall.sysconf(SysconfName._SC_CLK_TCK) is > 0 and var ticks ? ticks : 100;

    // A look sooner than this after the previous one keeps the previous percentage: two viewers (top and a
    // scrape) looking at once would otherwise each see a sliver.
    private static readonly TimeSpan ShortestCpuWindow = TimeSpan.FromMilliseconds(500);

    private long _outputLines;
    private long _outputBytes;
    private (DateTimeOffset At, TimeSpan Cpu)? _cpuSample;
    private double? _cpuPercent;
    private (DateTimeOffset At, double Requests)? _requestSample;

    public long OutputLines => Interlocked.Read(ref _outputLines);
    public long OutputBytes => Interlocked.Read(ref _outputBytes);

    /// <summary>The worker's instruments as last reported, or null before its first metrics line.</summary>
    public MetricsSnapshot? Instruments { get; private set; }

    /// <summary>Requests per second between the last two metrics lines; null for a worker that serves no HTTP.</summary>
    public double? RequestsPerSecond { get; private set; }

    public void CountOutput(IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        long bytes = 0;
        foreach (var line in lines)
            bytes += line.Length + 1;
        Interlocked.Add(ref _outputLines, lines.Count);
        Interlocked.Add(ref _outputBytes, bytes);
    }

    public void Note(MetricsReported report)
    {
        Instruments = report.Snapshot;
        var requests = report.Snapshot.Series.Where(s => s is { Name: RequestDuration, Kind: InstrumentKind.Histogram })
            .Select(s => (double)s.BucketCounts!.Sum()).DefaultIfEmpty(double.NaN).Sum();
        if (double.IsNaN(requests))
            return;
        if (_requestSample is { } previous && report.At > previous.At)
            RequestsPerSecond = Math.Max(0, requests - previous.Requests) / (report.At - previous.At).TotalSeconds;
        else
            RequestsPerSecond ??= 0;
        _requestSample = (report.At, requests);
    }

    /// <summary>User and system CPU time of the process so far, or null when it is gone.</summary>
    public TimeSpan? CpuTime()
    {
        try
        {
            // The command (field 2) is in parentheses and may hold spaces: count fields after its closing one.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11]) + long.Parse(fields[12]); // utime, stime (fields 14 and 15)
            return TimeSpan.FromSeconds(ticks / (double)TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Percent of one core since the previous call (since the start, the first time).</summary>
    public double? CpuPercent(TimeSpan? cpu)
    {
        if (cpu is not { } now)
            return _cpuPercent;
        var at = DateTimeOffset.UtcNow;
        var (since, before) = _cpuSample ?? (startedAt, TimeSpan.Zero);
        if (at - since < ShortestCpuWindow && _cpuPercent is not null)
            return _cpuPercent;
        if (at > since)
            _cpuPercent = Math.Max(0, (now - before).TotalSeconds / (at - since).TotalSeconds * 100);
        _cpuSample = (at, now);
        return _cpuPercent;
    }
}

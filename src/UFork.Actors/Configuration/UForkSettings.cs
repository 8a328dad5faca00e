using Akka.Configuration;
using UFork.Output;
using UFork.Supervision;

namespace UFork.Configuration;

/// <summary>Every setting of an arbiter, read from the <c>ufork { }</c> HOCON block.</summary>
public sealed record UForkSettings(
    int Workers,
    TimeSpan ShutdownGrace,
    RestartPolicy Restart,
    HeartbeatSettings Heartbeat,
    int MaxUnhealthyStarting,
    long WorkerMemoryLimit,
    int Backlog,
    LogSettings Log,
    DaemonSettings Daemon,
    TimeSpan WorkerStartSeconds,
    int MaxWorkers,
    int BootMaxFailures,
    bool Subreaper)
{
    /// <summary>The metrics endpoint (ufork.metrics.listen, --metrics) and how often workers report their instruments.</summary>
    public MetricsSettings Metrics { get; init; } = MetricsSettings.Default;

    /// <summary>The defaults of the embedded reference.conf.</summary>
    public static UForkSettings Default => FromConfig(UForkConfig.Defaults);

    public static int DefaultWorkerCount => Math.Max(Environment.ProcessorCount - 1, 2);

    /// <summary>
    /// The settings of <paramref name="config"/>'s <c>ufork</c> section over the defaults. It may be the
    /// configuration of a whole ActorSystem: keys outside <c>ufork</c> are left alone, but an unknown key
    /// inside it, a root that looks like a misspelt <c>ufork</c>, a bad value and settings that contradict
    /// each other are each a <see cref="UForkConfigException"/>.
    /// </summary>
    public static UForkSettings FromConfig(Config config)
    {
        UForkKeys.Check(config);
        var withDefaults = ReferenceEquals(config, UForkConfig.Defaults) ? config : config.WithFallback(UForkConfig.Defaults);
        var c = new SettingsReader(withDefaults.GetConfig(UForkKeys.Root));
        var maxWorkers = c.PositiveInteger("max-workers");
        var workers = c.Read("workers", "a positive integer or auto",
            raw => raw == "auto" ? Math.Min(DefaultWorkerCount, maxWorkers) : int.Parse(raw), n => n > 0);
        c.Require(workers <= maxWorkers, "workers", "at most", "max-workers");
        var restart = new RestartPolicy(
            c.Duration("restart.min-backoff", TimeSpan.Zero),
            c.Duration("restart.max-backoff", TimeSpan.Zero),
            c.Duration("restart.reset-after", TimeSpan.Zero),
            c.Read("restart.max-retries", "an integer, -1 for never", int.Parse, n => n >= -1));
        c.Require(restart.MinBackoff <= restart.MaxBackoff, "restart.min-backoff", "at most", "restart.max-backoff");
        var heartbeat = new HeartbeatSettings(
            c.Duration("heartbeat.interval", ShortestHeartbeatInterval),
            c.Duration("heartbeat.timeout", TimeSpan.Zero),
            c.Duration("heartbeat.start-timeout", TimeSpan.Zero),
            c.Switch("heartbeat.required"));
        c.Require(heartbeat.Timeout > heartbeat.Interval, "heartbeat.timeout", "longer than", "heartbeat.interval");
        c.Require(heartbeat.StartTimeout >= heartbeat.Interval, "heartbeat.start-timeout", "at least", "heartbeat.interval");
        return new UForkSettings(
            workers,
            c.Duration("shutdown.grace", TimeSpan.Zero),
            restart,
            heartbeat,
            c.PositiveInteger("max-unhealthy-starting"),
            c.Size("worker.memory-limit"),
            c.PositiveInteger("backlog"),
            new LogSettings(c.Size("log.max-size"), c.PositiveInteger("log.files"), c.OptionalPath("log.file"),
                c.Read("log.format", LogFormats.Expected, LogFormats.Parse, _ => true), c.PositiveInteger("log.tail-lines")),
            new DaemonSettings(c.Switch("daemon"), c.OptionalPath("pidfile"), c.OptionalPath("control")),
            c.Duration("worker.start-seconds", TimeSpan.Zero),
            maxWorkers,
            c.PositiveInteger("boot.max-failures"),
            c.Switch("subreaper"))
        {
            Metrics = ReadMetrics(c),
        };
    }

    private static MetricsSettings ReadMetrics(SettingsReader c)
    {
        var listen = c.Read("metrics.listen", "HOST:PORT or unix:PATH, or \"\" for none",
            raw => raw == "" ? null : Sockets.BindAddress.Parse(raw), _ => true);
        var interval = c.Duration("metrics.interval", TimeSpan.Zero);
        if (interval != TimeSpan.Zero && interval < MetricsSettings.ShortestInterval)
            throw new UForkConfigException($"{UForkKeys.Root}.metrics.interval must be 0 or at least 100ms, not '{c.Raw("metrics.interval")}'");
        return new MetricsSettings(listen, interval);
    }

    // A beat more often than this is load, not health; it also paces the arbiter's memory rounds.
    private static readonly TimeSpan ShortestHeartbeatInterval = TimeSpan.FromMilliseconds(10);
}

/// <summary>
/// Where the arbiter serves Prometheus metrics (<paramref name="Listen"/>; null for nowhere), and how often
/// workers send it their instruments (<paramref name="Interval"/>; zero for never).
/// </summary>
public sealed record MetricsSettings(Sockets.BindAddress? Listen, TimeSpan Interval)
{
    internal static readonly TimeSpan ShortestInterval = TimeSpan.FromMilliseconds(100);

    public static MetricsSettings Default { get; } = new(null, TimeSpan.FromSeconds(1));
}

public sealed record HeartbeatSettings(TimeSpan Interval, TimeSpan Timeout, TimeSpan StartTimeout, bool Required);

/// <summary>
/// Where the arbiter's output goes (<paramref name="File"/>, or stdout when null), how that file rotates,
/// how its lines look, and how many lines of each slot are kept for <c>logs</c>.
/// </summary>
public sealed record LogSettings(long MaxSize, int Files, string? File = null, LogFormat Format = LogFormat.Text, int TailLines = 1000);

/// <summary>
/// How the arbiter's process presents itself: detached or not, and the pidfile and control socket it
/// holds (both also usable in the foreground). Paths are absolute.
/// </summary>
public sealed record DaemonSettings(bool Detach, string? PidFile = null, string? ControlSocket = null);

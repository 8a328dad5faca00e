using Akka.Configuration;
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
    /// <summary>The defaults of the embedded reference.conf.</summary>
    public static UForkSettings Default => FromConfig(UForkConfig.Defaults);

    public static int DefaultWorkerCount => Math.Max(Environment.ProcessorCount - 1, 2);

    public static UForkSettings FromConfig(Config config)
    {
        var withDefaults = ReferenceEquals(config, UForkConfig.Defaults) ? config : config.WithFallback(UForkConfig.Defaults);
        var c = new SettingsReader(withDefaults.GetConfig("ufork"));
        var workers = c.Read("workers", "a positive integer or auto",
            raw => raw == "auto" ? DefaultWorkerCount : int.Parse(raw), n => n > 0);
        return new UForkSettings(
            workers,
            c.Duration("shutdown.grace"),
            new RestartPolicy(
                c.Duration("restart.min-backoff"),
                c.Duration("restart.max-backoff"),
                c.Duration("restart.reset-after"),
                c.Read("restart.max-retries", "an integer, -1 for never", int.Parse, n => n >= -1)),
            new HeartbeatSettings(
                c.Duration("heartbeat.interval"),
                c.Duration("heartbeat.timeout"),
                c.Duration("heartbeat.start-timeout"),
                c.Read("heartbeat.required", "on or off", ParseSwitch, _ => true)),
            c.Read("max-unhealthy-starting", "a positive integer", int.Parse, n => n > 0),
            c.Size("worker.memory-limit"),
            c.Read("backlog", "a positive integer", int.Parse, n => n > 0),
            new LogSettings(c.Size("log.max-size"), c.Read("log.files", "a positive integer", int.Parse, n => n > 0), c.OptionalPath("log.file")),
            new DaemonSettings(c.Read("daemon", "on or off", ParseSwitch, _ => true), c.OptionalPath("pidfile"), c.OptionalPath("control")),
            c.Duration("worker.start-seconds"),
            c.Read("max-workers", "a positive integer", int.Parse, n => n > 0),
            c.Read("boot.max-failures", "a positive integer", int.Parse, n => n > 0),
            c.Read("subreaper", "on or off", ParseSwitch, _ => true));
    }

    private static bool ParseSwitch(string raw) => raw switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new FormatException(),
    };

    /// <summary>Reads one key, turning any parse failure into one line that names the key.</summary>
    private sealed class SettingsReader(Config config)
    {
        public T Read<T>(string key, string expected, Func<string, T> parse, Func<T, bool> valid)
        {
            var raw = config.GetString(key)?.Trim() ?? "";
            try
            {
                var value = parse(raw);
                if (valid(value))
                    return value;
            }
            catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException)
            {
            }
            throw new UForkConfigException($"ufork.{key} must be {expected}, not '{raw}'");
        }

        public TimeSpan Duration(string key) =>
            Read(key, "a duration such as 500ms or 10s", _ => config.GetTimeSpan(key, allowInfinite: false), d => d >= TimeSpan.Zero);

        /// <summary>An absolute path, relative ones taken from the working directory; "" for none.</summary>
        public string? OptionalPath(string key) =>
            Read<string?>(key, "a file path", raw => raw == "" ? null : Path.GetFullPath(raw), _ => true);

        public long Size(string key) =>
            Read(key, "a size such as 512MiB", _ => config.GetByteSize(key) ?? throw new FormatException(), n => n > 0);
    }
}

public sealed record HeartbeatSettings(TimeSpan Interval, TimeSpan Timeout, TimeSpan StartTimeout, bool Required);

/// <summary>Where the arbiter's output goes (<paramref name="File"/>, or stdout when null) and how that file rotates.</summary>
public sealed record LogSettings(long MaxSize, int Files, string? File = null);

/// <summary>
/// How the arbiter's process presents itself: detached or not, and the pidfile and control socket it
/// holds (both also usable in the foreground). Paths are absolute.
/// </summary>
public sealed record DaemonSettings(bool Detach, string? PidFile = null, string? ControlSocket = null);

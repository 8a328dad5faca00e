using System.CommandLine;
using UFork.Configuration;
using UFork.Output;
using UFork.Sockets;

namespace UFork.Host.Commands;

/// <summary>The options of every command that starts an arbiter, and the settings they make.</summary>
internal sealed class ArbiterCommandOptions
{
    public Option<string?> Workers { get; } = new("--workers", "-w")
    {
        Description = "Worker processes to keep alive (default: ufork.workers, auto = max(cores - 1, 2))",
    };

    public Option<string?> Config { get; } = new("--config")
    {
        Description = "A HOCON file of ufork { } settings, read over the defaults",
    };

    public Option<bool> Daemon { get; } = new("--daemon")
    {
        Description = "Run in the background, detached from the terminal; prints the daemon's pid once its workers have started (needs --log-file)",
    };

    public Option<string?> PidFile { get; } = new("--pidfile")
    {
        Description = "Write the arbiter's pid here, locked for its life; refuse to start while another arbiter holds it",
    };

    public Option<string?> LogFile { get; } = new("--log-file")
    {
        Description = "Print everything to this file instead of stdout, rotated by size (ufork.log.max-size, ufork.log.files); SIGUSR1 reopens it",
    };

    public Option<string?> LogFormat { get; } = new("--log-format")
    {
        Description = "How lines are written: text (with times; colours on a terminal unless NO_COLOR is set) or json, one object a line (default: ufork.log.format)",
    };

    public Option<string?> Control { get; } = new("--control")
    {
        Description = "Listen for ufork ctl on this Unix socket (default: <pidfile>.sock with --pidfile; for a daemon without one, " +
                      "control.sock in the private directory $XDG_RUNTIME_DIR/ufork, /run/ufork-<uid> or /tmp/ufork-<uid>)",
    };

    public Option<string[]> Bind { get; } = new("--bind", "-b")
    {
        Description = "Listen on HOST:PORT (:PORT for every interface) or unix:PATH before any worker starts; workers inherit the sockets at fds 3, 4, ... (repeatable)",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public Option<string?> Metrics { get; } = new("--metrics")
    {
        Description = "Serve Prometheus metrics of the whole fleet (GET /metrics) on HOST:PORT or unix:PATH (ufork.metrics.listen)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Workers);
        command.Options.Add(Config);
        command.Options.Add(Daemon);
        command.Options.Add(PidFile);
        command.Options.Add(LogFile);
        command.Options.Add(LogFormat);
        command.Options.Add(Control);
        command.Options.Add(Bind);
        command.Options.Add(Metrics);
    }

    /// <summary>The --bind addresses, or <paramref name="defaults"/> when none was given.</summary>
    public IReadOnlyList<BindAddress> BindAddresses(ParseResult parsed, params string[] defaults)
    {
        var given = parsed.GetValue(Bind) is { Length: > 0 } values ? values : defaults;
        return given.Select(ParseBind).ToList();
    }

    private static BindAddress ParseBind(string text) => ParseAddress("--bind", text);

    private static BindAddress ParseAddress(string option, string text)
    {
        try
        {
            return BindAddress.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UsageException($"{option} '{text}': {e.Message}");
        }
    }

    /// <summary>Defaults, then the --config file, then command-line options.</summary>
    public UForkSettings Settings(ParseResult parsed)
    {
        var config = parsed.GetValue(Config) is { } path ? UForkConfig.LoadFile(path) : UForkConfig.Defaults;
        var settings = UForkSettings.FromConfig(config);
        if (parsed.GetValue(Workers) is { } workers)
            settings = settings with { Workers = WorkerCount(workers, settings.MaxWorkers) };
        var daemon = settings.Daemon;
        settings = settings with
        {
            // Absolute now, so that they name the same files wherever the arbiter and ufork ctl run.
            Daemon = new DaemonSettings(
                daemon.Detach || parsed.GetValue(Daemon),
                FullPath(parsed.GetValue(PidFile)) ?? daemon.PidFile,
                FullPath(parsed.GetValue(Control)) ?? daemon.ControlSocket),
            Log = settings.Log with
            {
                File = FullPath(parsed.GetValue(LogFile)) ?? settings.Log.File,
                Format = parsed.GetValue(LogFormat) is { } format ? ParseLogFormat(format) : settings.Log.Format,
            },
            Metrics = parsed.GetValue(Metrics) is { } metrics
                ? settings.Metrics with { Listen = ParseAddress("--metrics", metrics) }
                : settings.Metrics,
        };
        return settings;
    }

    private static Output.LogFormat ParseLogFormat(string format)
    {
        try
        {
            return LogFormats.Parse(format);
        }
        catch (FormatException e)
        {
            throw new UsageException($"--log-format {e.Message}");
        }
    }

    private static string? FullPath(string? path) => path is null ? null : Path.GetFullPath(path);

    private static int WorkerCount(string value, int maxWorkers)
    {
        if (value == "auto")
            return Math.Min(UForkSettings.DefaultWorkerCount, maxWorkers);
        if (!int.TryParse(value, out var n) || n <= 0)
            throw new UsageException($"--workers must be a positive integer or auto, not '{value}'");
        return n <= maxWorkers ? n : throw new UsageException($"--workers must be at most ufork.max-workers ({maxWorkers}), not '{value}'");
    }
}

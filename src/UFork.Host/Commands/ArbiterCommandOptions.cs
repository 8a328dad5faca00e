using System.CommandLine;
using UFork.Configuration;

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
        Description = "Write the arbiter's pid here; refuse to start while it names a live arbiter",
    };

    public Option<string?> LogFile { get; } = new("--log-file")
    {
        Description = "Print everything to this file instead of stdout, rotated by size (ufork.log.max-size, ufork.log.files); SIGUSR1 reopens it",
    };

    public Option<string?> Control { get; } = new("--control")
    {
        Description = "Listen for ufork ctl on this Unix socket (default: <pidfile>.sock with --pidfile; for a daemon without one, " +
                      "$XDG_RUNTIME_DIR/ufork.sock or /tmp/ufork-<uid>.sock)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Workers);
        command.Options.Add(Config);
        command.Options.Add(Daemon);
        command.Options.Add(PidFile);
        command.Options.Add(LogFile);
        command.Options.Add(Control);
    }

    /// <summary>Defaults, then the --config file, then command-line options.</summary>
    public UForkSettings Settings(ParseResult parsed)
    {
        var config = parsed.GetValue(Config) is { } path ? UForkConfig.LoadFile(path) : UForkConfig.Defaults;
        var settings = UForkSettings.FromConfig(config);
        if (parsed.GetValue(Workers) is { } workers)
            settings = settings with { Workers = PositiveInteger("--workers", workers) };
        var daemon = settings.Daemon;
        settings = settings with
        {
            // Absolute now, so that they name the same files wherever the arbiter and ufork ctl run.
            Daemon = new DaemonSettings(
                daemon.Detach || parsed.GetValue(Daemon),
                FullPath(parsed.GetValue(PidFile)) ?? daemon.PidFile,
                FullPath(parsed.GetValue(Control)) ?? daemon.ControlSocket),
            Log = settings.Log with { File = FullPath(parsed.GetValue(LogFile)) ?? settings.Log.File },
        };
        return settings;
    }

    private static string? FullPath(string? path) => path is null ? null : Path.GetFullPath(path);

    private static int PositiveInteger(string option, string value) =>
        int.TryParse(value, out var n) && n > 0
            ? n
            : throw new UsageException($"{option} must be a positive integer, not '{value}'");
}

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

    public void AddTo(Command command)
    {
        command.Options.Add(Workers);
        command.Options.Add(Config);
    }

    /// <summary>Defaults, then the --config file, then command-line options.</summary>
    public UForkSettings Settings(ParseResult parsed)
    {
        var config = parsed.GetValue(Config) is { } path ? UForkConfig.LoadFile(path) : UForkConfig.Defaults;
        var settings = UForkSettings.FromConfig(config);
        if (parsed.GetValue(Workers) is { } workers)
            settings = settings with { Workers = PositiveInteger("--workers", workers) };
        return settings;
    }

    private static int PositiveInteger(string option, string value) =>
        int.TryParse(value, out var n) && n > 0
            ? n
            : throw new UsageException($"{option} must be a positive integer, not '{value}'");
}

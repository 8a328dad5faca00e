using System.CommandLine;
using UFork.Configuration;
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

    public Option<string[]> Bind { get; } = new("--bind", "-b")
    {
        Description = "Listen on HOST:PORT or unix:PATH before any worker starts; workers inherit the sockets at fds 3, 4, ... (repeatable)",
        Arity = ArgumentArity.ZeroOrMore,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Workers);
        command.Options.Add(Config);
        command.Options.Add(Bind);
    }

    /// <summary>The --bind addresses, or <paramref name="defaults"/> when none was given.</summary>
    public IReadOnlyList<BindAddress> BindAddresses(ParseResult parsed, params string[] defaults)
    {
        var given = parsed.GetValue(Bind) is { Length: > 0 } values ? values : defaults;
        return given.Select(ParseBind).ToList();
    }

    private static BindAddress ParseBind(string text)
    {
        try
        {
            return BindAddress.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UsageException($"--bind '{text}': {e.Message}");
        }
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

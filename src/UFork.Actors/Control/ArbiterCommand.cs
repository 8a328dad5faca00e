using System.Globalization;
using Akka.Event;
using UFork.Configuration;
using UFork.Supervision;

namespace UFork.Control;

/// <summary>
/// The one command set as a person types it, at the <c>ufork&gt;</c> prompt or through <c>ufork ctl</c>:
/// each line becomes one message of <see cref="ArbiterProtocol"/>.
/// </summary>
public static class ArbiterCommand
{
    public static readonly IReadOnlyList<(string Usage, string Help)> Commands =
    [
        ("help", "this list"),
        ("status", "one line per worker: slot, pid, state, uptime, restarts, last heartbeat, memory, backoff"),
        ("dead", "the last 10 dead workers and why they died"),
        ("scale N", "keep N workers"),
        ("restart [SLOT|all]", "rolling restart: each replacement ready before the old worker stops; brings a failed slot back"),
        ("kill SLOT", "SIGKILL one worker (SLOT as status shows it, w0, or just 0), to watch it come back"),
        ("log LEVEL", "the arbiter's log level: debug, info, warning or error"),
        ("stop", "stop every worker gracefully, then the arbiter"),
    ];

    public static IEnumerable<string> Names => Commands.Select(c => c.Usage.Split(' ')[0]);

    /// <summary>
    /// True when the line starts with a command name, or is plain words starting with a slip for one
    /// (<c>stauts</c>), which gets a suggestion; anything else is C# at the prompt.
    /// </summary>
    public static bool IsCommand(string line) =>
        Words(line).FirstOrDefault() is { } first
        && (Names.Contains(first) || line.All(c => char.IsLetterOrDigit(c) || c == ' ') && EditDistance.NearestOf(first, Names) is not null);

    /// <summary>The message a command line stands for, or an error saying what is wrong with it.</summary>
    public static (object? Message, string? Error) Parse(string line)
    {
        var words = Words(line);
        return words switch
        {
            ["status"] => (ListWorkers.Instance, null),
            ["dead"] => (ListDeadWorkers.Instance, null),
            ["scale", var n] when int.TryParse(n, out var size) && size > 0 => (new Scale(size), null),
            ["scale", ..] => (null, "usage: scale N, with N a positive number of workers"),
            ["restart"] or ["restart", "all"] => (new RestartWorkers(null), null),
            ["restart", var slot] when SlotNamed(slot) is { } s => (new RestartWorkers(s), null),
            ["restart", ..] => (null, "usage: restart [SLOT|all], SLOT as w1 or 1"),
            ["kill", var slot] when SlotNamed(slot) is { } s => (new KillWorker(s), null),
            ["kill", ..] => (null, "usage: kill SLOT, SLOT as w0 or 0"),
            ["log", var level] when LogLevelNamed(level) is { } named => (new SetLogLevel(named), null),
            ["log", ..] => (null, "usage: log debug|info|warning|error"),
            ["stop"] => (Shutdown.Instance, null),
            [var name, ..] when !Names.Contains(name) && EditDistance.NearestOf(name, Names) is { } nearest =>
                (null, $"unknown command '{name}'; did you mean {nearest}?"),
            _ => (null, $"unknown command '{line.Trim()}'; try help"),
        };
    }

    /// <summary>A slot as status shows it, <c>w1</c>, or as a bare number, <c>1</c>.</summary>
    private static int? SlotNamed(string word) =>
        int.TryParse(word.StartsWith('w') ? word[1..] : word, NumberStyles.None, CultureInfo.InvariantCulture, out var slot) ? slot : null;

    private static LogLevel? LogLevelNamed(string name) => name.ToUpperInvariant() switch
    {
        "DEBUG" => LogLevel.DebugLevel,
        "INFO" => LogLevel.InfoLevel,
        "WARNING" or "WARN" => LogLevel.WarningLevel,
        "ERROR" => LogLevel.ErrorLevel,
        _ => null,
    };

    private static string[] Words(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

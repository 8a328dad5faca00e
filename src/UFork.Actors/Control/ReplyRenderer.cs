using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using UFork.Output;
using UFork.Supervision;
using UFork.Worker;

namespace UFork.Control;

/// <summary>Turns the arbiter's replies into what a person reads (tables) or a program reads (JSON).</summary>
public static class ReplyRenderer
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = false,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public static string AsJson(object reply) => JsonSerializer.Serialize(reply switch
    {
        IEnumerable<DeadWorker> dead => dead.Select(d => new
        {
            d.Slot, d.Pid, Status = d.Status.ToString(), d.Status.Code, Signal = d.Status.Signal?.ToString(),
            UptimeSeconds = d.Uptime.TotalSeconds, d.Cause, d.Reason, d.DiedAt,
        }),
        IEnumerable<WorkerStatus> workers => workers.Select(w => new
        {
            w.Slot, w.Pid, w.State, w.StartedAt, w.Restarts,
            LastHeartbeatAgeSeconds = w.LastHeartbeatAge?.TotalSeconds, w.ResidentBytes, w.BackoffUntil, w.FailedBecause,
        }),
        _ => reply,
    }, Json);

    public static string AsText(object reply) => reply switch
    {
        IEnumerable<WorkerStatus> workers => WorkersTable(workers.ToList()),
        IEnumerable<DeadWorker> dead => DeadTable(dead.ToList()),
        CommandDone done => done.Ok ? done.Message : $"error: {done.Message}",
        ShutdownComplete => "stopped",
        _ => reply.ToString() ?? "",
    };

    public static string Help() =>
        string.Join('\n', ArbiterCommand.Commands.Select(c => $"  {c.Usage,-20} {c.Help}")
            .Append("  anything else        C# evaluated against the live arbiter, e.g. arbiter.Workers.Count"));

    private static string WorkersTable(IReadOnlyList<WorkerStatus> workers)
    {
        var now = DateTimeOffset.UtcNow;
        return Table(["SLOT", "PID", "STATE", "UPTIME", "RESTARTS", "HEARTBEAT", "RSS", "BACKOFF"],
            workers.Select(w => new[]
            {
                $"w{w.Slot}",
                w.Pid?.ToString() ?? "-",
                w.State.ToString().ToLowerInvariant(),
                w.StartedAt is { } started ? Duration(now - started) : "-",
                w.Restarts.ToString(),
                w.LastHeartbeatAge is { } age ? $"{Duration(age)} ago" : "-",
                w.ResidentBytes is { } rss ? ResidentMemory.Describe(rss) : "-",
                w.BackoffUntil is { } until ? $"until {until.ToLocalTime():HH:mm:ss}" : w.FailedBecause is not null ? "gave up" : "-",
            }), empty: "no workers");
    }

    private static string DeadTable(IReadOnlyList<DeadWorker> dead) =>
        Table(["SLOT", "PID", "STATUS", "UPTIME", "DIED", "REASON"],
            dead.Select(d => new[]
            {
                $"w{d.Slot}", d.Pid.ToString(), d.Status.ToString(), Duration(d.Uptime),
                d.DiedAt.ToLocalTime().ToString("HH:mm:ss"), d.Reason,
            }), empty: "no dead workers");

    private static string Table(string[] header, IEnumerable<string[]> rows, string empty)
    {
        var all = rows.Prepend(header).ToList();
        if (all.Count == 1)
            return empty;
        var widths = header.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        var text = new StringBuilder();
        foreach (var row in all)
            text.AppendLine(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
        return text.ToString().TrimEnd('\n');
    }

    private static string Duration(TimeSpan t) => Wording.Duration(t);
}

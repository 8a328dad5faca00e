using UFork.Tests.Support;
using System.Collections.Concurrent;

namespace UFork.Host.Tests.Http;

/// <summary>
/// Every process a test caused, each remembered with its start time so that a recycled pid is not
/// mistaken for a survivor. A zombie counts as left behind: its parent failed to reap it.
/// </summary>
internal sealed class TrackedPids
{
    private readonly ConcurrentDictionary<int, string?> _startTimes = new();

    public IReadOnlyCollection<int> All => _startTimes.Keys.ToList();

    public void Track(int pid) => _startTimes.TryAdd(pid, StartTime(pid));

    /// <summary>Also tracks what /proc says the process has as children right now.</summary>
    public void TrackChildrenOf(int pid)
    {
        foreach (var task in SafeList(() => Directory.GetDirectories($"/proc/{pid}/task")))
            foreach (var child in SafeRead($"{task}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
                Track(int.Parse(child));
    }

    public async Task AssertAllGoneAsync(TimeSpan within)
    {
        if (await Eventually.UntilAsync(() => Survivors().Count == 0, within))
            return;
        var names = Survivors().Select(pid => $"{pid} ({SafeRead($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()})");
        throw new Xunit.Sdk.XunitException($"processes left behind: {string.Join(", ", names)}");
    }

    private List<int> Survivors() =>
        _startTimes.Where(p => p.Value is not null && StartTime(p.Key) == p.Value).Select(p => p.Key).ToList();

    /// <summary>Field 22 of /proc/PID/stat, counted after the command name (which may hold spaces).</summary>
    private static string? StartTime(int pid)
    {
        var stat = SafeRead($"/proc/{pid}/stat");
        var afterName = stat.LastIndexOf(')');
        if (afterName < 0)
            return null;
        var fields = stat[(afterName + 2)..].Split(' ');
        return fields.Length > 19 ? fields[19] : null;
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string[] SafeList(Func<string[]> list)
    {
        try
        {
            return list();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}

using UFork.Runtime;

namespace UFork.Tests.Support;

/// <summary>
/// Finds, through /proc and without asking the arbiter, the worker processes one test run started: the
/// running (not zombie) children of this process that carry UFORK_WORKER_ID in their environment and the
/// run's marker in their command line. The marker keeps parallel tests and earlier runs out.
/// </summary>
public static class MarkedWorkers
{
    /// <summary>Each running worker of the run, by pid, with the slot its environment names.</summary>
    public static IReadOnlyDictionary<int, int> Running(string marker)
    {
        var self = Environment.ProcessId;
        var found = new SortedDictionary<int, int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid) || pid == self)
                continue;
            if (RunningChild(pid, self) is { } child && child.Arguments.Contains(marker) && child.Slot is { } slot)
                found[pid] = slot;
        }
        return found;
    }

    private sealed record Child(IReadOnlyList<string> Arguments, int? Slot);

    /// <summary>Null unless <paramref name="pid"/> is a running child of <paramref name="parent"/>, also when it is gone by the time its files are read.</summary>
    private static Child? RunningChild(int pid, int parent)
    {
        try
        {
            // The command name in (...) may hold spaces and parentheses: the fields start after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields[0] == "Z" || int.Parse(fields[1]) != parent)
                return null;
            var arguments = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            var slot = File.ReadAllText($"/proc/{pid}/environ").Split('\0')
                .Where(v => v.StartsWith($"{WorkerEnvironment.WorkerId}=", StringComparison.Ordinal))
                .Select(v => int.TryParse(v[(WorkerEnvironment.WorkerId.Length + 1)..], out var id) ? id : (int?)null)
                .FirstOrDefault();
            return new Child(arguments, slot);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

namespace UFork.Tests.Support;

/// <summary>Asks the kernel, through /proc, whether processes a test caused are still there.</summary>
public static class ProcessWatch
{
    /// <summary>Alive, or a zombie nobody reaped: either way, left behind by a living parent.</summary>
    public static bool Exists(int pid) => File.Exists($"/proc/{pid}/stat");

    /// <summary>
    /// Alive and not a zombie. Once an arbiter is dead its workers' zombies belong to PID 1, which in
    /// some sandboxes never reaps them; they are dead all the same.
    /// </summary>
    public static bool IsRunning(int pid) => State(pid) is { } state && state != 'Z';

    /// <summary>The state letter of /proc/pid/stat (R, S, T for stopped, Z...), or null once the process is gone.</summary>
    public static char? State(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0];
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Waits (bounded) for every pid to be gone; fails naming those that are not.</summary>
    public static Task AssertAllGoneAsync(IEnumerable<int> pids, TimeSpan within) => AssertNoneAsync(pids, Exists, within);

    /// <summary>Waits (bounded) for every pid to be dead, reaped or not (their parent being dead too).</summary>
    public static Task AssertAllDeadAsync(IEnumerable<int> pids, TimeSpan within) => AssertNoneAsync(pids, IsRunning, within);

    private static async Task AssertNoneAsync(IEnumerable<int> pids, Func<int, bool> leftBehind, TimeSpan within)
    {
        var left = await Eventually.WaitAsync(() => pids.Where(leftBehind).ToList(), l => l.Count == 0, within);
        if (left.Count > 0)
        {
            var names = string.Join(", ", left.Select(Describe));
            throw new Xunit.Sdk.XunitException($"processes left behind: {names}");
        }
    }

    private static string Describe(int pid)
    {
        try
        {
            return $"{pid} ({File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()})";
        }
        catch (IOException)
        {
            return pid.ToString();
        }
    }
}

namespace UFork.Tests.Support;

/// <summary>Asks the kernel, through /proc, whether processes a test caused are still there.</summary>
public static class ProcessWatch
{
    /// <summary>Alive, or a zombie nobody reaped: either way, left behind.</summary>
    public static bool Exists(int pid) => File.Exists($"/proc/{pid}/stat");

    /// <summary>Waits (bounded) for every pid to be gone; fails naming those that are not.</summary>
    public static async Task AssertAllGoneAsync(IEnumerable<int> pids, TimeSpan within)
    {
        var left = await Eventually.WaitAsync(() => pids.Where(Exists).ToList(), l => l.Count == 0, within);
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

namespace UFork.Host.Tests.Http;

/// <summary>
/// Waiting, bounded, for a condition that no event announces (a process leaving /proc, a worker
/// answering). Where an event exists (a line of output, a process exit) tests await it instead.
/// </summary>
internal static class BoundedPoll
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);

    /// <summary>True as soon as <paramref name="condition"/> holds; false if it still does not after <paramref name="within"/>.</summary>
    public static async Task<bool> UntilAsync(Func<bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!condition())
        {
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(Step);
        }
        return true;
    }
}

namespace UFork.Tests.Support;

/// <summary>
/// Bounded waiting for a condition that no event announces (a process disappearing from /proc).
/// Where an event exists, tests await the event instead.
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(10);

    /// <summary>Reads <paramref name="read"/> until <paramref name="done"/> holds or time runs out; returns the last value.</summary>
    public static async Task<T> WaitAsync<T>(Func<T> read, Func<T, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        var value = read();
        while (!done(value) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(Step);
            value = read();
        }
        return value;
    }

    /// <summary>True as soon as <paramref name="condition"/> holds; false if it still does not after <paramref name="within"/>.</summary>
    public static Task<bool> UntilAsync(Func<bool> condition, TimeSpan within) => WaitAsync(condition, held => held, within);
}

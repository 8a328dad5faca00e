namespace UFork.Host.Tests.Metrics;

/// <summary>
/// Bounded polling of something read over the network (a scrape, a Prometheus query) that no event announces:
/// metrics arrive every second, and Prometheus scrapes on its own clock.
/// </summary>
internal static class Polled
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(200);

    /// <summary>Reads until <paramref name="done"/> holds or time runs out; returns the last value (a failed read is retried).</summary>
    public static async Task<T> ValueAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        Exception? lastError = null;
        while (true)
        {
            try
            {
                var value = await read();
                if (done(value) || DateTime.UtcNow >= deadline)
                    return value;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException)
            {
                lastError = e;
                if (DateTime.UtcNow >= deadline)
                    throw new Xunit.Sdk.XunitException($"still failing after {within.TotalSeconds} s: {lastError.Message}");
            }
            await Task.Delay(Step);
        }
    }
}

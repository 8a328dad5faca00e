namespace UFork.Tests.Support;

/// <summary>Lets a test await a condition over something a reader task keeps adding to, woken by each addition.</summary>
public sealed class ChangeSignal
{
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called by the reader after each addition.</summary>
    public void Notify() => Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>True as soon as <paramref name="condition"/> holds; false if it still does not after <paramref name="within"/>.</summary>
    public async Task<bool> UntilAsync(Func<bool> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (true)
        {
            var changed = Volatile.Read(ref _changed).Task;
            if (condition())
                return true;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return false;
            await changed.WaitAsync(left).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}

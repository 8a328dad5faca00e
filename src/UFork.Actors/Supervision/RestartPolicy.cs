namespace UFork.Supervision;

/// <summary>
/// When a dead worker comes back, as data: at once after a stable run, then with exponential backoff
/// while it keeps failing, giving up only after <see cref="MaxRetries"/> consecutive failures (-1: never).
/// </summary>
public sealed record RestartPolicy(TimeSpan MinBackoff, TimeSpan MaxBackoff, TimeSpan ResetAfter, int MaxRetries)
{
    /// <summary>Counts a failure: a run of <paramref name="uptime"/> that reached ResetAfter starts the count anew.</summary>
    public int CountFailure(int consecutiveFailures, TimeSpan uptime) =>
        uptime >= ResetAfter ? 1 : consecutiveFailures + 1;

    /// <summary>0 before the first restart, then MinBackoff, doubling up to MaxBackoff.</summary>
    public TimeSpan DelayBefore(int consecutiveFailures)
    {
        if (consecutiveFailures <= 1)
            return TimeSpan.Zero;
        var doublings = Math.Min(consecutiveFailures - 2, 30);
        var delay = MinBackoff.TotalMilliseconds * Math.Pow(2, doublings);
        return TimeSpan.FromMilliseconds(Math.Min(delay, MaxBackoff.TotalMilliseconds));
    }

    public bool GivesUp(int consecutiveFailures) => MaxRetries >= 0 && consecutiveFailures > MaxRetries;
}

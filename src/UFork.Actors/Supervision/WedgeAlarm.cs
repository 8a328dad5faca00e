namespace UFork.Supervision;

/// <summary>
/// ufork's "Most children are wedging!": when more than 5 workers started within the window and more
/// than half of those starts ended in a heartbeat timeout, something is wrong beyond one bad worker
/// (a dead database, a full disk). Says so loudly, at most once per quiet period.
/// </summary>
internal sealed class WedgeAlarm(TimeSpan window, TimeSpan quietPeriod)
{
    private const int MinimumStarts = 6;

    private readonly Queue<DateTimeOffset> _starts = new();
    private readonly Queue<DateTimeOffset> _timeouts = new();
    private DateTimeOffset _lastAlarm = DateTimeOffset.MinValue;

    public void RecordStart(DateTimeOffset at) => _starts.Enqueue(at);

    /// <summary>Records a heartbeat timeout; returns the warning to log when the alarm goes off.</summary>
    public string? RecordTimeout(DateTimeOffset at)
    {
        _timeouts.Enqueue(at);
        Forget(_starts, at - window);
        Forget(_timeouts, at - window);
        if (_starts.Count < MinimumStarts || _timeouts.Count * 2 <= _starts.Count || at - _lastAlarm < quietPeriod)
            return null;
        _lastAlarm = at;
        return $"most workers are wedging: {_timeouts.Count} of the {_starts.Count} started in the last " +
               $"{window.TotalMinutes:0.#} min were killed for missing heartbeats; look at what they all depend on";
    }

    private static void Forget(Queue<DateTimeOffset> times, DateTimeOffset before)
    {
        while (times.TryPeek(out var oldest) && oldest < before)
            times.Dequeue();
    }
}
